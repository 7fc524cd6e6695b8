import { z } from 'zod';
import { SluiceError } from '../errors.js';
import type { FeatureContribution } from '../records.js';
import { StandardScaler, standardScalerStateSchema } from './standard-scaler.js';
import { checkVector, parseState, withDefaults } from './validation.js';

/**
 * Optimiser (`optimizer`), default AdaGrad (Duchi, Hazan & Singer, 2011),
 * per coordinate: each weight's step is learningRate / sqrt(sum of its
 * squared gradients). Its steps shrink as evidence accumulates, so on a
 * stationary stream the weights converge to the (L2-regularised)
 * maximum-likelihood fit; the freezing this implies on an endless, drifting
 * stream is handled explicitly: on detected drift the learner calls
 * `shrinkLearningHistory`, which scales the accumulators down (or clears
 * them) so steps grow again. 'adam' (bias-corrected moments, β = 0.9 / 0.999)
 * and 'sgd' (constant step, as River's default `optim.SGD(0.01)`) are there to
 * be measured against it: on the handbook stream under the handbook's
 * protocol AdaGrad 0.1 ranks best (AP 0.622 against Adam 0.001's 0.608 and
 * SGD 0.01's 0.600, services/learner/README.md, "Model quality"); Adam's and
 * SGD's weights keep wandering around the optimum at a constant step size.
 * FTRL-Proximal would give the same per-coordinate rates; its selling point,
 * L1-induced sparsity over millions of hashed features, buys nothing on a
 * dense vector of a few dozen features.
 *
 * Class weighting: positives count `positiveWeight` times in the loss;
 * 'balanced' uses (negatives + 1) / (positives + 1) over the examples learned
 * so far (scikit-learn's class_weight='balanced', with +1 smoothing). The
 * default is 1, unweighted, because weighting costs ranking on the handbook
 * stream: AP 0.622 unweighted, 0.606 with weight 10, 0.549 balanced (the
 * previous default), at the same AUC (0.868–0.873). A weighted model is a
 * misspecified one on purpose: it trades likelihood on the many negatives for
 * the few positives, which moves its direction as well as its intercept. The
 * unweighted model's `predict` is a calibrated fraud probability (at fraud's
 * 0.9 threshold: 95% precision, 33% recall on that stream, against 42% / 65%
 * when the same model's score is shifted to a balanced prior), so a threshold means what it says; a weighted model's
 * calibrated probability is about sigmoid(logit − ln(positiveWeight)).
 *
 * L2 regularisation (`l2`) adds l2 * w to each weight's gradient (the bias is
 * not penalised), so the weights minimise the weighted log loss plus
 * (l2 / 2) * ||w||^2 per example.
 */
export const OPTIMIZERS = ['adagrad', 'adam', 'sgd'] as const;
export type Optimizer = (typeof OPTIMIZERS)[number];

export interface LogisticRegressionOptions {
  optimizer?: Optimizer;
  learningRate?: number;
  l2?: number;
  positiveWeight?: number | 'balanced';
  epsilon?: number;
}

const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;

const optionsSchema = z.object({
  // States written before the optimiser was a choice were AdaGrad's.
  optimizer: z.enum(OPTIMIZERS).default('adagrad'),
  learningRate: z.number().positive(),
  l2: z.number().nonnegative(),
  positiveWeight: z.union([z.number().positive(), z.literal('balanced')]),
  epsilon: z.number().positive(),
});

export type ResolvedLogisticRegressionOptions = z.infer<typeof optionsSchema>;

export const LOGISTIC_REGRESSION_DEFAULTS: ResolvedLogisticRegressionOptions = {
  optimizer: 'adagrad',
  learningRate: 0.1,
  l2: 1e-4,
  positiveWeight: 1,
  epsilon: 1e-8,
};

