import {
  createModel,
  encodeWatermark,
  LogThrottle,
  OrderedBuffer,
  SegmentedBuffer,
  SluiceError,
  SourceClocks,
  WATERMARK_HEADER,
  type EventOrder,
  type SourceClocksState,
  type Algorithm,
  type InputRecord,
  type KeyValueStore,
  type LabelledExample,
  type Logger,
  type ModelMetrics,
  type ModelSnapshot,
  type ProcessingContext,
  type ReaderState,
  type RestoredTask,
  type GradientBoostedTreesOptions,
  type TaskInfo,
} from '@sluice/shared';
import { decideChampion, type ChampionDecision, type ChampionRule } from './champion-rule.js';
import type { DriftDetectorConfig } from './drift.js';
import { bufferedEventsOf, type BufferedEvents, type LearnerMetrics } from './learner-metrics.js';
import { EXAMPLE_SEGMENTS } from './vector-slots.js';
import { createSupervisedModel, type ModelDeclaration } from './model-declarations.js';
import { OnlineLearner, type DriftEvent, type DriftReaction, type OnlineLearnerOptions, type OnlineLearnerState, type StableModelState } from './online-learner.js';
import { MODEL_STORE, TRAIN_BUFFER_STORE, TRAIN_CLOCKS_STORE, type TrainInputs } from './topology.js';

const CLOCKS_KEY = 'clocks';
/** The snapshot rounds' state, beside the clocks in the same store (one changelog, same transaction). */
const ROUNDS_KEY = 'rounds';
/**
 * Drift detections are counted in sluice_learner_drift_detections_total; the log says so at most once a minute per
 * model, with the count since its last line (a full-speed replay logged 121 detections in two minutes, issue 11).
 */
const DRIFT_LOG_INTERVAL_MS = 60_000;
/**
 * The key of the training stage's progress record on model.updates. That topic
 * is compacted and refuses null keys, so the progress cannot be a keyless
 * watermark record: it is a record under this one key (compaction keeps the
 * newest progress, the only one that matters), with the watermark header and,
 * as its value, the same text (a null value would be a tombstone). Readers
 * that look up model names never see it.
 */
export const MODEL_PROGRESS_KEY = 'sluice-watermark';

/**
 * A model's window chunk k (`OnlineLearner.takeWindowChanges`) in the model store, beside its state under its name:
 * the trees' window is too large for one record, and only its newest chunk changes between batches. Model names
 * have no '/' (`parseModelDeclarations`).
 */
export function windowChunkKey(model: string, index: number): string {
  return `${model}/window/${index}`;
}

/** A model's stable state fields (`OnlineLearner.toStateApart`: the trees' ensemble), written only when they change. */
export function stableStateKey(model: string): string {
  return `${model}/stable`;
}

/**
 * Where an example goes in the training order: the event time the join
 * decided it at (older joins: when it was labelled, else its vector's time),
 * unlabelled before labelled at the same time, then transaction id. Every
 * run, whatever the speed or number of join instances, trains in this order.
 */
export function exampleOrder(example: LabelledExample): EventOrder {
  const time = example.decided_at ?? example.labeled_at ?? example.vector.event_time;
  return { time, rank: example.kind === 'unlabelled' ? 0 : 1, id: example.vector.transaction_id };
}

/** The training stage's clocks in its changelog: the join tasks' watermarks, the frontier trained through and the last example's time. */
export interface StoredTrainClocks {
  sources: SourceClocksState;
  released: number | null;
  position: number | null;
}

/** One model's training state as it lives in the changelog: enough to resume exactly where it stopped. */
export interface StoredModel {
  learner: OnlineLearnerState;
  version: number;
  /** The round's count and clock (`StoredRounds`), kept per model for states written before rounds. */
  labels_since_snapshot: number;
  last_snapshot_at: number;
  /** Label clock of the last snapshot published (absent in states written before label clocks). */
  snapshot_clock?: number | null;
}

