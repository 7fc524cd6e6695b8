import type { FeatureVector, ModelMetrics, ModelSnapshot, OnlineModel, WindowChanges } from '@sluice/shared';
import { restoreModel, SluiceError, snapshotToModel, withDefaults } from '@sluice/shared';
import { z } from 'zod';
import {
  createDriftDetector,
  restoreDriftDetector,
  type DriftDetector,
  type DriftDetectorConfig,
  type DriftDetectorKind,
} from './drift.js';
import { PrequentialMetrics } from './prequential-metrics.js';

/**
 * - 'none': drift is reported and counted, the model carries on as it is.
 * - 'shrink': the model keeps only the share `shrinkKeep` of its optimiser
 *   history (see `OnlineModel.shrinkLearningHistory`), so its steps grow and
 *   it moves towards the new concept without forgetting how sure it was.
 * - 'reset': the model forgets its optimiser history and re-adapts at full
 *   speed. On the handbook stream that makes the first published snapshots
 *   after a drift swing: the demo's alert precision at a fixed threshold
 *   ranged 18–61% with 'reset' against 33–82% with 'shrink' (README).
 */
export const DRIFT_REACTIONS = ['none', 'shrink', 'reset'] as const;
export type DriftReaction = (typeof DRIFT_REACTIONS)[number];

export interface OnlineLearnerOptions {
  /** Labelled examples the prequential metrics cover. */
  metricsWindow: number;
  /** Detector on the per-example error |y − score|; null disables drift detection. */
  drift: DriftDetectorConfig | null;
  driftReaction: DriftReaction;
  /** Share of the optimiser history kept on 'shrink', in [0, 1). */
  shrinkKeep: number;
}

export const ONLINE_LEARNER_DEFAULTS: OnlineLearnerOptions = {
  metricsWindow: 10_000,
  drift: { kind: 'adwin' },
  driftReaction: 'shrink',
  shrinkKeep: 0.3,
};

export interface DriftEvent {
  detector: DriftDetectorKind;
  /** What was done: 'none' also when the model has no learning history to shrink or reset. */
  reaction: DriftReaction;
  /** The detector's estimate of the mean error after the change. */
  error_estimate: number;
  trained_count: number;
  /** Event time of the example on which the drift was detected. */
  event_time: number;
}

export interface Observation {
  /** The model's score before it learned this example. */
  score: number;
  /** |label − score|, the value the drift detector saw. */
  error: number;
  /** False for label-free models, which learn on arrival (`observeUnlabelled`). */
  learned: boolean;
  drift: DriftEvent | null;
}

const stateSchema = z.object({
  algorithm: z.string(),
  model: z.unknown(),
  feature_set_version: z.string(),
  drift_reaction: z.enum(DRIFT_REACTIONS),
  // States written before 'shrink' existed carry no share.
  shrink_keep: z.number().min(0).lt(1).default(ONLINE_LEARNER_DEFAULTS.shrinkKeep),
  metrics: z.unknown(),
  drift: z.unknown().nullable(),
  trained_count: z.number().int().nonnegative(),
});

export type OnlineLearnerState = z.infer<typeof stateSchema>;

/** The part of a model's state that changes only with `revision` (`toStateApart`). */
export interface StableModelState {
  revision: number;
  fields: Record<string, unknown>;
}

/**
 * Test-then-train for one model: each labelled example is scored by the
 * current model, recorded in the prequential metrics and the drift detector,
 * and only then learned, so every figure is measured on data the model has
 * not seen (Gama et al., "On evaluating stream learning algorithms", 2013).
 *
 * Label-free models (Half-Space Trees) learn every vector on arrival through
 * `observeUnlabelled`; labels still score them for the metrics. The label of
 * a vector they already counted only shifts the current, not the reference,
 * window's mass, so the score it is measured with is unaffected unless the
 * window rolled over in between.
 */
export class OnlineLearner {
  private readonly metricsWindow: PrequentialMetrics;
  private readonly detector: DriftDetector | null;
  private trained = 0;

  private constructor(
    readonly model: OnlineModel,
    readonly featureSetVersion: string,
    readonly driftReaction: DriftReaction,
    readonly shrinkKeep: number,
    metrics: PrequentialMetrics,
    detector: DriftDetector | null,
  ) {
    this.metricsWindow = metrics;
    this.detector = detector;
  }

  static create(model: OnlineModel, featureSetVersion: string, options: Partial<OnlineLearnerOptions> = {}): OnlineLearner {
    const o = withDefaults(ONLINE_LEARNER_DEFAULTS, options);
    return new OnlineLearner(
      model,
      featureSetVersion,
      o.driftReaction,
      checkedShrinkKeep(o.shrinkKeep),
      new PrequentialMetrics(o.metricsWindow),
      o.drift === null ? null : createDriftDetector(o.drift),
    );
  }

  /**
   * Restores a learner from its changelog state; a reaction given here (the current configuration) wins over the
   * stored one. `stable`: the model's stable fields when they were written apart (`toStateApart`).
   */
  static fromState(state: unknown, reaction: Partial<Pick<OnlineLearnerOptions, 'driftReaction' | 'shrinkKeep'>> = {}, stable?: StableModelState): OnlineLearner {
    const parsed = stateSchema.safeParse(state);
    if (!parsed.success) throw new SluiceError('learner_state_invalid', `online learner: ${z.prettifyError(parsed.error)}`);
    const s = parsed.data;
    const model = stable === undefined ? s.model : { ...(s.model as object), ...stable.fields };
    const learner = new OnlineLearner(
      restoreModel(s.algorithm, model),
      s.feature_set_version,
      reaction.driftReaction ?? s.drift_reaction,
      checkedShrinkKeep(reaction.shrinkKeep ?? s.shrink_keep),
      PrequentialMetrics.fromJSON(s.metrics),
      s.drift === null ? null : restoreDriftDetector(s.drift),
    );
    learner.trained = s.trained_count;
    return learner;
  }

