import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PartitionStore } from '@sluice/shared';
import { DedupStore, type DedupOptions, type DedupRemoval } from '../src/dedup.js';
import { fingerprintOf, MAX_SEGMENT_ENTRIES } from '../src/seen-ids.js';

/** An id's fingerprint as the changelog writes it (16 big-endian bytes), in hex: the reference's tie-break. */
function fingerprintHex(id: string): string {
  return Array.from(fingerprintOf(id), (word) => word.toString(16).padStart(8, '0')).join('');
}

function newBacking(): PartitionStore<unknown> {
  return new PartitionStore<unknown>({ name: 'dedup', changelogTopic: 'ingest-dedup-changelog' }, 0);
}

function newStore(options: DedupOptions): { store: DedupStore; backing: PartitionStore<unknown> } {
  const backing = newBacking();
  return { store: new DedupStore(options, backing), backing };
}

/**
 * Brute-force reference for non-decreasing times: a plain list, sorted oldest first by (time, fingerprint) — the
 * fingerprint as 32 hex digits compares as the four words do — scanned in full on every call.
 */
class ReferenceDedup {
  entries: { id: string; at: number; fingerprint: string }[] = [];
  constructor(readonly options: DedupOptions) {}

  seen(id: string, at: number): boolean {
    return this.entries.some((e) => e.id === id && at - e.at < this.options.horizonMs);
  }

  remember(id: string, at: number): DedupRemoval[] {
    const removals: DedupRemoval[] = [];
    const kept: typeof this.entries = [];
    for (const e of this.entries) {
      if (e.at <= at - this.options.horizonMs) removals.push({ firstSeenAt: e.at, cause: 'expired' });
      else kept.push(e);
    }
    this.entries = kept;
    if (this.entries.some((e) => e.id === id)) return removals;
    this.entries.push({ id, at, fingerprint: fingerprintHex(id) });
    this.entries.sort((a, b) => a.at - b.at || (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));
    while (this.entries.length > this.options.maxEntries) {
      const evicted = this.entries.shift()!;
      removals.push({ firstSeenAt: evicted.at, cause: 'evicted' });
    }
    return removals;
  }
}

