import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PartitionStore } from '@sluice/shared';
import { DedupStore, type DedupOptions, type DedupRemoval } from '../src/dedup.js';

function newBacking(): PartitionStore<number> {
  return new PartitionStore<number>({ name: 'dedup', changelogTopic: 'ingest-dedup-changelog' }, 0);
}

function newStore(options: DedupOptions): { store: DedupStore; backing: PartitionStore<number> } {
  const backing = newBacking();
  return { store: new DedupStore(options, backing), backing };
}

/** Brute-force reference for non-decreasing times: a plain list, sorted oldest first by (time, id), scanned in full on every call. */
class ReferenceDedup {
  entries: { id: string; at: number }[] = [];
  constructor(readonly options: DedupOptions) {}

  seen(id: string, at: number): boolean {
    return this.entries.some((e) => e.id === id && at - e.at < this.options.horizonMs);
  }

  remember(id: string, at: number): DedupRemoval[] {
    const removals: DedupRemoval[] = [];
    const kept: { id: string; at: number }[] = [];
    for (const e of this.entries) {
      if (e.at <= at - this.options.horizonMs) removals.push({ id: e.id, cause: 'expired' });
      else kept.push(e);
    }
    this.entries = kept;
    if (this.entries.some((e) => e.id === id)) return removals;
    this.entries.push({ id, at });
    this.entries.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    while (this.entries.length > this.options.maxEntries) {
      const evicted = this.entries.shift() as { id: string };
      removals.push({ id: evicted.id, cause: 'evicted' });
    }
    return removals;
  }
}

const opsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 40 })), { maxLength: 300 });

/** Turns (id number, time step) pairs into non-decreasing (id, time) operations. */
function toOps(raw: [number, number][], start = 1_000_000): [string, number][] {
  let t = start;
  return raw.map(([id, step]) => [`tx-${id}`, (t += step)]);
}

