import { flowDecision, SegmentedBuffer, type FeatureVector, type KeyValueStore, type ProcessingContext, type RestoredTask, type Score, type TaskInfo } from '@sluice/shared';
import { AlertBudget, budgetShare, type AlertBudgetState } from './alert-budget.js';
import { CoolDown, type CoolDownOptions, type CoolDownState } from './cooldown.js';
import { decide } from './decision.js';
import { buildAlert, explainTop } from './explanation.js';
import type { FraudMetrics } from './fraud-metrics.js';
import type { ModelSelection, ServedSelection } from './model-selection.js';
import { evaluateRules, vectorFields, type Rule, type Severity } from './rules.js';
import { HELD_SEGMENTS, ScoringOrder, storedReleased, type HeldVector, type ReleasedVector, type StoredScoringClocks } from './scoring-order.js';
import { COOLDOWN_STORE, SCORING_BUFFER_STORE, SCORING_CLOCKS_STORE, type FraudRecord } from './topology.js';

/** The alert budget's state lives in the clocks store (the task's event-time progress), under this key. */
const ALERT_BUDGET_KEY = 'alert-budget';
/** A stalled learner is worth one warning a minute, with the count since the last. */
const EXPIRED_WARN_INTERVAL_MS = 60_000;

/**
 * How a score raises an alert: at the fixed threshold, or by the
 * investigators' budget (alert-budget.ts) of `cardsPerDay` cards per day
 * (`dayMs` of event time) split across the `partitions` of transactions.features.
 */
export type AlertMode = { mode: 'threshold' } | { mode: 'budget'; cardsPerDay: number; partitions: number; dayMs: number };

export interface ScoringSettings {
  /** The fixed threshold; in budget mode, the threshold until a day gives one. */
  threshold: number;
  alert: AlertMode;
  minRuleSeverity: Severity;
  rules: readonly Rule[];
  topFeatures: number;
  cooldown: CoolDownOptions;
  /** How long a vector may wait (processing time) for the model stream to pass it before it is scored with what there is. */
  modelWaitMaxMs: number;
  /** Vectors a task may hold while the model stream is behind before it stops reading transactions.features (FRAUD_MAX_HELD). */
  maxHeld: number;
  /** Partitions of transactions.features: the model table is pruned only once each has told how far it has scored. */
  partitions: number;
}

/** What one task scores with, over its restored stores. */
interface TaskScoring {
  order: ScoringOrder;
  /** The order's buffer: held vectors in memory only, with their records' offsets (older segments sealed after each batch). */
  held: SegmentedBuffer<HeldVector>;
  cooldown: CoolDown;
  /** Budget mode only: the task's share of the budget, its store, and its state as last written there. */
  budget: { budget: AlertBudget; store: KeyValueStore<AlertBudgetState>; saved: string } | null;
}

/**
 * Scores feature vectors: rules, model (the snapshot the selection gives for
 * the vector's event time), decision, cool-down, explanation. Vectors are
 * scored in event-time order once the features watermarks and the model
 * stream have passed them (scoring-order.ts), so what comes out is a function
 * of the input alone. Every vector yields a score record on fraud.scores; an
 * alert goes to fraud.alerts.
 */
export class Scoring {
  /** Each task's order, cool-down and budget, rebuilt from what the changelogs restored (onRestored). */
  private readonly tasks = new Map<TaskInfo, TaskScoring>();
  /**
   * Per partition on this instance: the oldest event time its task may still
   * score, and how many vectors it holds. By partition, and kept when the task
   * is revoked: a partition handed back after a rebalance restores vectors
   * that old, and the model table must still hold their snapshots.
   */
  private readonly pending = new Map<number, { oldest: number; held: number }>();
  /** The model that scored the newest vector in event time on this instance (committed), for the champion gauge and log. */
  private served: { name: string; selection: ServedSelection; eventTime: number } | null = null;
  private expiredUnlogged = 0;
  private lastExpiredWarning = -Infinity;