/**
 * Every model snapshots in the same rounds (same labels, same label clock), so their metrics compare; the champion
 * rule decides at each round, and its state (the champion) resumes with the rest.
 */
export interface StoredRounds {
  labels_since_snapshot: number;
  snapshot_clock: number | null;
  champion: string | null;
}

export interface TrainSettings {
  /** The supervised models in declared order (LEARNER_MODELS). */
  models: readonly ModelDeclaration[];
  anomalyModelName: string;
  learningRate: number;
  l2: number;
  metricsWindow: number;
  drift: DriftDetectorConfig | null;
  driftReaction: DriftReaction;
  shrinkKeep: number;
  snapshotEveryLabels: number;
  snapshotIntervalMs: number;
  champion: ChampionRule;
  /** The gradient-boosted trees' options (GRADIENT_BOOSTED_TREES_DEFAULTS when absent; tests refit on small windows). */
  trees?: GradientBoostedTreesOptions;
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
  lastSnapshotAt: number;
  /** Revision of the stable state fields in the changelog (null: not written in this assignment, nor restored). */
  stableRevision: number | null;
}

interface Rounds {
  labelsSinceSnapshot: number;
  snapshotClock: number;
  champion: string | null;
  saved: string;
}

interface Models {
  supervised: LiveModel[];
  anomaly: LiveModel;
  rounds: Rounds;
}

