import { Registry, SourceClocks, topicNames, type Alert, type FeatureVector, type ModelSnapshot, type Score, type TypedHandler } from '@sluice/shared';
import { TopologyTestDriver } from '@sluice/shared/testing';
import { describe, expect, it } from 'vitest';
import { FraudMetrics } from '../src/fraud-metrics.js';
import { ModelSelection, type Scorer } from '../src/model-selection.js';
import { DEFAULT_RULES } from '../src/rules.js';
import { Scoring, type AlertMode } from '../src/scoring.js';
import { modelReadyThrough } from '../src/scoring-order.js';
import { fraudTopology, SCORING_BUFFER_STORE, type FraudInputs } from '../src/topology.js';

const topics = topicNames('');
const topology = fraudTopology({ SLUICE_TOPIC_PREFIX: '', TOPIC_PARTITIONS: 2 }).processors.fraud;
const FEATURES = ['a', 'b'];
const DELAY = 5;

function snapshot(version: number, clock: number, weight: number): ModelSnapshot {
  return {
    model_name: 'fraud-lr',
    champion: null,
    version,
    algorithm: 'linear-test',
    feature_names: FEATURES,
    feature_set_version: 'v1',
    state: JSON.stringify({ weight }),
    trained_count: version,
    metrics: { roc_auc: null, average_precision: null, log_loss: null, positives: 0, negatives: 0, window_size: 0 },
    created_at: 0,
    label_clock: clock,
  };
}

const scorer = (s: ModelSnapshot): Scorer => {
  const { weight } = JSON.parse(s.state) as { weight: number };
  return { predict: (x) => 1 / (1 + Math.exp(-weight * (x[0]! - 0.5))), explain: (x) => [{ feature: 'a', value: x[0]!, contribution: weight }] };
};

/**
 * The fraud handlers as main.ts wires them, over a model table fed as the model.updates follower would (a
 * restarted instance reads model.updates whole before it processes anything: here the same snapshots and
 * learner progress again).
 */
function fraud(alert: AlertMode = { mode: 'threshold' }, snapshots = [snapshot(1, 0, 8)]): TypedHandler<FraudInputs> {
  const selection = new ModelSelection({ defaultModel: 'fraud-lr', pin: null }, scorer, { delayMs: DELAY, maxSnapshots: 1_000 });
  const progress = new SourceClocks();
  for (const each of snapshots) selection.offer(each);
  progress.observe({ source: 0, sources: 1, time: 1_000, idle: false });
  const scoring = new Scoring(
    topics,
    selection,
    {
      threshold: 0.7,
      alert,
      minRuleSeverity: 'high',
      rules: DEFAULT_RULES,
      topFeatures: 1,
      cooldown: { cooldownMs: 10, maxEntries: 1_000, pendingRetentionMs: 1_000 },
      modelWaitMaxMs: 1_000,
      maxHeld: 1_000_000,
      partitions: 2,
    },
    new FraudMetrics(new Registry(), () => null),
    () => modelReadyThrough(progress, DELAY),
  );
  return {
    process: (record, context) => scoring.process(record, context),
    onRestored: (task) => scoring.onRestored(task),
    onRevoked: (task) => scoring.onRevoked(task),
    heldInputs: scoring.heldInputs,
    afterBatch: (context) => scoring.advance(context),
    punctuate: { intervalMs: 500, run: (context) => scoring.advance(context) },
  };
}

function vector(n: number): FeatureVector {
  const a = (n * 37) % 100 / 100;
  return {
    transaction_id: `tx-${String(n).padStart(3, '0')}`,
    customer_id: `c${n % 4}`,
    terminal_id: `t${n % 3}`,
    event_time: 10 * n,
    amount: 10,
    feature_set_version: 'v1',
    feature_names: FEATURES,
    feature_values: [a, 1 - a],
    ingested_at: 0,
  };
}

/** Vectors n in [from, to) on the partition of their customer, each partition followed by the terminal stage's (one source) mark. */
function feed(driver: TopologyTestDriver, from: number, to: number): void {
  for (let n = from; n < to; n++) driver.pipe(topics.transactionsFeatures, [{ key: vector(n).customer_id, value: vector(n) }]);
  for (let partition = 0; partition < 2; partition++) driver.pipeWatermark(topics.transactionsFeatures, partition, { source: 0, sources: 1, time: 10 * to, idle: false });
}

const scores = (driver: TopologyTestDriver) =>
  driver
    .outputs(topics.fraudScores)
    .map((record) => {
      const { scored_at: _at, ...score } = record.value as Score;
      return JSON.stringify(score);
    })
    .sort();
const alerts = (driver: TopologyTestDriver) => driver.outputs(topics.fraudAlerts).map((record) => (record.value as Alert).transaction_id).sort();

