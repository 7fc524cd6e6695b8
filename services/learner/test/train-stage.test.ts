import { describe, expect, it } from 'vitest';
import {
  createLogger,
  PartitionStore,
  Random,
  Registry,
  snapshotToModel,
  type FeatureVector,
  type InputMessage,
  type LabelledExample,
  type ModelSnapshot,
  type ProcessingContext,
} from '@sluice/shared';
import { LearnerMetrics } from '../src/learner-metrics.js';
import { withAttempts } from '../src/snapshot-source.js';
import { MODEL_STORE, resumePoint, TrainStage, type SnapshotSource, type StoredModel, type TrainSettings } from '../src/train-stage.js';

const NAMES = ['a', 'b', 'c'];
const TRUE_WEIGHTS = [2, -1.5, 0];
const logger = createLogger('train-stage-test', 'silent');

const SETTINGS: TrainSettings = {
  modelName: 'lr',
  anomalyModelName: 'hst',
  learningRate: 0.1,
  l2: 1e-4,
  metricsWindow: 500,
  drift: { kind: 'adwin' },
  driftReaction: 'shrink',
  shrinkKeep: 0.3,
  snapshotEveryLabels: 50,
  snapshotIntervalMs: 3_600_000,
};

function examples(seed: number, count: number, names = NAMES, featureSet = 'v1'): LabelledExample[] {
  const r = new Random(seed);
  return Array.from({ length: count }, (_, t) => {
    const x = names.map(() => r.normal());
    const z = x.reduce((s, v, i) => s + v * (TRUE_WEIGHTS[i] ?? 0), -0.5);
    const vector: FeatureVector = {
      transaction_id: `tx${seed}-${t}`,
      customer_id: `c${t % 7}`,
      terminal_id: 't',
      event_time: 1_700_000_000_000 + t * 1000,
      amount: 10,
      feature_set_version: featureSet,
      feature_names: names,
      feature_values: x,
      ingested_at: 0,
    };
    return { kind: 'labelled', label_source: 'label', is_fraud: r.next() < 1 / (1 + Math.exp(-z)), labeled_at: vector.event_time, vector };
  });
}

function message(example: LabelledExample, offset: number): InputMessage {
  return { topic: 'learner.examples', partition: 0, offset: String(offset), timestamp: '0', key: null, value: example, rawValue: null, headers: {} };
}

interface Sent {
  topic: string;
  key: string | null;
  record: ModelSnapshot;
}

function newStore(): PartitionStore<StoredModel> {
  return new PartitionStore<StoredModel>({ name: MODEL_STORE, changelogTopic: 'model.changelog' }, 0);
}

/** What a restore from the changelog gives a new assignment: a new store object holding the drained state. */
function restoredCopy(store: PartitionStore<StoredModel>): PartitionStore<StoredModel> {
  const copy = newStore();
  for (const [key, value] of store.entries()) copy.restore(key, Buffer.from(JSON.stringify(value)));
  return copy;
}

function harness(snapshots: SnapshotSource, store = newStore()) {
  const sent: Sent[] = [];
  let reads = 0;
  const stage = new TrainStage('model.updates', SETTINGS, new LearnerMetrics(new Registry()), logger, async () => {
    reads += 1;
    return snapshots();
  });
  const context = (s: PartitionStore<StoredModel>, now = 1_000): ProcessingContext => ({
    partition: 0,
    logger,
    now,
    store: <V>() => s as unknown as PartitionStore<V>,
    send: (topic, key, record) => sent.push({ topic, key, record: record as ModelSnapshot }),
    sendBytes: () => {
      throw new Error('not used');
    },
    // Every batch commits here.
    afterCommit: (effect) => effect(),
    deadLetter: () => {
      throw new Error('nothing should be dead-lettered');
    },
  });
  /** Feeds the examples in batches of `batch`, as the processor would. */
  const run = async (data: LabelledExample[], batch = 25, s = store) => {
    for (let i = 0; i < data.length; i += batch) {
      const ctx = context(s);
      for (const [j, example] of data.slice(i, i + batch).entries()) await stage.process(message(example, i + j), ctx);
      stage.afterBatch(ctx);
      s.drainChanges();
    }
  };
  return { stage, sent, store, context, run, reads: () => reads };
}

const none: SnapshotSource = async () => new Map();
const byName = (sent: Sent[], name: string) => sent.filter((s) => s.key === name).map((s) => s.record);

describe('resumePoint', () => {
  const expected = { algorithm: 'logistic_regression' as const, featureNames: NAMES, featureSetVersion: 'v1' };
  const stored = (version: number) => ({ version }) as StoredModel;
  const snapshot = (version: number, over: Partial<ModelSnapshot> = {}) =>
    ({ version, algorithm: 'logistic_regression', feature_names: NAMES, feature_set_version: 'v1', ...over }) as ModelSnapshot;

  it('starts fresh at version 0 when nothing exists', () => {
    expect(resumePoint(undefined, undefined, expected)).toMatchObject({ source: 'fresh', version: 0 });
  });

  it('prefers the changelog unless a snapshot is newer', () => {
    expect(resumePoint(stored(5), undefined, expected)).toMatchObject({ source: 'changelog' });
    expect(resumePoint(stored(5), snapshot(5), expected)).toMatchObject({ source: 'changelog' });
    expect(resumePoint(stored(4), snapshot(5), expected)).toMatchObject({ source: 'snapshot' });
  });

  it('resumes from the snapshot when the changelog has no state', () => {
    expect(resumePoint(undefined, snapshot(9), expected)).toEqual({ source: 'snapshot', snapshot: snapshot(9) });
  });

  it('starts a fresh model above the published versions when the snapshot is of another algorithm or feature set', () => {
    expect(resumePoint(undefined, snapshot(9, { algorithm: 'half_space_trees' }), expected)).toMatchObject({ source: 'fresh', version: 9 });
    expect(resumePoint(undefined, snapshot(9, { feature_set_version: 'v2' }), expected)).toMatchObject({ source: 'fresh', version: 9 });
    expect(resumePoint(undefined, snapshot(9, { feature_names: ['a', 'c', 'b'] }), expected)).toMatchObject({ source: 'fresh', version: 9 });
    expect(resumePoint(stored(3), snapshot(9, { feature_names: ['a'] }), expected)).toMatchObject({ source: 'fresh', version: 9 });
  });
});

