import type { FeatureVector } from '@sluice/shared/records';
import { defineTopology, input, output, store, topicNames, type InputRecord, type TopicsConfig } from '@sluice/shared/topology';

export const COOLDOWN_STORE = 'cooldown';
export const SCORING_BUFFER_STORE = 'buffer';
export const SCORING_CLOCKS_STORE = 'clocks';

/**
 * Fraud: feature vectors (and the terminal stages' watermarks) in, a score per
 * vector and the alerts out, by customer. Its stores: the vectors held until
 * they can be scored in order, that order's clocks (and the alert budget's
 * state, under its own key), and the per-customer cool-downs. The model
 * history (model.updates) is read whole by a plain consumer on every instance.
 */
export function fraudTopology(config: TopicsConfig) {
  const topics = topicNames(config.SLUICE_TOPIC_PREFIX);
  return defineTopology(
    config,
    'fraud',
    {
      fraud: {
        inputs: {
          features: input<FeatureVector>(topics.transactionsFeatures, { deadLetter: topics.transactionsDlq, watermarks: true }),
        },
        // JSON, typed where scoring.ts opens them. Held vectors stay in memory, transactions.features keeping them
        // (Scoring.heldInputs); the buffer store holds what older versions wrote (a batch of vectors to an entry).
        stores: { [COOLDOWN_STORE]: store(), [SCORING_BUFFER_STORE]: store(), [SCORING_CLOCKS_STORE]: store() },
        outputs: [output(topics.fraudScores, { schema: 'Score' }), output(topics.fraudAlerts, { schema: 'Alert' })],
      },
    },
    { reads: [topics.modelUpdates] },
  );
}

export type FraudTopology = ReturnType<typeof fraudTopology>;
export type FraudInputs = FraudTopology['processors']['fraud']['inputs'];
/** A record of transactions.features as the fraud handler receives it: a vector, or a terminal stage's watermark. */
export type FraudRecord = InputRecord<FraudInputs>;
