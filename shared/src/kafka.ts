import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions, type LogEntry } from 'kafkajs';
import type { CommonConfig } from './config.js';
import type { Logger } from './logger.js';
import { TransientStateWatch, transientStateOf } from './runtime/transient-states.js';

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

/**
 * kafkajs's lines through pino: a transient state's at debug, and once at
 * error, saying what to check, if one lasts past the watch's deadline.
 */
export function kafkajsLogger(logger: Logger, watch = new TransientStateWatch(), now: () => number = Date.now): (entry: LogEntry) => void {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return ({ level, log }) => {
    const { message, ...extra } = log;
    const state = transientStateOf(message, extra.error);
    if (state === undefined) {
      kafkaLogger[pinoLevelOf[level] ?? 'info'](extra, message);
      return;
    }
    kafkaLogger.debug({ ...extra, transientState: state.name }, message);
    const lasting = watch.observe(state, now());
    if (lasting !== undefined) {
      kafkaLogger.error(
        { transientState: state.name, seconds: lasting.seconds, lines: lasting.lines, lastLine: message, lastError: extra.error },
        `kafkajs has been retrying for ${lasting.seconds} s (${state.name}, ${lasting.lines} refused requests or failed connections): ${state.whatToDo}`,
      );
    }
  };
}

/** A kafkajs client for the configured brokers, TLS and SASL, logging through pino (kafkajsLogger); `retry` overrides kafkajs's. */
export function createKafka(config: CommonConfig, clientId: string, logger: Logger, retry?: KafkaConfig['retry']): Kafka {
  const log = kafkajsLogger(logger);
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
    logCreator: () => log,
  });
}