describe('TrainStage', () => {
  it('publishes versions 1, 2, … with growing training counts from a fresh start', async () => {
    const h = harness(none);
    await h.run(examples(1, 160));
    for (const name of ['lr', 'hst']) {
      const published = byName(h.sent, name);
      expect(published.map((s) => s.version)).toEqual([1, 2, 3]);
      expect(published.every((s) => s.feature_names.join() === NAMES.join())).toBe(true);
    }
    expect(byName(h.sent, 'lr').map((s) => s.trained_count)).toEqual([50, 100, 150]);
    expect(h.reads()).toBe(1);
  });

  it('resumes from the changelog exactly, without reading model.updates', async () => {
    const data = examples(2, 200);
    const first = harness(none);
    await first.run(data.slice(0, 125)); // at a batch boundary of the reference run below
    const second = harness(async () => {
      throw new Error('model.updates must not be read when the changelog holds the models');
    }, restoredCopy(first.store));
    await second.run(data.slice(125));
    const reference = harness(none);
    await reference.run(data);
    expect(second.reads()).toBe(0);
    // Same versions and same models as a learner that never stopped.
    const resumed = [...byName(first.sent, 'lr'), ...byName(second.sent, 'lr')];
    expect(resumed.map((s) => [s.version, s.trained_count, s.state])).toEqual(byName(reference.sent, 'lr').map((s) => [s.version, s.trained_count, s.state]));
  });

  it('resumes from the latest snapshot when the changelog state is lost', async () => {
    const data = examples(3, 260);
    const first = harness(none);
    await first.run(data.slice(0, 120)); // snapshots v1 (50), v2 (100); 20 more examples learned but never published
    const latest = new Map(['lr', 'hst'].map((name) => [name, byName(first.sent, name).at(-1)!]));
    expect(latest.get('lr')).toMatchObject({ version: 2, trained_count: 100 });

    const second = harness(async () => latest); // empty store: the changelog is gone
    await second.run(data.slice(100, 200));
    expect(second.reads()).toBe(1);
    const lr = byName(second.sent, 'lr');
    expect(lr.map((s) => [s.version, s.trained_count])).toEqual([
      [3, 150],
      [4, 200],
    ]);
    // The resumed model is the published one having learned what came after it.
    const twin = snapshotToModel(latest.get('lr')!);
    for (const example of data.slice(100, 200)) twin.learn(example.vector.feature_values, example.is_fraud ? 1 : 0);
    expect(JSON.parse(lr.at(-1)!.state)).toEqual(twin.toState());
    expect(byName(second.sent, 'hst').map((s) => s.version)).toEqual([3, 4]);
  });

  it('starts a fresh model whose versions continue above a snapshot of another feature set', async () => {
    const old = harness(none);
    await old.run(examples(4, 50, ['x', 'y']));
    const latest = new Map(['lr', 'hst'].map((name) => [name, { ...byName(old.sent, name).at(-1)!, version: 7 }]));
    const h = harness(async () => latest);
    await h.run(examples(5, 50));
    expect(byName(h.sent, 'lr').map((s) => [s.version, s.trained_count, s.feature_names])).toEqual([[8, 50, NAMES]]);
  });

  it('publishes nothing from models built for an earlier assignment', async () => {
    const h = harness(none);
    await h.run(examples(6, 40));
    const reassigned = newStore();
    h.stage.afterBatch(h.context(reassigned, 10_000_000_000)); // due by time, but the batch decoded nothing
    expect(h.sent).toHaveLength(0);
    expect(reassigned.size).toBe(0);
  });
});

describe('withAttempts', () => {
  it('retries a failing read and gives up after the last attempt', async () => {
    let calls = 0;
    const flaky = withAttempts(
      async () => {
        calls += 1;
        if (calls < 2) throw new Error('broker away');
        return 'ok';
      },
      { attempts: 3, backoffMs: 1, logger, onGiveUp: () => expect.unreachable() },
    );
    expect(await flaky()).toBe('ok');
    expect(calls).toBe(2);

    const gaveUp: unknown[] = [];
    const broken = withAttempts(async () => Promise.reject(new Error('gone')), {
      attempts: 3,
      backoffMs: 1,
      logger,
      onGiveUp: (error) => {
        gaveUp.push(error);
        throw new Error('given up');
      },
    });
    await expect(broken()).rejects.toThrow('given up');
    expect(gaveUp).toHaveLength(1);
  });
});
