import type { FeatureVector, InputMessage, KeyValueStore, ProcessingContext, Score } from '@sluice/shared';
import { CoolDown, type CoolDownOptions, type CoolDownState } from './cooldown.js';
import { decide } from './decision.js';
import { buildAlert, explainTop } from './explanation.js';
import type { FraudMetrics } from './fraud-metrics.js';
import type { ModelSelection } from './model-selection.js';
import { evaluateRules, vectorFields, type Rule, type Severity } from './rules.js';
import { ScoringOrder, type HeldVector, type ReleasedVector, type StoredScoringClocks } from './scoring-order.js';

export const COOLDOWN_STORE = 'cooldown';
export const SCORING_BUFFER_STORE = 'buffer';
export const SCORING_CLOCKS_STORE = 'clocks';
/** A stalled learner is worth one warning a minute, with the count since the last. */
const EXPIRED_WARN_INTERVAL_MS = 60_000;

export interface ScoringSettings {
  threshold: number;
  minRuleSeverity: Severity;
  rules: readonly Rule[];
  topFeatures: number;
  cooldown: CoolDownOptions;
  /** How long a vector may wait (processing time) for the model stream to pass it before it is scored with what there is. */
  modelWaitMaxMs: number;
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
  private readonly cooldowns = new WeakMap<KeyValueStore<CoolDownState>, CoolDown>();
  private readonly orders = new WeakMap<KeyValueStore<HeldVector>, ScoringOrder>();
  /** Per task on this instance: the oldest event time it may still score, and how many vectors it holds. */
  private readonly pending = new Map<number, { oldest: number; held: number }>();
  private expiredUnlogged = 0;
  private lastExpiredWarning = -Infinity;

  /** `modelReady`: event time through which the model stream has passed (scoring-order.ts, `modelReadyThrough`). */
  constructor(
    private readonly topics: { fraudScores: string; fraudAlerts: string },
    private readonly selection: ModelSelection,
    private readonly settings: ScoringSettings,
    private readonly metrics: FraudMetrics,
    private readonly modelReady: () => number,
  ) {}

  /** Buffers a vector (a late one is scored at once), or takes a terminal stage's watermark. */
  process(message: InputMessage, context: ProcessingContext): void {
    const order = this.orderFor(context);
    if (message.watermark !== undefined) order.observeWatermark(message.watermark);
    else this.scoreAll(context, order.add(message.value as FeatureVector, context.now));
  }

  /** After a batch, and periodically with no input (a wait running out, the model stream moving on): scores what the order releases. */
  advance(context: ProcessingContext): void {
    const order = this.orderFor(context);
    this.scoreAll(context, order.advance(this.modelReady(), context.now));
    this.pending.set(context.partition, { oldest: order.oldestPending, held: order.size });
    let oldest = Infinity;
    let held = 0;
    for (const task of this.pending.values()) {
      oldest = Math.min(oldest, task.oldest);
      held += task.held;
    }
    this.selection.prune(oldest);
    this.metrics.heldVectors.set(held);
    this.metrics.modelTableSize.set(this.selection.size);
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
        { vectors: this.expiredUnlogged, waitMaxMs: this.settings.modelWaitMaxMs, newestModel: this.selection.current?.snapshot.version ?? null },
        'vectors scored without waiting longer for the model stream: the learner has not published its progress past them (is it running and keeping up?)',
      );
      this.expiredUnlogged = 0;
      this.lastExpiredWarning = now;
    });
  }

  private score(vector: FeatureVector, context: ProcessingContext): void {
    const firedRules = evaluateRules(this.settings.rules, vectorFields(vector));
    const scored = this.selection.score(vector.event_time, vector.feature_names, vector.feature_values);
    const model = scored.model;
    const { decision, reasons } = decide({ score: scored.score, threshold: this.settings.threshold, firedRules, minSeverity: this.settings.minRuleSeverity });

    let outcome: Score['decision'] = decision;
    let transactionCount = 1;
    if (decision === 'alert') {
      const admitted = this.cooldownFor(context.store<CoolDownState>(COOLDOWN_STORE)).admit(vector.customer_id, vector.event_time);
      if (admitted.outcome.decision === 'suppressed') outcome = 'suppressed';
      else transactionCount = admitted.outcome.transactionCount;
    }
    const now = context.now;
    const byModel = scored.score !== null && scored.score >= this.settings.threshold;
    const byRule = reasons.length > (byModel ? 1 : 0);
    context.afterCommit(() => {
      for (const rule of firedRules) this.metrics.rulesFired.inc({ rule: rule.name });
      if (scored.score !== null) this.metrics.score.observe(scored.score);
      this.metrics.scores.inc({ decision: outcome });
      this.metrics.endToEnd.observe(Math.max(0, now - vector.ingested_at) / 1000);
      if (outcome === 'alert') this.metrics.alerts.inc({ reason: byModel && byRule ? 'model_and_rule' : byModel ? 'model' : 'rule' });
    });
    context.send(this.topics.fraudScores, vector.customer_id, {
      transaction_id: vector.transaction_id,
      customer_id: vector.customer_id,
      score: scored.score,
      threshold: this.settings.threshold,
      model_version: scored.score === null ? null : (model?.snapshot.version ?? null),
      rules_fired: firedRules.map((rule) => rule.name),
      decision: outcome,
      event_time: vector.event_time,
      scored_at: now,
    } satisfies Score);
    if (outcome !== 'alert') return;

    const alert = buildAlert({
      vector,
      score: scored.score,
      threshold: this.settings.threshold,
      model: scored.score !== null && model ? model.snapshot : null,
      firedRules,
      topFeatures: scored.score !== null && model ? explainTop(model.scorer, vector.feature_values, this.settings.topFeatures) : [],
      transactionCount,
      alertedAt: now,
    });
    context.send(this.topics.fraudAlerts, vector.customer_id, alert);
  }

  /** A new store object means a new assignment: rebuild the order from what the changelogs restored. */
  private orderFor(context: ProcessingContext): ScoringOrder {
    const buffer = context.store<HeldVector>(SCORING_BUFFER_STORE);
    let order = this.orders.get(buffer);
    if (!order) {
      order = new ScoringOrder({ buffer, clocks: context.store<StoredScoringClocks>(SCORING_CLOCKS_STORE) }, this.settings.modelWaitMaxMs);
      this.orders.set(buffer, order);
    }
    return order;
  }

  private cooldownFor(store: KeyValueStore<CoolDownState>): CoolDown {
    let cooldown = this.cooldowns.get(store);
    if (!cooldown) {
      cooldown = new CoolDown(this.settings.cooldown, store);
      this.cooldowns.set(store, cooldown);
    }
    return cooldown;
  }
}
