import type { Kafka } from 'kafkajs';
import {
  AvroSerde,
  commonEnvSchema,
  createKafka,
  createLogger,
  createSchemaRegistry,
  loadConfig,
  topicNames,
  type CommonConfig,
  type Logger,
  type TopicNames,
} from '@sluice/shared';

export interface Connection {
  config: CommonConfig;
  kafka: Kafka;
  serde: AvroSerde;
  topics: TopicNames;
  logger: Logger;
}

/**
 * kafkajs gives up reconnecting after ~10 s (5 retries) and then fails a send
 * with a non-retriable error: a replay died with ECONNREFUSED while the broker
 * restarted (issue 15). A producing command waits for the broker as long as
 * a service would (SLUICE_RECOVERY_DEADLINE_MS), retrying every 5 s at most.
 */
function patientRetry(patienceMs: number) {
  return { initialRetryTime: 300, maxRetryTime: 5_000, multiplier: 2, factor: 0.2, retries: Math.ceil(patienceMs / 5_000) + 5 };
}

/**
 * The CLI talks to the same cluster as the services, configured by the same
 * environment variables. `waitForBroker`: for commands that produce, whose
 * sends must ride out a broker restart instead of failing.
 */
export function connect(options: { waitForBroker?: boolean } = {}): Connection {
  const config = loadConfig(commonEnvSchema);
  const logger = createLogger('sluice-cli', process.env.LOG_LEVEL ?? 'warn');
  return {
    config,
    logger,
    kafka: createKafka(config, 'sluice-cli', logger, options.waitForBroker ? patientRetry(config.SLUICE_RECOVERY_DEADLINE_MS) : undefined),
    serde: new AvroSerde(createSchemaRegistry(config)),
    topics: topicNames(config.SLUICE_TOPIC_PREFIX),
  };
}
