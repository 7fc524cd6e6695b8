import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExpiringIndex, KeyedHeap, type ExpiringIndexOptions, type IndexAddResult, type IndexRemoval } from '../../src/collections.js';
import { PartitionStore, type ChangelogRecord } from '../../src/state-store.js';

/** A value with its own order time `t` and expiry time `d` (used when expiry is read from values). */
interface Item {
  t: number;
  d: number;
}

const byTimeThenId = <E extends { id: string }>(time: (e: E) => number) => (a: E, b: E) => time(a) - time(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Brute force: a Map, sorted in full whenever an order is needed. */
class OracleIndex<V> {
  readonly entries = new Map<string, V>();
  private clock = -Infinity;
  constructor(readonly options: ExpiringIndexOptions<V>) {}

  private expiresAt(value: V): number {
    const { expiry } = this.options;
    return 'at' in expiry ? expiry.at(value) : this.options.time(value) + expiry.horizonMs;
  }

  private list(): { id: string; value: V }[] {
    return [...this.entries].map(([id, value]) => ({ id, value }));
  }

  private evict(removals: IndexRemoval<V>[]): void {
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.list().sort(byTimeThenId((e) => this.options.time(e.value)))[0]!;
      this.entries.delete(oldest.id);
      removals.push({ id: oldest.id, value: oldest.value, cause: 'evicted' });
    }
  }

  add(id: string, value: V): IndexAddResult<V> {
    const existing = this.entries.get(id);
    if (existing !== undefined) return { kind: 'duplicate', existing };
    this.entries.set(id, value);
    const removals: IndexRemoval<V>[] = [];
    this.evict(removals);
    return removals.some((r) => r.id === id) ? { kind: 'refused', removals } : { kind: 'added', removals };
  }

  set(id: string, value: V): IndexRemoval<V>[] {
    this.entries.set(id, value);
    const removals: IndexRemoval<V>[] = [];
    this.evict(removals);
    return removals;
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): V | undefined {
    return this.entries.get(id);
  }

  delete(id: string): V | undefined {
    const value = this.entries.get(id);
    this.entries.delete(id);
    return value;
  }

  expire(clock: number): IndexRemoval<V>[] {
    this.clock = Math.max(this.clock, clock);
    const due = this.list()
      .filter((e) => this.expiresAt(e.value) <= this.clock)
      .sort(byTimeThenId((e) => this.expiresAt(e.value)));
    const removals: IndexRemoval<V>[] = due.map((e) => ({ id: e.id, value: e.value, cause: 'expired' }));
    for (const e of due) this.entries.delete(e.id);
    this.evict(removals);
    return removals;
  }
}

type Op =
  | { op: 'add' | 'set'; id: string; t: number; d: number }
  | { op: 'delete' | 'get'; id: string }
  | { op: 'expire'; clock: number }
  | { op: 'commit' };

const idArb = fc.integer({ min: 0, max: 8 }).map((n) => `id-${n}`);
/** Times on a coarse grid, so that ties are common. */
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('add' as const, 'set' as const), id: idArb, t: fc.integer({ min: 0, max: 8 }), d: fc.integer({ min: 0, max: 10 }) }),
  fc.record({ op: fc.constantFrom('delete' as const, 'get' as const), id: idArb }),
  fc.record({ op: fc.constant('expire' as const), clock: fc.integer({ min: 0, max: 15 }) }),
  fc.constant({ op: 'commit' as const }),
);
const optionsArb: fc.Arbitrary<ExpiringIndexOptions<Item>> = fc.record({
  maxEntries: fc.integer({ min: 1, max: 8 }),
  time: fc.constant((v: Item) => v.t),
  expiry: fc.oneof(
    fc.integer({ min: 1, max: 8 }).map((horizonMs) => ({ horizonMs })),
    fc.constant({ at: (v: Item) => v.d }),
  ),
});

interface Subject<V> {
  add(id: string, value: V): unknown;
  set(id: string, value: V): unknown;
  delete(id: string): unknown;
  expire(clock: number): unknown;
  get(id: string): V | undefined;
  readonly size: number;
}

