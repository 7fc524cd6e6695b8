import type { ModelMetrics } from '@sluice/shared';
import { SluiceError } from '@sluice/shared';
import { z } from 'zod';

/** Probabilities are clipped as scikit-learn's log_loss does, so one confident mistake costs ln(1e15) ≈ 34.5, not infinity. */
export const LOG_LOSS_EPSILON = 1e-15;

/**
 * Scores of positive and of negative examples apart, each sorted ascending by a
 * typed array's native numeric sort. Walking the two together visits the
 * distinct scores in order with each one's positives and negatives, all that
 * AUC and AP need: sorting indices with a comparator instead cost the learner
 * 4% of its CPU at every snapshot round (bench:pipeline --profile).
 */
interface ScoresByClass {
  positive: Float64Array;
  negative: Float64Array;
}

function scoresByClass(scores: ArrayLike<number>, labels: ArrayLike<number>): ScoresByClass {
  let positives = 0;
  for (let i = 0; i < scores.length; i++) positives += labels[i] as number;
  const positive = new Float64Array(positives);
  const negative = new Float64Array(scores.length - positives);
  for (let i = 0, p = 0, q = 0; i < scores.length; i++) {
    if (labels[i] === 1) positive[p++] = scores[i] as number;
    else negative[q++] = scores[i] as number;
  }
  return { positive: positive.sort(), negative: negative.sort() };
}

/**
 * Calls `group(positives, negatives)` for each distinct score of the two
 * sorted lists, from the lowest (`descending` false) or from the highest.
 */
function forEachScore(positive: Float64Array, negative: Float64Array, descending: boolean, group: (positives: number, negatives: number) => void): void {
  const step = descending ? -1 : 1;
  let i = descending ? positive.length - 1 : 0;
  let j = descending ? negative.length - 1 : 0;
  const inPositive = (k: number) => k >= 0 && k < positive.length;
  const inNegative = (k: number) => k >= 0 && k < negative.length;
  while (inPositive(i) || inNegative(j)) {
    const p = positive[i];
    const q = negative[j];
    const score = !inNegative(j) ? (p as number) : !inPositive(i) ? (q as number) : descending ? Math.max(p as number, q as number) : Math.min(p as number, q as number);
    let positives = 0;
    let negatives = 0;
    for (; inPositive(i) && positive[i] === score; i += step) positives++;
    for (; inNegative(j) && negative[j] === score; j += step) negatives++;
    group(positives, negatives);
  }
}

/**
 * Exact ROC AUC by ranks (Mann–Whitney U): tied scores share their average
 * rank (a tied positive/negative pair counts 0.5), then
 * AUC = (sum of positive ranks − P(P+1)/2) / (P·N). O(n log n).
 * Null when either class is absent: the AUC is undefined, not 0.5.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  return rocAucOf(scoresByClass(scores, labels));
}

function rocAucOf({ positive, negative }: ScoresByClass): number | null {
  const P = positive.length;
  const N = negative.length;
  if (P === 0 || N === 0) return null;
  let ranked = 0;
  let positiveRankSum = 0;
  forEachScore(positive, negative, false, (positives, negatives) => {
    // Ranks ranked+1 … ranked+positives+negatives, averaged; half-integers, so the sum is exact.
    positiveRankSum += positives * (ranked + (positives + negatives + 1) / 2);
    ranked += positives + negatives;
  });
  return (positiveRankSum - (P * (P + 1)) / 2) / (P * N);
}

/**
 * Average precision as scikit-learn's average_precision_score: walk the
 * distinct scores from high to low (a group of tied scores is one threshold)
 * and sum precision × (increase in recall) at each threshold: a step
 * function, no interpolation. Null without positives (recall undefined).
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  return averagePrecisionOf(scoresByClass(scores, labels));
}

function averagePrecisionOf({ positive, negative }: ScoresByClass): number | null {
  const P = positive.length;
  if (P === 0) return null;
  let truePositives = 0;
  let seen = 0;
  let ap = 0;
  forEachScore(positive, negative, true, (positives, negatives) => {
    truePositives += positives;
    seen += positives + negatives;
    ap += (positives / P) * (truePositives / seen);
  });
  return ap;
}

/** Mean binary cross-entropy with probabilities clipped to [1e-15, 1 − 1e-15]; null on no examples. */
export function logLoss(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const n = scores.length;
  if (n === 0) return null;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += exampleLogLoss(scores[i] as number, labels[i] as number);
  return sum / n;
}

