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
// Refused while the previous transaction's markers are written: retried (processor.ts).
const TRANSIENT_BROKER_ERRORS = [
  'is not the leader for that topic-partition',
  'There is no leader for this topic-partition',
  'Topic creation errors',
  'Topic with this name already exists',
  // Metadata of a topic created a moment ago on another node of a cluster (seen at start-up on three nodes).
  'This server does not host this topic-partition',
  'another concurrent operation on the same transaction',
];

// A broker restarting, or a group or transaction coordinator moving, during start-up or a broker restart
// (issue 15): kafkajs retries these, and a consumer that crashes on them is restarted (by kafkajs, or by
// recovery.ts, which logs the crash at warn). A lasting failure surfaces as the service's own error: start-up
// failing, or the recovery deadline passing (fatal, then exit 1).
const TRANSIENT_WHILE_BROKER_AWAY = [
  'ECONNREFUSED',
  'ECONNRESET',
  'Connection timeout',
  'Connection error',
  'Closed connection',
  'Failed to connect to seed broker',
  'Failed to connect to broker, reconnecting',
  'The group coordinator is not available',
  'This is not the correct coordinator',
  'The coordinator is loading and hence can',
  'The coordinator is not aware of this member',
  'The group is rebalancing',
  'The server disconnected before a response was received',
  'Crash: ',
  'Restarting the consumer in',
];

/** The pino level for a kafkajs log line: transient states at debug, the rest as kafkajs ranks them. */
export function kafkajsLogLevel(level: number, message: string, error?: unknown): 'error' | 'warn' | 'info' | 'debug' {
  const text = `${message} ${typeof error === 'string' ? error : ''}`;
  if (TRANSIENT_BROKER_ERRORS.some((known) => text.includes(known))) return 'debug';
  if (TRANSIENT_WHILE_BROKER_AWAY.some((known) => text.includes(known))) return 'debug';
  return pinoLevelOf[level] ?? 'info';
}

/** A kafkajs client for the configured brokers, TLS and SASL, logging through pino; `retry` overrides kafkajs's. */
export function createKafka(config: CommonConfig, clientId: string, logger: Logger, retry?: KafkaConfig['retry']): Kafka {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: config.KAFKA_CLIENT_ID ?? clientId,
    brokers: config.KAFKA_BROKERS,
    ssl: sslOptions(config),
    sasl: saslOptions(config),
    connectionTimeout: 10_000,
    requestTimeout: 30_000,
    retry,
    // kafkajs logs rebalances and retries at INFO/ERROR loudly; keep them at warn unless debugging.
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...extra } = log;
        kafkaLogger[kafkajsLogLevel(level, message, extra.error)](extra, message);
      },
  });
}
