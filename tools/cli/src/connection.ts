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

/** The CLI talks to the same cluster as the services, configured by the same environment variables. */
export function connect(): Connection {
  const config = loadConfig(commonEnvSchema);
  const logger = createLogger('sluice-cli', process.env.LOG_LEVEL ?? 'warn');
  return {
    config,
    logger,
    kafka: createKafka(config, 'sluice-cli', logger),
    serde: new AvroSerde(createSchemaRegistry(config)),
    topics: topicNames(config.SLUICE_TOPIC_PREFIX),
  };
}
