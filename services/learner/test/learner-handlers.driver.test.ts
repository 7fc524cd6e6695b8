import { createLogger, loadConfig, Random, Registry, topicNames, type FeatureVector, type Label, type LabelledExample, type ModelSnapshot, type TypedHandler } from '@sluice/shared';
import { InMemoryTopics, TopologyTestDriver } from '@sluice/shared/testing';
import { describe, expect, it } from 'vitest';
import { learnerConfigSchema } from '../src/config.js';
import { JoinStage } from '../src/join-stage.js';
import { LearnerMetrics } from '../src/learner-metrics.js';
import { learnerTopology, type JoinInputs, type TrainInputs } from '../src/topology.js';
import { MODEL_PROGRESS_KEY, TrainStage, type TrainSettings } from '../src/train-stage.js';

const topics = topicNames('');
const PARTITIONS = 2;
const topology = learnerTopology({ SLUICE_TOPIC_PREFIX: '', TOPIC_PARTITIONS: PARTITIONS });
// The defaults, but a snapshot every 20 labels (500 by default) and one supervised model: a short stream shows them.
const config = { ...loadConfig(learnerConfigSchema, {}), LEARNER_SNAPSHOT_EVERY_LABELS: 20, LEARNER_MODELS: [{ name: 'fraud-lr', algorithm: 'logistic_regression' as const }] };

/** The join stage's handlers as main.ts wires them (without the in-process alignment board: no bounded-buffer flow control here). */
function joinStage(): TypedHandler<JoinInputs> {
  const join = new JoinStage(
    topics,
    {
      ttlMs: config.LEARNER_LABEL_TTL_MS,
      maxEntries: config.LEARNER_MAX_PENDING,
      maxEarlyLabels: config.LEARNER_MAX_EARLY_LABELS,
      labelsWatermarks: 'upstream',
      labelsMaxDisorderMs: config.LEARNER_LABELS_MAX_DISORDER_MS,
      labelsIdleMs: config.LEARNER_LABELS_IDLE_MS,
    },
    new LearnerMetrics(new Registry(), () => 0),
    undefined,
  );
  return {
    process: (record, context) => join.process(record, context),
    onRestored: (task) => join.onRestored(task),
    onRevoked: (task) => join.onRevoked(task),
    afterBatch: (context) => join.afterBatch(context),
    punctuate: { intervalMs: 200, run: (context) => join.punctuate(context) },
  };
}

/** The training stage's handlers as main.ts wires them; at start it reads the newest snapshot of each model from model.updates (`latest`). */
function trainStage(latest: () => ReadonlyMap<string, ModelSnapshot>, over: Partial<TrainSettings> = {}): TypedHandler<TrainInputs> {
  const train = new TrainStage(
    topics.modelUpdates,
    {
      models: config.LEARNER_MODELS,
      anomalyModelName: config.LEARNER_ANOMALY_MODEL_NAME,
      learningRate: config.LEARNER_LEARNING_RATE,
      l2: config.LEARNER_L2,
      metricsWindow: config.LEARNER_METRICS_WINDOW,
      drift: config.LEARNER_DRIFT_DETECTOR === 'none' ? null : { kind: config.LEARNER_DRIFT_DETECTOR },
      driftReaction: config.LEARNER_DRIFT_REACTION,
      shrinkKeep: config.LEARNER_DRIFT_SHRINK_KEEP,
      snapshotEveryLabels: config.LEARNER_SNAPSHOT_EVERY_LABELS,
      snapshotIntervalMs: config.LEARNER_SNAPSHOT_INTERVAL_MS,
      champion: { metric: config.LEARNER_CHAMPION_METRIC, margin: config.LEARNER_CHAMPION_MARGIN, minLabels: config.LEARNER_CHAMPION_MIN_LABELS },
      ...over,
    },
    new LearnerMetrics(new Registry(), () => 0),
    createLogger('learner-driver-test', 'silent'),
    async () => latest(),
  );
  return {
    process: (record, context) => train.process(record, context),
    onRestored: (task) => train.onRestored(task),
    onRevoked: (task) => train.onRevoked(task),
    afterBatch: (context) => train.afterBatch(context),
  };
}

const HOUR = 3_600_000;
const START = Date.UTC(2018, 3, 1);
const NAMES = ['a', 'b'];

function vector(n: number): FeatureVector {
  const r = new Random(n);
  return { transaction_id: `tx-${String(n).padStart(4, '0')}`, customer_id: `c${n % 5}`, terminal_id: 't', event_time: START + n * HOUR, amount: 10, feature_set_version: 'v1', feature_names: NAMES, feature_values: [r.normal(), r.normal()], ingested_at: 0 };
}

function label(n: number): Label {
  const v = vector(n);
  return { transaction_id: v.transaction_id, customer_id: v.customer_id, terminal_id: 't', tx_event_time: v.event_time, is_fraud: v.feature_values[0]! > 0.8, labeled_at: v.event_time + HOUR / 2, ingested_at: 0 };
}

/**
 * Vectors and labels n in [from, to), then the features' and ingest's marks (one source each per partition) past them.
 * Marks are inclusive ("everything at or before t was sent"), so they stop 1 ms short of vector `to`, which a later
 * feed sends: a mark at its time let the training stage close the round at that boundary without it, and the
 * crash-free and crashing runs then disagreed on fraud-hst's snapshot at that boundary.
 */
