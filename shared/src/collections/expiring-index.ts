import { KeyedHeap } from './keyed-heap.js';

/**
 * A bounded, expiring index of values by id, kept in a changelogged
 * KeyValueStore through a layout (see index-layouts.ts), and used by ingest's
 * de-duplication, the learner's pending vectors and early labels, and fraud's
 * cool-down (issue 11, item 5).
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

/** What a layout may ask of the index: which entries are held, as what. */
export interface HeldEntries {
  timeOf(id: string): number | undefined;
  tagOf(id: string): number | undefined;
}

/** How entries are kept in a KeyValueStore: written, erased, and read back after a restore. */
export interface IndexLayout<V> {
  /**
   * Hands over every entry the store holds, in any order, with the tag to keep
   * for it; `accept` is false for an entry the index does not take (an id
   * already held, an unreadable time), which the layout then stops storing.
   */
  load(accept: (id: string, value: V, tag: number) => boolean): void;
  /** The stored value of a held entry. */
  value(id: string, time: number): V;
  /** Stores a new entry; returns a tag (a small integer) the index keeps with it. */
  write(id: string, value: V): number;
  /** Stops storing an entry (the index no longer holds it). */
  erase(id: string, tag: number): void;
}

export type IndexLayoutFactory<V> = (held: HeldEntries) => IndexLayout<V>;

export class ExpiringIndex<V> {
  /** Every entry by (time, id): eviction, and expiry under a horizon. */
  private readonly order = new KeyedHeap();
  /** Every entry by (expiry time, id), when expiry times are read from values. */
  private readonly deadlines: KeyedHeap | undefined;
  private readonly layout: IndexLayout<V>;
  private clock = -Infinity;

  /** Takes over the store behind `layout` (typically just restored); the bound applies from the first change or `expire`. */
  constructor(
    readonly options: ExpiringIndexOptions<V>,
    layout: IndexLayoutFactory<V>,
  ) {
    const { maxEntries, expiry } = options;
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || ('horizonMs' in expiry && !(expiry.horizonMs > 0))) {
      throw new RangeError(`an expiring index needs an integer maxEntries >= 1 and horizonMs > 0, got ${maxEntries} and ${'horizonMs' in expiry ? expiry.horizonMs : 'a function'}`);
    }
    this.deadlines = 'at' in expiry ? new KeyedHeap() : undefined;
    this.layout = layout({ timeOf: (id) => this.order.timeOf(id), tagOf: (id) => this.order.tagOf(id) });
    this.layout.load((id, value, tag) => {
      // The changelog is plain JSON: an entry whose times cannot be read cannot be ordered, so it goes.
      if (this.order.has(id) || !Number.isFinite(options.time(value)) || (this.deadlines && !Number.isFinite(this.expiresAt(value)))) return false;
      this.hold(id, value, tag);
      return true;
    });
  }

  get size(): number {
    return this.order.size;
  }

  has(id: string): boolean {
    return this.order.has(id);
  }

  get(id: string): V | undefined {
    const time = this.order.timeOf(id);
    return time === undefined ? undefined : this.layout.value(id, time);
  }

  /** Adds `id` unless held; then applies the bound. */
  add(id: string, value: V): IndexAddResult<V> {
    const existing = this.get(id);
    if (existing !== undefined) return { kind: 'duplicate', existing };
    this.hold(id, value, this.layout.write(id, value));
    const removals: IndexRemoval<V>[] = [];
    this.evictOverflow(removals);
    return removals.some((r) => r.id === id) ? { kind: 'refused', removals } : { kind: 'added', removals };
  }

  /** Adds `id` or replaces its value (its times may move); then applies the bound. Returns what was evicted, maybe `id` itself. */
  set(id: string, value: V): IndexRemoval<V>[] {
    const tag = this.order.tagOf(id);
    if (tag !== undefined) this.layout.erase(id, tag);
    this.hold(id, value, this.layout.write(id, value));
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

  private hold(id: string, value: V, tag: number): void {
    this.order.set(id, this.options.time(value), tag);
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
    const tag = this.order.tagOf(id)!;
    this.order.remove(id);
    this.deadlines?.remove(id);
    this.layout.erase(id, tag);
  }
}
