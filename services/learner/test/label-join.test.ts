import { describe, expect, it } from 'vitest';
import { Random, type FeatureVector } from '@sluice/shared';
import { decodePendingEntry, encodePendingEntry, PendingFeatures } from '../src/label-join.js';

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

describe('PendingFeatures', () => {
  it('hands a vector to its label once, and reports labels for unknown transactions', () => {
    const store = new PendingFeatures({ ttlMs: 30 * DAY, maxEntries: 10 });
    const v = vector('tx1', 1000);
    expect(store.addVector(v)).toEqual({ status: 'added', evicted: undefined });
    expect(store.takeForLabel({ transaction_id: 'tx1' })).toBe(v);
    expect(store.takeForLabel({ transaction_id: 'tx1' })).toBeUndefined();
    expect(store.takeForLabel({ transaction_id: 'never-seen' })).toBeUndefined();
    expect(store.stats()).toEqual({ size: 0, queued: 1, added: 1, duplicates: 0, matched: 1, unknownLabels: 2, expired: 0, evicted: 0 });
  });

  it('keeps the first vector of a transaction id', () => {
    const store = new PendingFeatures();
    const first = vector('tx', 1);
    store.addVector(first);
    expect(store.addVector({ ...first, amount: 99 })).toEqual({ status: 'duplicate' });
    expect(store.takeForLabel({ transaction_id: 'tx' })).toBe(first);
    expect(store.stats().duplicates).toBe(1);
  });

  it('expires in event time at exactly event_time + ttl, oldest first, whatever the arrival order', () => {
    const store = new PendingFeatures({ ttlMs: 10 * DAY, maxEntries: 100 });
    [5, 1, 3, 2, 4].forEach((d) => store.addVector(vector(`d${d}`, d * DAY)));
    expect(store.expire(11 * DAY - 1)).toEqual([]);
    expect(ids(store.expire(12 * DAY))).toEqual(['d1', 'd2']);
    store.takeForLabel({ transaction_id: 'd4' });
    expect(ids(store.expire(100 * DAY))).toEqual(['d3', 'd5']);
    expect(store.size).toBe(0);
    expect(store.stats().expired).toBe(4);
  });

  it('evicts the oldest waiting vector beyond its bound, counted', () => {
    const store = new PendingFeatures({ ttlMs: DAY, maxEntries: 3 });
    ['a', 'b', 'c'].forEach((id, i) => store.addVector(vector(id, 100 + i)));
    const result = store.addVector(vector('d', 200));
    expect(result.status).toBe('added');
    expect(result.status === 'added' && result.evicted?.transaction_id).toBe('a');
    expect(store.addVector(vector('too-old', 50))).toEqual({ status: 'evicted' });
    expect(store.size).toBe(3);
    expect(store.takeForLabel({ transaction_id: 'a' })).toBeUndefined();
    expect(store.stats()).toMatchObject({ evicted: 2, unknownLabels: 1, size: 3 });
  });

  it('behaves like a brute-force list under random adds, labels and watermarks', () => {
    const r = new Random(12);
    const ttl = 1000;
    const max = 50;
    const store = new PendingFeatures({ ttlMs: ttl, maxEntries: max });
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
          expect(result).toEqual({ status: 'added', evicted: undefined });
          reference.push(v);
        } else {
          const oldest = oldestFirst(reference)[0] as FeatureVector;
          if (v.event_time < oldest.event_time) {
            expect(result).toEqual({ status: 'evicted' });
          } else {
            expect(result).toEqual({ status: 'added', evicted: oldest });
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
    }
  });

  it('does not let vectors taken by labels pile up in the expiry queue', () => {
    const store = new PendingFeatures({ ttlMs: 365 * DAY, maxEntries: 1_000_000 });
    for (let i = 0; i < 10_000; i++) {
      store.addVector(vector(`keep${i}`, i));
      store.addVector(vector(`take${i}`, i));
      store.takeForLabel({ transaction_id: `take${i}` });
      const { size, queued } = store.stats();
      expect(queued).toBeLessThanOrEqual(2 * size + 65);
    }
    expect(store.size).toBe(10_000);
    expect(ids(store.expire(400 * DAY))).toEqual(Array.from({ length: 10_000 }, (_, i) => `keep${i}`));
  });

  it('encodes an entry for the changelog and decodes it back, refusing garbage', () => {
    const v = vector('tx9', 1_700_000_000_000);
    expect(decodePendingEntry(encodePendingEntry(v))).toEqual(v);
    expect(() => decodePendingEntry('{')).toThrow(expect.objectContaining({ code: 'learner_state_invalid' }));
    expect(() => decodePendingEntry(JSON.stringify({ ...v, feature_values: 'x' }))).toThrow(
      expect.objectContaining({ code: 'learner_state_invalid' }),
    );
  });

  it('rejects nonsensical bounds', () => {
    expect(() => new PendingFeatures({ ttlMs: 0 })).toThrow(expect.objectContaining({ code: 'invalid_learner_options' }));
    expect(() => new PendingFeatures({ maxEntries: 0 })).toThrow(expect.objectContaining({ code: 'invalid_learner_options' }));
  });
});
