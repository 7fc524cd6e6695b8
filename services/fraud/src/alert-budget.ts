/**
 * The investigators' budget (issue 14 item 5; the handbook's card
 * precision@k: investigators check k cards a day): instead of a fixed score
 * threshold, which moves with the fraud mix and the drift reaction on a
 * class-weighted score, alert on about k cards a day.
 *
 * The decision must be a function of the input alone: the same alerts in a
 * full-speed replay as in real time, with any number of instances, after any
 * restore. The top k cards of day d itself are only known once day d is over,
 * long after its transactions had to be decided, and any "alert the first k
 * above X today" rule depends on arrival order. So day d's threshold comes
 * from day d − 1 only: the score of the k-th highest card of that day (card =
 * customer, its maximum score of the day), final once the scoring order has
 * passed the end of day d − 1. Fraud scores in event-time order once the
 * features watermarks have passed a vector (scoring-order.ts): when the first
 * vector of day d is decided, every vector of day d − 1 on this task has been,
 * and vectors of day d that arrived earlier were held in the scoring buffer,
 * so no extra hold is needed here. A fold over that order is deterministic.
 *
 * Per task: transactions.features is keyed by customer, so a card's vectors
 * all reach one task, and each task keeps its share of k (`budgetShare`):
 * the tasks' top cards together approximate the global top k as cards hash
 * evenly, and no task needs another's scores.
 *
 * Memory: only the day's top k cards, not every card. A card's maximum only
 * grows and the k-th value only rises, so a card that fell out of the top k
 * (or never entered) with scores at or below the k-th value can only come
 * back with a score above it, which is then its maximum: the k-th value of
 * the kept set equals the k-th value of all cards' maxima (brute-force oracle
 * in the tests).
 *
 * Edges, each a choice: a day with fewer than k scored cards (the first day,
 * a quiet task, no model yet) gives no estimate, so the next day falls back to
 * the fixed threshold; days without any vector on this task carry no
 * information and are skipped (the threshold comes from the last day that had
 * vectors); a vector older than the day in progress (late: features sent it
 * behind its own watermark) is decided with the current threshold and does
 * not change a day already closed. Scores tied with the threshold alert, so a
 * day can exceed k cards by ties and by the day-to-day change in scores:
 * it is a budget, not a cap (a cap would drop the day's late frauds in favour
 * of its early ones).
 */

export const DAY_MS = 86_400_000;

export interface AlertBudgetOptions {
  /** This task's share of the cards per day (`budgetShare`), ≥ 1. */
  cardsPerDay: number;
  /** Length of a day in event time (UTC days: DAY_MS). */
  dayMs: number;
  /** The threshold while no earlier day with at least `cardsPerDay` scored cards exists. */
  fallbackThreshold: number;
}

/** The budget's state in the task's store: enough to decide the next vector as an uninterrupted run would. */
export interface AlertBudgetState {
  /** Day in progress (floor(event_time / dayMs)); null before the first vector. */
  day: number | null;
  /** The day's top cards by maximum score, highest first (ties by card), at most `cardsPerDay`. */
  top: [string, number][];
  /** Threshold of the day in progress, and where it came from. */
  threshold: number;
  basis: BudgetBasis;
}

/** `budget`: the k-th card of day `fromDay`; `fallback`: no such day yet (fixed threshold). */
export type BudgetBasis = { kind: 'budget'; fromDay: number } | { kind: 'fallback'; reason: 'no earlier day' | 'too few cards' };

export interface BudgetDecision {
  threshold: number;
  basis: BudgetBasis;
  /** The vector's day was over already (late): decided with the current threshold, not counted. */
  late: boolean;
}

/**
 * Cards per day for one partition of `partitions`: k split as evenly as
 * integers allow (the first k mod P partitions take one more), so the shares
 * add up to k. Throws when a partition would get none (it could never alert
 * by score): a budget below the partition count is a configuration error.
 */
export function budgetShare(cardsPerDay: number, partitions: number, partition: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1 || partition < 0 || partition >= partitions) {
    throw new RangeError(`partition ${partition} of ${partitions} is not a partition`);
  }
  if (cardsPerDay < partitions) throw new RangeError(`an alert budget of ${cardsPerDay} cards per day cannot be split across ${partitions} partitions (each needs at least one)`);
  return Math.floor(cardsPerDay / partitions) + (partition < cardsPerDay % partitions ? 1 : 0);
}

export class AlertBudget {
  private day: number | null;
  private threshold: number;
  private basis: BudgetBasis;
  /** The day's top cards by maximum score (at most `cardsPerDay`). */
  private readonly top: Map<string, number>;
  /** The card holding the lowest score of a full `top` (undefined: to recompute). */
  private lowest: string | undefined;

  constructor(
    private readonly options: AlertBudgetOptions,
    state?: AlertBudgetState,
  ) {
    if (!Number.isSafeInteger(options.cardsPerDay) || options.cardsPerDay < 1 || !(options.dayMs > 0)) {
      throw new RangeError(`an alert budget needs an integer cardsPerDay >= 1 and dayMs > 0, got ${JSON.stringify(options)}`);
    }
    this.day = state?.day ?? null;
    this.threshold = state?.threshold ?? options.fallbackThreshold;
    this.basis = state?.basis ?? { kind: 'fallback', reason: 'no earlier day' };
    // A restore with a smaller share keeps the highest; the state is sorted.
    this.top = new Map((state?.top ?? []).slice(0, options.cardsPerDay));
  }

  /**
   * Decides one vector in the scoring order: its day's threshold (from the
   * days before it alone), then counts its score. `score` null: no model
   * scored it (it counts for nothing, but its day is a day with vectors).
   */
  decide(eventTime: number, card: string, score: number | null): BudgetDecision {
    const day = Math.floor(eventTime / this.options.dayMs);
    if (this.day !== null && day < this.day) return { threshold: this.threshold, basis: this.basis, late: true };
    if (this.day === null || day > this.day) this.startDay(day);
    const decision: BudgetDecision = { threshold: this.threshold, basis: this.basis, late: false };
    if (score !== null && Number.isFinite(score)) this.count(card, score);
    return decision;
  }

  toState(): AlertBudgetState {
    const top = [...this.top].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { day: this.day, top, threshold: this.threshold, basis: this.basis };
  }

  private startDay(day: number): void {
    if (this.day !== null) {
      if (this.top.size >= this.options.cardsPerDay) {
        this.threshold = this.lowestScore();
        this.basis = { kind: 'budget', fromDay: this.day };
      } else {
        this.threshold = this.options.fallbackThreshold;
        this.basis = { kind: 'fallback', reason: 'too few cards' };
      }
    }
    this.day = day;
    this.top.clear();
    this.lowest = undefined;
  }

  private count(card: string, score: number): void {
    const held = this.top.get(card);
    if (held !== undefined) {
      if (score > held) {
        this.top.set(card, score);
        if (card === this.lowest) this.lowest = undefined;
      }
      return;
    }
    if (this.top.size < this.options.cardsPerDay) {
      this.top.set(card, score);
      this.lowest = undefined;
      return;
    }
    const lowest = this.lowestCard();
    if (score <= this.top.get(lowest)!) return;
    this.top.delete(lowest);
    this.top.set(card, score);
    this.lowest = undefined;
  }

  private lowestCard(): string {
    if (this.lowest === undefined) {
      let lowest: [string, number] | undefined;
      for (const entry of this.top) if (lowest === undefined || entry[1] < lowest[1]) lowest = entry;
      this.lowest = lowest![0];
    }
    return this.lowest;
  }

  private lowestScore(): number {
    return this.top.get(this.lowestCard())!;
  }
}
