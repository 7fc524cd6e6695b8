import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PartitionStore } from '@sluice/shared';
import { DedupStore, type DedupOptions, type DedupRemoval } from '../src/dedup.js';

function newBacking(): PartitionStore<unknown> {
  return new PartitionStore<unknown>({ name: 'dedup', changelogTopic: 'ingest-dedup-changelog' }, 0);
}

function newStore(options: DedupOptions): { store: DedupStore; backing: PartitionStore<unknown> } {
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

const tiedOpsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 2 })), { maxLength: 300 });

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

  it('writes the ids of a batch as one changelog record, rewrites it as they leave, deletes it when none is left', () => {
    const { store, backing } = newStore({ horizonMs: 100, maxEntries: 3 });
    const drained = () => backing.drainChanges().map((r) => [r.key, r.value === null ? null : JSON.parse(r.value.toString())]);
    store.remember('a', 0);
    store.remember('b', 10);
    expect(drained()).toEqual([['segment-0', { ids: ['a', 'b'], at: [0, 10] }]]);
    store.remember('c', 20);
    store.remember('d', 30); // evicts a
    expect(drained()).toEqual([
      ['segment-1', { ids: ['c', 'd'], at: [20, 30] }],
      ['segment-0', { ids: ['b'], at: [10] }],
    ]);
    store.remember('e', 125); // expires b (segment 0 empties) and c
    expect(drained()).toEqual([
      ['segment-0', null],
      ['segment-1', { ids: ['d'], at: [30] }],
      ['segment-2', { ids: ['e'], at: [125] }],
    ]);
    expect(drained()).toEqual([]);
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

  it('rebuilt from its changelog at any commit, in any record order, decides like the original', () => {
    fc.assert(
      // Few ids and small time steps, so that ids first seen at the same time (ties) are common.
      fc.property(tiedOpsArb, tiedOpsArb, fc.integer({ min: 1, max: 20 }), fc.array(fc.nat()), (before, after, batch, shuffle) => {
        const options = { horizonMs: 12, maxEntries: 5 };
        const { store: original, backing } = newStore(options);
        const ops = toOps([...before, ...after]);
        // The changelog as the processor writes it: one drain per batch of `batch` operations.
        const latest = new Map<string, Buffer | null>();
        const commit = () => {
          for (const record of backing.drainChanges()) latest.set(record.key, record.value);
        };
        ops.slice(0, before.length).forEach(([id, at], i) => {
          original.remember(id, at);
          if ((i + 1) % batch === 0) commit();
        });
        commit();
        // Compaction keeps each key's latest record, not the order they were first written in: restore in any order.
        const records = [...latest];
        for (let i = records.length - 1; i > 0; i--) {
          const j = (shuffle[i % Math.max(1, shuffle.length)] ?? 0) % (i + 1);
          [records[i], records[j]] = [records[j]!, records[i]!];
        }
        const restoredBacking = newBacking();
        for (const [key, value] of records) restoredBacking.restore(key, value);
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
    backing.restore('segment-4', Buffer.from(JSON.stringify({ ids: ['id-3', 'id-0'], at: [210, 0] })));
    backing.restore('segment-2', Buffer.from(JSON.stringify({ ids: ['id-4', 'id-2', 'id-1'], at: [220, 200, 10] })));
    const store = new DedupStore({ horizonMs: 100, maxEntries: 2 }, backing);
    expect(store.size).toBe(5);
    expect(store.expire(220)).toEqual([
      { id: 'id-0', cause: 'expired' },
      { id: 'id-1', cause: 'expired' },
      { id: 'id-2', cause: 'evicted' },
    ]);
    expect(backing.drainChanges().map((r) => [r.key, r.value === null ? null : JSON.parse(r.value.toString())])).toEqual([
      ['segment-4', { ids: ['id-3'], at: [210] }],
      ['segment-2', { ids: ['id-4'], at: [220] }],
    ]);
    // New ids go to a segment numbered after every restored one.
    store.remember('id-5', 221);
    expect(backing.drainChanges().map((r) => r.key)).toContain('segment-5');
  });

  it('takes over a changelog of the earlier format (key = id, value = time) and drops what it cannot read', () => {
    const backing = newBacking();
    for (const [id, at] of [['id-1', 10], ['id-0', 0]] as const) backing.restore(id, Buffer.from(JSON.stringify(at)));
    backing.restore('corrupt', Buffer.from('"yesterday"'));
    backing.restore('segment-7', Buffer.from('{"ids":"not a list"}'));
    const store = new DedupStore({ horizonMs: 100, maxEntries: 10 }, backing);
    expect([store.size, store.seen('id-0', 50), store.seen('id-1', 50)]).toEqual([2, true, true]);
    expect(store.expire(105)).toEqual([{ id: 'id-0', cause: 'expired' }]);
    const changes = backing.drainChanges().map((r) => [r.key, r.value === null ? null : JSON.parse(r.value.toString())]);
    expect(changes.sort()).toEqual([
      ['corrupt', null],
      ['id-0', null],
      ['id-1', null],
      ['segment-0', { ids: ['id-1'], at: [10] }],
      ['segment-7', null],
    ]);
  });

  it('refuses nonsensical options', () => {
    expect(() => newStore({ horizonMs: 0, maxEntries: 1 })).toThrow(RangeError);
    expect(() => newStore({ horizonMs: 1, maxEntries: 0 })).toThrow(RangeError);
  });
});
