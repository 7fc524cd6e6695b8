import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { checkCommonConfig, type CommonConfig } from './config.js';
import { createKafka } from './kafka.js';
import { createLogger, type Logger } from './logger.js';
import { createMetricsRegistry, startMetricsServer, type HealthChecks, type MetricsServer } from './metrics.js';
import { AvroSerde, createSchemaRegistry } from './serde.js';
import type { RecoveryPolicy } from './recovery.js';
import { GracefulShutdown } from './shutdown.js';
import { StreamProcessor, type StreamProcessorOptions } from './processor.js';
import { bindHandler, type ProcessorTopology, type Topology, type TypedHandler } from './runtime/topology.js';
import { ensureTopics, topicNames, type TopicNames } from './topics.js';

/** What every service wires the same way: logger, Kafka, registry serde, metrics, topics, shutdown. */
export interface ServiceRuntime {
  name: string;
  config: CommonConfig;
  logger: Logger;
  kafka: Kafka;
  serde: AvroSerde;
  metrics: Registry;
  topics: TopicNames;
  shutdown: GracefulShutdown;
  /** For the service's consumers: how long they may stay crashed, and how the service then ends. */
  recovery: RecoveryPolicy;
}

/**
 * Builds the runtime, creates the topics of the service's topology that are
 * missing, waits until every one of them answers, and registers the schemas of
 * the topics it writes.
 */
export async function bootstrapService(config: CommonConfig, topology: Topology): Promise<ServiceRuntime> {
  checkCommonConfig(config);
  const name = topology.service;
  const logger = createLogger(name, config.LOG_LEVEL);
  const kafka = createKafka(config, `sluice-${name}`, logger);
  const topics = topicNames(config.SLUICE_TOPIC_PREFIX);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await ensureTopics(admin, topology.topics, config.TOPIC_REPLICATION_FACTOR);
    if (created.length > 0) logger.info({ topics: created }, 'created topics');
  } finally {
    await admin.disconnect();
  }
  const serde = new AvroSerde(createSchemaRegistry(config));
  for (const [topic, schema] of Object.entries(topology.schemas)) await serde.registerOutput(topic, schema);
  const shutdown = new GracefulShutdown(logger);
  shutdown.listen();
  const recovery: RecoveryPolicy = { deadlineMs: config.SLUICE_RECOVERY_DEADLINE_MS, giveUp: (reason, error) => shutdown.fail(reason, error) };
  return { name, config, logger, kafka, serde, metrics: createMetricsRegistry(name), topics, shutdown, recovery };
}

export type ProcessorTuning = Pick<StreamProcessorOptions, 'partitionsConsumedConcurrently' | 'readyMaxLag' | 'sessionTimeoutMs' | 'maxBytesPerPartition'>;

/** The StreamProcessor of one processor of the service's topology, with its handlers: ids, inputs, stores and outputs derive from the topology. */
export function createProcessor<I extends ProcessorTopology['inputs']>(runtime: ServiceRuntime, topology: ProcessorTopology<I>, handler: TypedHandler<I>, tuning: ProcessorTuning = {}): StreamProcessor {
  return new StreamProcessor({
    ...tuning,
    ...bindHandler(topology, handler),
    kafka: runtime.kafka,
    serde: runtime.serde,
    logger: runtime.logger,
    metrics: runtime.metrics,
    recovery: runtime.recovery,
    groupId: topology.groupId,
    transactionalIdPrefix: topology.transactionalIdPrefix,
  });
}

/** Serves /metrics, /healthz and /readyz on METRICS_PORT until shutdown. */
export async function serveMetrics(runtime: ServiceRuntime, health: HealthChecks): Promise<MetricsServer> {
  const server = await startMetricsServer(runtime.metrics, health, { port: runtime.config.METRICS_PORT, host: runtime.config.METRICS_HOST });
  runtime.shutdown.register('metrics server', () => server.close());
  runtime.logger.info({ port: server.port }, 'serving /metrics, /healthz, /readyz');
  return server;
}

/** Runs a service's main, turning a start-up failure into one clear log line and exit code 1. */
export function runService(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    const logger = createLogger(name);
    const code = error && typeof error === 'object' && 'code' in error ? String((error as { code: unknown }).code) : 'STARTUP_FAILED';
    logger.fatal({ err: error, code }, error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
  });
}
