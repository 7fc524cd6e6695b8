import { z } from 'zod';
import { commonEnvSchema, env } from '@sluice/shared';
import { SEVERITIES } from './rules.js';

export const fraudConfigSchema = commonEnvSchema.extend({
  METRICS_PORT: env.port().default(9404),
  /** The model served when no snapshot names a champion (learners older than champions), or the one named cannot serve. */
  FRAUD_MODEL_NAME: env.string().default('fraud-lr'),
  /** The operator's pin: this model serves whatever the learner's champion rule says. */
  FRAUD_MODEL_PIN: env.string().optional(),
  FRAUD_THRESHOLD: env.number().pipe(z.number().min(0).max(1)).default(0.9),
  /**
   * How a score raises an alert: at FRAUD_THRESHOLD, or by the investigators'
   * budget (alert-budget.ts: day d's threshold is the score of the k-th card
   * of day d − 1, k = FRAUD_ALERT_BUDGET_CARDS_PER_DAY split across the
   * partitions of transactions.features; FRAUD_THRESHOLD until a day gives one).
   */
  FRAUD_ALERT_MODE: z.enum(['threshold', 'budget']).default('threshold'),
  FRAUD_ALERT_BUDGET_CARDS_PER_DAY: env.positiveInt().default(100),
  FRAUD_MIN_RULE_SEVERITY: z.enum(SEVERITIES).default('high'),
  /** Rules as JSON (see rules.ts); FRAUD_RULES_FILE takes a file instead. Neither: the default rule set. */
  FRAUD_RULES_JSON: env.string().optional(),
  FRAUD_RULES_FILE: env.string().optional(),
  FRAUD_COOLDOWN_MS: env.nonNegativeInt().default(0),
  FRAUD_COOLDOWN_MAX_CUSTOMERS: env.positiveInt().default(200_000),
  FRAUD_TOP_FEATURES: env.positiveInt().default(3),
  /**
   * E: a vector at event time t is scored by the newest snapshot whose label
   * clock is at or before t − E. In real time the learner's progress trails t
   * by the join → train → model.updates round trip; with E above that, no
   * vector waits, and none is scored with labels established after it.
   */
  FRAUD_MODEL_DELAY_MS: env.nonNegativeInt().default(30_000),
  /** Processing time a vector waits for the learner's progress to pass t − E before it is scored with the snapshots held. */
  FRAUD_MODEL_WAIT_MAX_MS: env.positiveInt().default(120_000),
  /**
   * Vectors one task holds for the learner's progress before it stops reading
   * transactions.features (resumes at half). A held vector takes about 700
   * bytes of heap (15 features, names shared: services/fraud/bench/held-memory.ts;
   * 1.7 kB with every vector's names as decoded), so 10,000 is ~7 MB a task,
   * ~42 MB for an instance owning all six partitions. Real time never reaches it: with a
   * stalled learner a task holds its rate × FRAUD_MODEL_WAIT_MAX_MS, 6,000 at
   * 300 tx/s over six partitions and 120 s (pausing there would delay alerts
   * past the wait); a replay would hold the whole distance to the learner.
   */
  FRAUD_MAX_HELD: env.positiveInt().default(10_000),
  /**
   * The fetch per partition of transactions.features: a batch is held whole until its transaction commits, and a
   * pause on FRAUD_MAX_HELD takes effect only after what was already fetched. 256 KiB is ~1,300 vectors (README, Memory).
   */
  FRAUD_FETCH_MAX_BYTES: env.positiveInt().default(256 * 1024),
  /** Snapshots held at most (a replay whose learner runs far ahead of fraud); past it the oldest go. */
  FRAUD_MODEL_MAX_SNAPSHOTS: env.positiveInt().default(2_000),
});

export type FraudConfig = z.infer<typeof fraudConfigSchema>;