/** The training task's state: its order, rebuilt when it is restored; its models, resumed on its first example. */
interface TrainTask {
  store: KeyValueStore<StoredModel>;
  buffer: OrderedBuffer<LabelledExample>;
  /** The buffer's store, sealed after each batch. */
  segments: SegmentedBuffer<LabelledExample>;
  sources: SourceClocks;
  released: number;
  position: number;
  /** Examples that came at or before the frontier already trained through: trained at once, at the frontier. */
  late: LabelledExample[];
  savedClocks: string;
  sentProgress: string;
  /** Undefined until the task's first example: the models are built for its feature names (`resume`). */
  models?: Models;
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
 * Stage two of the learner: one partition, so one instance trains the
 * global models at a time (the others stand by in the consumer group and take
 * over, fenced by the partition's transactional id, with the state from the
 * changelog). learner.examples is written by every join task, each followed by
 * its watermark: the stage buffers the examples (learner.examples keeps them: heldInputs) and trains them
 * in `exampleOrder` once every join task's watermark has passed them, so the
 * models, their versions and their weights are the same in every run.
 * Test-then-train on every labelled example, by every supervised model
 * (LEARNER_MODELS) in the same order; the label-free anomaly model learns
 * every vector.
 *
 * Snapshots are due at points of that order too, never of processing time,
 * and every model publishes in the same rounds: after every N labels (label
 * clock: that example's time), and at each multiple of the snapshot interval
 * of event time the frontier passes with labels learned since the last round
 * (label clock: the boundary). A snapshot's label clock is the event time
 * through which it learned: every label decided at or before it, none after.
 * At each round the champion rule (`decideChampion`) reads the supervised
 * models' rolling metrics, and every snapshot of the round names the champion
 * and why. After each batch the stage publishes its progress
 * (`MODEL_PROGRESS_KEY`): the frontier it trained through, so every snapshot
 * with a label clock at or before it is already on model.updates; idle when
 * every join task is.
 * The models' state and the rounds' (the champion included) are written to the
 * changelog with every batch, in the same transaction as the offsets: a
 * restart resumes exactly, learning no label twice and deciding the same. The
 * trees' window goes beside their state in chunks (`windowChunkKey`), only the
 * changed ones each batch, and their ensemble apart (`stableStateKey`), only
 * when a refit changed it, so a restored learner refits exactly as before.
 * When the changelog holds no state for a model but model.updates holds a
 * snapshot of it, training resumes from that snapshot (`resumePoint`).
 */
export class TrainStage {
  private readonly tasks = new Map<TaskInfo, TrainTask>();
  private readonly driftLog = new LogThrottle(DRIFT_LOG_INTERVAL_MS);

  constructor(
    private readonly modelUpdatesTopic: string,
    private readonly settings: TrainSettings,
    private readonly metrics: LearnerMetrics,
    private readonly logger: Logger,
    private readonly snapshots: SnapshotSource,
  ) {
    if (settings.models.length === 0) throw new SluiceError('invalid_learner_options', 'the train stage needs at least one supervised model');
  }

  /** Examples the training task of this instance holds until every join task's watermark passes them. */
  bufferedExamples(): BufferedEvents {
    return bufferedEventsOf([...this.tasks.values()].map((training) => training.buffer.size));
  }

  /** The training task's view of the join tasks and its buffer, for their watermark alignment (undefined once it is revoked). */
  readerState(task: TaskInfo): ReaderState | undefined {
    const training = this.tasks.get(task);
    return training && { clocks: training.sources, get buffered() { return training.buffer.size; } };
  }

  /** A new assignment, or a task started afresh: the order's buffer and clocks from what the changelogs restored. */
  onRestored(task: RestoredTask): void {
    const stored = task.store<StoredTrainClocks>(TRAIN_CLOCKS_STORE).get(CLOCKS_KEY);
    const segments = new SegmentedBuffer(task.store<unknown>(TRAIN_BUFFER_STORE), EXAMPLE_SEGMENTS, stored?.released ?? -Infinity, (example) => exampleOrder(example).time);
    this.tasks.set(task.task, {
      store: task.store<StoredModel>(MODEL_STORE),
      buffer: new OrderedBuffer(segments, exampleOrder),
      segments,
      sources: stored ? SourceClocks.restore(stored.sources) : new SourceClocks(),
      released: stored?.released ?? -Infinity,
      position: stored?.position ?? -Infinity,
      late: [],
      savedClocks: stored ? JSON.stringify(stored) : '',
      sentProgress: '',
    });
  }

  onRevoked(task: TaskInfo): void {
    this.tasks.delete(task);
  }

  /**
   * Held examples live in memory only (the buffer keeps their records' origins): learner.examples keeps them, and
   * after an assignment the processor hands back those read since the committed offset (ProcessorHandler.heldInputs).
   */
  readonly heldInputs = {
    oldestHeld: (task: TaskInfo, topic: string): string | undefined => this.tasks.get(task)?.segments.oldestHeld(topic),
    replay: (record: InputRecord<TrainInputs>, info: TaskInfo): void => {
      const task = this.tasks.get(info);
      if (task === undefined || record.watermark !== undefined) return;
      if (exampleOrder(record.value).time > task.released) task.buffer.add(record.value, { topic: record.topic, offset: record.offset });
    },
  };

  /** Buffers an example, or takes a join task's watermark. */
  process(record: InputRecord<TrainInputs>, context: ProcessingContext): void {
    const task = this.taskOf(context);
    if (record.watermark !== undefined) {
      task.sources.observe(record.watermark);
      return;
    }
    const example = record.value;
    if (exampleOrder(example).time > task.released) task.buffer.add(example, { topic: record.topic, offset: record.offset });
    else {
      task.late.push(example);
      context.afterCommit(() => this.metrics.labels.inc({ outcome: 'late_example' }));
    }
  }

  /**
   * Trains, in order, what the join tasks' watermarks released; publishes the
   * snapshot rounds due on the way and the stage's progress; writes the
   * models' and the rounds' state to the changelog. Reads model.updates on
   * the first example after an assignment when a model has no changelog state.
   */
  async afterBatch(context: ProcessingContext): Promise<void> {
    const task = this.taskOf(context);
    const { store } = task;
    const frontier = task.sources.frontier;
    const late = task.late.splice(0);
    const released = frontier > task.released ? task.buffer.releaseThrough(frontier) : [];
    const first = late[0] ?? released[0];
    if (first !== undefined && task.models === undefined) task.models = await this.resume(context, store, first);
    for (const example of late) this.train(context, task, example, task.released);
    for (const example of released) {
      const time = exampleOrder(example).time;
      this.roundAtBoundary(context, task, Math.floor((time - 1) / this.settings.snapshotIntervalMs) * this.settings.snapshotIntervalMs);
      this.train(context, task, example, time);
    }
    if (frontier > task.released) {
      task.released = frontier;
      this.roundAtBoundary(context, task, Math.floor(frontier / this.settings.snapshotIntervalMs) * this.settings.snapshotIntervalMs);
    }
    if (task.models !== undefined) {
      const { rounds } = task.models;
      const snapshotClock = Number.isFinite(rounds.snapshotClock) ? rounds.snapshotClock : null;
      for (const model of [...task.models.supervised, task.models.anomaly]) {
        const { state, stable } = model.learner.toStateApart();
        if (stable !== null && stable.revision !== model.stableRevision) {
          (store as KeyValueStore<unknown>).put(stableStateKey(model.name), stable);
          model.stableRevision = stable.revision;
        }
        store.put(model.name, {
          learner: state,
          version: model.version,
          labels_since_snapshot: rounds.labelsSinceSnapshot,
          last_snapshot_at: model.lastSnapshotAt,
          snapshot_clock: snapshotClock,
        });
        const window = model.learner.takeWindowChanges();
        for (const index of window.drop) store.delete(windowChunkKey(model.name, index));
        for (const [index, chunk] of window.put) (store as KeyValueStore<unknown>).put(windowChunkKey(model.name, index), chunk);
      }
      const stored: StoredRounds = { labels_since_snapshot: rounds.labelsSinceSnapshot, snapshot_clock: snapshotClock, champion: rounds.champion };
      const saved = JSON.stringify(stored);
      if (saved !== rounds.saved) {
        context.store<StoredRounds>(TRAIN_CLOCKS_STORE).put(ROUNDS_KEY, stored);
        rounds.saved = saved;
      }
    }
    this.saveClocks(context, task);
    task.segments.seal();
  }

  private saveClocks(context: ProcessingContext, task: TrainTask): void {
    const finite = (time: number) => (Number.isFinite(time) ? time : null);
    const stored: StoredTrainClocks = { sources: task.sources.toState(), released: finite(task.released), position: finite(task.position) };
    const saved = JSON.stringify(stored);
    if (saved !== task.savedClocks) {
      context.store<StoredTrainClocks>(TRAIN_CLOCKS_STORE).put(CLOCKS_KEY, stored);
      task.savedClocks = saved;
    }
    const idle = task.sources.allIdle;
    if (!Number.isFinite(task.released) && !idle) return;
    const mark = encodeWatermark({ source: 0, sources: 1, time: task.released, idle });
    if (mark === task.sentProgress) return;
    context.sendBytes(this.modelUpdatesTopic, MODEL_PROGRESS_KEY, Buffer.from(mark), { headers: { [WATERMARK_HEADER]: mark } });
    task.sentProgress = mark;
  }

  /** A round when labels were learned since the last one, at an interval boundary all of whose labels were learned. */
  private roundAtBoundary(context: ProcessingContext, task: TrainTask, boundary: number): void {
    if (!task.models || !(boundary >= task.position)) return;
    const { rounds } = task.models;
    if (rounds.labelsSinceSnapshot > 0 && boundary > rounds.snapshotClock) this.publishRound(context, task.models, boundary);
  }

  /** The champion rule on the supervised models' rolling metrics, then a snapshot of every model naming its decision. */
  private publishRound(context: ProcessingContext, models: Models, labelClock: number): void {
    const { supervised, anomaly, rounds } = models;
    const metrics = supervised.map((model) => model.learner.metrics());
    const decision = decideChampion(
      this.settings.champion,
      rounds.champion,
      supervised.map((model, k) => ({ name: model.name, metrics: metrics[k]!, labels: model.learner.trainedCount })),
    );
    rounds.champion = decision.champion;
    rounds.labelsSinceSnapshot = 0;
    rounds.snapshotClock = labelClock;
    supervised.forEach((model, k) => this.publish(context, model, labelClock, decision, metrics[k]!));
    this.publish(context, anomaly, labelClock, decision, anomaly.learner.metrics());
    context.afterCommit(() => {
      for (const model of supervised) this.metrics.champion.set({ model: model.name }, model.name === decision.champion ? 1 : 0);
      if (decision.kind === 'switch') {
        this.metrics.championSwitches.inc();
        this.logger.info({ champion: decision.champion, previous: decision.previous, label_clock: labelClock, reason: decision.reason }, 'champion switched');
      }
    });
  }

  private publish(context: ProcessingContext, model: LiveModel, labelClock: number, decision: ChampionDecision, metrics: ModelMetrics): void {
    model.version += 1;
    const snapshot: ModelSnapshot = {
      ...model.learner.snapshot(model.name, model.version, context.now, metrics),
      label_clock: labelClock,
      champion: decision.champion,
      champion_reason: decision.reason,
    };
    context.send(this.modelUpdatesTopic, model.name, snapshot);
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
      this.logger.info({ model: name, version, trained: snapshot.trained_count, label_clock: labelClock, metrics: snapshot.metrics }, 'model snapshot published');
    });
  }