const stateSchema = z
  .object({
    feature_names: z.array(z.string()).min(1),
    options: optionsSchema,
    scaler: standardScalerStateSchema,
    weights: z.array(z.number()),
    bias: z.number(),
    squared_gradients: z.array(z.number().nonnegative()),
    squared_gradient_bias: z.number().nonnegative(),
    // Adam's first moments and step count (absent in states written before Adam).
    first_moments: z.array(z.number()).optional(),
    first_moment_bias: z.number().default(0),
    steps: z.number().int().nonnegative().default(0),
    positives: z.number().int().nonnegative(),
    negatives: z.number().int().nonnegative(),
  })
  .refine(
    (s) =>
      [s.scaler.mean.length, s.weights.length, s.squared_gradients.length].every(
        (n) => n === s.feature_names.length,
      ),
    'every per-feature array must have one entry per feature name',
  );

export type LogisticRegressionState = z.infer<typeof stateSchema>;

export const LOGISTIC_REGRESSION = 'logistic_regression';

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

export class LogisticRegression {
  readonly algorithm = LOGISTIC_REGRESSION;
  readonly supervised = true;
  readonly featureNames: readonly string[];
  readonly options: ResolvedLogisticRegressionOptions;
  private scaler: StandardScaler;
  private readonly weights: Float64Array;
  private biasWeight = 0;
  private readonly squaredGradients: Float64Array;
  private squaredGradientBias = 0;
  /** Adam only. */
  private readonly firstMoments: Float64Array;
  private firstMomentBias = 0;
  private steps = 0;
  private positives = 0;
  private negatives = 0;
  private readonly standardised: Float64Array;

  constructor(featureNames: readonly string[], options: LogisticRegressionOptions = {}) {
    const resolved = optionsSchema.safeParse(withDefaults(LOGISTIC_REGRESSION_DEFAULTS, options));
    if (!resolved.success) {
      throw new SluiceError('invalid_model_options', `logistic regression: ${z.prettifyError(resolved.error)}`);
    }
    this.options = resolved.data;
    this.featureNames = [...featureNames];
    const n = featureNames.length;
    this.scaler = new StandardScaler(n);
    this.weights = new Float64Array(n);
    this.squaredGradients = new Float64Array(n);
    this.firstMoments = new Float64Array(n);
    this.standardised = new Float64Array(n);
  }

  static fromJSON(state: unknown): LogisticRegression {
    const s = parseState(stateSchema, state, LOGISTIC_REGRESSION);
    const model = new LogisticRegression(s.feature_names, s.options);
    model.scaler = StandardScaler.fromJSON(s.scaler);
    model.weights.set(s.weights);
    model.biasWeight = s.bias;
    model.squaredGradients.set(s.squared_gradients);
    model.squaredGradientBias = s.squared_gradient_bias;
    if (s.first_moments !== undefined) model.firstMoments.set(s.first_moments);
    model.firstMomentBias = s.first_moment_bias;
    model.steps = s.steps;
    model.positives = s.positives;
    model.negatives = s.negatives;
    return model;
  }

  get bias(): number {
    return this.biasWeight;
  }

  /** The weight positives carry in the next update. */
  get positiveWeight(): number {
    const w = this.options.positiveWeight;
    return w === 'balanced' ? (this.negatives + 1) / (this.positives + 1) : w;
  }

  /** Weights over the standardised features, in feature order. */
  coefficients(): number[] {
    return Array.from(this.weights);
  }

  /**
   * The log-odds, summed as bias + w0·z0 + w1·z1 + … left to right, the same
   * order in which `explain`'s contributions are meant to be added, so the
   * identity bias + Σ contributions === logit holds bit for bit.
   */
  logit(x: readonly number[]): number {
    checkVector(x, this.featureNames.length, LOGISTIC_REGRESSION);
    return this.logitOfStandardised(this.scaler.transformInto(x, this.standardised));
  }

  predict(x: readonly number[]): number {
    return sigmoid(this.logit(x));
  }

  /**
   * Per-feature contributions to the logit: weight × standardised value, in
   * feature order. Adding `bias` and then each contribution in order gives
   * exactly `logit(x)`. A contribution is relative to the feature's running
   * mean: 0 means "average for this stream", not "absent".
   */
  explain(x: readonly number[]): FeatureContribution[] {
    checkVector(x, this.featureNames.length, LOGISTIC_REGRESSION);
    const z = this.scaler.transformInto(x, this.standardised);
    return this.featureNames.map((feature, i) => ({
      feature,
      contribution: (this.weights[i] as number) * (z[i] as number),
    }));
  }

