import { z } from 'zod';
import { commonEnvSchema, env } from '@sluice/shared/config';

export const ingestConfigSchema = commonEnvSchema.extend({
  METRICS_PORT: env.port().default(9401),
  INGEST_MAX_MESSAGE_BYTES: env.positiveInt().default(64 * 1024),
  INGEST_MAX_JSON_DEPTH: env.positiveInt().default(32),
  INGEST_MAX_FUTURE_MS: env.nonNegativeInt().default(24 * 60 * 60 * 1000),
  INGEST_MIN_EVENT_TIME: z.iso.datetime({ offset: true }).default('2000-01-01T00:00:00Z'),
  INGEST_DEDUP_HORIZON_MS: env.positiveInt().default(24 * 60 * 60 * 1000),
  INGEST_DEDUP_MAX_ENTRIES: env.positiveInt().default(500_000),
  /** How much older than the newest one a raw record may arrive on its partition and still be in order (the watermark trails by this much). */
  INGEST_WATERMARK_DISORDER_MS: env.nonNegativeInt().default(0),
  /**
   * A raw partition that was caught up and has had nothing for this long (wall clock) is idle: downstream stops
   * waiting for it. A partition with a backlog is never idle, however long it waits its turn.
   */
  INGEST_IDLE_TIMEOUT_MS: env.positiveInt().default(10_000),
  /** How often (wall clock) each raw partition re-announces its watermark, so idleness is noticed without input. */
  INGEST_WATERMARK_INTERVAL_MS: env.positiveInt().default(1_000),
  /**
   * The fetch per raw partition. A fetched batch is held whole, parsed, validated and encoded before its transaction
   * commits, twelve partitions at a time: in a 14-day replay (V8 heap capped at 512 MiB) ingest peaked at 258 MiB RSS,
   * 77 MiB of heap used, with 1 MiB; 185-193 MiB, 48-54 used, with 256 KiB (~1,500 records), for no more CPU per
   * record (bench:pipeline 2026-12-03, README, Memory). A long replay's peak is its de-duplication ids instead.
   */
  INGEST_FETCH_MAX_BYTES: env.positiveInt().default(256 * 1024),
  INGEST_HTTP_PORT: env.port().default(8080),
  INGEST_HTTP_HOST: env.string().default('0.0.0.0'),
  INGEST_HTTP_MAX_BODY_BYTES: env.positiveInt().default(5 * 1024 * 1024),
  INGEST_HTTP_ENABLED: env.boolean().default(true),
  /** 'keys': callers need an API key (door-auth.ts), and with none configured the door stays closed; 'none': open to anyone who reaches it. */
  INGEST_HTTP_AUTH: z.enum(['keys', 'none']).default('keys'),
  /** JSON {"keys":[{"id","sha256","kinds":["transaction","label"],"ratePerSecond","burst"}]}: SHA-256 of each key, never the key. */
  INGEST_HTTP_KEYS_FILE: env.string().optional(),
  /** The same document inline. */
  INGEST_HTTP_KEYS: env.string().optional(),
  INGEST_HTTP_TLS_CERT_FILE: env.string().optional(),
  INGEST_HTTP_TLS_KEY_FILE: env.string().optional(),
});

export type IngestConfig = z.infer<typeof ingestConfigSchema>;
