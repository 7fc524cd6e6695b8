import {
  createModel,
  SluiceError,
  type Algorithm,
  type InputMessage,
  type KeyValueStore,
  type LabelledExample,
  type Logger,
  type ModelSnapshot,
  type ProcessingContext,
} from '@sluice/shared';
import type { DriftDetectorConfig } from './drift.js';
import type { LearnerMetrics } from './learner-metrics.js';
import { OnlineLearner, type DriftReaction, type OnlineLearnerOptions, type OnlineLearnerState } from './online-learner.js';

export const MODEL_STORE = 'model';

/** One model's training state as it lives in the changelog: enough to resume exactly where it stopped. */
export interface StoredModel {
  learner: OnlineLearnerState;
  version: number;
  labels_since_snapshot: number;
  last_snapshot_at: number;
}

export interface TrainSettings {
  modelName: string;
  anomalyModelName: string;
  learningRate: number;
  l2: number;
  metricsWindow: number;
  drift: DriftDetectorConfig | null;
  driftReaction: DriftReaction;
  shrinkKeep: number;
  snapshotEveryLabels: number;
  snapshotIntervalMs: number;
}

/**
 * The newest snapshot of each model name on model.updates, read to its end.
 * Called on the first example after an assignment, once the changelog has
 * been restored. A previous owner that is dead can publish nothing after what
 * this returns; one that is only paused could, until this owner's first commit
 * fences it (README.md, "Several instances").
 */
export type SnapshotSource = () => Promise<ReadonlyMap<string, ModelSnapshot>>;

interface LiveModel {
  name: string;
  learner: OnlineLearner;
  version: number;
  labelsSinceSnapshot: number;
  lastSnapshotAt: number;
}

/** Where a model resumes after an assignment; see `resumePoint`. */
export type ResumePoint =
  | { source: 'changelog'; stored: StoredModel }
  | { source: 'snapshot'; snapshot: ModelSnapshot }
  /** `version` is the last version already published: the next snapshot is `version + 1`. */
  | { source: 'fresh'; version: number; reason: string };

export interface ExpectedModel {
  algorithm: Algorithm;
  featureNames: readonly string[];
  featureSetVersion: string;
}

/**
 * The resume decision for one model, pure:
 * - the changelog state, when there is one and no snapshot is newer (the
 *   normal case: the changelog is written in the same transaction as every
 *   snapshot, so it is never behind the newest one, and it also holds the
 *   examples learned since);
 * - else the newest published snapshot, when it is of the expected algorithm
 *   and feature set (changelog lost, or never written);
 * - else a fresh model, whose versions still continue above every version
 *   already published, so that no version number is ever published twice.
 */
export function resumePoint(stored: StoredModel | undefined, snapshot: ModelSnapshot | undefined, expected: ExpectedModel): ResumePoint {
  if (stored && (!snapshot || stored.version >= snapshot.version)) return { source: 'changelog', stored };
  if (!snapshot) return { source: 'fresh', version: 0, reason: 'no model state and no snapshot' };
  const version = Math.max(snapshot.version, stored?.version ?? 0);
  if (snapshot.algorithm !== expected.algorithm) {
    return { source: 'fresh', version, reason: `snapshot v${snapshot.version} is ${snapshot.algorithm}, expected ${expected.algorithm}` };
  }
  const sameFeatures =
    snapshot.feature_set_version === expected.featureSetVersion &&
    snapshot.feature_names.length === expected.featureNames.length &&
    snapshot.feature_names.every((name, i) => name === expected.featureNames[i]);
  if (!sameFeatures) {
    return {
      source: 'fresh',
      version,
      reason: `snapshot v${snapshot.version} has feature set ${snapshot.feature_set_version} (${snapshot.feature_names.length} features), examples have ${expected.featureSetVersion} (${expected.featureNames.length})`,
    };
  }
  return { source: 'snapshot', snapshot };
}

/**
 * Stage two of the learner: one partition, so one instance trains the one
 * global model at a time (the others stand by in the consumer group and take
 * over, fenced by the partition's transactional id, with the state from the
 * changelog). Test-then-train on every labelled example; the label-free
 * anomaly model learns every vector. Snapshots go to model.updates every N
 * labels or T seconds, whichever comes first (T is checked as batches arrive).
 * The models' state is written to the changelog with every batch, in the same
 * transaction as the offsets: a restart resumes exactly, learning no label twice.
 * When the changelog holds no state for a model but model.updates holds a
 * snapshot of it, training resumes from that snapshot (`resumePoint`).
 */
export class TrainStage {
  private models?: { store: KeyValueStore<StoredModel>; supervised: LiveModel; anomaly: LiveModel };

  constructor(
    private readonly modelUpdatesTopic: string,
    private readonly settings: TrainSettings,
    private readonly metrics: LearnerMetrics,
    private readonly logger: Logger,
    private readonly snapshots: SnapshotSource,
  ) {}

  /** Synchronous except on the first example after an assignment, which may have to read model.updates. */
  process(message: InputMessage, context: ProcessingContext): void | Promise<void> {
    const example = message.value as LabelledExample;
    const store = context.store<StoredModel>(MODEL_STORE);
    if (this.models?.store === store) return this.train(context, example);
    return this.resume(store, example).then(() => this.train(context, example));
  }

