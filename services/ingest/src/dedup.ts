import type { KeyValueStore } from '@sluice/shared';

/**
 * Bounded de-duplication by transaction_id (one instance for transactions,
 * another for labels, per partition).
 *
 * Time is processing time: the caller passes the raw record's Kafka timestamp.
 * Duplicates come from producer retries and re-sent batches, which arrive
 * close together in processing time whatever their event time (a backfill of
 * last year's data retried twice is still a duplicate). The Kafka timestamp
 * (unlike the wall clock) is the same on a replay.
 *
 * Entries leave oldest first, by (first-seen time, id): a total order that a
 * store rebuilt from its changelog can recompute, so a restarted instance
 * decides exactly as the one that stopped. (An insertion-ordered queue cannot
 * be rebuilt: the changelog does not keep the order in which ids with the same
 * time arrived. A property test found restored and original evicting
 * different ids.) O(log n) per id.
 *
 * The ids live here, not one per key in the KeyValueStore: the store holds
 * *segments*, each the ids first seen during one batch with their times
 * (`{"ids":[…],"at":[…]}`). A segment is written to the changelog when its
 * batch commits (serialising it closes it: the next id opens a new one), and
 * written again only when ids leave it (rewritten with those still live, or a
 * tombstone once none is). Issue 13 measured the one-record-per-id changelog:
 * ingest wrote two records per input (output and changelog) and 500,000 ids
 * took ~1 GiB; per segment, the changelog costs about one record per batch,
 * and an id costs its string, a map entry and a few array slots (the bench
 * services/ingest/bench/dedup-memory.ts prints bytes per id).
 *
 * A store written by the earlier format (key = id, value = first-seen time)
 * is converted when taken over: its entries move into one segment and their
 * keys are deleted. Only this class may write to the store.
 */

export interface DedupOptions {
  /** How long an id is remembered. */
  horizonMs: number;
  /** Upper bound on entries; the oldest is evicted first. */
  maxEntries: number;
}

export const DEFAULT_DEDUP_OPTIONS: DedupOptions = {
  horizonMs: 24 * 60 * 60 * 1000,
  maxEntries: 500_000,
};

/** An id that left the store. `evicted`: pushed out by the bound while still inside the horizon (worth a metric). */
export interface DedupRemoval {
  id: string;
  cause: 'expired' | 'evicted';
}

/** A segment as written to the changelog: parallel arrays, live ids only. */
export interface SegmentRecord {
  ids: string[];
  at: number[];
}

const SEGMENT_KEY_PREFIX = 'segment-';

/** The ids first seen in one batch; `ids`/`at` may still hold some that have left (dropped when written). */
class Segment {
  readonly ids: string[] = [];
  readonly at: number[] = [];
  /** How many of `ids` are still remembered. */
  live = 0;
  sealed = false;

  constructor(
    readonly number: number,
    private readonly isLive: (id: string, at: number) => boolean,
  ) {}

  get key(): string {
    return `${SEGMENT_KEY_PREFIX}${this.number}`;
  }

  /** Called by the store's JSON serialisation when the batch commits: the segment is written, so it closes. */
  toJSON(): SegmentRecord {
    this.sealed = true;
    if (this.ids.length > this.live) {
      let kept = 0;
      for (let i = 0; i < this.ids.length; i++) {
        const id = this.ids[i]!;
        const at = this.at[i]!;
        if (!this.isLive(id, at)) continue;
        this.ids[kept] = id;
        this.at[kept] = at;
        kept += 1;
      }
      this.ids.length = kept;
      this.at.length = kept;
    }
    return { ids: this.ids, at: this.at };
  }
}

/**
 * A binary min-heap of (time, id, segment) in three parallel arrays, ordered
 * by (time, id): no object per entry (a time array of doubles is stored
 * unboxed), which is most of what an id costs besides its string.
 */
class EntryHeap {
  private readonly times: number[] = [];
  private readonly ids: string[] = [];
  private readonly segments: number[] = [];

  get size(): number {
    return this.ids.length;
  }

  peekTime(): number | undefined {
    return this.times[0];
  }

  push(at: number, id: string, segment: number): void {
    this.times.push(at);
    this.ids.push(id);
    this.segments.push(segment);
    this.siftUp(this.ids.length - 1);
  }

  /** Removes the oldest entry and returns it, or undefined when empty. */
  pop(): { at: number; id: string; segment: number } | undefined {
    if (this.ids.length === 0) return undefined;
    const top = { at: this.times[0]!, id: this.ids[0]!, segment: this.segments[0]! };
    const at = this.times.pop()!;
    const id = this.ids.pop()!;
    const segment = this.segments.pop()!;
    if (this.ids.length > 0) {
      this.times[0] = at;
      this.ids[0] = id;
      this.segments[0] = segment;
      this.siftDown(0);
    }
    return top;
  }

  private less(i: number, j: number): boolean {
    const a = this.times[i]!;
    const b = this.times[j]!;
    return a < b || (a === b && this.ids[i]! < this.ids[j]!);
  }

  private swap(i: number, j: number): void {
    const at = this.times[i]!;
    this.times[i] = this.times[j]!;
    this.times[j] = at;
    const id = this.ids[i]!;
    this.ids[i] = this.ids[j]!;
    this.ids[j] = id;
    const segment = this.segments[i]!;
    this.segments[i] = this.segments[j]!;
    this.segments[j] = segment;
  }