  /**
   * Resumes from a published snapshot when the changelog state is gone: the
   * model (weights, scaler, optimiser history, class counts) and its training
   * count come from the snapshot; the prequential window and the drift
   * detector start empty, since a snapshot carries only their figures. Throws
   * SluiceError on a snapshot whose model cannot be restored.
   */
  static fromSnapshot(snapshot: ModelSnapshot, options: Partial<OnlineLearnerOptions> = {}): OnlineLearner {
    const learner = OnlineLearner.create(snapshotToModel(snapshot), snapshot.feature_set_version, options);
    learner.trained = snapshot.trained_count;
    return learner;
  }

  get trainedCount(): number {
    return this.trained;
  }

  metrics(): ModelMetrics {
    return this.metricsWindow.compute();
  }

  /** Throws SluiceError('feature_set_mismatch') for a vector of another feature set. */
  observe(vector: FeatureVector, label: 0 | 1): Observation {
    this.checkFeatureSet(vector);
    const x = vector.feature_values;
    const score = this.model.predict(x);
    const error = Math.abs(label - score);
    this.metricsWindow.record(score, label);
    const drift = this.detector?.update(error) ? this.reactToDrift(this.detector, vector) : null;
    const learned = this.model.supervised;
    if (learned) {
      this.model.learn(x, label);
      this.trained += 1;
    }
    return { score, error, learned, drift };
  }

  /** Learns the vector now if the model needs no label; returns whether it did. */
  observeUnlabelled(vector: FeatureVector): boolean {
    this.checkFeatureSet(vector);
    if (this.model.supervised) return false;
    this.model.learn(vector.feature_values, 0);
    this.trained += 1;
    return true;
  }

  /**
   * `nowMs` is passed in (processing time of the publication): the learner reads no clock. `metrics`, when the
   * caller already computed them (`metrics()`) this round, saves sorting the window again.
   */
  snapshot(modelName: string, version: number, nowMs: number, metrics: ModelMetrics = this.metricsWindow.compute()): ModelSnapshot {
    return {
      model_name: modelName,
      version,
      algorithm: this.model.algorithm,
      feature_names: [...this.model.featureNames],
      feature_set_version: this.featureSetVersion,
      state: JSON.stringify(this.model.toState()),
      trained_count: this.trained,
      metrics,
      created_at: nowMs,
    };
  }

  /** The model's window chunks changed since the last call, for the changelog beside `toState` (none for models without a window). */
  takeWindowChanges(): WindowChanges {
    return this.model.takeWindowChanges?.() ?? { put: [], drop: [] };
  }

  /**
   * Right after `fromState`: refills the model's window from the chunks `takeWindowChanges` wrote. False when the
   * model has a window and it could not be restored (it then starts an empty one); true for models without one.
   */
  restoreWindow(chunk: (index: number) => unknown): boolean {
    return this.model.restoreWindow?.(chunk) ?? true;
  }

  /**
   * `toState` with the model's stable fields (`OnlineModel.stableStateFields`) apart, null for a model without:
   * a changelog writes them only when their revision moved.
   */
  toStateApart(): { state: OnlineLearnerState; stable: StableModelState | null } {
    const state = this.toState();
    const { stableStateFields, stableStateRevision } = this.model;
    if (stableStateFields === undefined || stableStateRevision === undefined) return { state, stable: null };
    const model = { ...(state.model as Record<string, unknown>) };
    const fields: Record<string, unknown> = {};
    for (const field of stableStateFields) {
      fields[field] = model[field];
      delete model[field];
    }
    return { state: { ...state, model }, stable: { revision: stableStateRevision, fields } };
  }

  toState(): OnlineLearnerState {
    return {
      algorithm: this.model.algorithm,
      model: this.model.toState(),
      feature_set_version: this.featureSetVersion,
      drift_reaction: this.driftReaction,
      shrink_keep: this.shrinkKeep,
      metrics: this.metricsWindow.toJSON(),
      drift: this.detector?.toJSON() ?? null,
      trained_count: this.trained,
    };
  }

  private reactToDrift(detector: DriftDetector, vector: FeatureVector): DriftEvent {
    const keep = this.driftReaction === 'shrink' ? this.shrinkKeep : this.driftReaction === 'reset' ? 0 : null;
    const reacted = keep !== null && this.model.shrinkLearningHistory !== undefined;
    if (reacted) this.model.shrinkLearningHistory?.(keep);
    return {
      detector: detector.kind,
      reaction: reacted ? this.driftReaction : 'none',
      error_estimate: detector.estimation,
      trained_count: this.trained,
      event_time: vector.event_time,
    };
  }

  private checkFeatureSet(vector: FeatureVector): void {
    const names = this.model.featureNames;
    const same =
      vector.feature_set_version === this.featureSetVersion &&
      vector.feature_names.length === names.length &&
      vector.feature_names.every((n, i) => n === names[i]);
    if (!same) {
      throw new SluiceError(
        'feature_set_mismatch',
        `vector ${vector.transaction_id} has feature set ${vector.feature_set_version}, the model was built for ${this.featureSetVersion}`,
      );
    }
  }
}

function checkedShrinkKeep(keep: number): number {
  if (!(keep >= 0 && keep < 1)) throw new SluiceError('invalid_learner_options', `online learner: shrinkKeep must be in [0, 1), got ${keep}`);
  return keep;
}
