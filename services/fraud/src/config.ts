import { z } from 'zod';
import { commonEnvSchema, env } from '@sluice/shared';
import { SEVERITIES } from './rules.js';

export const fraudConfigSchema = commonEnvSchema.extend({
  METRICS_PORT: env.port().default(9404),
  FRAUD_MODEL_NAME: env.string().default('fraud-lr'),
  FRAUD_THRESHOLD: env.number().pipe(z.number().min(0).max(1)).default(0.9),
  FRAUD_MIN_RULE_SEVERITY: z.enum(SEVERITIES).default('high'),
  /** Rules as JSON (see rules.ts); FRAUD_RULES_FILE takes a file instead. Neither: the default rule set. */
  FRAUD_RULES_JSON: env.string().optional(),
  FRAUD_RULES_FILE: env.string().optional(),
  FRAUD_COOLDOWN_MS: env.nonNegativeInt().default(0),
  FRAUD_COOLDOWN_MAX_CUSTOMERS: env.positiveInt().default(200_000),
  FRAUD_TOP_FEATURES: env.positiveInt().default(3),
});

export type FraudConfig = z.infer<typeof fraudConfigSchema>;