  private train(context: ProcessingContext, task: TrainTask, example: LabelledExample, time: number): void {
    const models = task.models!;
    task.position = Math.max(task.position, time);
    if (example.kind === 'unlabelled') {
      models.anomaly.learner.observeUnlabelled(example.vector);
      return;
    }
    const label = example.is_fraud ? 1 : 0;
    for (const model of [...models.supervised, models.anomaly]) {
      const observation = model.learner.observe(example.vector, label);
      const { name } = model;
      context.afterCommit(() => {
        if (observation.learned) this.metrics.trained.inc({ model: name });
        if (observation.drift) this.driftDetected(context.now, name, observation.drift);
      });
    }
    models.rounds.labelsSinceSnapshot += 1;
    if (models.rounds.labelsSinceSnapshot >= this.settings.snapshotEveryLabels) this.publishRound(context, models, time);
  }

  private driftDetected(now: number, model: string, drift: DriftEvent): void {
    this.metrics.drift.inc({ model });
    const suppressed = this.driftLog.allow(model, now);
    if (suppressed === undefined) return;
    this.logger.info({ model, detections: suppressed + 1, ...drift }, 'drift detected on the error stream (detections since the last line; all in sluice_learner_drift_detections_total)');
  }

  private taskOf(context: ProcessingContext): TrainTask {
    return this.tasks.get(context.task)!;
  }

