import type { FeatureVector, Label } from '@sluice/shared';
import { MinHeap, SluiceError, withDefaults } from '@sluice/shared';
import { z } from 'zod';

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
 * - `added`: stored; `evicted` is the vector dropped to make room, if any.
 * - `duplicate`: a vector with this transaction_id is already waiting; the
 *   first one is kept (it is the one the transaction was scored on).
 * - `evicted`: the store is full and this vector is older than everything in
 *   it, so it is the one dropped.
 * Every drop must also be tombstoned in the service's changelog.
 */
export type AddResult =
  | { status: 'added'; evicted: FeatureVector | undefined }
  | { status: 'duplicate' }
  | { status: 'evicted' };

export interface PendingFeaturesStats {
  size: number;
  /** Expiry-queue length including entries already taken by labels: memory, bounded by 2 · size + 64. */
  queued: number;
  added: number;
  duplicates: number;
  matched: number;
  unknownLabels: number;
  expired: number;
  evicted: number;
}

interface Waiting {
  vector: FeatureVector;
  seq: number;
}

interface QueueEntry {
  eventTime: number;
  seq: number;
  id: string;
}

/**
 * Feature vectors waiting for their (late) label, keyed by transaction_id.
 *
 * A Map gives O(1) lookup for labels; a min-heap on (event time, arrival)
 * gives expiry and eviction in event-time order in O(log n) although vectors
 * arrive out of order. Entries taken by a label are removed from the Map only
 * and left in the heap as tombstones (recognised by their sequence number);
 * the heap is compacted when tombstones outnumber live entries, so memory
 * stays O(maxEntries) and every operation is amortised O(log n).
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
  private readonly waiting = new Map<string, Waiting>();
  // Ties by id, not arrival: a store rebuilt from its changelog (another insertion order) must expire and evict alike.
  private readonly queue = new MinHeap<QueueEntry>((a, b) =>
    a.eventTime !== b.eventTime ? a.eventTime < b.eventTime : a.id !== b.id ? a.id < b.id : a.seq < b.seq,
  );
  private seq = 0;
  private readonly counters = { added: 0, duplicates: 0, matched: 0, unknownLabels: 0, expired: 0, evicted: 0 };

  constructor(options: Partial<PendingFeaturesOptions> = {}) {
    const o = withDefaults(PENDING_FEATURES_DEFAULTS, options);
    if (!(o.ttlMs > 0) || !Number.isInteger(o.maxEntries) || o.maxEntries < 1) {
      throw new SluiceError('invalid_learner_options', `pending features need ttlMs > 0 and maxEntries ≥ 1, got ${o.ttlMs} and ${o.maxEntries}`);
    }
    this.options = o;
  }

  get size(): number {
    return this.waiting.size;
  }

  stats(): PendingFeaturesStats {
    return { size: this.waiting.size, queued: this.queue.size, ...this.counters };
  }

  /** Also the restore path: replaying the changelog's entries rebuilds the store. */
  addVector(vector: FeatureVector): AddResult {
    if (this.waiting.has(vector.transaction_id)) {
      this.counters.duplicates += 1;
      return { status: 'duplicate' };
    }
    let evicted: FeatureVector | undefined;
    if (this.waiting.size >= this.options.maxEntries) {
      const oldest = this.peekLive() as QueueEntry;
      if (vector.event_time < oldest.eventTime) {
        this.counters.evicted += 1;
        return { status: 'evicted' };
      }
      evicted = this.popLive();
      this.counters.evicted += 1;
    }
    const seq = this.seq++;
    this.waiting.set(vector.transaction_id, { vector, seq });
    this.queue.push({ eventTime: vector.event_time, seq, id: vector.transaction_id });
    this.counters.added += 1;
    return { status: 'added', evicted };
  }

  /** The vector the labelled transaction was scored on, removed; undefined when unknown (never seen, expired or evicted). */
  takeForLabel(label: Pick<Label, 'transaction_id'>): FeatureVector | undefined {
    const entry = this.waiting.get(label.transaction_id);
    if (entry === undefined) {
      this.counters.unknownLabels += 1;
      return undefined;
    }
    this.waiting.delete(label.transaction_id);
    this.counters.matched += 1;
    this.compactIfSparse();
    return entry.vector;
  }

  /** Removes and returns, oldest first, the vectors with event_time + ttlMs ≤ watermarkMs. */
  expire(watermarkMs: number): FeatureVector[] {
    const out: FeatureVector[] = [];
    const cutoff = watermarkMs - this.options.ttlMs;
    for (let top = this.peekLive(); top !== undefined && top.eventTime <= cutoff; top = this.peekLive()) {
      out.push(this.popLive() as FeatureVector);
    }
    this.counters.expired += out.length;
    return out;
  }

  private isLive(entry: QueueEntry): boolean {
    return this.waiting.get(entry.id)?.seq === entry.seq;
  }

  private peekLive(): QueueEntry | undefined {
    let top = this.queue.peek();
    while (top !== undefined && !this.isLive(top)) {
      this.queue.pop();
      top = this.queue.peek();
    }
    return top;
  }

  private popLive(): FeatureVector | undefined {
    const top = this.peekLive();
    if (top === undefined) return undefined;
    this.queue.pop();
    const entry = this.waiting.get(top.id) as Waiting;
    this.waiting.delete(top.id);
    return entry.vector;
  }

  private compactIfSparse(): void {
    if (this.queue.size > 2 * this.waiting.size + 64) this.queue.retain((e) => this.isLive(e));
  }
}

const featureVectorSchema = z.object({
  transaction_id: z.string().min(1),
  customer_id: z.string(),
  terminal_id: z.string(),
  event_time: z.number().int(),
  amount: z.number(),
  feature_set_version: z.string(),
  feature_names: z.array(z.string()),
  feature_values: z.array(z.number()),
  ingested_at: z.number(),
});

/** Changelog value for a waiting vector; the changelog key is `vector.transaction_id`, and a tombstone removes it. */
export function encodePendingEntry(vector: FeatureVector): string {
  return JSON.stringify(vector);
}

export function decodePendingEntry(value: string): FeatureVector {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (cause) {
    throw new SluiceError('learner_state_invalid', 'pending feature entry is not JSON', { cause });
  }
  const result = featureVectorSchema.safeParse(parsed);
  if (!result.success) {
    throw new SluiceError('learner_state_invalid', `pending feature entry: ${z.prettifyError(result.error)}`);
  }
  return result.data;
}