  /** `modelReady`: event time through which the model stream has passed (scoring-order.ts, `modelReadyThrough`). */
  constructor(
    private readonly topics: { transactionsFeatures: string; fraudScores: string; fraudAlerts: string },
    private readonly selection: ModelSelection,
    private readonly settings: ScoringSettings,
    private readonly metrics: FraudMetrics,
    private readonly modelReady: () => number,
  ) {}

  onRestored(task: RestoredTask): void {
    const { alert } = this.settings;
    const clocks = task.store<StoredScoringClocks>(SCORING_CLOCKS_STORE);
    const held = new SegmentedBuffer(task.store<unknown>(SCORING_BUFFER_STORE), HELD_SEGMENTS, storedReleased(clocks), (vector) => vector.vector.event_time);
    this.tasks.set(task.task, {
      order: new ScoringOrder({ buffer: held, clocks }, this.settings.modelWaitMaxMs),
      held,
      cooldown: new CoolDown(this.settings.cooldown, task.store<CoolDownState>(COOLDOWN_STORE)),
      budget: alert.mode === 'threshold' ? null : this.restoreBudget(task, alert),
    });
  }

  onRevoked(task: TaskInfo): void {
    this.tasks.delete(task);
  }

  /** Buffers a vector (a late one is scored at once), or takes a terminal stage's watermark. */
  process(record: FraudRecord, context: ProcessingContext): void {
    const { order } = this.taskOf(context);
    if (record.watermark !== undefined) order.observeWatermark(record.watermark);
    else this.scoreAll(context, order.add(record.value, context.now, { topic: record.topic, offset: record.offset }));
  }

  /**
   * Held vectors live in memory only (the buffer keeps their records' origins): transactions.features keeps them,
   * and after an assignment the processor hands back those read since the committed offset
   * (ProcessorHandler.heldInputs).
   */
  readonly heldInputs = {
    oldestHeld: (task: TaskInfo, topic: string): string | undefined => this.tasks.get(task)?.held.oldestHeld(topic),
    replay: (record: FraudRecord, task: TaskInfo): void => {
      if (record.watermark !== undefined) return;
      this.tasks.get(task)?.order.holdAgain(record.value, Number(record.timestamp), { topic: record.topic, offset: record.offset });
    },
  };

  /** After a batch, and periodically with no input (a wait running out, the model stream moving on): scores what the order releases, and bounds the hold. */
  advance(context: ProcessingContext): void {
    const { order, held } = this.taskOf(context);
    const modelReady = this.modelReady();
    this.scoreAll(context, order.advance(modelReady, context.now));
    this.boundHold(context, order, modelReady);
    held.seal();
    const pending = { oldest: order.oldestPending, held: order.size };
    // Only once committed: an aborted batch comes back from the changelog with the vectors it released, which must
    // meet the snapshots they met the first time (a prune inside the batch outlived its abort).
    context.afterCommit(() => {
      this.pending.set(context.partition, pending);
      let oldest = Infinity;
      let held = 0;
      for (const task of this.pending.values()) {
        oldest = Math.min(oldest, task.oldest);
        held += task.held;
      }
      // A partition not heard from yet may still bring vectors of any age (with two partitions, the first task to
      // release pruned the snapshots the second's vectors needed: test/fraud-handler.driver.test.ts). An instance that
      // never owns some partitions therefore never prunes: FRAUD_MODEL_MAX_SNAPSHOTS bounds its table instead.
      if (this.pending.size >= this.settings.partitions) this.selection.prune(oldest);
      this.metrics.heldVectors.set(held);
      this.metrics.modelTableSize.set(this.selection.size);
    });
  }