function feed(driver: TopologyTestDriver<JoinInputs>, from: number, to: number): void {
  for (let n = from; n < to; n++) {
    driver.pipe(topics.transactionsFeatures, [{ key: vector(n).customer_id, value: vector(n) }]);
    driver.pipe(topics.labelsValid, [{ key: label(n).customer_id, value: label(n) }]);
  }
  for (const topic of [topics.transactionsFeatures, topics.labelsValid]) {
    for (let partition = 0; partition < PARTITIONS; partition++) {
      for (let source = 0; source < PARTITIONS; source++) driver.pipeWatermark(topic, partition, { source, sources: PARTITIONS, time: START + to * HOUR - 1, idle: false });
    }
  }
}

function pipeline(maxBatchSize?: number, over: Partial<TrainSettings> = {}) {
  const shared = new InMemoryTopics({ [topics.learnerExamples]: 1, [topics.modelUpdates]: 1 }, PARTITIONS);
  const snapshots = () => shared.all(topics.modelUpdates).filter((record) => record.key !== MODEL_PROGRESS_KEY && record.value !== null && !(record.value instanceof Buffer)).map((record) => record.value as ModelSnapshot);
  const latest = () => new Map(snapshots().map((snapshot) => [snapshot.model_name!, snapshot]));
  const join = new TopologyTestDriver(topology.processors['learner-join'], joinStage, { topics: shared, maxBatchSize });
  const train = new TopologyTestDriver(topology.processors['learner-train'], () => trainStage(latest, over), { topics: shared, maxBatchSize });
  const run = async () => {
    while ((await join.run()) + (await train.run()) > 0);
  };
  const examples = () => join.outputs(topics.learnerExamples).map((record) => record.value as LabelledExample);
  return { join, train, run, examples, snapshots };
}

const comparable = (snapshots: ModelSnapshot[]) => snapshots.map((s) => `${s.model_name} v${s.version} n=${s.trained_count} clock=${s.label_clock} ap=${s.metrics.average_precision} state=${s.state.length}`);
const ids = (examples: LabelledExample[]) => examples.map((example) => `${example.vector.transaction_id}:${example.label_source}:${example.is_fraud}`).sort();

describe('learner handlers through the test driver', () => {
  it('joins each vector with its label into an example, trains on them in event-time order and publishes snapshots', async () => {
    const driver = pipeline();
    feed(driver.join, 0, 80);
    await driver.run();
    // Each vector as it comes (unlabelled, for the anomaly model), then with its label.
    expect(ids(driver.examples())).toEqual(Array.from({ length: 80 }, (_, n) => [`${vector(n).transaction_id}:label:${label(n).is_fraud}`, `${vector(n).transaction_id}:none:false`]).flat().sort());
    const published = driver.snapshots();
    expect(published.length).toBeGreaterThan(0);
    expect(published.every((snapshot) => snapshot.feature_names.join() === NAMES.join())).toBe(true);
    expect(Math.max(...published.map((snapshot) => snapshot.trained_count))).toBeGreaterThanOrEqual(60);
  });

  /** Both stages crash with examples decided and not yet read by the training stage; the same stream without a crash. */
  async function crashAndReference(over: Partial<TrainSettings> = {}) {
    const reference = pipeline(7, over);
    for (const [from, to] of [[0, 30], [30, 50], [50, 90]] as const) feed(reference.join, from, to);
    await reference.run();

    const crashing = pipeline(7, over);
    feed(crashing.join, 0, 30);
    await crashing.run();
    feed(crashing.join, 30, 50);
    await crashing.join.run();
    crashing.join.crash();
    crashing.train.crash();
    feed(crashing.join, 50, 90);
    await crashing.run();
    return { reference, crashing };
  }

  it('after both stages crash (join buffers, pending vectors, early labels, models restored) joins the same examples and ends with the same models', async () => {
    const { reference, crashing } = await crashAndReference();
    expect(ids(crashing.examples())).toEqual(ids(reference.examples()));
    const last = (snapshots: ModelSnapshot[]) => [...new Map(snapshots.map((snapshot) => [snapshot.model_name, snapshot])).values()];
    expect(comparable(last(crashing.snapshots()))).toEqual(comparable(last(reference.snapshots())));
    expect(last(crashing.snapshots()).map((snapshot) => snapshot.state)).toEqual(last(reference.snapshots()).map((snapshot) => snapshot.state));
  });

  it('after both stages crash publishes the same snapshots as without the crash', async () => {
    const { reference, crashing } = await crashAndReference();
    expect(comparable(crashing.snapshots())).toEqual(comparable(reference.snapshots()));
  });

  it('after both stages crash the gradient-boosted trees make the same refits: the same snapshots as without the crash', async () => {
    // A small window refitted every 15 labels: three refits after the crash (labels 50–90).
    const trees: Partial<TrainSettings> = {
      models: [{ name: 'fraud-gbdt', algorithm: 'gradient_boosted_trees' }],
      trees: { windowSize: 100, retrainEvery: 15, minExamples: 10, negativeSampleRate: 0.5, trees: 3, maxDepth: 3 },
    };
    const { reference, crashing } = await crashAndReference(trees);
    const gbdt = (snapshots: ModelSnapshot[]) => snapshots.filter((s) => s.model_name === 'fraud-gbdt');
    const refits = new Set(gbdt(reference.snapshots()).map((s) => (JSON.parse(s.state) as { retrains: number }).retrains));
    expect(refits.size).toBeGreaterThanOrEqual(4);
    expect(gbdt(crashing.snapshots()).map((s) => [s.version, s.trained_count, s.label_clock, s.state])).toEqual(gbdt(reference.snapshots()).map((s) => [s.version, s.trained_count, s.label_clock, s.state]));
  });
});
