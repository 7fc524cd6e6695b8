import { Fifo, OrderedBuffer, SourceClocks, vectorSegments, type BufferMap, type EventOrder, type HeldOrigin, type FeatureVector, type SegmentFormat, type SourceClocksState, type WatermarkMark } from '@sluice/shared';

/** A vector waiting to be scored, with when it arrived (processing time: how long it has waited for the model). */
export interface HeldVector {
  vector: FeatureVector;
  arrived_at: number;
}

/** What the order keeps beside its buffer, so a restored task resumes where it was. */
export interface StoredScoringClocks {
  features: SourceClocksState;
  /** Event time through which vectors have been scored (null: none yet). */
  released: number | null;
}

/** One vector to score now. `expired`: its model wait ran out (the model stream had not passed it). `late`: it came behind the frontier already scored. */
export interface ReleasedVector {
  vector: FeatureVector;
  expired: boolean;
  late: boolean;
}

/** Vectors are scored in this order: event time, then transaction id. */
export function vectorOrder(held: HeldVector): EventOrder {
  return { time: held.vector.event_time, rank: 0, id: held.vector.transaction_id };
}

/**
 * The learner's progress on model.updates ("every snapshot with a label clock
 * at or before `time` is published", or idle) as the event time through which
 * vectors can be scored with their final model: a vector at t needs the
 * snapshots up to t − E, so through progress + E. Before the first progress
 * record nothing is ready: in a replay fraud starts ahead of the learner, and
 * scoring by rules alone then would make the scores depend on which service
 * started first (a 60-day replay scored all 6,000 transactions without a
 * model that way). A deployment without a learner is bounded by
 * FRAUD_MODEL_WAIT_MAX_MS like any stalled learner. An idle learner is ready
 * only through where it stood, like an active one: a vector newer than that
 * reaches the learner too, and may take it past a snapshot boundary (a
 * snapshot of the labels learned since, due once training passes the
 * boundary) that the vector must be scored by. Taking an idle learner as
 * ready through everything scored such vectors with the snapshot before in
 * real time, with the new one in a replay (a 60-day stream sent a few days at
 * a time, idle pauses between: scores differed from the full-speed replay's).
 */
export function modelReadyThrough(progress: SourceClocks, delayMs: number): number {
  if (progress.census().reported === 0) return -Infinity;
  return progress.frontier + delayMs;
}

/**
 * The order in which one fraud task scores its vectors (issue 12, items 3 and
 * 4): each vector waits (in a buffer; its input keeps it: SegmentedBuffer) until
 * - the terminal stages' watermarks on transactions.features (SourceClocks)
 *   have passed it, so the per-customer cool-down sees vectors in
 *   (event_time, transaction_id) order whatever the arrival order, and
 * - the model stream has passed it (`modelReadyThrough`), so the snapshot it
 *   is scored by is already known; or it has waited `waitMaxMs` of processing
 *   time for that (a stalled learner must not stop alerting for long).
 * Both gates release through one frontier, the older of the two, so scoring
 * stays in order. A vector at or before the frontier already scored is late
 * (features sent it behind its own watermark): scored at once, flagged.
 */
export class ScoringOrder {
  private readonly buffer: OrderedBuffer<HeldVector>;
  private readonly features: SourceClocks;
  private releasedThrough: number;
  /** Held vectors in arrival order (rebuilt from the buffer on restore), to find those whose wait ran out. */
  private readonly arrivals = new Fifo<{ arrivedAt: number; time: number }>();
  /** The newest arrival pushed: arrivals stay in order. */
  private lastArrival = -Infinity;
  /** Newest event time of a vector whose model wait ran out: the model gate opens through it. */
  private expiredThrough = -Infinity;
  private savedClocks: string;

  constructor(
    private readonly stores: { buffer: BufferMap<HeldVector>; clocks: BufferMap<StoredScoringClocks> },
    private readonly waitMaxMs: number,
  ) {
    this.buffer = new OrderedBuffer(stores.buffer, vectorOrder);
    const stored = stores.clocks.get(CLOCKS_KEY);
    this.features = stored ? SourceClocks.restore(stored.features) : new SourceClocks();
    this.releasedThrough = stored?.released ?? -Infinity;
    this.savedClocks = stored ? JSON.stringify(stored) : '';
    const held = [...stores.buffer.entries()].map(([, entry]) => ({ arrivedAt: entry.arrived_at, time: entry.vector.event_time }));
    held.sort((a, b) => a.arrivedAt - b.arrivedAt);
    for (const entry of held) this.arrivals.push(entry);
    this.lastArrival = held.at(-1)?.arrivedAt ?? -Infinity;
  }