  /**
   * The hold's bound (FRAUD_MAX_HELD): in a full-speed replay fraud reads the
   * features far ahead of the learner's progress and would hold hundreds of
   * thousands of vectors. Past the bound, while the features watermarks are
   * ahead of the model gate (the hold is the model's), this task stops
   * reading transactions.features; it reads again once the hold has drained
   * to half, or the model gate has caught up with the features (shared's
   * flowDecision: the rule the features and learner buffers follow, with no
   * slack in event time). Never while the features gate is the one holding:
   * the watermarks that open it are behind the data in this very partition,
   * so pausing it then could never end. The model gate always moves without
   * input (the learner's progress on model.updates, or waits running out,
   * checked by punctuation), so a pause always ends. Pausing changes when
   * vectors are read, never how they are scored.
   */
  private boundHold(context: ProcessingContext, order: ScoringOrder, modelReady: number): void {
    const topic = this.topics.transactionsFeatures;
    const paused = context.isInputPaused(topic);
    const action = flowDecision({ time: order.featuresFrontier, idle: false, paused }, order.modelGate(modelReady), order.size, { maxBuffered: this.settings.maxHeld, maxAheadMs: 0 });
    if (action === 'keep') return;
    if (action === 'pause') context.pauseInput(topic);
    else context.resumeInput(topic);
    context.logger.debug({ partition: context.partition, held: order.size, maxHeld: this.settings.maxHeld, featuresThrough: order.featuresFrontier, modelThrough: order.modelGate(modelReady) }, action === 'pause' ? 'features input paused: the hold waits for the learner' : 'features input resumed');
  }

  private scoreAll(context: ProcessingContext, released: ReleasedVector[]): void {
    if (released.length === 0) return;
    let expired = 0;
    let late = 0;
    for (const entry of released) {
      this.score(entry.vector, context);
      if (entry.expired) expired++;
      if (entry.late) late++;
    }
    if (expired === 0 && late === 0) return;
    const now = context.now;
    context.afterCommit(() => {
      if (late > 0) this.metrics.lateVectors.inc(late);
      if (expired === 0) return;
      this.metrics.modelWaitExpired.inc(expired);
      this.expiredUnlogged += expired;
      if (now - this.lastExpiredWarning < EXPIRED_WARN_INTERVAL_MS) return;
      context.logger.warn(
        { vectors: this.expiredUnlogged, waitMaxMs: this.settings.modelWaitMaxMs, newestModel: this.selection.newest?.snapshot.version ?? null },
        'vectors scored without waiting longer for the model stream: the learner has not published its progress past them (is it running and keeping up?)',
      );
      this.expiredUnlogged = 0;
      this.lastExpiredWarning = now;
    });
  }

  private score(vector: FeatureVector, context: ProcessingContext): void {
    const firedRules = evaluateRules(this.settings.rules, vectorFields(vector));
    const scored = this.selection.score(vector.event_time, vector.feature_names, vector.feature_values);
    const model = scored.score === null ? null : scored.served;
    const threshold = this.thresholdFor(context, vector, scored.score);
    const { decision, reasons } = decide({ score: scored.score, threshold, firedRules, minSeverity: this.settings.minRuleSeverity });

    let outcome: Score['decision'] = decision;
    let transactionCount = 1;
    if (decision === 'alert') {
      const admitted = this.taskOf(context).cooldown.admit(vector.customer_id, vector.event_time);
      if (admitted.outcome.decision === 'suppressed') outcome = 'suppressed';
      else transactionCount = admitted.outcome.transactionCount;
    }
    const now = context.now;
    const byModel = scored.score !== null && scored.score >= threshold;
    const byRule = reasons.length > (byModel ? 1 : 0);
    context.afterCommit(() => {
      for (const rule of firedRules) this.metrics.rulesFired.inc({ rule: rule.name });
      if (scored.score !== null) this.metrics.score.observe(scored.score);
      this.metrics.scores.inc({ decision: outcome });
      this.metrics.endToEnd.observe(Math.max(0, now - vector.ingested_at) / 1000);
      if (outcome === 'alert') this.metrics.alerts.inc({ reason: byModel && byRule ? 'model_and_rule' : byModel ? 'model' : 'rule' });
      if (model !== null) {
        this.metrics.modelScores.inc({ model: model.model.snapshot.model_name, selection: model.selection });
        this.observeServed(context, vector.event_time, model.model.snapshot, model.selection, model.reason);
      }
    });
    const modelName = model?.model.snapshot.model_name ?? null;
    const selection = model === null ? null : model.selection;
    context.send(this.topics.fraudScores, vector.customer_id, {
      transaction_id: vector.transaction_id,
      customer_id: vector.customer_id,
      score: scored.score,
      threshold,
      model_version: model?.model.snapshot.version ?? null,
      rules_fired: firedRules.map((rule) => rule.name),
      decision: outcome,
      event_time: vector.event_time,
      scored_at: now,
      model_name: modelName,
      model_selection: selection,
    } satisfies Score);
    if (outcome !== 'alert') return;

    const alert = buildAlert({
      vector,
      score: scored.score,
      threshold,
      model: model === null ? null : model.model.snapshot,
      firedRules,
      topFeatures: model === null ? [] : explainTop(model.model.scorer, vector.feature_values, this.settings.topFeatures),
      transactionCount,
      alertedAt: now,
    });
    context.send(this.topics.fraudAlerts, vector.customer_id, { ...alert, model_selection: selection });
  }

