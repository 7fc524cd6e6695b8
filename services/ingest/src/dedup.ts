import type { KeyValueStore } from '@sluice/shared';
import { SeenIds } from './seen-ids.js';

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
 * The ids are held as fingerprints (seen-ids.ts: ~50 bytes per id whatever its
 * length, against 100-132 as strings; services/ingest/bench/dedup-memory.ts
 * prints it) and leave oldest first, by (first-seen time, fingerprint), a
 * total order that a store rebuilt from its changelog recomputes, so a
 * restarted instance decides exactly as the one that stopped. (An
 * insertion-ordered queue cannot be rebuilt: a property test found restored
 * and original evicting different ids.) The bound is per partition, not per
 * service, for the same reason: a service-wide one would evict differently
 * with one instance or three.
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

/** An id that left the store, with when it was first seen. `evicted`: pushed out by the bound while still inside the horizon (worth a metric). */
export interface DedupRemoval {
  firstSeenAt: number;
  cause: 'expired' | 'evicted';
}

export class DedupStore {
  private readonly ids: SeenIds;
  private clock = -Infinity;

  /**
   * Takes over a store, typically just restored from its changelog: one
   * instance per store object, built again whenever the store is. The bounds
   * apply from the first `remember` or `expire`.
   */
  constructor(
    readonly options: DedupOptions,
    store: KeyValueStore<unknown>,
  ) {
    if (!(options.horizonMs > 0) || !Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError(`dedup needs horizonMs > 0 and an integer maxEntries >= 1, got ${JSON.stringify(options)}`);
    }
    this.ids = new SeenIds(store, options.maxEntries);
  }

  /** Ids remembered. */
  get size(): number {
    return this.ids.size;
  }

  /** True when `id` was remembered less than `horizonMs` before `atMs` (or later than it). */
  seen(id: string, atMs: number): boolean {
    const first = this.ids.firstSeen(id);
    return first !== undefined && atMs - first < this.options.horizonMs;
  }

  /**
   * Records `id` as first seen at `atMs` unless it is a duplicate, after
   * expiring what is past the horizon; returns the ids that left the store
   * (maybe `id` itself, when it is the oldest over the bound). A duplicate
   * keeps its first sighting, so a stream of retries cannot keep an id alive
   * forever.
   */
  remember(id: string, atMs: number): DedupRemoval[] {
    const removals = this.expire(atMs);
    // Not seen means first seen at or before atMs - horizon <= the cutoff that expire() just applied: the id's
    // earlier entry, if any, has left.
    if (this.ids.firstSeen(id) !== undefined) return removals;
    this.ids.add(id, atMs);
    this.evictOverflow(removals);
    return removals;
  }

  /**
   * Drops, oldest first, the entries at or past the horizon relative to the
   * highest time seen so far (expiry never goes back on a time that does; the
   * highest time is not stored, so after a restore it starts from the first
   * time passed); then applies the bound.
   */
  expire(atMs: number): DedupRemoval[] {
    if (atMs > this.clock) this.clock = atMs;
    const cutoff = this.clock - this.options.horizonMs;
    const removals: DedupRemoval[] = [];
    for (let oldest = this.ids.oldestTime(); oldest !== undefined && oldest <= cutoff; oldest = this.ids.oldestTime()) {
      removals.push({ firstSeenAt: this.ids.removeOldest(), cause: 'expired' });
    }
    this.evictOverflow(removals);
    return removals;
  }

  private evictOverflow(removals: DedupRemoval[]): void {
    while (this.ids.size > this.options.maxEntries) removals.push({ firstSeenAt: this.ids.removeOldest(), cause: 'evicted' });
  }
}