export function exampleLogLoss(score: number, label: number): number {
  const p = Math.min(Math.max(score, LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON);
  return label === 1 ? -Math.log(p) : -Math.log(1 - p);
}

const stateSchema = z
  .object({
    window_size: z.number().int().positive(),
    next: z.number().int().nonnegative(),
    scores: z.array(z.number().min(0).max(1)),
    labels: z.array(z.union([z.literal(0), z.literal(1)])),
  })
  .refine((s) => s.scores.length === s.labels.length, 'scores and labels must have the same length')
  .refine((s) => s.scores.length <= s.window_size, 'more examples than the window holds')
  .refine(
    (s) => (s.scores.length < s.window_size ? s.next === s.scores.length : s.next < s.window_size),
    'next must point after the newest example',
  );

export type PrequentialMetricsState = z.infer<typeof stateSchema>;

/**
 * Prequential (test-then-train) metrics over the `windowSize` most recent
 * labelled examples, each scored before the model learned it. A ring buffer
 * makes `record` O(1); `compute` sorts the window, O(w log w), which is meant
 * to run when a snapshot is published, not per example. Recomputing from the
 * window instead of maintaining running sums keeps the figures exact (no
 * floating-point drift from adding and removing terms forever).
 */
export class PrequentialMetrics {
  private readonly scores: Float64Array;
  private readonly labels: Uint8Array;
  private next = 0;
  private count = 0;
  private positiveCount = 0;

  constructor(readonly windowSize: number) {
    if (!Number.isInteger(windowSize) || windowSize < 1) {
      throw new SluiceError('invalid_learner_options', `metrics window must be a positive integer, got ${windowSize}`);
    }
    this.scores = new Float64Array(windowSize);
    this.labels = new Uint8Array(windowSize);
  }

  static fromJSON(state: unknown): PrequentialMetrics {
    const result = stateSchema.safeParse(state);
    if (!result.success) {
      throw new SluiceError('learner_state_invalid', `prequential metrics: ${z.prettifyError(result.error)}`);
    }
    const s = result.data;
    const metrics = new PrequentialMetrics(s.window_size);
    metrics.scores.set(s.scores);
    metrics.labels.set(s.labels);
    metrics.count = s.scores.length;
    metrics.next = s.next;
    metrics.positiveCount = s.labels.reduce<number>((a, b) => a + b, 0);
    return metrics;
  }

  get size(): number {
    return this.count;
  }

  record(score: number, label: 0 | 1): void {
    if (!(score >= 0 && score <= 1)) {
      throw new SluiceError('invalid_score', `a score must be in [0, 1], got ${score}`);
    }
    if (this.count === this.windowSize) this.positiveCount -= this.labels[this.next] as number;
    else this.count += 1;
    this.scores[this.next] = score;
    this.labels[this.next] = label;
    this.positiveCount += label;
    this.next = (this.next + 1) % this.windowSize;
  }

  compute(): ModelMetrics {
    const scores = this.scores.subarray(0, this.count);
    const labels = this.labels.subarray(0, this.count);
    // Both from one split and sort of the window.
    const byClass = scoresByClass(scores, labels);
    return {
      roc_auc: rocAucOf(byClass),
      average_precision: averagePrecisionOf(byClass),
      log_loss: logLoss(scores, labels),
      positives: this.positiveCount,
      negatives: this.count - this.positiveCount,
      window_size: this.windowSize,
    };
  }

  /**
   * The ring as laid out in memory, so a restored window sums its log loss in
   * the same order and reports bit-identical figures.
   */
  toJSON(): PrequentialMetricsState {
    return {
      window_size: this.windowSize,
      next: this.next,
      scores: Array.from(this.scores.subarray(0, this.count)),
      labels: Array.from(this.labels.subarray(0, this.count), (l) => l as 0 | 1),
    };
  }
}
