import type { KeyValueStore } from '@sluice/shared';
import { ExpiringIndex, segmentLayout } from '@sluice/shared/collections';

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
 * The ids live in shared's ExpiringIndex: they leave oldest first, by
 * (first-seen time, id), a total order that a store rebuilt from its
 * changelog recomputes, so a restarted instance decides exactly as the one
 * that stopped. (An insertion-ordered queue cannot be rebuilt: a property test
 * found restored and original evicting different ids.) The index keeps them
 * in segments, one changelog record per batch rather than per id (issue 13
 * measured ~1 GiB for 500,000 ids kept one record per id; the bench
 * services/ingest/bench/dedup-memory.ts prints bytes per id). A store of the
 * earlier format (key = id, value = time) is converted when taken over.
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

export class DedupStore {
  private readonly ids: ExpiringIndex<number>;

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
    this.ids = new ExpiringIndex({ maxEntries: options.maxEntries, time: (at) => at, expiry: { horizonMs: options.horizonMs } }, segmentLayout(store));
  }

  /** Ids remembered. */
  get size(): number {
    return this.ids.size;
  }

  /** True when `id` was remembered less than `horizonMs` before `atMs` (or later than it). */
  seen(id: string, atMs: number): boolean {
    const first = this.ids.get(id);
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
    const added = this.ids.add(id, atMs);
    if (added.kind !== 'duplicate') for (const r of added.removals) removals.push({ id: r.id, cause: r.cause });
    return removals;
  }

  /** Drops entries older than the horizon relative to the highest time seen so far. */
  expire(atMs: number): DedupRemoval[] {
    return this.ids.expire(atMs).map((r) => ({ id: r.id, cause: r.cause }));
  }
}
