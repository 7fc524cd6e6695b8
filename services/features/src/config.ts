import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { commonEnvSchema, env, SluiceError } from '@sluice/shared';
import { handbookFeatureSpec } from './handbook.js';
import { compileSpec, CUSTOMER_KEY, TERMINAL_KEY, type FeaturePlan } from './plan.js';
import type { FeatureSpec } from './spec.js';

export const featuresConfigSchema = commonEnvSchema.extend({
  METRICS_PORT: env.port().default(9402),
  /** A JSON feature spec (see spec.ts); the handbook's baseline features when unset. */
  FEATURES_SPEC_FILE: env.string().optional(),
  /** Out-of-order tolerance in event time; overrides the spec's graceMs. */
  FEATURES_GRACE_MS: env.nonNegativeInt().optional(),
  /** IANA time zone of the calendar features (weekend, night) for the handbook spec. */
  FEATURES_TIME_ZONE: env.string().optional(),
  /** How often (wall clock) each partition drops entities no window can see any more. */
  FEATURES_EVICT_INTERVAL_MS: env.positiveInt().default(60_000),
  /**
   * Where the progress of transactions.valid and labels.valid comes from: `upstream`, the watermarks ingest writes
   * behind its data (only ingest knows whether its raw input has a backlog); `arrival`, for producers that write
   * those topics directly: the newest event time read, idle when caught up and quiet (the two settings below).
   */
  FEATURES_INPUT_WATERMARKS: z.enum(['upstream', 'arrival']).default('upstream'),
  /** Arrival mode: how much older than the newest one an event may arrive on an input partition and still be in order. */
  FEATURES_WATERMARK_DISORDER_MS: env.nonNegativeInt().default(0),
  /** Arrival mode: an input partition caught up and quiet for this long (wall clock) is idle, and not waited for. */
  FEATURES_IDLE_TIMEOUT_MS: env.positiveInt().default(10_000),
  /** How often (wall clock) each customer partition re-announces its watermark, so idleness is noticed without input. */
  FEATURES_WATERMARK_INTERVAL_MS: env.positiveInt().default(1_000),
  /**
   * Bounded buffers (README "Bounded buffers"): once a terminal task holds more than this many events waiting for
   * the watermark, the customer tasks of the instance stop reading an input that runs more than
   * FEATURES_BUFFER_MAX_AHEAD_MS of event time ahead of the slowest (labels ahead of transactions, one customer task
   * ahead of the others) until the buffer has drained to half. Timing only: the vectors are the same.
   */
  // ~600 bytes of heap per held event (services/features/bench/buffer-memory.ts): 10,000 is ~6 MB per task. A paused
  // input overshoots by the batch already fetched (up to 1 MiB per partition: ~17,000 transactions or ~19,000 labels),
  // so a lower limit gains little; a 30-day replay held 4-5x as much per task unbounded (README, Bounded buffers).
  FEATURES_BUFFER_MAX_EVENTS: env.positiveInt().default(10_000),
  /** Event time an input may run ahead of the slowest before it is paused, once a buffer is past its limit. */
  FEATURES_BUFFER_MAX_AHEAD_MS: env.nonNegativeInt().default(60_000),
  /**
   * The customer stage's fetch per partition. Its pauses take effect after the batch already fetched, and at the
   * consumer's 1 MiB a 30-day replay's terminal buffer was not bounded at all (README, Bounded buffers: ~18,000
   * records per partition per fetch, 12 input partitions); 128 KiB is ~2,300 records.
   */
  FEATURES_FETCH_MAX_BYTES: env.positiveInt().default(128 * 1024),
});

export type FeaturesConfig = z.infer<typeof featuresConfigSchema>;

/** Loads and compiles the feature spec the configuration names; a bad spec fails start-up naming the variable. */
export function loadFeaturePlan(config: FeaturesConfig): FeaturePlan {
  let spec: FeatureSpec;
  if (config.FEATURES_SPEC_FILE === undefined) {
    spec = handbookFeatureSpec(config.FEATURES_TIME_ZONE === undefined ? {} : { timeZone: config.FEATURES_TIME_ZONE });
  } else {
    try {
      spec = JSON.parse(readFileSync(config.FEATURES_SPEC_FILE, 'utf8')) as FeatureSpec;
    } catch (error) {
      throw new SluiceError('CONFIG_INVALID', `FEATURES_SPEC_FILE: cannot read ${config.FEATURES_SPEC_FILE} as JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (config.FEATURES_TIME_ZONE !== undefined) spec = { ...spec, timeZone: config.FEATURES_TIME_ZONE };
  }
  if (config.FEATURES_GRACE_MS !== undefined) spec = { ...spec, graceMs: config.FEATURES_GRACE_MS };
  let plan: FeaturePlan;
  try {
    plan = compileSpec(spec);
  } catch (error) {
    const variable = config.FEATURES_SPEC_FILE === undefined ? 'FEATURES_TIME_ZONE / FEATURES_GRACE_MS' : 'FEATURES_SPEC_FILE';
    throw new SluiceError('CONFIG_INVALID', `${variable}: invalid feature spec: ${error instanceof Error ? error.message : String(error)}`);
  }
  const unsupported = [...plan.entities.keys()].filter((key) => key !== CUSTOMER_KEY && key !== TERMINAL_KEY);
  if (unsupported.length > 0) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `FEATURES_SPEC_FILE: window entities must be ${CUSTOMER_KEY} or ${TERMINAL_KEY} (the keys the service partitions by), got ${unsupported.join(', ')}`,
    );
  }
  return plan;
}