  /**
   * The scaler learns x before the weights see it (as a River pipeline does),
   * so the very first example already standardises against its own statistics.
   */
  learn(x: readonly number[], y: 0 | 1): void {
    checkVector(x, this.featureNames.length, LOGISTIC_REGRESSION);
    this.scaler.learn(x);
    const z = this.scaler.transformInto(x, this.standardised);
    const p = sigmoid(this.logitOfStandardised(z));
    const error = (y === 1 ? this.positiveWeight : 1) * (p - y);

    const { l2 } = this.options;
    this.steps += 1;
    for (let i = 0; i < this.weights.length; i++) {
      const w = this.weights[i] as number;
      this.weights[i] = w - this.step(i, error * (z[i] as number) + l2 * w);
    }
    this.biasWeight -= this.step(-1, error);

    if (y === 1) this.positives += 1;
    else this.negatives += 1;
  }

  /**
   * Drift reaction: keep only the share `keep` (0 ≤ keep < 1) of the
   * accumulated squared gradients (AdaGrad's sums, Adam's second moments), so
   * each step grows by 1/sqrt(keep) (to full size at 0) and the model moves
   * towards the new concept; SGD's steps never shrank, so it has nothing to
   * scale. Weights, scaler and class counts are kept, so scoring goes on
   * uninterrupted while the model re-adapts.
   */
  shrinkLearningHistory(keep: number): void {
    if (!(keep >= 0 && keep < 1)) throw new SluiceError('invalid_model_options', `logistic regression: the share of learning history kept must be in [0, 1), got ${keep}`);
    for (let i = 0; i < this.squaredGradients.length; i++) this.squaredGradients[i] = (this.squaredGradients[i] as number) * keep;
    this.squaredGradientBias *= keep;
  }

  toJSON(): LogisticRegressionState {
    return {
      feature_names: [...this.featureNames],
      options: { ...this.options },
      scaler: this.scaler.toJSON(),
      weights: Array.from(this.weights),
      bias: this.biasWeight,
      squared_gradients: Array.from(this.squaredGradients),
      squared_gradient_bias: this.squaredGradientBias,
      first_moments: Array.from(this.firstMoments),
      first_moment_bias: this.firstMomentBias,
      steps: this.steps,
      positives: this.positives,
      negatives: this.negatives,
    };
  }

  toState(): LogisticRegressionState {
    return this.toJSON();
  }

  /** The optimiser's step for gradient g of weight i (−1: the bias), updating its history. */
  private step(i: number, g: number): number {
    const { optimizer, learningRate, epsilon } = this.options;
    if (optimizer === 'sgd') return learningRate * g;
    const v = i < 0 ? this.squaredGradientBias : (this.squaredGradients[i] as number);
    if (optimizer === 'adagrad') {
      const g2 = v + g * g;
      if (i < 0) this.squaredGradientBias = g2;
      else this.squaredGradients[i] = g2;
      return (learningRate * g) / (Math.sqrt(g2) + epsilon);
    }
    const m = ADAM_BETA1 * (i < 0 ? this.firstMomentBias : (this.firstMoments[i] as number)) + (1 - ADAM_BETA1) * g;
    const v2 = ADAM_BETA2 * v + (1 - ADAM_BETA2) * g * g;
    if (i < 0) {
      this.firstMomentBias = m;
      this.squaredGradientBias = v2;
    } else {
      this.firstMoments[i] = m;
      this.squaredGradients[i] = v2;
    }
    const mHat = m / (1 - ADAM_BETA1 ** this.steps);
    const vHat = v2 / (1 - ADAM_BETA2 ** this.steps);
    return (learningRate * mHat) / (Math.sqrt(vHat) + epsilon);
  }

  private logitOfStandardised(z: Float64Array): number {
    let s = this.biasWeight;
    for (let i = 0; i < this.weights.length; i++) s += (this.weights[i] as number) * (z[i] as number);
    return s;
  }
}