describe('fraud handlers through the test driver', () => {
  it('scores each vector once its watermark has passed, and alerts above the threshold', async () => {
    const driver = new TopologyTestDriver(topology, fraud, { partitions: 2 });
    feed(driver, 0, 20);
    await driver.run();
    const scored = driver.outputs(topics.fraudScores).map((record) => record.value as Score);
    expect(scored.map((score) => score.transaction_id).sort()).toEqual(Array.from({ length: 20 }, (_, n) => vector(n).transaction_id).sort());
    expect(alerts(driver)).toEqual(scored.filter((score) => score.score !== null && score.score >= 0.7).map((score) => score.transaction_id).sort());
    expect(alerts(driver).length).toBeGreaterThan(0);
  });

  it('holds vectors in memory only: no changelog record, and the committed offset stays at the oldest held one until it is scored', async () => {
    const driver = new TopologyTestDriver(topology, fraud, { partitions: 2 });
    for (let n = 0; n < 20; n++) driver.pipe(topics.transactionsFeatures, [{ key: vector(n).customer_id, value: vector(n) }]);
    await driver.run();
    const changelog = topology.stores.find((store) => store.name === SCORING_BUFFER_STORE)!.changelogTopic;
    const offsets = () => [0, 1].map((partition) => driver.committedOffset(topics.transactionsFeatures, partition));
    // Held (no mark yet): transactions.features keeps them, so the group's offset does not pass them.
    expect([0, 1].map((partition) => driver.topics.read(changelog, partition).length)).toEqual([0, 0]);
    expect(offsets()).toEqual([0, 0]);
    for (let partition = 0; partition < 2; partition++) driver.pipeWatermark(topics.transactionsFeatures, partition, { source: 0, sources: 1, time: 200, idle: false });
    await driver.run();
    expect(driver.outputs(topics.fraudScores)).toHaveLength(20);
    expect([0, 1].map((partition) => driver.topics.read(changelog, partition).length)).toEqual([0, 0]);
    expect(offsets()).toEqual([0, 1].map((partition) => driver.topics.end(topics.transactionsFeatures, partition)));
  });

  it('decides after a crash (held vectors read again from their input, clocks and cool-downs restored from the changelogs) as an instance that never crashed', async () => {
    const reference = new TopologyTestDriver(topology, fraud, { partitions: 2 });
    feed(reference, 0, 15);
    feed(reference, 15, 30);
    await reference.run();

    const driver = new TopologyTestDriver(topology, fraud, { partitions: 2, maxBatchSize: 4 });
    // Vectors without their mark yet: held in memory when the instance crashes, read again from transactions.features.
    for (let n = 0; n < 15; n++) driver.pipe(topics.transactionsFeatures, [{ key: vector(n).customer_id, value: vector(n) }]);
    await driver.run();
    expect(driver.outputs(topics.fraudScores)).toEqual([]);
    driver.crash();
    for (let partition = 0; partition < 2; partition++) driver.pipeWatermark(topics.transactionsFeatures, partition, { source: 0, sources: 1, time: 150, idle: false });
    feed(driver, 15, 30);
    await driver.run();
    expect(scores(driver)).toEqual(scores(reference));
    expect(alerts(driver)).toEqual(alerts(reference));
  });

  it('redoes an aborted batch with the snapshots its vectors met the first time (the model table is pruned only once committed)', async () => {
    // Vectors before t = 105 are scored by version 1, later ones by version 2; releasing them all lets a prune drop version 1.
    const handlers = () => fraud({ mode: 'threshold' }, [snapshot(1, 0, 8), snapshot(2, 100, -8)]);
    const reference = new TopologyTestDriver(topology, handlers, { partitions: 2 });
    feed(reference, 0, 30);
    await reference.run();
    const driver = new TopologyTestDriver(topology, handlers, { partitions: 2 });
    feed(driver, 0, 30);
    driver.failNextCommits(1);
    await driver.run();
    expect(scores(driver)).toEqual(scores(reference));
    // Each vector by the newest snapshot whose clock is at most its event time minus the delay, on either partition.
    for (const { value } of driver.outputs(topics.fraudScores)) {
      const score = value as Score;
      expect(score.model_version, score.transaction_id).toBe(score.event_time < DELAY ? null : score.event_time - DELAY < 100 ? 1 : 2);
    }
  });

  // Two cards a day of 100 ms per partition: the thresholds come from the tasks' budgets, kept in the clocks store.
  const budget: AlertMode = { mode: 'budget', cardsPerDay: 4, partitions: 2, dayMs: 100 };
  /** Vectors 0..40 four at a time, each group followed by its marks: most batches release vectors. */
  const groups = Array.from({ length: 10 }, (_, i) => [4 * i, 4 * i + 4] as const);

  async function referenceRun(): Promise<TopologyTestDriver> {
    const reference = new TopologyTestDriver(topology, () => fraud(budget), { partitions: 2 });
    for (const [from, to] of groups) feed(reference, from, to);
    await reference.run();
    expect(new Set(scores(reference).map((score) => (JSON.parse(score) as Score).threshold)).size).toBeGreaterThan(1);
    return reference;
  }

  it('decides across reassignments (tasks revoked, then restored from the changelogs) and a crash after them as one instance that kept its tasks', async () => {
    const reference = await referenceRun();
    const driver = new TopologyTestDriver(topology, () => fraud(budget), { partitions: 2, maxBatchSize: 3 });
    for (const [from, to] of groups) {
      feed(driver, from, to);
      await driver.run();
      // What the revoked tasks held must not outlive them, nor keep taking writes their changelogs never see.
      if (from === 24) driver.crash();
      else driver.reassign();
    }
    expect(scores(driver)).toEqual(scores(reference));
    expect(alerts(driver)).toEqual(alerts(reference));
  });

  it('redoes an aborted batch on restored state: each vector scored once, as without the failures', async () => {
    const reference = await referenceRun();
    const driver = new TopologyTestDriver(topology, () => fraud(budget), { partitions: 2, maxBatchSize: 4 });
    for (const [from, to] of groups) {
      feed(driver, from, to);
      driver.failNextCommits(1);
      await driver.run();
    }
    expect(scores(driver)).toEqual(scores(reference));
    expect(alerts(driver)).toEqual(alerts(reference));
  });
});