  get size(): number {
    return this.buffer.size;
  }

  get released(): number {
    return this.releasedThrough;
  }

  /**
   * Every vector this task has still to score (late ones aside) is after this
   * time: what it held is after it, and what comes later too (or is late).
   * The model table keeps what a vector at this time would use, and newer.
   */
  get oldestPending(): number {
    return this.releasedThrough;
  }

  /** Event time through which the terminal stages' watermarks have passed. */
  get featuresFrontier(): number {
    return this.features.frontier;
  }

  /** Event time through which the model gate is open: the learner's progress (`modelReady`), or the newest vector whose wait ran out. */
  modelGate(modelReady: number): number {
    return Math.max(modelReady, this.expiredThrough);
  }

  observeWatermark(mark: WatermarkMark): void {
    this.features.observe(mark);
  }

  /** Buffers a vector (`origin`: its record, when the buffer keeps it in memory only); one behind the frontier already scored is handed back at once. */
  add(vector: FeatureVector, now: number, origin?: HeldOrigin): ReleasedVector[] {
    if (vector.event_time <= this.releasedThrough) return [{ vector, expired: false, late: true }];
    this.hold(vector, now, origin);
    return [];
  }

  /**
   * A vector read again after an assignment (ProcessorHandler.heldInputs): held again if it is still to be scored.
   * `arrivedAt`: when it was first read, at the latest (its record's timestamp): the model wait goes on from there.
   */
  holdAgain(vector: FeatureVector, arrivedAt: number, origin: HeldOrigin): void {
    if (vector.event_time > this.releasedThrough) this.hold(vector, Math.max(arrivedAt, this.lastArrival), origin);
  }

  private hold(vector: FeatureVector, arrivedAt: number, origin: HeldOrigin | undefined): void {
    this.buffer.add({ vector, arrived_at: arrivedAt }, origin);
    this.arrivals.push({ arrivedAt, time: vector.event_time });
    this.lastArrival = arrivedAt;
  }

  /** Hands back, in order, the vectors both gates have passed (`modelReady`: `modelReadyThrough` now). */
  advance(modelReady: number, now: number): ReleasedVector[] {
    for (let head = this.arrivals.peek(); head !== undefined; head = this.arrivals.peek()) {
      if (head.time <= this.releasedThrough) this.arrivals.shift();
      else if (now - head.arrivedAt >= this.waitMaxMs) {
        this.arrivals.shift();
        if (head.time > this.expiredThrough) this.expiredThrough = head.time;
      } else break;
    }
    const frontier = Math.min(this.features.frontier, this.modelGate(modelReady));
    const released: ReleasedVector[] = [];
    if (frontier > this.releasedThrough) {
      for (const held of this.buffer.releaseThrough(frontier)) released.push({ vector: held.vector, expired: held.vector.event_time > modelReady, late: false });
      this.releasedThrough = frontier;
    }
    const stored: StoredScoringClocks = { features: this.features.toState(), released: Number.isFinite(this.releasedThrough) ? this.releasedThrough : null };
    const saved = JSON.stringify(stored);
    if (saved !== this.savedClocks) {
      this.stores.clocks.put(CLOCKS_KEY, stored);
      this.savedClocks = saved;
    }
    return released;
  }
}

const CLOCKS_KEY = 'clocks';

/**
 * Held vectors in shared's `SegmentedBuffer`: in memory only, with their
 * records' offsets (read again from transactions.features after an
 * assignment: Scoring.heldInputs). Segments, many vectors to a changelog
 * record, are what older versions wrote (one per key before them: every held
 * vector cost a put and a tombstone, 275,578 records, 2.0 per transaction, in
 * a 14-day bench:pipeline replay); they are still read and released. Restored
 * with the clocks' `released` as the applied frontier: every vector at or
 * before it was scored. Their feature names are shared (shared's
 * feature-names.ts): one array per list in memory, once per segment in the
 * changelog; segments written before that read as they are.
 */
export const HELD_SEGMENTS: SegmentFormat<HeldVector> = vectorSegments<HeldVector>({
  vector: (held) => held.vector,
  withVector: (held, vector) => ({ ...held, vector }),
});

/** Event time through which the stored clocks say vectors have been scored (the segments' applied frontier). */
export function storedReleased(clocks: BufferMap<StoredScoringClocks>): number {
  return clocks.get(CLOCKS_KEY)?.released ?? -Infinity;
}
