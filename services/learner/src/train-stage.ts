import { createModel, type KeyValueStore, type LabelledExample, type Logger, type ProcessingContext, type InputMessage } from '@sluice/shared';
import type { DriftDetectorConfig } from './drift.js';
import type { LearnerMetrics } from './learner-metrics.js';
import { OnlineLearner, type DriftReaction, type OnlineLearnerState } from './online-learner.js';

export const MODEL_STORE = 'model';

/** One model's training state as it lives in the changelog: enough to resume exactly where it stopped. */
interface StoredModel {
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
  snapshotEveryLabels: number;
  snapshotIntervalMs: number;
}

interface LiveModel {
  name: string;
  learner: OnlineLearner;
  version: number;
  labelsSinceSnapshot: number;
  lastSnapshotAt: number;
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
 */
export class TrainStage {
  private models?: { store: KeyValueStore<StoredModel>; supervised: LiveModel; anomaly: LiveModel };

  constructor(
    private readonly modelUpdatesTopic: string,
    private readonly settings: TrainSettings,
    private readonly metrics: LearnerMetrics,
    private readonly logger: Logger,
  ) {}

  process(message: InputMessage, context: ProcessingContext): void {
    const example = message.value as LabelledExample;
    const models = this.modelsFor(context.store<StoredModel>(MODEL_STORE), example);
    if (example.kind === 'unlabelled') {
      models.anomaly.learner.observeUnlabelled(example.vector);
      return;
    }
    const label = example.is_fraud ? 1 : 0;
    for (const model of [models.supervised, models.anomaly]) {
      const observation = model.learner.observe(example.vector, label);
      model.labelsSinceSnapshot += 1;
      if (observation.learned) this.metrics.trained.inc({ model: model.name });
      if (observation.drift) {
        this.metrics.drift.inc({ model: model.name });
        this.logger.warn({ model: model.name, ...observation.drift }, 'drift detected on the error stream');
      }
    }
  }

  /** Publishes due snapshots and writes the models' state to the changelog. */
  afterBatch(context: ProcessingContext): void {
    if (!this.models) return;
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
        this.metrics.snapshots.inc({ model: model.name });
        this.metrics.modelVersion.set({ model: model.name }, model.version);
        this.metrics.lastSnapshot.set({ model: model.name }, context.now / 1000);
        const { roc_auc, average_precision, log_loss } = snapshot.metrics;
        if (roc_auc !== null) this.metrics.rocAuc.set({ model: model.name }, roc_auc);
        if (average_precision !== null) this.metrics.averagePrecision.set({ model: model.name }, average_precision);
        if (log_loss !== null) this.metrics.logLoss.set({ model: model.name }, log_loss);
        this.logger.info({ model: model.name, version: model.version, trained: snapshot.trained_count, metrics: snapshot.metrics }, 'model snapshot published');
      }
      store.put(model.name, {
        learner: model.learner.toState(),
        version: model.version,
        labels_since_snapshot: model.labelsSinceSnapshot,
        last_snapshot_at: model.lastSnapshotAt,
      });
    }
  }

  private modelsFor(store: KeyValueStore<StoredModel>, example: LabelledExample) {
    if (this.models?.store !== store) {
      // A new store object means a new assignment: rebuild from what the changelog restored.
      const names = example.vector.feature_names;
      const version = example.vector.feature_set_version;
      const options = { metricsWindow: this.settings.metricsWindow, drift: this.settings.drift, driftReaction: this.settings.driftReaction };
      this.models = {
        store,
        supervised: this.live(store, this.settings.modelName, () =>
          OnlineLearner.create(createModel('logistic_regression', names, { learningRate: this.settings.learningRate, l2: this.settings.l2 }), version, options),
        ),
        anomaly: this.live(store, this.settings.anomalyModelName, () => OnlineLearner.create(createModel('half_space_trees', names), version, options)),
      };
    }
    return this.models;
  }

  private live(store: KeyValueStore<StoredModel>, name: string, create: () => OnlineLearner): LiveModel {
    const stored = store.get(name);
    if (!stored) return { name, learner: create(), version: 0, labelsSinceSnapshot: 0, lastSnapshotAt: 0 };
    this.logger.info({ model: name, version: stored.version }, 'resuming model from its changelog');
    return {
      name,
      learner: OnlineLearner.fromState(stored.learner),
      version: stored.version,
      labelsSinceSnapshot: stored.labels_since_snapshot,
      lastSnapshotAt: stored.last_snapshot_at,
    };
  }
}
