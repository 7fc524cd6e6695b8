/**
 * The in-process oracle for a replay's scores (issue 12: "the scores of that
 * replay equal those of the in-process quality bench run on the same stream,
 * same model, same order"). No Kafka and none of the services' stages: the
 * learner's OnlineLearner with the service's default model and options, fed
 * the handbook features computed by brute force and the labels in the event
 * order the pipeline trains in, a snapshot copied through its serialised
 * state on the pipeline's schedule, and each transaction scored, as the
 * handbook quality bench scores it, by the newest snapshot fraud's
 * model-clock rule allows. Written from the documented rules (README, "Event
 * time"), not from the stages' code, so that a stage drifting from them shows.
 */
import { compareOrder, createModel, snapshotToModel, type EventOrder, type FeatureVector, type OnlineModel } from '@sluice/shared';
import { OnlineLearner, type OnlineLearnerOptions } from '../../services/learner/src/online-learner.js';
import { bruteForceFeatures, type HandbookStream } from './handbook-stream.js';

export interface OracleSettings {
  /** LEARNER_SNAPSHOT_EVERY_LABELS */
  snapshotEveryLabels: number;
  /** LEARNER_SNAPSHOT_INTERVAL_MS (event time) */
  snapshotIntervalMs: number;
  /** FRAUD_MODEL_DELAY_MS */
  modelDelayMs: number;
  /** LEARNER_LEARNING_RATE, LEARNER_L2 */
  learningRate: number;
  l2: number;
  learner: Partial<OnlineLearnerOptions>;
}

/** The learner's and fraud's defaults (services/learner/src/config.ts, services/fraud/src/config.ts). */
export const SERVICE_DEFAULTS: OracleSettings = {
  snapshotEveryLabels: 500,
  snapshotIntervalMs: 6 * 3_600_000,
  modelDelayMs: 30_000,
  learningRate: 0.1,
  l2: 1e-4,
  learner: { metricsWindow: 2_000, drift: { kind: 'adwin' }, driftReaction: 'shrink', shrinkKeep: 0.3 },
};

export interface OracleScore {
  /** null: no snapshot learned only from labels before t − E (rules alone). */
  score: number | null;
  version: number | null;
}

interface Snapshot {
  version: number;
  clock: number;
  scorer: OnlineModel;
}

/**
 * Each transaction's score, by transaction id. The training order: every
 * transaction at its event time (the label-free examples: they train nothing
 * here but move the training position), every label at labeled_at after the
 * transactions of that millisecond, ties by transaction id. A snapshot after
 * every `snapshotEveryLabels` labels (label clock: that label's time) and at
 * the last interval boundary before each example when labels were learned
 * since the previous snapshot and nothing after the boundary was trained yet
 * (label clock: the boundary). A transaction at t is scored by the snapshot
 * with the greatest (clock, version) whose clock is at most t − E.
 */
export function oracleScores(stream: HandbookStream, featureNames: readonly string[], featureSetVersion: string, settings: OracleSettings = SERVICE_DEFAULTS): Map<string, OracleScore> {
  const vectors = stream.transactions.map(
    (tx, i): FeatureVector => ({
      transaction_id: tx.transaction_id,
      customer_id: tx.customer_id,
      terminal_id: tx.terminal_id,
      event_time: tx.event_time,
      amount: tx.amount,
      feature_set_version: featureSetVersion,
      feature_names: [...featureNames],
      feature_values: bruteForceFeatures(stream, i),
      ingested_at: 0,
    }),
  );
  const byId = new Map(vectors.map((vector) => [vector.transaction_id, vector]));
  type Example = { order: EventOrder; vector: FeatureVector; label: 0 | 1 | null };
  const examples: Example[] = [
    ...vectors.map((vector) => ({ order: { time: vector.event_time, rank: 0, id: vector.transaction_id }, vector, label: null })),
    ...stream.labels.map((label) => ({ order: { time: label.labeled_at, rank: 1, id: label.transaction_id }, vector: byId.get(label.transaction_id)!, label: label.is_fraud ? (1 as const) : (0 as const) })),
  ].sort((a, b) => compareOrder(a.order, b.order));

  const learner = OnlineLearner.create(createModel('logistic_regression', featureNames, { learningRate: settings.learningRate, l2: settings.l2 }), featureSetVersion, settings.learner);
  const snapshots: Snapshot[] = [];
  let labelsSince = 0;
  let position = -Infinity;
  const publish = (clock: number) => {
    const snapshot = { ...learner.snapshot('oracle', snapshots.length + 1, 0), label_clock: clock };
    snapshots.push({ version: snapshot.version, clock, scorer: snapshotToModel(snapshot) });
    labelsSince = 0;
  };
  for (const example of examples) {
    const time = example.order.time;
    const boundary = Math.floor((time - 1) / settings.snapshotIntervalMs) * settings.snapshotIntervalMs;
    if (labelsSince > 0 && boundary >= position && boundary > (snapshots.at(-1)?.clock ?? -Infinity)) publish(boundary);
    position = Math.max(position, time);
    if (example.label === null) continue;
    learner.observe(example.vector, example.label);
    if (++labelsSince >= settings.snapshotEveryLabels) publish(time);
  }

  const byClock = [...snapshots].sort((a, b) => a.clock - b.clock || a.version - b.version);
  const scores = new Map<string, OracleScore>();
  for (const vector of vectors) {
    const cutoff = vector.event_time - settings.modelDelayMs;
    let chosen: Snapshot | undefined;
    for (const snapshot of byClock) if (snapshot.clock <= cutoff) chosen = snapshot;
    scores.set(vector.transaction_id, chosen === undefined ? { score: null, version: null } : { score: chosen.scorer.predict(vector.feature_values), version: chosen.version });
  }
  return scores;
}
