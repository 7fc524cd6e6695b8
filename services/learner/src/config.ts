import { z } from 'zod';
import { commonEnvSchema, env, SluiceError } from '@sluice/shared';
import { CHAMPION_METRICS } from './champion-rule.js';
import { DEFAULT_LEARNER_MODELS, parseModelDeclarations, type ModelDeclaration } from './model-declarations.js';
import { DRIFT_REACTIONS } from './online-learner.js';

const DAY_MS = 86_400_000;

export const learnerConfigSchema = commonEnvSchema.extend({
  METRICS_PORT: env.port().default(9403),
  /**
   * The supervised models trained side by side on the same examples, `name:algorithm` in declared order
   * (model-declarations.ts); the first is the champion until a challenger qualifies.
   */
  LEARNER_MODELS: env
    .string()
    .default(DEFAULT_LEARNER_MODELS)
    .transform((text, ctx): ModelDeclaration[] => {
      try {
        return parseModelDeclarations(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: error instanceof SluiceError ? error.reason : String(error) });
        return z.NEVER;
      }
    }),
  /**
   * The champion rule (champion-rule.ts). Replayed on the handbook stream over 4,000 snapshot rounds
   * (bench/champion-quality.ts sweep; services/learner/README.md, "Model quality"), every rule served §5.3 AUC
   * 0.877-0.885 / AP 0.665-0.688, but they switched from 3 to 726 times: over a 2,000-label window (about 17
   * frauds) average precision swings by ±0.1 from round to round, so it flip-flopped (197 switches at margin 0.02),
   * while log loss, which every label moves, with a margin of 0.005 switched 9 times and served the best figures
   * (0.884 / 0.688 / 0.307).
   */
  LEARNER_CHAMPION_METRIC: z.enum(CHAMPION_METRICS).default('log_loss'),
  LEARNER_CHAMPION_MARGIN: env.number().pipe(z.number().min(0)).default(0.005),
  /**
   * The minimum changed nothing on that stream (0, 10k, 50k labels served the same: the trees score a constant
   * until their first refit, which never wins); it guards against a model added later winning on its first few
   * windows. 50,000: the trees' first refit (40,000 labels) and a whole metrics window of its scores after it.
   */
  LEARNER_CHAMPION_MIN_LABELS: env.nonNegativeInt().default(50_000),
  LEARNER_ANOMALY_MODEL_NAME: env.string().default('fraud-hst'),
  LEARNER_LABEL_TTL_MS: env.positiveInt().default(30 * DAY_MS),
  LEARNER_MAX_PENDING: env.positiveInt().default(1_000_000),
  LEARNER_MAX_EARLY_LABELS: env.positiveInt().default(100_000),
  /** How much older than the newest label read on a partition a label may arrive and still be joined in order. */
  /**
   * Where labels.valid's progress comes from: `upstream`, the watermarks ingest writes behind its data (only ingest
   * knows whether its raw input has a backlog); `arrival`, for producers writing labels.valid directly (the two
   * settings below then apply).
   */
  LEARNER_INPUT_WATERMARKS: z.enum(['upstream', 'arrival']).default('upstream'),
  LEARNER_LABELS_MAX_DISORDER_MS: env.nonNegativeInt().default(0),
  /** A labels partition caught up and quiet this long stops holding the join back (processing time). */
  LEARNER_LABELS_IDLE_MS: env.positiveInt().default(2_000),
  /**
   * Bounded buffers (README "Bounded buffers"): once a join task holds more than this many events waiting for the
   * watermark (or the training task, examples), the input or join task running more than LEARNER_BUFFER_MAX_AHEAD_MS
   * of event time ahead of the slowest is paused until the buffer has drained to half; and each join task sends at
   * most its share of it past the training task's frontier (ReleaseBudget). Timing only: same examples.
   */
  // ~600 bytes of heap per held event (services/features/bench/buffer-memory.ts): 10,000 is ~6 MB per task. A paused
  // input overshoots by the batch already fetched (up to 1 MiB per partition: ~17,000 transactions or ~19,000 labels),
  // so a lower limit gains little; a 30-day replay held 4-5x as much per task unbounded (README, Bounded buffers).
  LEARNER_BUFFER_MAX_EVENTS: env.positiveInt().default(10_000),
  /** Event time an input may run ahead of the slowest before it is paused, once a buffer is past its limit. */
  LEARNER_BUFFER_MAX_AHEAD_MS: env.nonNegativeInt().default(60_000),
  /** The join's fetch per partition: its pauses take effect after the batch already fetched (README, Bounded buffers). */
  LEARNER_FETCH_MAX_BYTES: env.positiveInt().default(128 * 1024),
  LEARNER_SNAPSHOT_EVERY_LABELS: env.positiveInt().default(500),
  /**
   * Event time, not processing time (snapshots must fall at the same points in a replay as live): a snapshot at each
   * multiple of this interval the training passes with labels learned since the last one, besides one every
   * LEARNER_SNAPSHOT_EVERY_LABELS labels. 30 s of event time made a 60-day replay publish a snapshot of every model
   * for nearly every label (6,000 snapshots, 1.3 GB of learner heap, training stalled past its session); 6 h keeps a
   * quiet stream's labels served within hours and a replay's snapshots to four a day.
   */
  LEARNER_SNAPSHOT_INTERVAL_MS: env.positiveInt().default(6 * 3_600_000),
  // The window travels in each model's changelog record (about 23 bytes of JSON per example, written every
  // training batch); the cap keeps a record well under Kafka's default 1 MB message size.
  LEARNER_METRICS_WINDOW: env.positiveInt().max(20_000).default(2_000),
  LEARNER_DRIFT_DETECTOR: z.enum(['adwin', 'page_hinkley', 'none']).default('adwin'),
  LEARNER_DRIFT_REACTION: z.enum(DRIFT_REACTIONS).default('shrink'),
  /** Share of the optimiser's history kept when the reaction is 'shrink': each step grows by 1/sqrt(keep). */
  LEARNER_DRIFT_SHRINK_KEEP: env.number().pipe(z.number().min(0).lt(1)).default(0.3),
  LEARNER_LEARNING_RATE: env.number().default(0.1),
  LEARNER_L2: env.number().default(1e-4),
  /** Consumer-group session timeout of both stages: how long a dead instance holds its partitions before a standby takes over. */
  LEARNER_SESSION_TIMEOUT_MS: env.positiveInt().default(30_000),
});

export type LearnerConfig = z.infer<typeof learnerConfigSchema>;

/** Cross-field checks (the schema stays a plain object of independent variables). */
export function checkLearnerConfig(config: LearnerConfig): void {
  if (config.LEARNER_MODELS.some((model) => model.name === config.LEARNER_ANOMALY_MODEL_NAME)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `invalid configuration: LEARNER_MODELS: a model is named ${config.LEARNER_ANOMALY_MODEL_NAME}, which LEARNER_ANOMALY_MODEL_NAME already names`,
    );
  }
}
