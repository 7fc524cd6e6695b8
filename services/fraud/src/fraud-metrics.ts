import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class FraudMetrics {
  readonly scores: Counter<'decision'>;
  readonly alerts: Counter<'reason'>;
  readonly score: Histogram;
  readonly modelVersion: Gauge;
  readonly modelAge: Gauge;
  readonly refusals: Counter<'reason'>;
  readonly endToEnd: Histogram;
  readonly rulesFired: Counter<'rule'>;
  readonly modelWaitExpired: Counter;
  readonly lateVectors: Counter;
  readonly heldVectors: Gauge;
  readonly modelTableSize: Gauge;
  readonly championInfo: Gauge<'model' | 'selection'>;
  readonly modelScores: Counter<'model' | 'selection'>;
  readonly alertThreshold: Gauge<'partition'>;

  constructor(registry: Registry, modelPublishedAt: () => number | null) {
    const registers = [registry];
    this.scores = new Counter({ name: 'sluice_fraud_scores_total', help: 'Feature vectors scored, by decision (alert, suppressed by the cool-down, pass).', labelNames: ['decision'], registers });
    this.alerts = new Counter({ name: 'sluice_fraud_alerts_total', help: 'Alerts raised, by what raised them.', labelNames: ['reason'], registers });
    // Every reason's series exists from the start at 0: a series first scraped at its final value shows no increase to
    // rate() (the monitoring test's fast runs raised all their alerts before Prometheus first saw the counter).
    for (const reason of ['model', 'rule', 'model_and_rule']) this.alerts.inc({ reason }, 0);
    this.score = new Histogram({ name: 'sluice_fraud_score', help: 'Distribution of model scores.', buckets: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99], registers });
    this.modelVersion = new Gauge({ name: 'sluice_fraud_model_version', help: 'Version of the newest model snapshot taken, of any model (0: none yet, rules only).', registers });
    this.modelAge = new Gauge({
      name: 'sluice_fraud_model_age_seconds',
      help: 'Seconds since the model in use was published (absent before the first model).',
      registers,
      collect() {
        const publishedAt = modelPublishedAt();
        if (publishedAt !== null) this.set((Date.now() - publishedAt) / 1000);
      },
    });
    this.refusals = new Counter({ name: 'sluice_fraud_model_refusals_total', help: 'Model snapshots refused (the previous model stays in use), by reason.', labelNames: ['reason'], registers });
    this.endToEnd = new Histogram({
      name: 'sluice_fraud_end_to_end_latency_seconds',
      help: 'From the transaction\'s arrival on transactions.raw to its score/alert being written.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.rulesFired = new Counter({ name: 'sluice_fraud_rules_fired_total', help: 'Rules fired, by rule name (bounded: rules are configuration).', labelNames: ['rule'], registers });
    this.modelWaitExpired = new Counter({
      name: 'sluice_fraud_model_wait_expired_total',
      help: 'Vectors scored after waiting FRAUD_MODEL_WAIT_MAX_MS for the learner\'s progress to pass them, with the best snapshot held (the learner is stalled or far behind).',
      registers,
    });
    this.lateVectors = new Counter({
      name: 'sluice_fraud_late_vectors_total',
      help: 'Vectors that came behind the event time already scored (features sent them behind its own watermark): scored at once, out of order.',
      registers,
    });
    this.heldVectors = new Gauge({ name: 'sluice_fraud_held_vectors', help: 'Vectors waiting for the features watermarks or the model stream to pass them, on this instance.', registers });
    this.championInfo = new Gauge({
      name: 'sluice_fraud_champion_info',
      help: 'The model serving the newest vector in event time on this instance: 1 on it, 0 on those served before; selection champion (the learner\'s rule), default (no rule: FRAUD_MODEL_NAME) or pinned (FRAUD_MODEL_PIN).',
      labelNames: ['model', 'selection'],
      registers,
    });
    this.modelScores = new Counter({ name: 'sluice_fraud_model_scores_total', help: 'Vectors scored by a model, by model and how it was chosen (rules-alone scores are not counted here).', labelNames: ['model', 'selection'], registers });
    this.alertThreshold = new Gauge({ name: 'sluice_fraud_alert_threshold', help: 'FRAUD_ALERT_MODE=budget: score threshold of the day in progress per task (the k-th card of the day before, or FRAUD_THRESHOLD until a day gives one); absent in threshold mode.', labelNames: ['partition'], registers });
    this.modelTableSize = new Gauge({ name: 'sluice_fraud_model_snapshots', help: 'Model snapshots held for scoring by event time (the newest a waiting vector may need, and newer).', registers });
  }
}
