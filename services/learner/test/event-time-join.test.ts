import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SourceClocks, type FeatureVector, type KeyValueStore, type Label, type LabelledExample } from '@sluice/shared';
import { EventTimeJoin, joinOrder, type EventTimeJoinOptions, type JoinEvent } from '../src/event-time-join.js';

/** A Map with the store's interface, standing in for a changelogged store. */
class MapStore<T> extends Map<string, T> implements KeyValueStore<T> {
  put(key: string, value: T): void {
    this.set(key, value);
  }
}

interface Stores {
  buffer: MapStore<JoinEvent>;
  pending: MapStore<FeatureVector>;
  early: MapStore<Label>;
}

const newStores = (): Stores => ({ buffer: new MapStore(), pending: new MapStore(), early: new MapStore() });
/** What a changelog restores: the same entries, in another insertion order. */
const restoredCopy = (stores: Stores): Stores => {
  const copy = <T>(store: MapStore<T>) => new MapStore<T>([...store.entries()].reverse());
  return { buffer: copy(stores.buffer), pending: copy(stores.pending), early: copy(stores.early) };
};

function vector(id: string, eventTime: number): FeatureVector {
  return {
    transaction_id: id,
    customer_id: 'c',
    terminal_id: 't',
    event_time: eventTime,
    amount: 1,
    feature_set_version: 'v',
    feature_names: ['a'],
    feature_values: [eventTime],
    ingested_at: 0,
  };
}

function label(id: string, txTime: number, labeledAt: number, isFraud: boolean): Label {
  return { transaction_id: id, customer_id: 'c', terminal_id: 't', tx_event_time: txTime, is_fraud: isFraud, labeled_at: labeledAt, ingested_at: 0 };
}

const TTL = 20;

/** Transactions with a label or not (established before or after them), and a duplicate label now and then. */
const scenarioArb = fc
  .array(
    fc.record({
      time: fc.integer({ min: 0, max: 60 }),
      labelled: fc.boolean(),
      labelDelay: fc.integer({ min: -5, max: 30 }),
      fraud: fc.boolean(),
      source: fc.integer({ min: 0, max: 2 }),
    }),
    { maxLength: 30 },
  )
  .map((txs) => {
    const vectors: { event: JoinEvent; source: number }[] = [];
    const labels: JoinEvent[] = [];
    txs.forEach((tx, i) => {
      const id = `tx${i}`;
      vectors.push({ event: { kind: 'vector', vector: vector(id, tx.time) }, source: tx.source });
      if (tx.labelled) labels.push({ kind: 'label', label: label(id, tx.time, tx.time + tx.labelDelay, tx.fraud) });
    });
    return { vectors, labels };
  });

type Scenario = { vectors: { event: JoinEvent; source: number }[]; labels: JoinEvent[] };

const byOrder = (a: JoinEvent, b: JoinEvent) => {
  const x = joinOrder(a);
  const y = joinOrder(b);
  return x.time - y.time || x.rank - y.rank || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
};

/**
 * Replays the scenario as it could arrive: three upstream sources of vectors, each in its own event-time
 * order with a watermark after every event, and one labels partition in labeled_at order, interleaved by
 * `choices`; the frontier is the minimum of the sources' watermarks and the newest label less 1 ms.
 * `crashAt`: after that many steps the join is rebuilt from a restored copy of its stores.
 */
function run(
  scenario: Scenario,
  options: EventTimeJoinOptions,
  choices: number[],
  crashAt: number,
  restore = restoredCopy,
  outcomes: string[] = [],
  held: string[] = [],
  maxEvents = Infinity,
): LabelledExample[] {
  const queues: JoinEvent[][] = [0, 1, 2].map((s) => scenario.vectors.filter((v) => v.source === s).map((v) => v.event).sort(byOrder));
  queues.push([...scenario.labels].sort(byOrder));
  let stores = newStores();
  let join = new EventTimeJoin(options, stores);
  const clocks = new SourceClocks();
  let labelsNewest = -Infinity;
  const out: LabelledExample[] = [];
  let step = 0;
  for (let c = 0; queues.some((q) => q.length > 0); c++) {
    const nonEmpty = queues.map((q, i) => i).filter((i) => queues[i]!.length > 0);
    const source = nonEmpty[(choices[c % Math.max(1, choices.length)] ?? 0) % nonEmpty.length]!;
    const event = queues[source]!.shift()!;
    const added = join.add(event);
    out.push(...added.examples);
    outcomes.push(...added.outcomes);
    if (source < 3) {
      const next = queues[source]![0];
      clocks.observe({ source, sources: 3, time: next ? joinOrder(next).time - 1 : 1_000, idle: false });
    } else labelsNewest = joinOrder(event).time;
    const released = join.releaseThrough(Math.min(clocks.frontier, queues[3]!.length === 0 ? 1_000 : labelsNewest - 1), maxEvents);
    out.push(...released.examples);
    outcomes.push(...released.outcomes);
    held.push(`${[...stores.pending.keys()].sort().join()}|${[...stores.early.keys()].sort().join()}`);
    if (++step === crashAt) {
      stores = restore(stores);
      join = new EventTimeJoin(options, stores, join.frontier);
    }
  }
  for (let s = 0; s < 3; s++) clocks.observe({ source: s, sources: 3, time: 1_000, idle: false });
  while (join.frontier < 1_000) {
    const last = join.releaseThrough(1_000, maxEvents);
    outcomes.push(...last.outcomes);
    out.push(...last.examples);
  }
  return out;
}

