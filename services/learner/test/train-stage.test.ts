import { describe, expect, it } from 'vitest';
import {
  createLogger,
  PartitionStore,
  Random,
  Registry,
  snapshotToModel,
  type FeatureVector,
  type InputRecord,
  type LabelledExample,
  type ModelSnapshot,
  type ProcessingContext,
  type ChangelogRecord,
  type TaskInfo,
} from '@sluice/shared';
import { LearnerMetrics } from '../src/learner-metrics.js';
import { withAttempts } from '../src/snapshot-source.js';
import fc from 'fast-check';
import { MODEL_STORE, TRAIN_BUFFER_STORE, TRAIN_CLOCKS_STORE, type TrainInputs } from '../src/topology.js';
import { exampleOrder, MODEL_PROGRESS_KEY, resumePoint, stableStateKey, TrainStage, type SnapshotSource, type StoredModel, type TrainSettings } from '../src/train-stage.js';

const NAMES = ['a', 'b', 'c'];
const TRUE_WEIGHTS = [2, -1.5, 0];
const logger = createLogger('train-stage-test', 'silent');

const SETTINGS: TrainSettings = {
  models: [{ name: 'lr', algorithm: 'logistic_regression' }],
  anomalyModelName: 'hst',
  learningRate: 0.1,
  l2: 1e-4,
  metricsWindow: 500,
  drift: { kind: 'adwin' },
  driftReaction: 'shrink',
  shrinkKeep: 0.3,
  snapshotEveryLabels: 50,
  snapshotIntervalMs: 3_600_000,
  champion: { metric: 'average_precision', margin: 0.02, minLabels: 100 },
};