  /** The models of a new task, on its first example: from what the changelog restored, or else from the newest snapshot. */
  private async resume(context: ProcessingContext, store: KeyValueStore<StoredModel>, example: LabelledExample): Promise<Models> {
    const names = example.vector.feature_names;
    const featureSetVersion = example.vector.feature_set_version;
    const { models: declared, anomalyModelName } = this.settings;
    const missing = [...declared.map((d) => d.name), anomalyModelName].filter((name) => !store.has(name));
    // Only read model.updates when some state is missing: when present, the changelog is never behind it.
    const snapshots = missing.length > 0 ? await this.snapshots() : new Map<string, ModelSnapshot>();
    const reaction = { driftReaction: this.settings.driftReaction, shrinkKeep: this.settings.shrinkKeep };
    const options: Partial<OnlineLearnerOptions> = { metricsWindow: this.settings.metricsWindow, drift: this.settings.drift, ...reaction };
    /** Where each model resumed: the rounds' state falls back on it when the changelog has none (older states, or a lost changelog). */
    const resumed: { labelsSinceSnapshot: number; snapshotClock: number; champion: string | null }[] = [];
    const live = (name: string, algorithm: Algorithm, create: () => OnlineLearner): LiveModel => {
      const point = resumePoint(store.get(name), snapshots.get(name), { algorithm, featureNames: names, featureSetVersion });
      switch (point.source) {
        case 'changelog': {
          const stored = point.stored;
          this.logger.info({ model: name, version: stored.version, trained: stored.learner.trained_count }, 'resuming model from its changelog');
          resumed.push({ labelsSinceSnapshot: stored.labels_since_snapshot, snapshotClock: stored.snapshot_clock ?? -Infinity, champion: null });
          const stable = (store as KeyValueStore<unknown>).get(stableStateKey(name)) as StableModelState | undefined;
          const learner = OnlineLearner.fromState(stored.learner, reaction, stable);
          if (!learner.restoreWindow((index) => (store as KeyValueStore<unknown>).get(windowChunkKey(name, index)))) {
            this.logger.warn({ model: name, version: stored.version }, 'model window not in the changelog (state written before windows were kept, or a chunk lost): its refits start on a new window');
          }
          return { name, learner, version: stored.version, lastSnapshotAt: stored.last_snapshot_at, stableRevision: stable?.revision ?? null };
        }
        case 'snapshot': {
          const { snapshot } = point;
          try {
            const learner = OnlineLearner.fromSnapshot(snapshot, options);
            this.logger.warn({ model: name, version: snapshot.version, trained: snapshot.trained_count }, 'resuming model from its latest snapshot: no changelog state');
            resumed.push({ labelsSinceSnapshot: 0, snapshotClock: snapshot.label_clock ?? -Infinity, champion: snapshot.champion ?? null });
            return { name, learner, version: snapshot.version, lastSnapshotAt: snapshot.created_at, stableRevision: null };
          } catch (error) {
            const reason = error instanceof SluiceError ? error.reason : String(error);
            this.logger.error({ model: name, version: snapshot.version, reason }, 'latest snapshot cannot be restored: starting a fresh model above its version');
            return { name, learner: create(), version: snapshot.version, lastSnapshotAt: 0, stableRevision: null };
          }
        }
        case 'fresh':
          if (point.version > 0) this.logger.warn({ model: name, after_version: point.version, reason: point.reason }, 'starting a fresh model');
          return { name, learner: create(), version: point.version, lastSnapshotAt: 0, stableRevision: null };
      }
    };
    const modelSettings = { learningRate: this.settings.learningRate, l2: this.settings.l2 };
    const trees = this.settings.trees;
    const supervised = declared.map((declaration) =>
      live(declaration.name, declaration.algorithm, () =>
        OnlineLearner.create(
          declaration.algorithm === 'gradient_boosted_trees' && trees ? createModel('gradient_boosted_trees', names, trees) : createSupervisedModel(declaration, names, modelSettings),
          featureSetVersion,
          options,
        ),
      ),
    );
    const anomaly = live(anomalyModelName, 'half_space_trees', () => OnlineLearner.create(createModel('half_space_trees', names), featureSetVersion, options));
    const storedRounds = context.store<StoredRounds>(TRAIN_CLOCKS_STORE).get(ROUNDS_KEY);
    // Without a rounds record, the models' own: every model shared the rounds, so the latest clock is the round's.
    const rounds: Rounds = storedRounds
      ? {
          labelsSinceSnapshot: storedRounds.labels_since_snapshot,
          snapshotClock: storedRounds.snapshot_clock ?? -Infinity,
          champion: storedRounds.champion,
          saved: JSON.stringify(storedRounds),
        }
      : {
          labelsSinceSnapshot: Math.max(0, ...resumed.map((r) => r.labelsSinceSnapshot)),
          snapshotClock: Math.max(-Infinity, ...resumed.map((r) => r.snapshotClock)),
          champion: resumed.find((r) => r.champion !== null)?.champion ?? null,
          saved: '',
        };
    return { supervised, anomaly, rounds };
  }
}
