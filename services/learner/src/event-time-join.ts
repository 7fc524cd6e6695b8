import {
  OrderedBuffer,
  type BufferMap,
  type HeldOrigin,
  type EventOrder,
  type FeatureVector,
  type KeyValueStore,
  type Label,
  type LabelledExample,
} from '@sluice/shared';
import { ExpiringIndex } from '@sluice/shared/collections';
import { PendingFeatures, type PendingFeaturesOptions } from './label-join.js';

/** What the join reads: a vector (transactions.features) or a label (labels.valid), both keyed by customer. */
export type JoinEvent = { kind: 'vector'; vector: FeatureVector } | { kind: 'label'; label: Label };

/** What became of a label or vector in the join (`sluice_learner_labels_total{outcome}`). */
export type JoinOutcome = 'matched' | 'horizon_passed' | 'early' | 'early_evicted' | 'early_expired' | 'unknown' | 'late';

/**
 * The join's total order: a vector at its event time, a label at the time it
 * was established (labeled_at); at the same time the vector goes first, so a
 * label established at t can label the transaction made at t. Ties within a
 * kind by transaction id. The chargeback-horizon expiry of a vector at
 * event_time + TTL comes after every vector and label at that time (a label
 * established exactly at the horizon still counts).
 */
export function joinOrder(event: JoinEvent): EventOrder {
  return event.kind === 'vector'
    ? { time: event.vector.event_time, rank: 0, id: event.vector.transaction_id }
    : { time: event.label.labeled_at, rank: 1, id: event.label.transaction_id };
}

export interface JoinDecision {
  examples: LabelledExample[];
  outcomes: JoinOutcome[];
}

export interface EventTimeJoinStores {
  /** Events read but not yet applied (the watermark has not passed them). */
  buffer: BufferMap<JoinEvent>;
  /** Vectors waiting for their label, keyed by transaction id. */
  pending: KeyValueStore<FeatureVector>;
  /** Labels applied before their vector (established before the transaction, in event time), keyed by transaction id. */
  early: KeyValueStore<Label>;
}

export type EventTimeJoinOptions = PendingFeaturesOptions & { maxEarlyLabels: number };

/**
 * The learner's label join, decided in event time. Events are buffered as
 * they arrive and applied by `releaseThrough(frontier)` in `joinOrder` once
 * every source has passed them, so what is matched, what passes its horizon
 * and which early label is evicted depend on the events alone, never on how
 * the two topics and the upstream partitions interleaved on arrival.
 *
 * Every example carries `decided_at`, the event time at which it was decided
 * (a match: the later of label and vector; a horizon: event_time + TTL; an
 * unlabelled vector: its event time), and the examples of one release come
 * out in that order; the stage writes its watermark (the frontier) after them.
 *
 * All state lives in the three stores (changelogged), but for the buffered
 * events, which their inputs keep (JoinStage.heldInputs reads them again); a
 * join built on restored stores and those events decides exactly as the one
 * that wrote them.
 */
export class EventTimeJoin {
  private readonly buffer: OrderedBuffer<JoinEvent>;
  private readonly pending: PendingFeatures;
  /**
   * Early labels: evicted oldest (labeled_at, transaction id) first, expired
   * once the order passes the transaction they wait for (tx_event_time). Both
   * read from the stored labels, so a restored join evicts alike (an order of
   * arrival, as a Map's, is not what a changelog restores).
   */
  private readonly early: ExpiringIndex<Label>;
  /** The frontier applied so far: an event at or before it arriving now is late. */
  private released = -Infinity;

  constructor(
    private readonly options: EventTimeJoinOptions,
    stores: EventTimeJoinStores,
    released: number = -Infinity,
  ) {
    this.buffer = new OrderedBuffer(stores.buffer, joinOrder);
    this.pending = new PendingFeatures({ ttlMs: options.ttlMs, maxEntries: options.maxEntries }, stores.pending);
    this.early = new ExpiringIndex<Label>(
      { maxEntries: options.maxEarlyLabels, time: (label) => label.labeled_at, expiry: { at: (label) => label.tx_event_time } },
      stores.early,
    );
    this.released = released;
  }

  /** The frontier through which events have been applied (stored beside the buffer). */
  get frontier(): number {
    return this.released;
  }