/** Brute force (no memory bounds): every event and horizon sorted, applied one by one. */
function oracle(scenario: Scenario, end: number): string[] {
  type Step = { time: number; rank: number; id: string; apply: () => void };
  const out: string[] = [];
  const pending = new Map<string, FeatureVector>();
  const early = new Map<string, Label>();
  const steps: Step[] = [];
  for (const { event } of scenario.vectors) {
    if (event.kind !== 'vector') continue;
    const v = event.vector;
    steps.push({
      time: v.event_time,
      rank: 0,
      id: v.transaction_id,
      apply: () => {
        out.push(`unlabelled/${v.transaction_id}@${v.event_time}`);
        const held = early.get(v.transaction_id);
        if (held) {
          early.delete(v.transaction_id);
          out.push(`label/${v.transaction_id}/${held.is_fraud}@${v.event_time}`);
        } else if (!pending.has(v.transaction_id)) pending.set(v.transaction_id, v);
      },
    });
    steps.push({
      time: v.event_time + TTL,
      rank: 2,
      id: v.transaction_id,
      apply: () => {
        if (pending.delete(v.transaction_id)) out.push(`horizon/${v.transaction_id}@${v.event_time + TTL}`);
      },
    });
  }
  for (const event of scenario.labels) {
    if (event.kind !== 'label') continue;
    const l = event.label;
    steps.push({
      time: l.labeled_at,
      rank: 1,
      id: l.transaction_id,
      apply: () => {
        if (pending.delete(l.transaction_id)) out.push(`label/${l.transaction_id}/${l.is_fraud}@${l.labeled_at}`);
        else if (l.tx_event_time > l.labeled_at) early.set(l.transaction_id, l);
      },
    });
  }
  steps.sort((a, b) => a.time - b.time || a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const step of steps) if (step.time <= end) step.apply();
  return out;
}

const describeExample = (e: LabelledExample) =>
  e.kind === 'unlabelled'
    ? `unlabelled/${e.vector.transaction_id}@${e.decided_at}`
    : e.label_source === 'label'
      ? `label/${e.vector.transaction_id}/${e.is_fraud}@${e.decided_at}`
      : `horizon/${e.vector.transaction_id}@${e.decided_at}`;

/** Every transaction labelled, `delay` after it, on a coarse grid of times so that ties are common. */
const coarseScenarioArb = (maxTime: number, minDelay: number, maxDelay: number) =>
  fc
    .array(
      fc.record({ time: fc.integer({ min: 0, max: maxTime }), labelDelay: fc.integer({ min: minDelay, max: maxDelay }), fraud: fc.boolean(), source: fc.integer({ min: 0, max: 2 }) }),
      { minLength: 4, maxLength: 40 },
    )
    .map(
      (txs): Scenario => ({
        vectors: txs.map((tx, i) => ({ event: { kind: 'vector', vector: vector(`tx${i}`, tx.time) }, source: tx.source })),
        labels: txs.map((tx, i) => ({ kind: 'label', label: label(`tx${i}`, tx.time, tx.time + tx.labelDelay, tx.fraud) })),
      }),
    );