/** A segment record as written, decoded to [id, time] pairs by matching fingerprints against `ids`. */
function decodeSegment(value: { fingerprints: string; at: number[] }, ids: string[]): [string, number][] {
  const byFingerprint = new Map(ids.map((id) => [fingerprintHex(id), id]));
  const bytes = Buffer.from(value.fingerprints, 'base64');
  return value.at.map((at, i) => [byFingerprint.get(bytes.subarray(i * 16, i * 16 + 16).toString('hex')) ?? '?', at]);
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
    expect(store.remember('a', 1000)).toEqual([{ firstSeenAt: 0, cause: 'expired' }]);
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
    expect(store.remember('c', 3)).toEqual([{ firstSeenAt: 1, cause: 'evicted' }]);
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
          // Which of two ids first seen at the same time was evicted shows only in what is still held.
          for (let other = 0; other <= 30; other++) expect(store.seen(`tx-${other}`, at)).toBe(reference.seen(`tx-${other}`, at));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds a dense table exactly: growth past its first arrays, slots emptied and refilled, against the reference', () => {
    // Hundreds of ids held at once: the arrays grow (from 256 entries) and removals shift probe chains back.
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 2 })), { minLength: 2000, maxLength: 3000 }), fc.integer({ min: 300, max: 1200 }), (raw, maxEntries) => {
        const options = { horizonMs: 1500, maxEntries };
        const { store } = newStore(options);
        const reference = new ReferenceDedup(options);
        for (const [id, at] of toOps(raw)) {
          expect(store.seen(id, at)).toBe(reference.seen(id, at));
          expect(store.remember(id, at)).toEqual(reference.remember(id, at));
        }
        const last = toOps(raw).at(-1)![1];
        for (let id = 0; id <= 1500; id++) expect(store.seen(`tx-${id}`, last)).toBe(reference.seen(`tx-${id}`, last));
        expect(store.size).toBe(reference.entries.length);
      }),
      { numRuns: 5 },
    );
  });

  it('writes the ids of a batch as one changelog record, rewrites it as they leave, deletes it when none is left', () => {
    const { store, backing } = newStore({ horizonMs: 100, maxEntries: 3 });
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const drained = () =>
      backing.drainChanges().map((r) => [r.key, r.value === null ? null : decodeSegment(JSON.parse(r.value.toString()), ids)]);
    store.remember('a', 0);
    store.remember('b', 10);
    expect(drained()).toEqual([['segment-0', [['a', 0], ['b', 10]]]]);
    store.remember('c', 20);
    store.remember('d', 30); // evicts a
    expect(drained()).toEqual([
      ['segment-1', [['c', 20], ['d', 30]]],
      ['segment-0', [['b', 10]]],
    ]);
    store.remember('e', 125); // expires b (segment 0 empties) and c
    expect(drained()).toEqual([
      ['segment-0', null],
      ['segment-1', [['d', 30]]],
      ['segment-2', [['e', 125]]],
    ]);
    expect(drained()).toEqual([]);
  });

  it('splits a batch larger than a segment holds into several records, each under the broker message limit', () => {
    const { store, backing } = newStore({ horizonMs: 1_000_000, maxEntries: 50_000 });
    const ids = Array.from({ length: 2 * MAX_SEGMENT_ENTRIES + 5 }, (_, i) => `c0ffee00-0000-4000-8000-${String(i).padStart(12, '0')}`);
    ids.forEach((id, i) => store.remember(id, 1_000 + i));
    const records = backing.drainChanges();
    expect(records.map((r) => [r.key, (JSON.parse(r.value!.toString()) as { at: number[] }).at.length])).toEqual([
      ['segment-0', MAX_SEGMENT_ENTRIES],
      ['segment-1', MAX_SEGMENT_ENTRIES],
      ['segment-2', 5],
    ]);
    for (const record of records) expect(record.value!.length).toBeLessThan(1024 * 1024);
    // Restored from those records, every id is held.
    const restoredBacking = newBacking();
    for (const record of records) restoredBacking.restore(record.key, record.value);
    const restored = new DedupStore(store.options, restoredBacking);
    expect(ids.every((id, i) => restored.seen(id, 1_000 + i))).toBe(true);
  });

  it('converts a large store of the first format into segments that each stay under the broker message limit', () => {
    const backing = newBacking();
    const ids = Array.from({ length: MAX_SEGMENT_ENTRIES + 3 }, (_, i) => `legacy-${i}`);
    ids.forEach((id, i) => backing.restore(id, Buffer.from(JSON.stringify(i))));
    const store = new DedupStore({ horizonMs: 1_000_000, maxEntries: 50_000 }, backing);
    const segments = backing.drainChanges().filter((r) => r.key.startsWith('segment-'));
    expect(segments.map((r) => (JSON.parse(r.value!.toString()) as { at: number[] }).at.length)).toEqual([MAX_SEGMENT_ENTRIES, 3]);
    expect(ids.every((id, i) => store.seen(id, i))).toBe(true);
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
    expect(store.remember('c', 1095)).toEqual([{ firstSeenAt: 990, cause: 'expired' }]);
    expect(store.expire(1150).map((r) => r.firstSeenAt)).toEqual([1000, 1050]);
    expect(store.seen('c', 1150)).toBe(true);
    expect(store.size).toBe(1);
  });

  it('expires against the highest time seen, so an id arriving far behind it is not kept', () => {
    const { store } = newStore({ horizonMs: 100, maxEntries: 10 });
    store.remember('x', 300);
    expect(store.expire(500)).toEqual([{ firstSeenAt: 300, cause: 'expired' }]);
    expect(store.remember('late', 50)).toEqual([]);
    expect(store.remember('y', 60)).toEqual([{ firstSeenAt: 50, cause: 'expired' }]);
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

  it('takes over segments of ids (the earlier format) and applies the bounds to restored entries on first use, whatever their changelog order', () => {
    const backing = newBacking();
    backing.restore('segment-4', Buffer.from(JSON.stringify({ ids: ['id-3', 'id-0'], at: [210, 0] })));
    backing.restore('segment-2', Buffer.from(JSON.stringify({ ids: ['id-4', 'id-2', 'id-1'], at: [220, 200, 10] })));
    const store = new DedupStore({ horizonMs: 100, maxEntries: 2 }, backing);
    expect(store.size).toBe(5);
    expect(store.expire(220)).toEqual([
      { firstSeenAt: 0, cause: 'expired' },
      { firstSeenAt: 10, cause: 'expired' },
      { firstSeenAt: 200, cause: 'evicted' },
    ]);
    const ids = ['id-0', 'id-1', 'id-2', 'id-3', 'id-4'];
    expect(backing.drainChanges().map((r) => [r.key, r.value === null ? null : decodeSegment(JSON.parse(r.value.toString()), ids)])).toEqual([
      ['segment-4', [['id-3', 210]]],
      ['segment-2', [['id-4', 220]]],
    ]);
    // New ids go to a segment numbered after every restored one.
    store.remember('id-5', 221);
    expect(backing.drainChanges().map((r) => r.key)).toContain('segment-5');
  });

  it('takes over a changelog of the first format (key = id, value = time) and drops what it cannot read', () => {
    const backing = newBacking();
    for (const [id, at] of [['id-1', 10], ['id-0', 0]] as const) backing.restore(id, Buffer.from(JSON.stringify(at)));
    backing.restore('corrupt', Buffer.from('"yesterday"'));
    backing.restore('segment-7', Buffer.from('{"ids":"not a list"}'));
    backing.restore('segment-8', Buffer.from(JSON.stringify({ fingerprints: Buffer.alloc(15).toString('base64'), at: [1] })));
    const store = new DedupStore({ horizonMs: 100, maxEntries: 10 }, backing);
    expect([store.size, store.seen('id-0', 50), store.seen('id-1', 50)]).toEqual([2, true, true]);
    expect(store.expire(105)).toEqual([{ firstSeenAt: 0, cause: 'expired' }]);
    const changes = backing.drainChanges().map((r) => [r.key, r.value === null ? null : decodeSegment(JSON.parse(r.value.toString()), ['id-0', 'id-1'])]);
    expect(changes.sort()).toEqual([
      ['corrupt', null],
      ['id-0', null],
      ['id-1', null],
      ['segment-0', [['id-1', 10]]],
      ['segment-7', null],
      ['segment-8', null],
    ]);
  });

  it('refuses nonsensical options', () => {
    expect(() => newStore({ horizonMs: 0, maxEntries: 1 })).toThrow(RangeError);
    expect(() => newStore({ horizonMs: 1, maxEntries: 0 })).toThrow(RangeError);
  });
});
