import type { KeyValueStore } from '@sluice/shared';
import { MinHeap } from '@sluice/shared';

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
 * time arrived, nor where an overwritten id went. A property test found
 * restored and original evicting different ids.) O(log n) per id.
 *
 * Entries live in a KeyValueStore (key = id, value = first-seen time, ms), so
 * the processor's changelog records every put and delete (a tombstone when an
 * id expires or is evicted). Only this class may write to that store.
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

interface Entry {
  id: string;
  firstSeenMs: number;
}

export class DedupStore {
  /** Oldest first; an entry whose time no longer matches the store is stale and skipped. */
  private readonly order = new MinHeap<Entry>((a, b) => a.firstSeenMs < b.firstSeenMs || (a.firstSeenMs === b.firstSeenMs && a.id < b.id));
  /** Highest time seen: expiry never moves backwards with an out-of-order timestamp. */
  private watermark = -Infinity;

  /**
   * Takes over a store, typically just restored from its changelog: one
   * instance per store object, built again whenever the store is. The bounds
   * apply from the first `remember` or `expire`.
   */
  constructor(
    readonly options: DedupOptions,
    private readonly store: KeyValueStore<number>,
  ) {
    if (!(options.horizonMs > 0) || !Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError(`dedup needs horizonMs > 0 and an integer maxEntries >= 1, got ${JSON.stringify(options)}`);
    }
    for (const [id, firstSeenMs] of store.entries()) {
      // The changelog is plain JSON: an entry that is not a time cannot be judged, so it goes.
      if (typeof firstSeenMs === 'number' && Number.isFinite(firstSeenMs)) this.order.push({ id, firstSeenMs });
      else store.delete(id);
    }
  }

  get size(): number {
    return this.store.size;
  }

  /** True when `id` was remembered less than `horizonMs` before `atMs` (or later than it). */
  seen(id: string, atMs: number): boolean {
    const first = this.store.get(id);
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
    // An id past its horizon but not yet expired (behind an out-of-order
    // timestamp) is simply overwritten: its old queue entry turns stale.
    this.store.put(id, atMs);
    this.order.push({ id, firstSeenMs: atMs });
    this.evictOverflow(removals);
    return removals;
  }

  /** Drops entries older than the horizon relative to the highest time seen so far. */
  expire(atMs: number): DedupRemoval[] {
    if (atMs > this.watermark) this.watermark = atMs;
    const removals: DedupRemoval[] = [];
    const cutoff = this.watermark - this.options.horizonMs;
    for (let front = this.order.peek(); front !== undefined && front.firstSeenMs <= cutoff; front = this.order.peek()) {
      this.order.pop();
      if (this.isLive(front)) {
        this.store.delete(front.id);
        removals.push({ id: front.id, cause: 'expired' });
      }
    }
    this.evictOverflow(removals);
    return removals;
  }

  private evictOverflow(removals: DedupRemoval[]): void {
    while (this.store.size > this.options.maxEntries) {
      const front = this.order.pop();
      if (front === undefined) return;
      if (this.isLive(front)) {
        this.store.delete(front.id);
        removals.push({ id: front.id, cause: 'evicted' });
      }
    }
  }

  private isLive(entry: Entry): boolean {
    return this.store.get(entry.id) === entry.firstSeenMs;
  }
}
