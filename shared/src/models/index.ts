import { SluiceError } from '../errors.js';
import type { FeatureContribution, ModelSnapshot } from '../records.js';
import { GRADIENT_BOOSTED_TREES, GradientBoostedTrees, type GradientBoostedTreesOptions, type WindowChanges } from './gradient-boosted-trees.js';
import { HALF_SPACE_TREES, HalfSpaceTrees, type HalfSpaceTreesOptions } from './half-space-trees.js';
import {
  LOGISTIC_REGRESSION,
  LogisticRegression,
  type LogisticRegressionOptions,
} from './logistic-regression.js';

export {
  GRADIENT_BOOSTED_TREES,
  GradientBoostedTrees,
  GRADIENT_BOOSTED_TREES_DEFAULTS,
  type GradientBoostedTreesOptions,
  type WindowChanges,
  type WindowChunk,
  windowChunkSize,
} from './gradient-boosted-trees.js';
export {
  HALF_SPACE_TREES,
  HalfSpaceTrees,
  HALF_SPACE_TREES_DEFAULTS,
  type HalfSpaceTreesOptions,
} from './half-space-trees.js';
export {
  LOGISTIC_REGRESSION,
  LogisticRegression,
  LOGISTIC_REGRESSION_DEFAULTS,
  OPTIMIZERS,
  type Optimizer,
  type LogisticRegressionOptions,
} from './logistic-regression.js';
export { StandardScaler } from './standard-scaler.js';
export { Random } from './random.js';
export { withDefaults } from './validation.js';

/**
 * What the learner trains and the fraud service scores, whatever the
 * algorithm. `predict` is a score in [0, 1], higher = more suspicious (a
 * probability for supervised models, an anomaly score otherwise).
 */
export interface OnlineModel {
  readonly algorithm: string;
  readonly featureNames: readonly string[];
  /**
   * False for label-free models (Half-Space Trees): they can learn every
   * vector as it arrives instead of waiting days for its label, and ignore y.
   */
  readonly supervised: boolean;
  predict(x: readonly number[]): number;
  learn(x: readonly number[], y: 0 | 1): void;
  /** Per-feature contributions to the score, in feature order, when the model can attribute it. */
  explain?(x: readonly number[]): FeatureContribution[];
  /** Keep only the share `keep` of the optimiser's history (0: forget it) so the model adapts faster after a drift, keeping what it predicts now. */
  shrinkLearningHistory?(keep: number): void;
  /** Plain JSON-serialisable state; `restoreModel(algorithm, state)` rebuilds an identical model (except what `takeWindowChanges` carries). */
  toState(): unknown;
  /**
   * Models whose training data is too large for `toState` (the trees' window): the chunks changed since the last
   * call, for a changelog; `restoreWindow` on the restored model reads them back (see GradientBoostedTrees).
   */
  takeWindowChanges?(): WindowChanges;
  restoreWindow?(chunk: (index: number) => unknown): boolean;
  /**
   * Top-level fields of `toState` that change only when `stableStateRevision` does (the trees' ensemble, about
   * 110 KiB, changes only at a refit): a changelog writes them apart, only when the revision moved.
   */
  readonly stableStateFields?: readonly string[];
  readonly stableStateRevision?: number;
}

export interface ModelOptionsByAlgorithm {
  [LOGISTIC_REGRESSION]: LogisticRegressionOptions;
  [HALF_SPACE_TREES]: HalfSpaceTreesOptions;
  [GRADIENT_BOOSTED_TREES]: GradientBoostedTreesOptions;
}

export type Algorithm = keyof ModelOptionsByAlgorithm;

interface Registration<A extends Algorithm> {
  create(featureNames: readonly string[], options: ModelOptionsByAlgorithm[A]): OnlineModel;
  restore(state: unknown): OnlineModel;
}

const registry: { [A in Algorithm]: Registration<A> } = {
  [LOGISTIC_REGRESSION]: {
    create: (names, options) => new LogisticRegression(names, options),
    restore: (state) => LogisticRegression.fromJSON(state),
  },
  [HALF_SPACE_TREES]: {
    create: (names, options) => new HalfSpaceTrees(names, options),
    restore: (state) => HalfSpaceTrees.fromJSON(state),
  },
  [GRADIENT_BOOSTED_TREES]: {
    create: (names, options) => new GradientBoostedTrees(names, options),
    restore: (state) => GradientBoostedTrees.fromJSON(state),
  },
};

export const ALGORITHMS = Object.keys(registry) as Algorithm[];

export function isAlgorithm(name: string): name is Algorithm {
  return Object.hasOwn(registry, name);
}

/** For algorithm names from configuration or from a snapshot envelope. */
export function parseAlgorithm(name: string): Algorithm {
  if (!isAlgorithm(name)) {
    throw new SluiceError('unknown_algorithm', `unknown model algorithm "${name}"; known: ${ALGORITHMS.join(', ')}`);
  }
  return name;
}

/**
 * A fresh model. Models take feature names rather than a count because
 * `explain` reports contributions by name and a restored model must be able
 * to say which feature set it was trained on.
 */
export function createModel<A extends Algorithm>(
  algorithm: A,
  featureNames: readonly string[],
  options: ModelOptionsByAlgorithm[A] = {},
): OnlineModel {
  return (registry[algorithm] as Registration<A>).create(featureNames, options);
}

export function restoreModel(algorithm: string, state: unknown): OnlineModel {
  return registry[parseAlgorithm(algorithm)].restore(state);
}

/**
 * The model a snapshot from `model.updates` carries. Throws SluiceError
 * (`model_snapshot_invalid`, `unknown_algorithm`, `model_state_invalid`) on a
 * snapshot it cannot trust, so the fraud service keeps its previous model.
 */
export function snapshotToModel(snapshot: ModelSnapshot): OnlineModel {
  let state: unknown;
  try {
    state = JSON.parse(snapshot.state);
  } catch (cause) {
    throw new SluiceError(
      'model_snapshot_invalid',
      `snapshot ${snapshot.model_name} v${snapshot.version}: state is not JSON`,
      { cause },
    );
  }
  const model = restoreModel(snapshot.algorithm, state);
  const names = model.featureNames;
  if (names.length !== snapshot.feature_names.length || names.some((n, i) => n !== snapshot.feature_names[i])) {
    throw new SluiceError(
      'model_snapshot_invalid',
      `snapshot ${snapshot.model_name} v${snapshot.version}: envelope feature_names differ from the model's`,
    );
  }
  return model;
}
