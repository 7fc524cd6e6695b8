/**
 * The models the quality bench compares, one choice changed at a time from
 * the logistic regression's defaults, then the non-linear models.
 */
import { createModel, type GradientBoostedTreesOptions, type LogisticRegressionOptions, type OnlineModel } from '@sluice/shared';
import type { OnlineLearnerOptions } from '../src/online-learner.js';

export interface QualityModel {
  name: string;
  create(featureNames: readonly string[]): OnlineModel;
  learner?: Partial<OnlineLearnerOptions>;
}

function lr(name: string, options: LogisticRegressionOptions, learner: Partial<OnlineLearnerOptions> = {}): QualityModel {
  return { name: `LR ${name}`, create: (names) => createModel('logistic_regression', names, options), learner };
}

function gbdt(name: string, options: GradientBoostedTreesOptions): QualityModel {
  // The window is the forgetting: no drift reaction (the model has no optimiser history to shrink).
  return { name: `GBDT ${name}`, create: (names) => createModel('gradient_boosted_trees', names, options), learner: { driftReaction: 'none' } };
}

/**
 * Each line changes one choice from the defaults: for the logistic
 * regression AdaGrad 0.1, L2 1e-4, unweighted, drift reaction 'shrink'; for
 * the gradient-boosted trees GRADIENT_BOOSTED_TREES_DEFAULTS.
 */
export const QUALITY_MODELS: QualityModel[] = [
  lr('defaults (AdaGrad 0.1, unweighted, drift shrink)', {}),
  lr('balanced class weights (the previous default)', { positiveWeight: 'balanced' }),
  lr('positive weight 10', { positiveWeight: 10 }),
  lr('drift reaction none', {}, { driftReaction: 'none' }),
  lr('drift reaction reset', {}, { driftReaction: 'reset' }),
  lr('AdaGrad 0.03', { learningRate: 0.03 }),
  lr('Adam 0.001', { optimizer: 'adam', learningRate: 0.001 }),
  lr('SGD 0.01', { optimizer: 'sgd', learningRate: 0.01 }),
  lr('SGD 0.01, no L2, drift none (as River)', { optimizer: 'sgd', learningRate: 0.01, l2: 0 }, { driftReaction: 'none' }),
  gbdt('defaults (window 50k, negatives 25%, retrain every 40k labels, 100 trees of depth 5)', {}),
  gbdt('retrain every 10k labels', { retrainEvery: 10_000 }),
  gbdt('retrain every 20k labels', { retrainEvery: 20_000 }),
  gbdt('retrain every 30k labels', { retrainEvery: 30_000 }),
  { name: 'half-space trees (no labels used)', create: (names) => createModel('half_space_trees', names), learner: { drift: null } },
];
