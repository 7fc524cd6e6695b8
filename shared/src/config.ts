import { z } from 'zod';
import { SluiceError } from './errors.js';

type Env = Record<string, string | undefined>;

const booleanFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** Helpers for environment variables: every value arrives as a string. */
export const env = {
  string: () => z.string().trim().min(1),
  port: () => z.coerce.number().int().min(0).max(65535),
  positiveInt: () => z.coerce.number().int().positive(),
  nonNegativeInt: () => z.coerce.number().int().nonnegative(),
  number: () => z.coerce.number().refine(Number.isFinite, 'must be a finite number'),
  boolean: () => booleanFromEnv,
  list: () =>
    z
      .string()
      .transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item.length > 0))
      .pipe(z.array(z.string()).min(1)),
};

/** Settings every service reads: Kafka, schema registry, metrics, logging, topic naming. */
export const commonEnvSchema = z.object({
  KAFKA_BROKERS: env.list().default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: env.string().optional(),
  KAFKA_SSL: env.boolean().default(false),
  KAFKA_SSL_CA_FILE: env.string().optional(),
  KAFKA_SSL_CERT_FILE: env.string().optional(),
  KAFKA_SSL_KEY_FILE: env.string().optional(),
  KAFKA_SSL_REJECT_UNAUTHORIZED: env.boolean().default(true),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: env.string().optional(),
  KAFKA_SASL_PASSWORD: env.string().optional(),
  SCHEMA_REGISTRY_URL: z.url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  SCHEMA_REGISTRY_USERNAME: env.string().optional(),
  SCHEMA_REGISTRY_PASSWORD: env.string().optional(),
  SLUICE_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only').default(''),
  TOPIC_PARTITIONS: env.positiveInt().default(6),
  TOPIC_REPLICATION_FACTOR: env.positiveInt().default(1),
  METRICS_PORT: env.port().default(9400),
  METRICS_HOST: env.string().default('0.0.0.0'),
  /** A crashed consumer that has not rejoined its group by then makes the service exit non-zero (shared/src/recovery.ts). */
  SLUICE_RECOVERY_DEADLINE_MS: env.positiveInt().default(180_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type CommonConfig = z.infer<typeof commonEnvSchema>;

/**
 * Reads and validates configuration from environment variables. A bad or
 * missing variable fails start-up with a message that names it.
 */
export function loadConfig<S extends z.ZodType>(schema: S, source: Env = process.env): z.infer<S> {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const variable = issue.path.join('.') || '(environment)';
    const given = issue.path.length === 1 ? source[String(issue.path[0])] : undefined;
    const shown = given === undefined ? 'not set' : `got ${JSON.stringify(given.length > 80 ? `${given.slice(0, 80)}…` : given)}`;
    return `${variable}: ${issue.message} (${shown})`;
  });
  throw new SluiceError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`);
}

/** Cross-field checks that a schema of independent variables cannot express. */
export function checkCommonConfig(config: CommonConfig): void {
  const sasl = [config.KAFKA_SASL_MECHANISM, config.KAFKA_SASL_USERNAME, config.KAFKA_SASL_PASSWORD];
  if (sasl.some((value) => value !== undefined) && sasl.some((value) => value === undefined)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      'invalid configuration: KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD must be set together',
    );
  }
  if ((config.KAFKA_SSL_CERT_FILE === undefined) !== (config.KAFKA_SSL_KEY_FILE === undefined)) {
    throw new SluiceError('CONFIG_INVALID', 'invalid configuration: KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE must be set together');
  }
}
