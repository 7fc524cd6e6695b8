import { SluiceError } from '@sluice/shared/errors';
import { segmentedBufferCodec, type SegmentFormat } from '@sluice/shared/event-time';
import type { FeatureVector } from '@sluice/shared/records';
import { EXAMPLE_VECTOR, featureNamesCodec, JOIN_EVENT_VECTOR, packVector, register, unpackVector, withSharedNames, type VectorSlot } from './shared-feature-names.js';

/**
 * How the learner's buffers (join events, examples) write their events in
 * shared's segments (`SegmentedBuffer`, many events to a changelog record):
 * each segment holds its vectors' feature names once (`names`, by reference)
 * and its events with their vectors packed (shared-feature-names.ts).
 */

const NAMES_KEY_PREFIX = 'feature-names/';

/** A segment's JSON: its vectors' names once, then its events. */
interface WrittenSegment {
  names: Record<string, string[]>;
  events: [string, unknown][];
}

/** The event with its vector unpacked, names included; a store's names entries are all registered by the time it is read. */
function readable<T>(slot: VectorSlot<T>, event: T, where: string): T {
  const stored: unknown = slot.vector(event);
  if (stored === undefined) return event;
  const vector = unpackVector(stored);
  if (vector === undefined) throw new SluiceError('learner_state_invalid', `${where}: feature names not in the changelog`);
  return vector === stored ? event : slot.withVector(event, vector);
}

/** The segment format of a buffer whose events carry vectors as `slot` says. */
export function vectorSegments<T>(slot: VectorSlot<T>): SegmentFormat<T> {
  return {
    // At most 300 bytes an event besides its values, at most 24 a value.
    estimatedBytes: (event) => 300 + 24 * (slot.vector(event)?.feature_values.length ?? 0),
    write(events): WrittenSegment {
      const names: Record<string, string[]> = {};
      const written: [string, unknown][] = [];
      for (const [key, event] of events) {
        const vector = slot.vector(event);
        if (vector === undefined) {
          written.push([key, event]);
          continue;
        }
        const { packed, ref } = packVector(vector);
        if (ref !== undefined) names[ref] = vector.feature_names;
        written.push([key, slot.withVector(event, packed as unknown as FeatureVector)]);
      }
      return { names, events: written };
    },
    read(written, where) {
      const { names, events } = written as WrittenSegment;
      for (const [ref, list] of Object.entries(names)) register(ref, list);
      return events.map(([key, event]): [string, T] => [key, readable(slot, event as T, `${where}: ${key}`)]);
    },
    single: (value, key) => readable(slot, value as T, key),
    held: (event) => withSharedNames(slot, event),
    isAuxiliary: (key) => key.startsWith(NAMES_KEY_PREFIX),
  };
}

/** The store codec (topology.ts) of such a buffer; records from before segments read as `featureNamesCodec`'s. */
export function vectorBufferCodec<V>(slot: VectorSlot<V>): { serialize: (value: unknown) => Buffer; deserialize: (bytes: Buffer) => unknown } {
  return segmentedBufferCodec(featureNamesCodec(slot));
}

export const JOIN_EVENT_SEGMENTS = vectorSegments(JOIN_EVENT_VECTOR);
export const EXAMPLE_SEGMENTS = vectorSegments(EXAMPLE_VECTOR);
