import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionStore, Random, type FeatureVector } from '@sluice/shared';
import { PendingFeatures, type PendingFeaturesOptions } from '../src/label-join.js';

const DAY = 86_400_000;

function vector(id: string, eventTime: number): FeatureVector {
  return {
    transaction_id: id,
    customer_id: `c-${id}`,
    terminal_id: 't-1',
    event_time: eventTime,
    amount: 12.5,
    feature_set_version: 'handbook-v1',
    feature_names: ['a', 'b'],
    feature_values: [1, 2.5],
    ingested_at: eventTime + 5,
  };
}

const ids = (vs: FeatureVector[]) => vs.map((v) => v.transaction_id);
const newBacking = () => new PartitionStore<FeatureVector>({ name: 'pending', changelogTopic: 'learner-pending-changelog' }, 0);
const newPending = (options: Partial<PendingFeaturesOptions> = {}, backing = newBacking()) => new PendingFeatures(options, backing);

describe('PendingFeatures', () => {
  it('hands a vector to its label once, and reports labels for unknown transactions', () => {
    const store = newPending({ ttlMs: 30 * DAY, maxEntries: 10 });
    const v = vector('tx1', 1000);
    expect(store.addVector(v)).toEqual({ status: 'added', evicted: [] });
    expect(store.takeForLabel({ transaction_id: 'tx1' })).toBe(v);
    expect(store.takeForLabel({ transaction_id: 'tx1' })).toBeUndefined();
    expect(store.takeForLabel({ transaction_id: 'never-seen' })).toBeUndefined();
    expect(store.stats()).toEqual({ size: 0, added: 1, duplicates: 0, matched: 1, unknownLabels: 2, expired: 0, evicted: 0 });
  });

  it('keeps the first vector of a transaction id', () => {
    const store = newPending();
    const first = vector('tx', 1);
    store.addVector(first);
    expect(store.addVector({ ...first, amount: 99 })).toEqual({ status: 'duplicate' });
    expect(store.takeForLabel({ transaction_id: 'tx' })).toBe(first);
    expect(store.stats().duplicates).toBe(1);
  });

  it('expires in event time at exactly event_time + ttl, oldest first, whatever the arrival order', () => {
    const store = newPending({ ttlMs: 10 * DAY, maxEntries: 100 });
    [5, 1, 3, 2, 4].forEach((d) => store.addVector(vector(`d${d}`, d * DAY)));
    expect(store.expire(11 * DAY - 1)).toEqual([]);
    expect(ids(store.expire(12 * DAY))).toEqual(['d1', 'd2']);
    store.takeForLabel({ transaction_id: 'd4' });
    expect(ids(store.expire(100 * DAY))).toEqual(['d3', 'd5']);
    expect(store.size).toBe(0);
    expect(store.stats().expired).toBe(4);
  });

  it('evicts the oldest waiting vector beyond its bound, counted', () => {
    const store = newPending({ ttlMs: DAY, maxEntries: 3 });
    ['a', 'b', 'c'].forEach((id, i) => store.addVector(vector(id, 100 + i)));
    const result = store.addVector(vector('d', 200));
    expect(result.status).toBe('added');
    expect(result.status === 'added' && ids(result.evicted)).toEqual(['a']);
    expect(store.addVector(vector('too-old', 50))).toEqual({ status: 'evicted' });
    expect(store.size).toBe(3);
    expect(store.takeForLabel({ transaction_id: 'a' })).toBeUndefined();
    expect(store.stats()).toMatchObject({ evicted: 2, unknownLabels: 1, size: 3 });
  });

  it('behaves like a brute-force list under random adds, labels and watermarks', () => {
    const r = new Random(12);
    const ttl = 1000;
    const max = 50;
    const backing = newBacking();
    const store = newPending({ ttlMs: ttl, maxEntries: max }, backing);
    // Waiting vectors; "oldest" = smallest event time, smallest transaction id on ties (not arrival: a restored store must agree).
    let reference: FeatureVector[] = [];
    const oldestFirst = (vs: FeatureVector[]) =>
      [...vs].sort((a, b) => a.event_time - b.event_time || (a.transaction_id < b.transaction_id ? -1 : a.transaction_id > b.transaction_id ? 1 : 0));
    let watermark = 0;
    let next = 0;
    for (let step = 0; step < 20_000; step++) {
      const op = r.next();
      if (op < 0.5) {
        const v = vector(`tx${next++}`, watermark + Math.floor(r.next() * 400) - 200);
        const result = store.addVector(v);
        if (reference.length < max) {
          expect(result).toEqual({ status: 'added', evicted: [] });
          reference.push(v);
        } else {
          const oldest = oldestFirst(reference)[0] as FeatureVector;
          if (oldestFirst([v, oldest])[0] === v) {
            expect(result).toEqual({ status: 'evicted' });
          } else {
            expect(result).toEqual({ status: 'added', evicted: [oldest] });
            reference = reference.filter((x) => x !== oldest).concat(v);
          }
        }
      } else if (op < 0.9) {
        const id = `tx${Math.floor(r.next() * next)}`;
        const expected = reference.find((x) => x.transaction_id === id);
        expect(store.takeForLabel({ transaction_id: id })).toBe(expected);
        reference = reference.filter((x) => x !== expected);
      } else {
        watermark += Math.floor(r.next() * 100);
        expect(store.expire(watermark)).toEqual(oldestFirst(reference.filter((x) => x.event_time + ttl <= watermark)));
        reference = reference.filter((x) => x.event_time + ttl > watermark);
      }
      expect(store.size).toBe(reference.length);
      expect(backing.size).toBe(reference.length);
    }
    expect(oldestFirst([...backing.keys()].map((id) => backing.get(id)!))).toEqual(oldestFirst(reference));
  });

  it('rebuilt from its changelog at any commit, in any record order, decides like the original', () => {
    type Op = { op: 'add'; id: number; time: number } | { op: 'label'; id: number } | { op: 'expire'; step: number } | { op: 'commit' };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ op: fc.constant('add' as const), id: fc.integer({ min: 0, max: 20 }), time: fc.integer({ min: 0, max: 15 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('label' as const), id: fc.integer({ min: 0, max: 20 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const), step: fc.integer({ min: 0, max: 4 }) }) },
      { weight: 1, arbitrary: fc.constant({ op: 'commit' as const }) },
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), fc.array(opArb, { maxLength: 120 }), fc.array(fc.nat()), (before, after, shuffle) => {
        const options = { ttlMs: 10, maxEntries: 5 };
        const backing = newBacking();
        const original = newPending(options, backing);
        // The watermark never goes back (the join's frontier does not).
        let watermark = 0;
        const apply = (store: PendingFeatures, op: Op, clock: number): unknown =>
          op.op === 'add' ? store.addVector(vector(`tx${op.id}`, clock + op.time)) : op.op === 'label' ? store.takeForLabel({ transaction_id: `tx${op.id}` }) : op.op === 'expire' ? store.expire(clock) : store.size;
        const latest = new Map<string, Buffer | null>();
        for (const op of before) {
          if (op.op === 'expire') watermark += op.step;
          apply(original, op, watermark);
          if (op.op === 'commit') for (const record of backing.drainChanges()) latest.set(record.key, record.value);
        }
        for (const record of backing.drainChanges()) latest.set(record.key, record.value);
        // Compaction keeps each key's latest record, not the order they were first written in: restore in any order.
        const records = [...latest];
        for (let i = records.length - 1; i > 0; i--) {
          const j = (shuffle[i % Math.max(1, shuffle.length)] ?? 0) % (i + 1);
          [records[i], records[j]] = [records[j]!, records[i]!];
        }
        const restoredBacking = newBacking();
        for (const [key, value] of records) restoredBacking.restore(key, value);
        const restored = newPending(options, restoredBacking);
        for (const op of after) {
          if (op.op === 'expire') watermark += op.step;
          expect(apply(restored, op, watermark)).toEqual(apply(original, op, watermark));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rejects nonsensical bounds', () => {
    expect(() => newPending({ ttlMs: 0 })).toThrow(expect.objectContaining({ code: 'invalid_learner_options' }));
    expect(() => newPending({ maxEntries: 0 })).toThrow(expect.objectContaining({ code: 'invalid_learner_options' }));
  });
});
