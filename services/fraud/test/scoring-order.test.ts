import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  createLogger,
  PartitionStore,
  Registry,
  SourceClocks,
  type FeatureVector,
  type ModelSnapshot,
  type ProcessingContext,
  SegmentedBuffer,
  type TaskInfo,
  type WatermarkMark,
} from '@sluice/shared';
import { FraudMetrics } from '../src/fraud-metrics.js';
import { ModelSelection, type Scorer } from '../src/model-selection.js';
import { DEFAULT_RULES } from '../src/rules.js';
import { Scoring, type AlertMode } from '../src/scoring.js';
import { HELD_SEGMENTS, modelReadyThrough, ScoringOrder, type HeldVector, type StoredScoringClocks } from '../src/scoring-order.js';
import { COOLDOWN_STORE, SCORING_BUFFER_STORE, SCORING_CLOCKS_STORE, type FraudRecord } from '../src/topology.js';

const FEATURES = ['a', 'b'];
const logger = createLogger('scoring-order-test', 'silent');

function vector(id: string, time: number, a: number, customer: string): FeatureVector {
  return {
    transaction_id: id,
    customer_id: customer,
    terminal_id: 't',
    event_time: time,
    amount: a > 0.9 ? 2_000 : 10,
    feature_set_version: 'v1',
    feature_names: FEATURES,
    feature_values: [a, 1 - a],
    ingested_at: 0,
  };
}

