import type { FeatureVector, InputMessage, KeyValueStore, ProcessingContext, Score } from '@sluice/shared';
import { CoolDown, type CoolDownOptions, type CoolDownState } from './cooldown.js';
import { decide } from './decision.js';
import { buildAlert, explainTop } from './explanation.js';
import type { FraudMetrics } from './fraud-metrics.js';
import type { ModelSelection } from './model-selection.js';
import { evaluateRules, vectorFields, type Rule, type Severity } from './rules.js';

export const COOLDOWN_STORE = 'cooldown';

export interface ScoringSettings {
  threshold: number;
  minRuleSeverity: Severity;
  rules: readonly Rule[];
  topFeatures: number;
  cooldown: CoolDownOptions;
}

/**
 * Scores one feature vector: rules, model (the newest one the selection
 * holds), decision, cool-down, explanation. Every vector yields a score record
 * on fraud.scores; an alert goes to fraud.alerts.
 */
export class Scoring {
  private readonly cooldowns = new WeakMap<KeyValueStore<CoolDownState>, CoolDown>();

  constructor(
    private readonly topics: { fraudScores: string; fraudAlerts: string },
    private readonly selection: ModelSelection,
    private readonly settings: ScoringSettings,
    private readonly metrics: FraudMetrics,
  ) {}

  process(message: InputMessage, context: ProcessingContext): void {
    const vector = message.value as FeatureVector;
    const firedRules = evaluateRules(this.settings.rules, vectorFields(vector));
    const scored = this.selection.score(vector.feature_names, vector.feature_values);
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

  private cooldownFor(store: KeyValueStore<CoolDownState>): CoolDown {
    let cooldown = this.cooldowns.get(store);
    if (!cooldown) {
      cooldown = new CoolDown(this.settings.cooldown, store);
      this.cooldowns.set(store, cooldown);
    }
    return cooldown;
  }
}
