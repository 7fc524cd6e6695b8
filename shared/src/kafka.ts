import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions, type LogEntry } from 'kafkajs';
import type { CommonConfig } from './config.js';
import type { Logger } from './logger.js';

function saslOptions(config: CommonConfig): SASLOptions | undefined {
  const { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = config;
  if (!mechanism || !username || !password) return undefined;
  return { mechanism, username, password } as SASLOptions;
}

function sslOptions(config: CommonConfig): KafkaConfig['ssl'] {
  if (!config.KAFKA_SSL) return undefined;
  const read = (file: string | undefined) => (file ? readFileSync(file, 'utf8') : undefined);
  return {
    rejectUnauthorized: config.KAFKA_SSL_REJECT_UNAUTHORIZED,
    ca: config.KAFKA_SSL_CA_FILE ? [read(config.KAFKA_SSL_CA_FILE)!] : undefined,
    cert: read(config.KAFKA_SSL_CERT_FILE),
    key: read(config.KAFKA_SSL_KEY_FILE),
  };
}

const pinoLevelOf: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// Leadership still moving to a new topic's partitions, or topics created by another service a moment earlier:
// transient, and retried (by kafkajs, or by ensureTopics in topics.ts, which reports a lasting failure itself).
const TRANSIENT_BROKER_ERRORS = ['is not the leader for that topic-partition', 'There is no leader for this topic-partition', 'Topic creation errors', 'Topic with this name already exists'];

/** A kafkajs client for the configured brokers, TLS and SASL, logging through pino. */
export function createKafka(config: CommonConfig, clientId: string, logger: Logger): Kafka {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: config.KAFKA_CLIENT_ID ?? clientId,
    brokers: config.KAFKA_BROKERS,
    ssl: sslOptions(config),
    sasl: saslOptions(config),
    connectionTimeout: 10_000,
    requestTimeout: 30_000,
    // kafkajs logs rebalances and retries at INFO/ERROR loudly; keep them at warn unless debugging.
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...extra } = log;
        const text = `${message} ${typeof extra.error === 'string' ? extra.error : ''}`;
        // Refused while the previous transaction's markers are written: retried (processor.ts), not an error.
        const settling = text.includes('another concurrent operation on the same transaction');
        const transient = TRANSIENT_BROKER_ERRORS.some((error) => text.includes(error));
        kafkaLogger[settling || transient ? 'debug' : (pinoLevelOf[level] ?? 'info')](extra, message);
      },
  });
}