function apply(subject: Subject<Item>, op: Op): unknown {
  switch (op.op) {
    case 'add':
      return subject.add(op.id, { t: op.t, d: op.d });
    case 'set':
      return subject.set(op.id, { t: op.t, d: op.d });
    case 'delete':
      return subject.delete(op.id);
    case 'get':
      return subject.get(op.id);
    case 'expire':
      return subject.expire(op.clock);
    case 'commit':
      return subject.size;
  }
}

const newStore = <V>() => new PartitionStore<V>({ name: 'index', changelogTopic: 'index-changelog' }, 0);

/**
 * The store a restore from a compacted changelog rebuilds: the latest record of each key up to `upTo`, applied
 * in the order `shuffle` picks (compaction reorders records; the index must not depend on the order).
 */
function restoreFrom<V>(log: ChangelogRecord[], upTo: number, shuffle: number[]): PartitionStore<V> {
  const latest = new Map<string, Buffer | null>();
  for (const record of log.slice(0, upTo)) latest.set(record.key, record.value);
  const records = [...latest];
  for (let i = records.length - 1; i > 0; i--) {
    const j = (shuffle[i % Math.max(1, shuffle.length)] ?? 0) % (i + 1);
    [records[i], records[j]] = [records[j]!, records[i]!];
  }
  const store = newStore<V>();
  for (const [key, value] of records) store.restore(key, value);
  return store;
}