/** The trees first: they score 0.5 until their first refit (2,000 kept examples), so the regression takes over once it has the labels. */
const TWO_MODELS: TrainSettings = {
  ...SETTINGS,
  models: [
    { name: 'gbdt', algorithm: 'gradient_boosted_trees' },
    { name: 'lr', algorithm: 'logistic_regression' },
  ],
  snapshotEveryLabels: 10,
  champion: { metric: 'average_precision', margin: 0.02, minLabels: 20 },
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

type TrainRecord = InputRecord<TrainInputs>;

function message(example: LabelledExample, offset: number): TrainRecord {
  return { input: 'examples', topic: 'learner.examples', partition: 0, offset: String(offset), timestamp: '0', key: null, value: example, rawValue: null, headers: {} };
}

/** A join task's watermark on learner.examples. */
function watermark(source: number, sources: number, time: number): TrainRecord {
  return { input: 'examples', topic: 'learner.examples', partition: 0, offset: '0', timestamp: '0', key: null, value: null, rawValue: null, headers: {}, watermark: { source, sources, time, idle: false } };
}

interface Sent {
  topic: string;
  key: string | null;
  record: ModelSnapshot;
}

type Stores = Map<string, PartitionStore<unknown>>;

function newStores(): Stores {
  return new Map([MODEL_STORE, TRAIN_BUFFER_STORE, TRAIN_CLOCKS_STORE].map((name) => [name, new PartitionStore<unknown>({ name, changelogTopic: `${name}.changelog` }, 0)]));
}

/** What a restore from the changelogs gives a new assignment: new store objects holding the drained state. */
function restoredCopy(stores: Stores, only?: string): Stores {
  const copy = newStores();
  for (const [name, store] of stores) {
    if (only !== undefined && name !== only) continue;
    for (const [key, value] of store.entries()) copy.get(name)!.restore(key, Buffer.from(JSON.stringify(value)));
  }
  return copy;
}

/** The training stage on one task whose stores are `stores` (as restored); `reassign` gives it a new task on other stores. */
function harness(snapshots: SnapshotSource, stores = newStores(), settings: TrainSettings = SETTINGS, log = logger, registry = new Registry()) {
  const sent: Sent[] = [];
  const progress: string[] = [];
  let reads = 0;
  const stage = new TrainStage('model.updates', settings, new LearnerMetrics(registry), log, async () => {
    reads += 1;
    return snapshots();
  });
  const restore = (to: Stores) => {
    const task: TaskInfo = { partition: 0, lagAtAssignment: new Map() };
    stage.onRestored({ partition: 0, task, logger, now: 0, store: <V>(name: string) => to.get(name) as unknown as PartitionStore<V> });
    return { task, stores: to };
  };
  let assigned = restore(stores);
  const reassign = (to: Stores) => {
    stage.onRevoked(assigned.task);
    assigned = restore(to);
  };
  const context = (now = 1_000): ProcessingContext => ({
    partition: 0,
    logger,
    now,
    batch: undefined,
    task: assigned.task,
    store: <V>(name: string) => assigned.stores.get(name) as unknown as PartitionStore<V>,
    send: (topic, key, record) => sent.push({ topic, key, record: record as ModelSnapshot }),
    sendBytes: (_topic, key, value) => {
      expect(key).toBe(MODEL_PROGRESS_KEY);
      progress.push(value!.toString());
    },
    sendWatermark: () => {
      throw new Error('not used');
    },
    // Every batch commits here.
    // Flow control changes only when input is read; here every input is handed over in order.
    pauseInput: () => undefined,
    resumeInput: () => undefined,
    isInputPaused: () => false,
    afterCommit: (effect) => effect(),
    deadLetter: () => {
      throw new Error('nothing should be dead-lettered');
    },
  });
  /** Feeds the examples (in order, from one join task) in batches of `batch`, each followed by its watermark, as the processor would. */
  const run = async (data: LabelledExample[], batch = 25, now = 1_000) => {
    for (let i = 0; i < data.length; i += batch) {
      const ctx = context(now);
      const slice = data.slice(i, i + batch);
      for (const [j, example] of slice.entries()) stage.process(message(example, i + j), ctx);
      stage.process(watermark(0, 1, exampleOrder(slice.at(-1)!).time), ctx);
      await stage.afterBatch(ctx);
      for (const changed of assigned.stores.values()) changed.drainChanges();
    }
  };
  /** Feeds arbitrary messages, one batch each. */
  const feed = async (messages: TrainRecord[]) => {
    for (const m of messages) {
      const ctx = context();
      stage.process(m, ctx);
      await stage.afterBatch(ctx);
      for (const changed of assigned.stores.values()) changed.drainChanges();
    }
  };
  /** What the processor commits for learner.examples after the last batch: the oldest example still held in memory only. */
  const oldestHeld = () => stage.heldInputs.oldestHeld(assigned.task, 'learner.examples');
  /** As the processor does after an assignment: the records read since the committed offset, handed back to be held again. */
  const replay = (messages: TrainRecord[], from: string | undefined) => {
    for (const m of messages) if (from !== undefined && BigInt(m.offset) >= BigInt(from)) stage.heldInputs.replay(m, assigned.task);
  };
  return { stage, sent, progress, stores, context, reassign, run, feed, oldestHeld, replay, reads: () => reads };
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
    }, restoredCopy(first.stores));
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
    const reassigned = newStores();
    h.reassign(reassigned);
    await h.stage.afterBatch(h.context(10_000_000_000)); // due by time, but the batch decoded nothing
    expect(h.sent).toHaveLength(0);
    expect(reassigned.get(MODEL_STORE)!.size).toBe(0);
  });

  it('resumed from the changelog after any batch, the trees make the same refits: the same snapshots as a learner that never stopped', async () => {
    // A small window and frequent refits, so that a short stream refits several times after each crash point.
    const trees: TrainSettings = {
      ...SETTINGS,
      models: [{ name: 'gbdt', algorithm: 'gradient_boosted_trees' }],
      trees: { windowSize: 100, retrainEvery: 40, minExamples: 20, negativeSampleRate: 0.5, trees: 3, maxDepth: 3 },
      snapshotEveryLabels: 20,
    };
    const data = examples(11, 400);
    const published = (sent: Sent[]) => byName(sent, 'gbdt').map((s) => [s.version, s.trained_count, s.state, s.metrics.log_loss]);
    const reference = harness(none, newStores(), trees);
    // What each batch writes to the model store's changelog.
    const batches: ChangelogRecord[][] = [];
    const modelStore = reference.stores.get(MODEL_STORE)!;
    const drain = modelStore.drainChanges.bind(modelStore);
    modelStore.drainChanges = () => {
      const records = drain();
      batches.push(records);
      return records;
    };
    await reference.run(data, 10);
    const retrains = (sent: Sent[]) => byName(sent, 'gbdt').map((s) => (JSON.parse(s.state) as { retrains: number }).retrains);
    // The ensemble is written apart, only in the first batch and in those that refitted; of the window, only the
    // chunk being filled and newer ones are written (and tombstones).
    const ensembleWrites = batches.filter((records) => records.some((r) => r.key === stableStateKey('gbdt'))).length;
    expect(ensembleWrites).toBe(1 + Math.max(...retrains(reference.sent)));
    expect(ensembleWrites).toBeLessThan(batches.length / 2);
    let newest = 0;
    for (const records of batches) {
      const written = records.filter((r) => r.key.startsWith('gbdt/window/') && r.value !== null).map((r) => Number(r.key.split('/').at(-1)));
      expect(written.every((index) => index >= newest)).toBe(true);
      newest = Math.max(newest, ...written);
    }
    for (const cut of [20, 150, 270]) {
      const first = harness(none, newStores(), trees);
      await first.run(data.slice(0, cut), 10);
      const second = harness(none, restoredCopy(first.stores), trees);
      await second.run(data.slice(cut), 10);
      expect(second.reads()).toBe(0);
      // At least two refits after the crash, which a window lost with it would have fitted on other examples.
      expect(new Set(retrains(second.sent)).size).toBeGreaterThanOrEqual(2);
      expect([...published(first.sent), ...published(second.sent)]).toEqual(published(reference.sent));
    }
  });

  it('trains in event-time order whatever the interleaving of the join tasks, batches and a crash: same versions, label clocks and weights', async () => {
    const data = examples(7, 60).map((example, i) => ({ ...example, decided_at: 1_700_000_000_000 + (i % 20) * 1000, labeled_at: 1_700_000_000_000 + (i % 20) * 1000 }));
    const sources = 3;
    const bySource = (example: LabelledExample) => Number(example.vector.transaction_id.split('-')[1]) % sources;
    /** The messages of the three join tasks, each in its own order followed by its watermark, interleaved by `choices`. */
    const arrival = (choices: number[]): TrainRecord[] => {
      const queues = Array.from({ length: sources }, (_, s) =>
        data.filter((example) => bySource(example) === s).sort((a, b) => exampleOrder(a).time - exampleOrder(b).time),
      );
      const out: TrainRecord[] = [];
      for (let c = 0; queues.some((q) => q.length > 0); c++) {
        const open = queues.map((_, s) => s).filter((s) => queues[s]!.length > 0);
        const s = open[choices[c % choices.length]! % open.length]!;
        const example = queues[s]!.shift()!;
        out.push(message(example, c));
        const next = queues[s]![0];
        out.push(watermark(s, sources, next ? exampleOrder(next).time - 1 : 1_800_000_000_000));
      }
      return out;
    };
    const outcome = async (choices: number[], crashAt: number) => {
      const messages = arrival(choices);
      const h = harness(none, newStores(), TWO_MODELS);
      if (crashAt < 0) await h.feed(messages);
      else {
        await h.feed(messages.slice(0, crashAt));
        const resumed = harness(none, restoredCopy(h.stores), TWO_MODELS);
        resumed.replay(messages.slice(0, crashAt), h.oldestHeld());
        await resumed.feed(messages.slice(crashAt));
        h.sent.push(...resumed.sent);
      }
      return h.sent.map(({ record }) => [record.model_name, record.version, record.label_clock, record.trained_count, record.state, record.champion, record.champion_reason]);
    };
    const reference = await outcome([0], -1);
    expect(reference.length).toBeGreaterThan(2);
    // The champion changes on the way, so a restored learner that decided otherwise would show.
    expect(new Set(reference.map((r) => r[5])).size).toBe(2);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 100 }), async (choices, crashAt) => {
        expect(await outcome(choices, -1)).toEqual(reference);
        expect(await outcome(choices, crashAt)).toEqual(reference);
      }),
      { numRuns: 8 },
    );
  }, 60_000);

  it('publishes every model in the same rounds, each snapshot naming the round\'s champion', async () => {
    const registry = new Registry();
    const h = harness(none, newStores(), TWO_MODELS, logger, registry);
    await h.run(examples(9, 200));
    const rounds = (name: string) => byName(h.sent, name).map((s) => [s.version, s.label_clock, s.champion, s.champion_reason]);
    expect(rounds('gbdt')).toEqual(rounds('lr'));
    expect(rounds('hst')).toEqual(rounds('lr'));
    expect(byName(h.sent, 'gbdt').map((s) => s.trained_count)).toEqual(byName(h.sent, 'lr').map((s) => s.trained_count));
    const champions = byName(h.sent, 'lr').map((s) => s.champion);
    expect(champions).toHaveLength(20);
    // Round 1 (10 labels): the regression has too few labels to challenge the first declared model.
    expect(champions[0]).toBe('gbdt');
    expect(byName(h.sent, 'lr')[0]!.champion_reason).toMatch(/no champion yet/);
    expect(champions.at(-1)).toBe('lr');
    // Once switched, the trees (constant until their first refit) never beat it back.
    expect(champions.slice(champions.indexOf('lr')).every((c) => c === 'lr')).toBe(true);
    const gauge = await registry.getSingleMetric('sluice_learner_champion')!.get();
    expect(Object.fromEntries(gauge.values.map((v) => [v.labels.model, v.value]))).toEqual({ gbdt: 0, lr: 1 });
  });

  it('counts every drift detection and logs at most once a minute per model, with the count since the last line', async () => {
    const lines: { msg: string; model?: string; detections?: number }[] = [];
    const log = createLogger('drift-test', 'info', { write: (line: string) => void lines.push(JSON.parse(line)) });
    const registry = new Registry();
    const h = harness(none, newStores(), { ...SETTINGS, snapshotEveryLabels: 100_000 }, log, registry);
    // The concept flips every 1,000 labels: the error stream rises at each flip.
    const flipped = (data: LabelledExample[]) => data.map((e, i) => (Math.floor(i / 1_000) % 2 === 1 ? { ...e, is_fraud: !e.is_fraud } : e));
    const data = flipped(examples(10, 4_000));
    const counted = async () => (await registry.getSingleMetric('sluice_learner_drift_detections_total')!.get()).values.find((v) => v.labels.model === 'lr')?.value ?? 0;
    const logged = () => lines.filter((l) => l.msg.startsWith('drift detected') && l.model === 'lr');
    // Processing time stands still for the first 1,500 labels, then moves on by a minute.
    await h.run(data.slice(0, 1_500), 100, 1_000);
    const firstHalf = await counted();
    expect(firstHalf).toBeGreaterThan(1);
    expect(logged().map((l) => l.detections)).toEqual([1]);
    await h.run(data.slice(1_500), 100, 61_000);
    const all = await counted();
    expect(all).toBeGreaterThan(firstHalf);
    // The second minute's one line, at its first detection, carries the first minute's unlogged ones and itself.
    const second = logged().slice(1);
    expect(second).toHaveLength(1);
    expect(second[0]!.detections).toBe(firstHalf);
  });

  it('gives every snapshot the label clock it learned through, and publishes its progress after it', async () => {
    const data = examples(8, 130);
    const h = harness(none);
    await h.run(data);
    const times = data.map((example) => exampleOrder(example).time);
    for (const snapshot of byName(h.sent, 'lr')) {
      const clock = snapshot.label_clock!;
      expect(snapshot.trained_count).toBe(times.filter((time) => time <= clock).length);
    }
    expect(h.progress.at(-1)).toBe(`0/1/${times.at(-1)}/active`);
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
