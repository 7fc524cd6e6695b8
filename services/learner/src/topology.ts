import type { FeatureVector, Label, LabelledExample } from '@sluice/shared/records';
import { defineTopology, input, output, store, topicNames, type TopicsConfig } from '@sluice/shared/topology';
import { VECTOR_VALUES, vectorBufferCodec } from '@sluice/shared/feature-names';
import { EXAMPLE_VECTOR, JOIN_EVENT_VECTOR } from './vector-slots.js';

export const PENDING_STORE = 'pending';
export const EARLY_LABELS_STORE = 'early-labels';
export const JOIN_BUFFER_STORE = 'join-buffer';
export const JOIN_CLOCKS_STORE = 'join-clocks';
export const MODEL_STORE = 'model';
export const TRAIN_BUFFER_STORE = 'train-buffer';
export const TRAIN_CLOCKS_STORE = 'train-clocks';

/**
 * The learner: the join stage pairs each label with the vector its transaction
 * was scored on (partition-local, by customer) and writes the examples to
 * learner.examples; the training stage reads that one partition, trains the
 * models in event-time order and publishes their snapshots to model.updates,
 * which it also reads whole, with a plain consumer, to resume a model whose
 * changelog state is lost. Examples it cannot decode go to model.dlq.
 */
export function learnerTopology(config: TopicsConfig) {
  const topics = topicNames(config.SLUICE_TOPIC_PREFIX);
  return defineTopology(
    config,
    'learner',
    {
      'learner-join': {
        inputs: {
          features: input<FeatureVector>(topics.transactionsFeatures, { deadLetter: topics.transactionsDlq, watermarks: true }),
          labels: input<Label>(topics.labelsValid, { deadLetter: topics.labelsDlq, watermarks: true }),
        },
        // JSON in the changelogs: vectors waiting for their label (many to a record: shared's SegmentedStore), labels
        // before their vector, and the clocks (join-stage.ts, StoredJoinClocks). The events held until the frontier
        // passes them (event-time-join.ts) are kept in memory, their inputs keeping them (JoinStage.heldInputs); their
        // store holds what older versions wrote (many to a record: shared's SegmentedBuffer). A segment holds its
        // vectors' feature names once (shared's feature-names.ts).
        stores: {
          [PENDING_STORE]: store(vectorBufferCodec(VECTOR_VALUES)),
          [EARLY_LABELS_STORE]: store(),
          [JOIN_BUFFER_STORE]: store(vectorBufferCodec(JOIN_EVENT_VECTOR)),
          [JOIN_CLOCKS_STORE]: store(),
        },
        // Each feature set's examples have a schema of their own, the vector's names in it (feature-vector-schema.ts).
        outputs: [output(topics.learnerExamples, { schema: { record: 'LabelledExample', vectorField: 'vector' }, watermarks: true })],
      },
      'learner-train': {
        inputs: {
          examples: input<LabelledExample>(topics.learnerExamples, { deadLetter: topics.modelDlq, watermarks: true }),
        },
        // JSON in the changelogs (train-stage.ts): each model's state, its stable fields and its window's chunks; the
        // clocks and the snapshot rounds' state. The examples held until every join task's watermark passes them are kept in
        // memory, learner.examples keeping them (TrainStage.heldInputs); their store holds what older versions wrote.
        stores: { [MODEL_STORE]: store(), [TRAIN_BUFFER_STORE]: store(vectorBufferCodec(EXAMPLE_VECTOR)), [TRAIN_CLOCKS_STORE]: store() },
        // The training stage writes its progress there itself, as a keyed record (MODEL_PROGRESS_KEY): not a watermark output.
        outputs: [output(topics.modelUpdates, { schema: 'ModelSnapshot' })],
      },
    },
    { reads: [topics.modelUpdates] },
  );
}

export type LearnerTopology = ReturnType<typeof learnerTopology>;
export type JoinInputs = LearnerTopology['processors']['learner-join']['inputs'];
export type TrainInputs = LearnerTopology['processors']['learner-train']['inputs'];