function snapshot(version: number, clock: number, weight: number, model = 'fraud-lr', champion: string | null = null): ModelSnapshot {
  return {
    model_name: model,
    champion,
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

type Stores = Map<string, PartitionStore<unknown>>;
const STORES = [COOLDOWN_STORE, SCORING_BUFFER_STORE, SCORING_CLOCKS_STORE];

function newStores(): Stores {
  return new Map(STORES.map((name) => [name, new PartitionStore<unknown>({ name, changelogTopic: `${name}.changelog` }, 0)]));
}

/** What a restore from the changelogs gives a new assignment: new store objects holding the same state. */
function restoredCopy(stores: Stores): Stores {
  const copy = newStores();
  for (const [name, store] of stores) for (const [key, value] of store.entries()) copy.get(name)!.restore(key, Buffer.from(JSON.stringify(value)));
  return copy;
}

/** One fraud instance's inputs: a vector or a terminal stage's watermark on transactions.features, or a record of model.updates. */
type Event =
  | { kind: 'vector'; vector: FeatureVector }
  | { kind: 'features-mark'; mark: WatermarkMark }
  | { kind: 'snapshot'; snapshot: ModelSnapshot }
  | { kind: 'progress'; time: number; idle: boolean }
  | { kind: 'advance' };

interface Output {
  topic: string;
  record: Record<string, unknown>;
}

/** A fraud instance with one task: Scoring over a model table and the learner's progress, fed events as the processor and follower would. */
/** The offset of each features record (vectors and marks) in `events`, in the order read. */
function featuresOffsets(events: readonly Event[]): Map<Event, number> {
  const offsets = new Map<Event, number>();
  for (const event of events) if (event.kind === 'vector' || event.kind === 'features-mark') offsets.set(event, offsets.size);
  return offsets;
}

function instance(options: { delayMs: number; waitMaxMs: number; cooldownMs: number; alert: AlertMode; maxHeld?: number }, stores = newStores(), modelEvents: Event[] = [LEARNER_STARTED], firstOffset = 0) {
  const selection = new ModelSelection({ defaultModel: 'fraud-lr', pin: null }, scorer, { delayMs: options.delayMs, maxSnapshots: 1_000 });
  const progress = new SourceClocks();
  const outputs: Output[] = [];
  const flow = { paused: false, pauses: 0 };
  const registry = new Registry();
  const scoring = new Scoring(
    { transactionsFeatures: 'transactions.features', fraudScores: 'fraud.scores', fraudAlerts: 'fraud.alerts' },
    selection,
    {
      threshold: 0.7,
      alert: options.alert,
      minRuleSeverity: 'high',
      rules: DEFAULT_RULES,
      topFeatures: 1,
      cooldown: { cooldownMs: options.cooldownMs, maxEntries: 1_000, pendingRetentionMs: 1_000 },
      modelWaitMaxMs: options.waitMaxMs,
      maxHeld: options.maxHeld ?? 1_000_000,
      partitions: 1,
    },
    new FraudMetrics(registry, () => null),
    () => modelReadyThrough(progress, options.delayMs),
  );
  const task: TaskInfo = { partition: 0, lagAtAssignment: new Map() };
  const store = <V>(name: string) => stores.get(name) as unknown as PartitionStore<V>;
  const context = (now: number): ProcessingContext => ({
    partition: 0,
    logger,
    now,
    batch: undefined,
    task,
    store,
    send: (topic, _key, record) => outputs.push({ topic, record: { ...(record as Record<string, unknown>) } }),
    sendBytes: () => {
      throw new Error('not used');
    },
    sendWatermark: () => {
      throw new Error('not used');
    },
    // The one input's pause, for the caller to honour (it hands over no features event while paused).
    pauseInput: () => {
      flow.paused = true;
      flow.pauses++;
    },
    resumeInput: () => {
      flow.paused = false;
    },
    isInputPaused: () => flow.paused,
    afterCommit: (effect) => effect(),
    deadLetter: () => {
      throw new Error('nothing should be dead-lettered');
    },
  });
  const received = { input: 'features', topic: 'transactions.features', partition: 0, offset: '0', timestamp: '0', key: null, rawValue: null, headers: {} } as const;
  let nextOffset = firstOffset;
  const vectorRecord = (vector: FeatureVector, offset = nextOffset++): FraudRecord => ({ ...received, offset: String(offset), value: vector });
  const markRecord = (watermark: WatermarkMark): FraudRecord => ({ ...received, offset: String(nextOffset++), value: null, watermark });
  const feed = (event: Event, now = 0) => {
    if (event.kind === 'vector') scoring.process(vectorRecord(event.vector), context(now));
    else if (event.kind === 'features-mark') scoring.process(markRecord(event.mark), context(now));
    else if (event.kind === 'snapshot') selection.offer(event.snapshot);
    else if (event.kind === 'progress') progress.observe({ source: 0, sources: 1, time: event.time, idle: event.idle });
    else scoring.advance(context(now));
  };
  // A restarted instance reads model.updates whole before it processes anything.
  for (const event of modelEvents) feed(event);
  scoring.onRestored({ partition: 0, task, logger, now: 0, store });
  /** What the processor commits for transactions.features after the last batch: the oldest vector still held in memory only. */
  const oldestHeld = () => scoring.heldInputs.oldestHeld(task, 'transactions.features');
  /** As the processor does after an assignment: the vectors read since the committed offset `from`, handed back to be held again. */
  const replay = (events: readonly Event[], from: string | undefined) => {
    for (const [event, offset] of featuresOffsets(events)) {
      if (event.kind === 'vector' && from !== undefined && offset >= Number(from)) scoring.heldInputs.replay(vectorRecord(event.vector, offset), task);
    }
  };
  return { feed, outputs, stores, selection, flow, registry, oldestHeld, replay };
}

/** Outputs without their processing-time stamps, as a comparable list. */
function comparable(outputs: Output[]): unknown[] {
  return outputs.map(({ topic, record }) => {
    const { scored_at: _s, alerted_at: _a, ...rest } = record;
    return { topic, ...rest };
  });
}

/**
 * The learner's first progress, read before any vector (fraud reads model.updates to its end before it starts):
 * before any progress record fraud does not hold (rules alone, whenever vectors come), a choice outside this property.
 */
const LEARNER_STARTED: Event = { kind: 'progress', time: -1_000, idle: false };
const SOURCES = 3;
const DELAY = 5;

/**
 * A stream: per terminal-stage source, vectors in event-time order each
 * followed by that source's (inclusive) watermark, then a final mark; the
 * learner's snapshots (by label clock) each followed by its progress, then a
 * final progress.
 */
const scenario = fc
  .record({
    vectors: fc.array(fc.record({ source: fc.integer({ min: 0, max: SOURCES - 1 }), time: fc.integer({ min: 0, max: 60 }), a: fc.double({ min: 0, max: 1, noNaN: true }), customer: fc.integer({ min: 0, max: 3 }) }), {
      minLength: 1,
      maxLength: 40,
    }),
    snapshots: fc.array(
      fc.record({ clock: fc.integer({ min: 0, max: 60 }), weight: fc.integer({ min: -8, max: 8 }), model: fc.constantFrom('fraud-lr', 'gbdt'), champion: fc.constantFrom<string | null>(null, 'fraud-lr', 'gbdt') }),
      { maxLength: 6 },
    ),
    choices: fc.array(fc.integer({ min: 0, max: 1_000 }), { minLength: 200, maxLength: 200 }),
  })
  .map(({ vectors, snapshots, choices }) => {
    const queues: Event[][] = Array.from({ length: SOURCES }, (_, source) => {
      const mine = vectors
        .map((v, i) => ({ ...v, id: `tx-${String(i).padStart(3, '0')}` }))
        .filter((v) => v.source === source)
        .sort((x, y) => x.time - y.time);
      const events: Event[] = [];
      for (const v of mine) {
        events.push({ kind: 'vector', vector: vector(v.id, v.time, v.a, `c${v.customer}`) });
        // Marks are inclusive: another vector of the same millisecond may follow, so the mark stays one below it.
        events.push({ kind: 'features-mark', mark: { source, sources: SOURCES, time: v.time - 1, idle: false } });
      }
      events.push({ kind: 'features-mark', mark: { source, sources: SOURCES, time: 1_000, idle: false } });
      return events;
    });
    const model: Event[] = [];
    [...snapshots]
      .sort((x, y) => x.clock - y.clock)
      .forEach((s, i) => {
        model.push({ kind: 'snapshot', snapshot: snapshot(i + 1, s.clock, s.weight, s.model, s.champion) });
        // Trained through just below this clock: another snapshot with the same clock may follow.
        model.push({ kind: 'progress', time: s.clock - 1, idle: false });
      });
    model.push({ kind: 'progress', time: 1_000, idle: false });
    queues.push(model);
    return { queues, choices };
  });

/** One interleaving of the queues (each kept in its order), with advances (batch ends, punctuations) sprinkled in. */
function interleave(queues: Event[][], choices: number[]): Event[] {
  const heads = queues.map(() => 0);
  const events: Event[] = [];
  let c = 0;
  for (;;) {
    const open = queues.map((_, i) => i).filter((i) => heads[i]! < queues[i]!.length);
    if (open.length === 0) break;
    const pick = choices[c++ % choices.length]!;
    const q = open[pick % open.length]!;
    events.push(queues[q]![heads[q]!++]!);
    if (pick % 3 === 0) events.push({ kind: 'advance' });
  }
  events.push({ kind: 'advance' });
  return events;
}

/**
 * As `interleave`, but live: while the instance has paused transactions.features, only the model stream is
 * handed over (the broker keeps the rest); an advance follows each model event, as the punctuation would.
 */
function interleavePaused(queues: Event[][], choices: number[], run: ReturnType<typeof instance>): void {
  const heads = queues.map(() => 0);
  const model = queues.length - 1;
  let c = 0;
  for (;;) {
    const open = queues.map((_, i) => i).filter((i) => heads[i]! < queues[i]!.length && (i === model || !run.flow.paused));
    if (open.length === 0) {
      // Nothing more can be handed over: everything was read, or the pause never ends (a deadlock).
      expect(run.flow.paused).toBe(false);
      break;
    }
    const pick = choices[c++ % choices.length]!;
    const q = open[pick % open.length]!;
    run.feed(queues[q]![heads[q]!++]!);
    if (pick % 3 === 0 || q === model) run.feed({ kind: 'advance' });
  }
  run.feed({ kind: 'advance' });
}

describe('ScoringOrder', () => {
  it('holds a vector until the features watermarks and the model stream have both passed it, then releases in (time, id) order', () => {
    const stores = { buffer: new PartitionStore<HeldVector>({ name: 'b', changelogTopic: 'b' }, 0), clocks: new PartitionStore<StoredScoringClocks>({ name: 'c', changelogTopic: 'c' }, 0) };
    const order = new ScoringOrder(stores, 60_000);
    order.add(vector('b', 10, 0.1, 'c'), 0);
    order.add(vector('a', 10, 0.1, 'c'), 0);
    order.add(vector('z', 5, 0.1, 'c'), 0);
    expect(order.advance(Infinity, 0)).toEqual([]); // no watermark yet
    order.observeWatermark({ source: 0, sources: 2, time: 20, idle: false });
    expect(order.advance(Infinity, 0)).toEqual([]); // one source of two has reported
    order.observeWatermark({ source: 1, sources: 2, time: 8, idle: false });
    expect(order.advance(4, 0)).toEqual([]); // the model stream is behind
    expect(order.advance(9, 0).map((r) => r.vector.transaction_id)).toEqual(['z']);
    order.observeWatermark({ source: 1, sources: 2, time: 30, idle: false });
    expect(order.advance(Infinity, 0).map((r) => r.vector.transaction_id)).toEqual(['a', 'b']);
    expect(order.size).toBe(0);
    // Behind the frontier already scored: late, handed back at once.
    expect(order.add(vector('late', 10, 0.1, 'c'), 0)).toEqual([{ vector: expect.objectContaining({ transaction_id: 'late' }), expired: false, late: true }]);
  });

  it('releases a vector whose model wait ran out (flagged expired), with every vector before it, and keeps the wait across a restore', () => {
    const stores = { buffer: new PartitionStore<HeldVector>({ name: 'b', changelogTopic: 'b' }, 0), clocks: new PartitionStore<StoredScoringClocks>({ name: 'c', changelogTopic: 'c' }, 0) };
    let order = new ScoringOrder(stores, 1_000);
    order.observeWatermark({ source: 0, sources: 1, time: 100, idle: false });
    order.add(vector('new', 50, 0.1, 'c'), 500);
    order.add(vector('old', 40, 0.1, 'c'), 900);
    order.add(vector('held', 60, 0.1, 'c'), 900);
    expect(order.advance(0, 1_400)).toEqual([]);
    // A restored task counts the wait from the stored arrival, not from the restore.
    order = new ScoringOrder(stores, 1_000);
    const released = order.advance(0, 1_500);
    expect(released.map((r) => [r.vector.transaction_id, r.expired])).toEqual([
      ['old', true],
      ['new', true],
    ]);
    expect(order.advance(0, 1_899)).toEqual([]);
    expect(order.advance(0, 1_900).map((r) => r.vector.transaction_id)).toEqual(['held']);
  });

  it('holds everything until the learner has published progress, and while it is idle holds what is newer than where it stood', () => {
    const progress = new SourceClocks();
    expect(modelReadyThrough(progress, 30)).toBe(-Infinity);
    progress.observe({ source: 0, sources: 1, time: 100, idle: false });
    expect(modelReadyThrough(progress, 30)).toBe(130);
    // Idle at 150: a vector at 200 reaches the learner too, and may take it past a snapshot boundary it must be scored by.
    progress.observe({ source: 0, sources: 1, time: 150, idle: true });
    expect(modelReadyThrough(progress, 30)).toBe(180);
  });
});

describe('HELD_SEGMENTS', () => {
  const timeOf = (held: HeldVector) => held.vector.event_time;
  /** A store rebuilt from what `store`'s changelog would hold: each value as JSON, read back. */
  const throughChangelog = (store: PartitionStore<unknown>) => {
    const copy = new PartitionStore<unknown>({ name: SCORING_BUFFER_STORE, changelogTopic: 'changelog' }, 0);
    for (const [key, value] of store.entries()) copy.restore(key, Buffer.from(JSON.stringify(value)));
    return copy;
  };

  it('keeps one array of names for every held vector, writes them once per segment, and restores the vectors equal', () => {
    const store = new PartitionStore<unknown>({ name: SCORING_BUFFER_STORE, changelogTopic: 'changelog' }, 0);
    const buffer = new SegmentedBuffer<HeldVector>(store, HELD_SEGMENTS, -Infinity, timeOf);
    const vectors = [1, 2, 3].map((n) => ({ ...vector(`tx-${n}`, n, n / 4, 'c'), feature_names: [...FEATURES] }));
    vectors.forEach((held, n) => buffer.put(held.transaction_id, { vector: held, arrived_at: 100 + n }));

    const heldNames = vectors.map((held) => buffer.get(held.transaction_id)!.vector.feature_names);
    expect(new Set(heldNames).size).toBe(1);
    const written = JSON.stringify([...store.entries()]);
    expect(written.split(JSON.stringify(FEATURES)).length - 1).toBe(1);

    const restored = new SegmentedBuffer<HeldVector>(throughChangelog(store), HELD_SEGMENTS, -Infinity, timeOf);
    expect([...restored.entries()]).toEqual(vectors.map((held, n) => [held.transaction_id, { vector: held, arrived_at: 100 + n }]));
    expect(new Set([...restored.entries()].map(([, held]) => held.vector.feature_names)).size).toBe(1);
  });

  it('reads a segment written before names were shared (a plain list of held vectors), past the applied frontier', () => {
    const store = new PartitionStore<unknown>({ name: SCORING_BUFFER_STORE, changelogTopic: 'changelog' }, 0);
    const before: [string, HeldVector][] = [1, 2, 3].map((n) => [`tx-${n}`, { vector: vector(`tx-${n}`, n, n / 4, 'c'), arrived_at: n }]);
    store.restore('segment-0', Buffer.from(JSON.stringify({ segment: before })));

    const restored = new SegmentedBuffer<HeldVector>(store, HELD_SEGMENTS, 1, timeOf);
    expect([...restored.entries()]).toEqual(before.slice(1));
  });
});

describe('Scoring in event time', () => {
  const base = { delayMs: DELAY, waitMaxMs: 1e12, cooldownMs: 7 };
  /** The fixed threshold, or a budget of one card a day of 20 ms (a few days per stream). */
  const alertModes = fc.constantFrom<AlertMode>({ mode: 'threshold' }, { mode: 'budget', cardsPerDay: 1, partitions: 1, dayMs: 20 });

  it('gives the same scores and alerts for any interleaving of the sources and the model stream, each vector scored by the newest snapshot at or before t − E (property)', () => {
    fc.assert(
      fc.property(scenario, fc.array(fc.integer({ min: 0, max: 1_000 }), { minLength: 50, maxLength: 50 }), alertModes, ({ queues, choices }, otherChoices, alert) => {
        const options = { ...base, alert };
        // Reference: the whole model stream first, then the vectors of all sources in turn.
        const reference = instance(options);
        for (const event of [...queues.at(-1)!, ...queues.slice(0, -1).flat(), { kind: 'advance' } as Event]) reference.feed(event);
        const snapshots = queues.at(-1)!.flatMap((e) => (e.kind === 'snapshot' ? [e.snapshot] : []));
        const vectors = queues.slice(0, -1).flatMap((q) => q.flatMap((e) => (e.kind === 'vector' ? [e.vector] : [])));
        const scores = reference.outputs.filter((o) => o.topic === 'fraud.scores').map((o) => o.record);
        // Every vector once, in (event_time, id) order, with the brute-force model choice.
        expect(scores.map((s) => s.transaction_id)).toEqual(
          [...vectors].sort((x, y) => x.event_time - y.event_time || (x.transaction_id < y.transaction_id ? -1 : 1)).map((v) => v.transaction_id),
        );
        // The model of each score: the champion rule over every snapshot (a table never pruned, no vector held).
        const everything = new ModelSelection({ defaultModel: 'fraud-lr', pin: null }, scorer, { delayMs: DELAY, maxSnapshots: 1_000 });
        for (const s of snapshots) everything.offer(s);
        for (const score of scores) {
          const choice = everything.choose(score.event_time as number);
          const served = choice.status === 'model' ? choice.served : null;
          expect([score.model_name, score.model_version, score.model_selection]).toEqual(served === null ? [null, null, null] : [served.model.snapshot.model_name, served.model.snapshot.version, served.selection]);
        }
        const alerts = reference.outputs.filter((o) => o.topic === 'fraud.alerts').map((o) => o.record);
        for (const alert of alerts) {
          const score = scores.find((s) => s.transaction_id === alert.transaction_id)!;
          expect([alert.model_name, alert.model_version, alert.model_selection, alert.threshold]).toEqual([score.model_name, score.model_version, score.model_selection, score.threshold]);
        }
        for (const mix of [choices, otherChoices]) {
          const run = instance(options);
          for (const event of interleave(queues, mix)) run.feed(event);
          expect(comparable(run.outputs)).toEqual(comparable(reference.outputs));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('decides the same after a restore at any point: state from the changelogs, held vectors read again from their input, model.updates read again (property)', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: 1_000 }), alertModes, ({ queues, choices }, cutAt, alert) => {
        const options = { ...base, alert };
        const events = interleave(queues, choices);
        const whole = instance(options);
        for (const event of events) whole.feed(event);
        // A task commits after a batch's advance (afterBatch) or a punctuation: the cut falls just after one.
        const commits = [0, ...events.flatMap((e, i) => (e.kind === 'advance' ? [i + 1] : []))];
        const cut = commits[cutAt % commits.length]!;
        const before = instance(options);
        for (const event of events.slice(0, cut)) before.feed(event);
        // What committed survives; the restarted instance reads model.updates from the start.
        const modelSoFar = events.slice(0, cut).filter((e) => e.kind === 'snapshot' || e.kind === 'progress');
        const read = events.slice(0, cut);
        const after = instance(options, restoredCopy(before.stores), [LEARNER_STARTED, ...modelSoFar], featuresOffsets(read).size);
        // What was read but is held in memory only comes back from transactions.features.
        after.replay(read, before.oldestHeld());
        for (const event of events.slice(cut)) after.feed(event);
        expect(comparable([...before.outputs, ...after.outputs])).toEqual(comparable(whole.outputs));
      }),
      { numRuns: 150 },
    );
  });

  it('pauses transactions.features past FRAUD_MAX_HELD while the model stream holds, resumes, and changes no output (property)', () => {
    let paused = 0;
    fc.assert(
      fc.property(scenario, fc.integer({ min: 1, max: 4 }), alertModes, ({ queues, choices }, maxHeld, alert) => {
        const reference = instance({ ...base, alert });
        for (const event of interleave(queues, choices)) reference.feed(event);
        const bounded = instance({ ...base, alert, maxHeld });
        interleavePaused(queues, choices, bounded);
        expect(comparable(bounded.outputs)).toEqual(comparable(reference.outputs));
        paused += bounded.flow.pauses;
      }),
      { numRuns: 150 },
    );
    // The bound was reached, or this property shows nothing.
    expect(paused).toBeGreaterThan(0);
  });

  it('reports the served model: the gauge follows the newest vector in event time, scores are counted by model', async () => {
    const run = instance({ ...base, alert: { mode: 'threshold' } });
    for (const event of [
      { kind: 'snapshot', snapshot: snapshot(1, 0, 4, 'fraud-lr', 'fraud-lr') },
      { kind: 'snapshot', snapshot: snapshot(2, 0, 4, 'gbdt', 'fraud-lr') },
      { kind: 'snapshot', snapshot: snapshot(3, 20, -4, 'gbdt', 'gbdt') },
      { kind: 'progress', time: 1_000, idle: false },
      { kind: 'vector', vector: vector('a', 10, 0.5, 'c1') },
      { kind: 'vector', vector: vector('b', 30, 0.5, 'c1') },
      { kind: 'features-mark', mark: { source: 0, sources: 1, time: 30, idle: false } },
      { kind: 'advance' },
      // A vector older than the newest scored (another task's, late here) does not turn the gauge back.
      { kind: 'vector', vector: vector('late', 12, 0.5, 'c2') },
    ] satisfies Event[]) run.feed(event);
    const values = async (name: string) => (await run.registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels.model, v.labels.selection, v.value]);
    expect(await values('sluice_fraud_champion_info')).toEqual([
      ['fraud-lr', 'champion', 0],
      ['gbdt', 'champion', 1],
    ]);
    expect(await values('sluice_fraud_model_scores_total')).toEqual([
      ['fraud-lr', 'champion', 2],
      ['gbdt', 'champion', 1],
    ]);
    expect(run.outputs.filter((o) => o.topic === 'fraud.scores').map((o) => [o.record.transaction_id, o.record.model_name, o.record.model_version])).toEqual([
      ['a', 'fraud-lr', 1],
      ['b', 'gbdt', 3],
      ['late', 'fraud-lr', 1],
    ]);
  });
});