describe('DedupStore', () => {
  it('flags a repeat inside the horizon and forgets it after', () => {
    const { store } = newStore({ horizonMs: 1000, maxEntries: 10 });
    expect(store.seen('a', 0)).toBe(false);
    expect(store.remember('a', 0)).toEqual([]);
    expect(store.seen('a', 999)).toBe(true);
    expect(store.remember('a', 999)).toEqual([]);
    expect(store.seen('a', 1000)).toBe(false);
    expect(store.remember('a', 1000)).toEqual([{ id: 'a', cause: 'expired' }]);
    expect(store.seen('a', 1999)).toBe(true);
  });

  it('keeps the first sighting so repeated retries do not extend the horizon', () => {
    const { store } = newStore({ horizonMs: 100, maxEntries: 10 });
    store.remember('a', 0);
    for (let t = 10; t < 100; t += 10) store.remember('a', t);
    expect(store.seen('a', 100)).toBe(false);
  });

  it('evicts the oldest when over the bound and says so', () => {
    const { store } = newStore({ horizonMs: 1_000_000, maxEntries: 2 });
    store.remember('a', 1);
    store.remember('b', 2);
    expect(store.remember('c', 3)).toEqual([{ id: 'a', cause: 'evicted' }]);
    expect([store.seen('a', 4), store.seen('b', 4), store.seen('c', 4), store.size]).toEqual([false, true, true, 2]);
  });

  it('matches a brute-force reference on random streams', () => {
    fc.assert(
      fc.property(opsArb, fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 12 }), (raw, horizonMs, maxEntries) => {
        const options = { horizonMs, maxEntries };
        const { store } = newStore(options);
        const reference = new ReferenceDedup(options);
        for (const [id, at] of toOps(raw)) {
          expect(store.seen(id, at)).toBe(reference.seen(id, at));
          expect(store.remember(id, at)).toEqual(reference.remember(id, at));
          expect(store.size).toBe(reference.entries.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('writes every entry and every removal to the changelog', () => {
    const { store, backing } = newStore({ horizonMs: 100, maxEntries: 2 });
    store.remember('a', 0);
    store.remember('b', 10);
    expect(backing.drainChanges().map((r) => [r.key, r.value?.toString()])).toEqual([
      ['a', '0'],
      ['b', '10'],
    ]);
    store.remember('c', 20); // evicts a
    store.remember('d', 115); // expires b
    expect(backing.drainChanges().map((r) => [r.key, r.value?.toString() ?? null])).toEqual([
      ['c', '20'],
      ['a', null],
      ['b', null],
      ['d', '115'],
    ]);
  });

  it('never expires on a timestamp that goes backwards, and still judges by the entry time', () => {
    const { store } = newStore({ horizonMs: 100, maxEntries: 10 });
    store.remember('a', 1000);
    expect(store.expire(500)).toEqual([]);
    expect(store.seen('a', 900)).toBe(true);
    store.remember('b', 1050);
    store.remember('c', 990);
    // 'c' arrived after 'b' but is the oldest: at 1095 it is past its horizon, expires, and is remembered anew.
    expect(store.seen('c', 1095)).toBe(false);
    expect(store.remember('c', 1095)).toEqual([{ id: 'c', cause: 'expired' }]);
    expect(store.expire(1150).map((r) => r.id)).toEqual(['a', 'b']);
    expect(store.seen('c', 1150)).toBe(true);
    expect(store.size).toBe(1);
  });

  it('expires against the highest time seen, so an id arriving far behind it is not kept', () => {
    const { store } = newStore({ horizonMs: 100, maxEntries: 10 });
    store.remember('x', 300);
    expect(store.expire(500)).toEqual([{ id: 'x', cause: 'expired' }]);
    expect(store.remember('late', 50)).toEqual([]);
    expect(store.remember('y', 60)).toEqual([{ id: 'late', cause: 'expired' }]);
  });

  it('stays bounded over a long stream', () => {
    const { store } = newStore({ horizonMs: 1000, maxEntries: 5000 });
    let expired = 0;
    let largest = 0;
    for (let i = 0; i < 300_000; i++) {
      expired += store.remember(`tx-${i}`, i).length;
      largest = Math.max(largest, store.size);
    }
    expect(largest).toBe(1000);
    expect(expired).toBe(300_000 - 1000);
  });

  it('rebuilt from its restored changelog, behaves like the original', () => {
    fc.assert(
      fc.property(opsArb, opsArb, (before, after) => {
        const options = { horizonMs: 120, maxEntries: 8 };
        const { store: original, backing } = newStore(options);
        const ops = toOps([...before, ...after]);
        for (const [id, at] of ops.slice(0, before.length)) original.remember(id, at);
        const restoredBacking = newBacking();
        for (const record of backing.drainChanges()) restoredBacking.restore(record.key, record.value);
        const restored = new DedupStore(options, restoredBacking);
        for (const [id, at] of ops.slice(before.length)) {
          expect(restored.seen(id, at)).toBe(original.seen(id, at));
          expect(restored.remember(id, at)).toEqual(original.remember(id, at));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('applies the bounds to restored entries on first use, whatever their changelog order', () => {
    const backing = newBacking();
    for (const [id, at] of [['id-3', 210], ['id-0', 0], ['id-4', 220], ['id-2', 200], ['id-1', 10]] as const) {
      backing.restore(id, Buffer.from(JSON.stringify(at)));
    }
    backing.restore('corrupt', Buffer.from('"yesterday"'));
    const store = new DedupStore({ horizonMs: 100, maxEntries: 2 }, backing);
    expect(backing.has('corrupt')).toBe(false);
    expect(store.expire(220)).toEqual([
      { id: 'id-0', cause: 'expired' },
      { id: 'id-1', cause: 'expired' },
      { id: 'id-2', cause: 'evicted' },
    ]);
    expect([...backing.keys()].sort()).toEqual(['id-3', 'id-4']);
    expect(backing.drainChanges().map((r) => [r.key, r.value])).toEqual([
      ['corrupt', null],
      ['id-0', null],
      ['id-1', null],
      ['id-2', null],
    ]);
  });

  it('refuses nonsensical options', () => {
    expect(() => newStore({ horizonMs: 0, maxEntries: 1 })).toThrow(RangeError);
    expect(() => newStore({ horizonMs: 1, maxEntries: 0 })).toThrow(RangeError);
  });
});