  private siftUp(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(index: number): void {
    const n = this.ids.length;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.less(right, left) ? right : left;
      if (!this.less(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }
}

export class DedupStore {
  /** id → first-seen time, of every live id. */
  private readonly firstSeen = new Map<string, number>();
  /** Every live id once, oldest first. */
  private readonly order = new EntryHeap();
  private readonly segments = new Map<number, Segment>();
  private open: Segment | undefined;
  private nextSegment = 0;
  /** Highest time seen: expiry never moves backwards with an out-of-order timestamp. */
  private watermark = -Infinity;
  private readonly isLive = (id: string, at: number) => this.firstSeen.get(id) === at;

  /**
   * Takes over a store, typically just restored from its changelog: one
   * instance per store object, built again whenever the store is. The bounds
   * apply from the first `remember` or `expire`.
   */
  constructor(
    readonly options: DedupOptions,
    private readonly store: KeyValueStore<unknown>,
  ) {
    if (!(options.horizonMs > 0) || !Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError(`dedup needs horizonMs > 0 and an integer maxEntries >= 1, got ${JSON.stringify(options)}`);
    }
    const legacy: [string, number][] = [];
    const unreadable: string[] = [];
    for (const [key, value] of store.entries()) {
      const number = key.startsWith(SEGMENT_KEY_PREFIX) ? Number(key.slice(SEGMENT_KEY_PREFIX.length)) : NaN;
      if (Number.isInteger(number) && isSegmentRecord(value)) {
        this.adopt(number, value);
      } else if (isTime(value)) {
        legacy.push([key, value]);
      } else {
        // The changelog is plain JSON: what cannot be read as entries cannot be judged, so it goes.
        unreadable.push(key);
      }
    }
    for (const key of unreadable) store.delete(key);
    for (const [id, at] of legacy) {
      store.delete(id);
      if (this.firstSeen.has(id)) continue;
      this.add(id, at);
    }
  }

  /** Ids remembered. */
  get size(): number {
    return this.firstSeen.size;
  }

  /** True when `id` was remembered less than `horizonMs` before `atMs` (or later than it). */
  seen(id: string, atMs: number): boolean {
    const first = this.firstSeen.get(id);
    return first !== undefined && atMs - first < this.options.horizonMs;
  }

  /**
   * Records `id` as first seen at `atMs` unless it is a duplicate, after
   * expiring what is past the horizon; returns the ids that left the store. A
   * duplicate keeps its first sighting, so a stream of retries cannot keep an
   * id alive forever.
   */
  remember(id: string, atMs: number): DedupRemoval[] {
    const removals = this.expire(atMs);
    if (this.seen(id, atMs)) return removals;
    // Not seen means first seen at or before atMs - horizon <= the cutoff that expire() just applied: the id's
    // earlier entry, if any, has left, so it is never in two segments.
    this.add(id, atMs);
    this.evictOverflow(removals);
    return removals;
  }

  /** Drops entries older than the horizon relative to the highest time seen so far. */
  expire(atMs: number): DedupRemoval[] {
    if (atMs > this.watermark) this.watermark = atMs;
    const removals: DedupRemoval[] = [];
    const cutoff = this.watermark - this.options.horizonMs;
    for (let front = this.order.peekTime(); front !== undefined && front <= cutoff; front = this.order.peekTime()) {
      this.popOldest(removals, 'expired');
    }
    this.evictOverflow(removals);
    return removals;
  }

  private add(id: string, at: number): void {
    if (this.open === undefined || this.open.sealed) {
      this.open = new Segment(this.nextSegment++, this.isLive);
      this.segments.set(this.open.number, this.open);
    }
    const segment = this.open;
    segment.ids.push(id);
    segment.at.push(at);
    segment.live += 1;
    this.firstSeen.set(id, at);
    this.order.push(at, id, segment.number);
    this.store.put(segment.key, segment);
  }

  /** A segment restored from the changelog: its live ids, the duplicates and unreadable entries left out. */
  private adopt(number: number, record: SegmentRecord): void {
    const segment = new Segment(number, this.isLive);
    for (let i = 0; i < record.ids.length; i++) {
      const id = record.ids[i];
      const at = record.at[i];
      if (typeof id !== 'string' || !isTime(at) || this.firstSeen.has(id)) continue;
      segment.ids.push(id);
      segment.at.push(at);
      segment.live += 1;
      this.firstSeen.set(id, at);
      this.order.push(at, id, number);
    }
    segment.sealed = true;
    this.segments.set(number, segment);
    this.nextSegment = Math.max(this.nextSegment, number + 1);
    if (segment.live === 0) this.dropSegment(segment);
  }

  private evictOverflow(removals: DedupRemoval[]): void {
    while (this.firstSeen.size > this.options.maxEntries && this.order.size > 0) this.popOldest(removals, 'evicted');
  }

  private popOldest(removals: DedupRemoval[], cause: DedupRemoval['cause']): void {
    const front = this.order.pop()!;
    this.firstSeen.delete(front.id);
    removals.push({ id: front.id, cause });
    this.leaveSegment(front.segment);
  }

  private leaveSegment(number: number): void {
    const segment = this.segments.get(number);
    if (segment === undefined) return;
    segment.live -= 1;
    if (segment.live <= 0) this.dropSegment(segment);
    else this.store.put(segment.key, segment);
  }

  private dropSegment(segment: Segment): void {
    this.segments.delete(segment.number);
    this.store.delete(segment.key);
    if (this.open === segment) this.open = undefined;
  }
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isSegmentRecord(value: unknown): value is SegmentRecord {
  return typeof value === 'object' && value !== null && Array.isArray((value as SegmentRecord).ids) && Array.isArray((value as SegmentRecord).at);
}