describe('KeyedHeap', () => {
  it('pops in (time, id) order whatever the order of sets and removals, and finds every id', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(idArb, fc.integer({ min: 0, max: 20 }), fc.boolean())), (ops) => {
        const heap = new KeyedHeap();
        const reference = new Map<string, number>();
        for (const [id, time, remove] of ops) {
          if (remove) expect(heap.remove(id)).toBe(reference.delete(id));
          else {
            heap.set(id, time);
            reference.set(id, time);
          }
          for (const [held, at] of reference) expect(heap.timeOf(held)).toBe(at);
        }
        const expected = [...reference].map(([id, time]) => ({ id, time })).sort(byTimeThenId((e) => e.time));
        const popped: { id: string; time: number }[] = [];
        for (let id = heap.peekId(); id !== undefined; id = heap.peekId()) {
          popped.push({ id, time: heap.peekTime()! });
          heap.remove(id);
        }
        expect(popped).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ExpiringIndex', () => {
  const horizon = (maxEntries: number, horizonMs: number): ExpiringIndexOptions<Item> => ({ maxEntries, time: (v) => v.t, expiry: { horizonMs } });

  it('expires at exactly time + horizon, oldest first, ties by id', () => {
    const index = new ExpiringIndex(horizon(10, 100), newStore<Item>());
    for (const id of ['c', 'a', 'b']) index.add(id, { t: 5, d: 0 });
    index.add('z', { t: 1, d: 0 });
    expect(index.expire(104)).toEqual([{ id: 'z', value: { t: 1, d: 0 }, cause: 'expired' }]);
    expect(index.expire(105).map((r) => r.id)).toEqual(['a', 'b', 'c']);
  });

  it('evicts the smallest (time, id) over the bound, refusing a new entry that is itself the oldest', () => {
    const index = new ExpiringIndex(horizon(2, 1000), newStore<Item>());
    expect(index.add('b', { t: 10, d: 0 })).toEqual({ kind: 'added', removals: [] });
    expect(index.add('c', { t: 10, d: 0 })).toEqual({ kind: 'added', removals: [] });
    expect(index.add('a', { t: 10, d: 0 })).toEqual({ kind: 'refused', removals: [{ id: 'a', value: { t: 10, d: 0 }, cause: 'evicted' }] });
    expect(index.add('d', { t: 11, d: 0 })).toEqual({ kind: 'added', removals: [{ id: 'b', value: { t: 10, d: 0 }, cause: 'evicted' }] });
    expect(index.add('c', { t: 99, d: 0 })).toEqual({ kind: 'duplicate', existing: { t: 10, d: 0 } });
  });

  it('evicts the same one of entries tied in time whatever order the store was restored in', () => {
    const store = newStore<Item>();
    const original = new ExpiringIndex(horizon(3, 1000), store);
    for (const id of ['c', 'a', 'b']) original.add(id, { t: 7, d: 0 });
    const reversed = newStore<Item>();
    for (const record of store.drainChanges().reverse()) reversed.restore(record.key, record.value);
    const restored = new ExpiringIndex(horizon(3, 1000), reversed);
    for (const index of [original, restored]) expect(index.add('d', { t: 8, d: 0 })).toEqual({ kind: 'added', removals: [{ id: 'a', value: { t: 7, d: 0 }, cause: 'evicted' }] });
  });

  it('with expiry read from values, expires by it and evicts by time', () => {
    const index = new ExpiringIndex<Item>({ maxEntries: 2, time: (v) => v.t, expiry: { at: (v) => v.d } }, newStore<Item>());
    index.add('early-due', { t: 5, d: 50 });
    index.add('late-due', { t: 1, d: 500 });
    expect(index.set('new', { t: 9, d: 60 }).map((r) => [r.id, r.cause])).toEqual([['late-due', 'evicted']]);
    expect(index.expire(60).map((r) => r.id)).toEqual(['early-due', 'new']);
  });

  it('re-times an entry whose value changes', () => {
    const index = new ExpiringIndex(horizon(10, 10), newStore<Item>());
    index.add('a', { t: 0, d: 0 });
    index.add('b', { t: 5, d: 0 });
    index.set('a', { t: 20, d: 0 });
    expect(index.expire(25).map((r) => r.id)).toEqual(['b']);
    expect(index.delete('a')).toEqual({ t: 20, d: 0 });
    expect([index.size, index.delete('a')]).toEqual([0, undefined]);
  });

  it('drops stored values it cannot order when it takes over a store', () => {
    const store = newStore<Item>();
    store.restore('good', Buffer.from(JSON.stringify({ t: 1, d: 2 })));
    store.restore('no-time', Buffer.from(JSON.stringify({ d: 2 })));
    store.restore('invalid', Buffer.from(JSON.stringify({ t: -1, d: 2 })));
    const index = new ExpiringIndex(horizon(10, 10), store, (v) => v.t >= 0);
    expect([index.size, [...store.keys()]]).toEqual([1, ['good']]);
  });

  it('refuses nonsensical options', () => {
    expect(() => new ExpiringIndex(horizon(0, 10), newStore<Item>())).toThrow(RangeError);
    expect(() => new ExpiringIndex(horizon(1, 0), newStore<Item>())).toThrow(RangeError);
  });

  it('decides as a brute-force oracle on random operations, with either kind of expiry', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(opArb, { maxLength: 200 }), (options, ops) => {
        const store = newStore<Item>();
        const index = new ExpiringIndex(options, store);
        const oracle = new OracleIndex(options);
        for (const op of ops) {
          expect(apply(index, op)).toEqual(apply(oracle, op));
          expect(Object.fromEntries(store.entries())).toEqual(Object.fromEntries(oracle.entries));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('rebuilt from its changelog at any commit, in any record order, decides as the original afterwards', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(opArb, { maxLength: 150 }), fc.nat(), fc.array(fc.nat()), (options, rawOps, cut, shuffle) => {
        // The clock does not go back across the restart (it is not stored: see the index's comment).
        let clock = 0;
        const ops = rawOps.map((op): Op => (op.op === 'expire' ? { op: 'expire', clock: (clock += op.clock % 3) } : op));
        const store = newStore<Item>();
        const original = new ExpiringIndex(options, store);
        const log: ChangelogRecord[] = [];
        const commits = ops.map((op, i) => (op.op === 'commit' ? i : -1)).filter((i) => i >= 0);
        const at = commits.length === 0 ? ops.length : commits[cut % commits.length]! + 1;
        ops.slice(0, at).forEach((op) => {
          apply(original, op);
          if (op.op === 'commit') log.push(...store.drainChanges());
        });
        const restored = new ExpiringIndex(options, restoreFrom<Item>(log, log.length, shuffle));
        for (const op of ops.slice(at)) expect(apply(restored, op)).toEqual(apply(original, op));
      }),
      { numRuns: 500 },
    );
  });
});