  /**
   * The score threshold for this vector: the fixed one, or its day's from the
   * task's alert budget (which then counts its score). Called once per vector,
   * in the scoring order.
   */
  private thresholdFor(context: ProcessingContext, vector: FeatureVector, score: number | null): number {
    const entry = this.taskOf(context).budget;
    if (entry === null) return this.settings.threshold;
    const { threshold } = entry.budget.decide(vector.event_time, vector.customer_id, score);
    const state = entry.budget.toState();
    const saved = JSON.stringify(state);
    if (saved !== entry.saved) {
      entry.store.put(ALERT_BUDGET_KEY, state);
      entry.saved = saved;
      const partition = String(context.partition);
      context.afterCommit(() => this.metrics.alertThreshold.set({ partition }, threshold));
    }
    return threshold;
  }

  /** The task's share of the investigators' budget, as its clocks store last kept it. */
  private restoreBudget(task: RestoredTask, alert: Extract<AlertMode, { mode: 'budget' }>): TaskScoring['budget'] {
    const store = task.store<AlertBudgetState>(SCORING_CLOCKS_STORE);
    const options = { cardsPerDay: budgetShare(alert.cardsPerDay, alert.partitions, task.partition), dayMs: alert.dayMs, fallbackThreshold: this.settings.threshold };
    const state = store.get(ALERT_BUDGET_KEY);
    return { budget: new AlertBudget(options, state), store, saved: state ? JSON.stringify(state) : '' };
  }

  /**
   * After commit: the model that scored a vector at `eventTime`. The newest
   * vector in event time on this instance tells the served champion (tasks
   * scoring older vectors do not flap it back); a change is logged once, with
   * the learner's reason.
   */
  private observeServed(context: ProcessingContext, eventTime: number, snapshot: { model_name: string; version: number }, selection: ServedSelection, reason: string): void {
    const previous = this.served;
    if (previous !== null && eventTime < previous.eventTime) return;
    this.served = { name: snapshot.model_name, selection, eventTime };
    if (previous !== null && previous.name === snapshot.model_name && previous.selection === selection) return;
    if (previous !== null) this.metrics.championInfo.set({ model: previous.name, selection: previous.selection }, 0);
    this.metrics.championInfo.set({ model: snapshot.model_name, selection }, 1);
    context.logger.info(
      { model: snapshot.model_name, version: snapshot.version, selection, reason, previous: previous === null ? null : { model: previous.name, selection: previous.selection }, event_time: eventTime },
      'served model changed',
    );
  }

  private taskOf(context: ProcessingContext): TaskScoring {
    const task = this.tasks.get(context.task);
    if (task === undefined) throw new Error(`fraud: partition ${context.partition}'s task was not restored before its work`);
    return task;
  }
}