  /** Publishes due snapshots and writes the models' state to the changelog. */
  afterBatch(context: ProcessingContext): void {
    // Models built for another assignment's store (a batch that decoded nothing after a
    // reassignment) are stale: publishing from them could repeat a version.
    if (!this.models || this.models.store !== context.store<StoredModel>(MODEL_STORE)) return;
    const { store, supervised, anomaly } = this.models;
    for (const model of [supervised, anomaly]) {
      const due =
        model.labelsSinceSnapshot >= this.settings.snapshotEveryLabels ||
        (model.labelsSinceSnapshot > 0 && context.now - model.lastSnapshotAt >= this.settings.snapshotIntervalMs);
      if (due) {
        model.version += 1;
        const snapshot = model.learner.snapshot(model.name, model.version, context.now);
        context.send(this.modelUpdatesTopic, model.name, snapshot);
        model.labelsSinceSnapshot = 0;
        model.lastSnapshotAt = context.now;
        const { name, version } = model;
        context.afterCommit(() => {
          this.metrics.snapshots.inc({ model: name });
          this.metrics.modelVersion.set({ model: name }, version);
          this.metrics.lastSnapshot.set({ model: name }, context.now / 1000);
          const { roc_auc, average_precision, log_loss } = snapshot.metrics;
          if (roc_auc !== null) this.metrics.rocAuc.set({ model: name }, roc_auc);
          if (average_precision !== null) this.metrics.averagePrecision.set({ model: name }, average_precision);
          if (log_loss !== null) this.metrics.logLoss.set({ model: name }, log_loss);
          this.logger.info({ model: name, version, trained: snapshot.trained_count, metrics: snapshot.metrics }, 'model snapshot published');
        });
      }
      store.put(model.name, {
        learner: model.learner.toState(),
        version: model.version,
        labels_since_snapshot: model.labelsSinceSnapshot,
        last_snapshot_at: model.lastSnapshotAt,
      });
    }
  }

  private train(context: ProcessingContext, example: LabelledExample): void {
    const models = this.models!;
    if (example.kind === 'unlabelled') {
      models.anomaly.learner.observeUnlabelled(example.vector);
      return;
    }
    const label = example.is_fraud ? 1 : 0;
    for (const model of [models.supervised, models.anomaly]) {
      const observation = model.learner.observe(example.vector, label);
      model.labelsSinceSnapshot += 1;
      const { name } = model;
      context.afterCommit(() => {
        if (observation.learned) this.metrics.trained.inc({ model: name });
        if (observation.drift) {
          this.metrics.drift.inc({ model: name });
          this.logger.warn({ model: name, ...observation.drift }, 'drift detected on the error stream');
        }
      });
    }
  }

  /** A new store object means a new assignment: rebuild from what the changelog restored, or else from the newest snapshot. */
  private async resume(store: KeyValueStore<StoredModel>, example: LabelledExample): Promise<void> {
    const names = example.vector.feature_names;
    const featureSetVersion = example.vector.feature_set_version;
    const { modelName, anomalyModelName } = this.settings;
    const missing = [modelName, anomalyModelName].filter((name) => !store.has(name));
    // Only read model.updates when some state is missing: when present, the changelog is never behind it.
    const snapshots = missing.length > 0 ? await this.snapshots() : new Map<string, ModelSnapshot>();
    if (this.models?.store === store) return;
    const reaction = { driftReaction: this.settings.driftReaction, shrinkKeep: this.settings.shrinkKeep };
    const options: Partial<OnlineLearnerOptions> = { metricsWindow: this.settings.metricsWindow, drift: this.settings.drift, ...reaction };
    const live = (name: string, algorithm: Algorithm, create: () => OnlineLearner): LiveModel => {
      const point = resumePoint(store.get(name), snapshots.get(name), { algorithm, featureNames: names, featureSetVersion });
      switch (point.source) {
        case 'changelog': {
          const stored = point.stored;
          this.logger.info({ model: name, version: stored.version, trained: stored.learner.trained_count }, 'resuming model from its changelog');
          return {
            name,
            learner: OnlineLearner.fromState(stored.learner, reaction),
            version: stored.version,
            labelsSinceSnapshot: stored.labels_since_snapshot,
            lastSnapshotAt: stored.last_snapshot_at,
          };
        }
        case 'snapshot': {
          const { snapshot } = point;
          try {
            const learner = OnlineLearner.fromSnapshot(snapshot, options);
            this.logger.warn({ model: name, version: snapshot.version, trained: snapshot.trained_count }, 'resuming model from its latest snapshot: no changelog state');
            return { name, learner, version: snapshot.version, labelsSinceSnapshot: 0, lastSnapshotAt: snapshot.created_at };
          } catch (error) {
            const reason = error instanceof SluiceError ? error.reason : String(error);
            this.logger.error({ model: name, version: snapshot.version, reason }, 'latest snapshot cannot be restored: starting a fresh model above its version');
            return { name, learner: create(), version: snapshot.version, labelsSinceSnapshot: 0, lastSnapshotAt: 0 };
          }
        }
        case 'fresh':
          if (point.version > 0) this.logger.warn({ model: name, after_version: point.version, reason: point.reason }, 'starting a fresh model');
          return { name, learner: create(), version: point.version, labelsSinceSnapshot: 0, lastSnapshotAt: 0 };
      }
    };
    this.models = {
      store,
      supervised: live(modelName, 'logistic_regression', () =>
        OnlineLearner.create(createModel('logistic_regression', names, { learningRate: this.settings.learningRate, l2: this.settings.l2 }), featureSetVersion, options),
      ),
      anomaly: live(anomalyModelName, 'half_space_trees', () => OnlineLearner.create(createModel('half_space_trees', names), featureSetVersion, options)),
    };
  }
}
