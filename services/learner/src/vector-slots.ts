import { VECTOR_VALUES, vectorSegments, type VectorSlot } from '@sluice/shared/feature-names';
import type { LabelledExample } from '@sluice/shared/records';
import type { JoinEvent } from './event-time-join.js';

/** Where the learner's stored values carry their vector, so shared's feature-names store them with names shared. */
export const JOIN_EVENT_VECTOR: VectorSlot<JoinEvent> = {
  vector: (event) => (event.kind === 'vector' ? event.vector : undefined),
  withVector: (_, vector) => ({ kind: 'vector', vector }),
};

export const EXAMPLE_VECTOR: VectorSlot<LabelledExample> = {
  vector: (example) => example.vector,
  withVector: (example, vector) => ({ ...example, vector }),
};

export const JOIN_EVENT_SEGMENTS = vectorSegments(JOIN_EVENT_VECTOR);
export const EXAMPLE_SEGMENTS = vectorSegments(EXAMPLE_VECTOR);
export const PENDING_SEGMENTS = vectorSegments(VECTOR_VALUES);