  get buffered(): number {
    return this.buffer.size;
  }

  /** Vectors waiting for their label. */
  get pendingVectors(): number {
    return this.pending.size;
  }

  /**
   * Buffers an event. One at or before the frontier already applied is late
   * (its source broke its watermark, or it came while every source was idle):
   * it is applied at once, decided at the frontier, and counted.
   */
  add(event: JoinEvent, origin?: HeldOrigin): JoinDecision {
    if (joinOrder(event).time > this.released) {
      this.buffer.add(event, origin);
      return { examples: [], outcomes: [] };
    }
    const decision: JoinDecision = { examples: [], outcomes: ['late'] };
    this.apply(event, this.released, decision);
    return decision;
  }

  /** An event read again after an assignment (ProcessorHandler.heldInputs): held again if it is after the frontier applied. */
  holdAgain(event: JoinEvent, origin: HeldOrigin): void {
    if (joinOrder(event).time > this.released) this.buffer.add(event, origin);
  }

  /**
   * Applies, in order, every buffered event at or before `frontier`, then the horizons that passed by then. With
   * `maxEvents`, stops after about that many events (the rest of the last one's time included), and the frontier
   * applied is that time: the same events decide the same way whichever steps the frontier takes.
   */
  releaseThrough(frontier: number, maxEvents = Infinity): JoinDecision {
    const decision: JoinDecision = { examples: [], outcomes: [] };
    if (!(frontier > this.released)) return decision;
    const { events, through } = this.buffer.releaseAtMost(frontier, maxEvents);
    for (const event of events) {
      const time = joinOrder(event).time;
      // Horizons strictly before this event's time come first; one at this very time comes after it.
      this.expire(time - 1, decision);
      this.apply(event, time, decision);
    }
    if (!(through > this.released)) return decision;
    this.expire(through, decision);
    this.released = through;
    return decision;
  }

  private apply(event: JoinEvent, at: number, decision: JoinDecision): void {
    if (event.kind === 'vector') this.applyVector(event.vector, at, decision);
    else this.applyLabel(event.label, at, decision);
  }

  private applyVector(vector: FeatureVector, at: number, decision: JoinDecision): void {
    decision.examples.push({ kind: 'unlabelled', label_source: 'none', is_fraud: false, labeled_at: null, decided_at: at, vector });
    const early = this.early.delete(vector.transaction_id);
    if (early !== undefined) {
      decision.outcomes.push('matched');
      decision.examples.push({ kind: 'labelled', label_source: 'label', is_fraud: early.is_fraud, labeled_at: early.labeled_at, decided_at: at, vector });
      return;
    }
    this.pending.addVector(vector);
  }

  private applyLabel(label: Label, at: number, decision: JoinDecision): void {
    const vector = this.pending.takeForLabel(label);
    if (vector !== undefined) {
      decision.outcomes.push('matched');
      decision.examples.push({ kind: 'labelled', label_source: 'label', is_fraud: label.is_fraud, labeled_at: label.labeled_at, decided_at: at, vector });
      return;
    }
    // Its transaction is in the past of the order: the vector passed its horizon, was evicted or never came.
    if (label.tx_event_time <= at) {
      decision.outcomes.push('unknown');
      return;
    }
    decision.outcomes.push('early');
    // A second label of the same transaction replaces the first.
    for (let evicted = this.early.set(label.transaction_id, label).length; evicted > 0; evicted--) decision.outcomes.push('early_evicted');
  }

  /** Horizons at or before `time`: vectors trained as genuine; early labels whose transaction time passed without the vector. */
  private expire(time: number, decision: JoinDecision): void {
    for (const expired of this.pending.expire(time)) {
      decision.outcomes.push('horizon_passed');
      const horizon = expired.event_time + this.options.ttlMs;
      decision.examples.push({ kind: 'labelled', label_source: 'label_horizon_passed', is_fraud: false, labeled_at: null, decided_at: horizon, vector: expired });
    }
    // An early label waits for a vector at its tx_event_time; once the order is past that time, the vector cannot come in order.
    for (const removal of this.early.expire(time)) decision.outcomes.push(removal.cause === 'expired' ? 'early_expired' : 'early_evicted');
  }
}
