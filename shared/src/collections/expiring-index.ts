import type { KeyValueStore } from '../state-store.js';
import { KeyedHeap } from './keyed-heap.js';

/**
 * A bounded, expiring index of values by id, kept in a changelogged
 * KeyValueStore (one entry, so one changelog record, per id: the values live
 * only in the store, the index holds ids and times), and used by the
 * learner's pending vectors and early labels and fraud's cool-down (issue 11,
 * item 5). Ingest's de-duplication, whose value is only a time, keeps its ids
 * more compactly (services/ingest/src/seen-ids.ts).
 *
 * Every decision is a function of the stored values alone:
 * - order: (time, id), `time` read from the value, ties by id — never by
 *   arrival, which a store rebuilt from its changelog cannot recover (the
 *   class of bug found in ingest's de-duplication and the learner's early
 *   labels: restored and original instances evicted different entries);
 * - expiry: an entry expires once the clock reaches its expiry time, which
 *   is `horizonMs` after its time or read from its value (`at`), in (expiry
 *   time, id) order;
 * - bound: beyond `maxEntries` the smallest (time, id) is evicted, whether
 *   just added or not.
 * So an index built on a store restored from the changelog at any commit
 * makes the same decisions as the one that wrote it (property tests beside
 * each use). The clock is the highest one passed so far (expiry never goes
 * back on a clock that does); it is not stored, so after a restore it starts
 * from the first clock passed — the same as long as the caller's clock does
 * not go back across a restart.
 *
 * Only the index writes to its store. O(log n) per operation.
 */

export type IndexExpiry<V> =
  /** Expires `horizonMs` after the entry's time: expiry and eviction share one order (one heap). */
  | { horizonMs: number }
  /** Expires at a time read from the value, in any relation to the order's time (a second heap). */
  | { at: (value: V) => number };

export interface ExpiringIndexOptions<V> {
  /** Upper bound on entries; beyond it the oldest (time, id) is evicted. */
  maxEntries: number;
  /** An entry's time in the order, read from its stored value. */
  time: (value: V) => number;
  expiry: IndexExpiry<V>;
}

/** An entry that left: `expired` at its expiry time, or `evicted` by the bound before it. */
export interface IndexRemoval<V> {
  id: string;
  value: V;
  cause: 'expired' | 'evicted';
}

/**
 * - `added`: held; `removals` are the entries evicted to make room.
 * - `duplicate`: the id is held already; nothing changed, `existing` is its value.
 * - `refused`: the bound evicted the new entry itself at once (it was the
 *   oldest); it is among `removals`.
 */
export type IndexAddResult<V> =
  | { kind: 'added'; removals: IndexRemoval<V>[] }
  | { kind: 'duplicate'; existing: V }
  | { kind: 'refused'; removals: IndexRemoval<V>[] };

export class ExpiringIndex<V> {
  /** Every entry by (time, id): eviction, and expiry under a horizon. */
  private readonly order = new KeyedHeap();
  /** Every entry by (expiry time, id), when expiry times are read from values. */
  private readonly deadlines: KeyedHeap | undefined;
  private clock = -Infinity;

  /**
   * Takes over `store` (typically just restored); the bound applies from the
   * first change or `expire`. Stored values failing `valid` are deleted.
   */
  constructor(
    readonly options: ExpiringIndexOptions<V>,
    private readonly store: KeyValueStore<V>,
    valid: (value: V) => boolean = () => true,
  ) {
    const { maxEntries, expiry } = options;
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || ('horizonMs' in expiry && !(expiry.horizonMs > 0))) {
      throw new RangeError(`an expiring index needs an integer maxEntries >= 1 and horizonMs > 0, got ${maxEntries} and ${'horizonMs' in expiry ? expiry.horizonMs : 'a function'}`);
    }
    this.deadlines = 'at' in expiry ? new KeyedHeap() : undefined;
    const refused: string[] = [];
    for (const [id, value] of store.entries()) {
      // The changelog is plain JSON: an entry whose times cannot be read cannot be ordered, so it goes.
      if (!valid(value) || !Number.isFinite(options.time(value)) || (this.deadlines && !Number.isFinite(this.expiresAt(value)))) refused.push(id);
      else this.hold(id, value);
    }
    for (const id of refused) store.delete(id);
  }

  get size(): number {
    return this.order.size;
  }

  has(id: string): boolean {
    return this.order.has(id);
  }

  get(id: string): V | undefined {
    return this.order.has(id) ? this.store.get(id) : undefined;
  }

  /** Adds `id` unless held; then applies the bound. */
  add(id: string, value: V): IndexAddResult<V> {
    const existing = this.get(id);
    if (existing !== undefined) return { kind: 'duplicate', existing };
    this.store.put(id, value);
    this.hold(id, value);
    const removals: IndexRemoval<V>[] = [];
    this.evictOverflow(removals);
    return removals.some((r) => r.id === id) ? { kind: 'refused', removals } : { kind: 'added', removals };
  }

  /** Adds `id` or replaces its value (its times may move); then applies the bound. Returns what was evicted, maybe `id` itself. */
  set(id: string, value: V): IndexRemoval<V>[] {
    this.store.put(id, value);
    this.hold(id, value);
    const removals: IndexRemoval<V>[] = [];
    this.evictOverflow(removals);
    return removals;
  }

  /** Removes `id`, returning its value; undefined when not held. */
  delete(id: string): V | undefined {
    const value = this.get(id);
    if (value !== undefined) this.drop(id);
    return value;
  }

  /**
   * Removes, in (expiry time, id) order, every entry whose expiry time is at
   * or before the highest clock passed so far; then applies the bound.
   */
  expire(clock: number): IndexRemoval<V>[] {
    if (clock > this.clock) this.clock = clock;
    const removals: IndexRemoval<V>[] = [];
    if (this.deadlines !== undefined) {
      for (let due = this.deadlines.peekTime(); due !== undefined && due <= this.clock; due = this.deadlines.peekTime()) {
        this.remove(this.deadlines.peekId()!, 'expired', removals);
      }
    } else {
      const cutoff = this.clock - (this.options.expiry as { horizonMs: number }).horizonMs;
      for (let oldest = this.order.peekTime(); oldest !== undefined && oldest <= cutoff; oldest = this.order.peekTime()) {
        this.remove(this.order.peekId()!, 'expired', removals);
      }
    }
    this.evictOverflow(removals);
    return removals;
  }

  private expiresAt(value: V): number {
    const { expiry } = this.options;
    return 'at' in expiry ? expiry.at(value) : this.options.time(value) + expiry.horizonMs;
  }

  private hold(id: string, value: V): void {
    this.order.set(id, this.options.time(value));
    this.deadlines?.set(id, this.expiresAt(value));
  }

  private evictOverflow(removals: IndexRemoval<V>[]): void {
    while (this.order.size > this.options.maxEntries) this.remove(this.order.peekId()!, 'evicted', removals);
  }

  private remove(id: string, cause: IndexRemoval<V>['cause'], removals: IndexRemoval<V>[]): void {
    removals.push({ id, value: this.get(id)!, cause });
    this.drop(id);
  }

  private drop(id: string): void {
    this.order.remove(id);
    this.deadlines?.remove(id);
    this.store.delete(id);
  }
}
