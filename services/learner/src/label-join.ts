import type { FeatureVector, KeyValueStore, Label } from '@sluice/shared';
import { SluiceError, withDefaults } from '@sluice/shared';
import { ExpiringIndex } from '@sluice/shared/collections';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface PendingFeaturesOptions {
  /** How long, in event time after the transaction, a vector waits for its label. */
  ttlMs: number;
  /** Memory bound: beyond it the oldest waiting vector is evicted. */
  maxEntries: number;
}

export const PENDING_FEATURES_DEFAULTS: PendingFeaturesOptions = {
  ttlMs: 30 * DAY_MS,
  maxEntries: 1_000_000,
};

/**
 * - `added`: stored; `evicted` are the vectors dropped to make room (one at
 *   most, unless the bound shrank since the store was written).
 * - `duplicate`: a vector with this transaction_id is already waiting; the
 *   first one is kept (it is the one the transaction was scored on).
 * - `evicted`: the store is full and this vector is older, in (event time,
 *   transaction id), than everything in it, so it is the one dropped.
 */
export type AddResult =
  | { status: 'added'; evicted: FeatureVector[] }
  | { status: 'duplicate' }
  | { status: 'evicted' };

export interface PendingFeaturesStats {
  size: number;
  added: number;
  duplicates: number;
  matched: number;
  unknownLabels: number;
  expired: number;
  evicted: number;
}

/**
 * Feature vectors waiting for their (late) label, keyed by transaction_id, in
 * a changelogged store (the learner's is shared's SegmentedStore, many vectors
 * to a changelog record) held by shared's ExpiringIndex:
 * lookup by id for labels, expiry at event_time + TTL and eviction of the
 * oldest, both in (event time, transaction id) order, in O(log n) although
 * vectors arrive out of order. The order is read from the stored vectors
 * alone, so a store rebuilt from its changelog expires and evicts alike.
 *
 * Policy for vectors whose TTL passes without a label: `expire` hands them
 * back and the learner trains them as genuine (label 0). Labels arrive late
 * and not always, and it is frauds that get reported: a transaction nobody
 * labelled within the TTL is most likely genuine, and dropping those instead
 * would teach the model a fraud rate far above the real one. The TTL is the
 * knob that trades label noise (too short: late frauds learned as genuine)
 * against memory and training delay.
 * Evicted vectors (memory bound) are not trained: they are counted, and
 * their labels, if they come, are reported as unknown.
 */
export class PendingFeatures {
  readonly options: PendingFeaturesOptions;
  private readonly vectors: ExpiringIndex<FeatureVector>;
  private readonly counters = { added: 0, duplicates: 0, matched: 0, unknownLabels: 0, expired: 0, evicted: 0 };

  /** Takes over `store` (typically just restored from its changelog); only this class may write to it. */
  constructor(options: Partial<PendingFeaturesOptions>, store: KeyValueStore<FeatureVector>) {
    const o = withDefaults(PENDING_FEATURES_DEFAULTS, options);
    if (!(o.ttlMs > 0) || !Number.isInteger(o.maxEntries) || o.maxEntries < 1) {
      throw new SluiceError('invalid_learner_options', `pending features need ttlMs > 0 and maxEntries ≥ 1, got ${o.ttlMs} and ${o.maxEntries}`);
    }
    this.options = o;
    this.vectors = new ExpiringIndex({ maxEntries: o.maxEntries, time: (v) => v.event_time, expiry: { horizonMs: o.ttlMs } }, store);
  }

  get size(): number {
    return this.vectors.size;
  }

  stats(): PendingFeaturesStats {
    return { size: this.vectors.size, ...this.counters };
  }

  addVector(vector: FeatureVector): AddResult {
    const added = this.vectors.add(vector.transaction_id, vector);
    if (added.kind === 'duplicate') {
      this.counters.duplicates += 1;
      return { status: 'duplicate' };
    }
    this.counters.evicted += added.removals.length;
    if (added.kind === 'refused') return { status: 'evicted' };
    this.counters.added += 1;
    return { status: 'added', evicted: added.removals.map((r) => r.value) };
  }

  /** The vector the labelled transaction was scored on, removed; undefined when unknown (never seen, expired or evicted). */
  takeForLabel(label: Pick<Label, 'transaction_id'>): FeatureVector | undefined {
    const vector = this.vectors.delete(label.transaction_id);
    if (vector === undefined) this.counters.unknownLabels += 1;
    else this.counters.matched += 1;
    return vector;
  }

  /** Removes and returns, oldest first, the vectors with event_time + ttlMs ≤ watermarkMs (the highest passed so far). */
  expire(watermarkMs: number): FeatureVector[] {
    const out: FeatureVector[] = [];
    for (const removal of this.vectors.expire(watermarkMs)) {
      if (removal.cause === 'expired') out.push(removal.value);
      else this.counters.evicted += 1;
    }
    this.counters.expired += out.length;
    return out;
  }
}