/** A restore from a compacted changelog: the same entries in an order picked by `shuffle`. */
const shuffledCopy = (shuffle: number[]) => (stores: Stores): Stores => {
  const copy = <T>(store: MapStore<T>) => {
    const entries = [...store.entries()];
    for (let i = entries.length - 1; i > 0; i--) {
      const j = (shuffle[i % Math.max(1, shuffle.length)] ?? 0) % (i + 1);
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    return new MapStore<T>(entries);
  };
  return { buffer: copy(stores.buffer), pending: copy(stores.pending), early: copy(stores.early) };
};

const unbounded: EventTimeJoinOptions = { ttlMs: TTL, maxEntries: 1_000, maxEarlyLabels: 1_000 };

describe('EventTimeJoin', () => {
  it('joins exactly as a brute-force pass over all events and horizons sorted in event time', () => {
    fc.assert(
      fc.property(scenarioArb, fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (scenario, choices) => {
        expect(run(scenario, unbounded, choices, -1).map(describeExample)).toEqual(oracle(scenario, 1_000));
      }),
    );
  });

  it('emits the same examples in the same order however the sources interleave, and after a crash and restore, memory bounds included', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 60 }),
        fc.record({ maxEntries: fc.integer({ min: 1, max: 6 }), maxEarlyLabels: fc.integer({ min: 1, max: 3 }) }),
        (scenario, one, other, crashAt, bounds) => {
          const options = { ttlMs: TTL, ...bounds };
          const reference = run(scenario, options, one, -1);
          expect(run(scenario, options, other, -1)).toEqual(reference);
          expect(run(scenario, options, other, crashAt)).toEqual(reference);
          // The order the training stage relies on: decided_at never goes back.
          for (let i = 1; i < reference.length; i++) expect(reference[i]!.decided_at!).toBeGreaterThanOrEqual(reference[i - 1]!.decided_at!);
        },
      ),
    );
  });

  it('decides the same when each release is cut short after a few events (the training stage\'s budget)', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.record({ maxEntries: fc.integer({ min: 1, max: 6 }), maxEarlyLabels: fc.integer({ min: 1, max: 3 }) }),
        (scenario, choices, maxEvents, bounds) => {
          const options = { ttlMs: TTL, ...bounds };
          const whole: string[] = [];
          const cut: string[] = [];
          const reference = run(scenario, options, choices, -1, restoredCopy, whole);
          expect(run(scenario, options, choices, -1, restoredCopy, cut, [], maxEvents)).toEqual(reference);
          expect(cut.sort()).toEqual(whole.sort());
        },
      ),
    );
  });

  it('early labels: rebuilt from restored stores at any step, in any entry order, the join evicts, expires and matches them as the original', () => {
    fc.assert(
      fc.property(
        // Labels mostly established before their transaction (early).
        coarseScenarioArb(4, -4, 1),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.nat()),
        fc.integer({ min: 1, max: 3 }),
        (scenario, choices, crashAt, shuffle, maxEarlyLabels) => {
          const options = { ttlMs: TTL, maxEntries: 1_000, maxEarlyLabels };
          const [outcomes, held, restoredOutcomes, restoredHeld]: string[][] = [[], [], [], []];
          const reference = run(scenario, options, choices, -1, restoredCopy, outcomes, held);
          const restored = run(scenario, options, choices, crashAt, shuffledCopy(shuffle), restoredOutcomes, restoredHeld);
          // Which vectors and labels are held after every step, then what was decided.
          expect(restoredHeld).toEqual(held);
          expect(restored.map(describeExample)).toEqual(reference.map(describeExample));
          expect(restoredOutcomes).toEqual(outcomes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('pending vectors: rebuilt from restored stores at any step, in any entry order, the join evicts and expires them as the original', () => {
    fc.assert(
      fc.property(
        // Labels established after their transaction, some past its horizon.
        coarseScenarioArb(5, 0, 2 * TTL),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.nat()),
        fc.integer({ min: 1, max: 4 }),
        (scenario, choices, crashAt, shuffle, maxEntries) => {
          const options = { ttlMs: TTL, maxEntries, maxEarlyLabels: 1_000 };
          const [outcomes, held, restoredOutcomes, restoredHeld]: string[][] = [[], [], [], []];
          const reference = run(scenario, options, choices, -1, restoredCopy, outcomes, held);
          const restored = run(scenario, options, choices, crashAt, shuffledCopy(shuffle), restoredOutcomes, restoredHeld);
          // Which vectors and labels are held after every step, then what was decided.
          expect(restoredHeld).toEqual(held);
          expect(restored.map(describeExample)).toEqual(reference.map(describeExample));
          expect(restoredOutcomes).toEqual(outcomes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('lets a label established at a vector\'s very event time label it, and one at its horizon still count', () => {
    const join = new EventTimeJoin(unbounded, newStores());
    join.add({ kind: 'label', label: label('a', 10, 10, true) });
    join.add({ kind: 'vector', vector: vector('a', 10) });
    join.add({ kind: 'vector', vector: vector('b', 10) });
    join.add({ kind: 'label', label: label('b', 10, 10 + TTL, true) });
    const examples = join.releaseThrough(100).examples.map(describeExample);
    expect(examples).toEqual(['unlabelled/a@10', 'unlabelled/b@10', 'label/a/true@10', `label/b/true@${10 + TTL}`]);
  });

  it('applies an event older than the frontier at once, decided at the frontier, and counts it late', () => {
    const join = new EventTimeJoin(unbounded, newStores());
    join.releaseThrough(50);
    const late = join.add({ kind: 'vector', vector: vector('old', 40) });
    expect(late.outcomes).toEqual(['late']);
    expect(late.examples.map(describeExample)).toEqual(['unlabelled/old@50']);
  });
});
