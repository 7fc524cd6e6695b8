import { AlignmentBoard, bootstrapService, PeerMarks, changelogTopic, loadConfig, runService, serveMetrics, StreamProcessor, type StoreDefinition } from '@sluice/shared';
import { CUSTOMER_KEY, featuresConfigSchema, loadFeaturePlan, TERMINAL_KEY } from './config.js';
import { entityStateCodec } from './entity-store.js';
import { CUSTOMER_CLOCKS_STORE, CUSTOMERS_STORE, CustomerStage, TERMINAL_BUFFER_STORE, TERMINAL_CLOCKS_STORE, TERMINALS_STORE, TerminalStage } from './feature-stages.js';
import { FeaturesMetrics } from './features-metrics.js';

runService('features', async () => {
  const config = loadConfig(featuresConfigSchema);
  const plan = loadFeaturePlan(config);
  const runtime = await bootstrapService('features', config, (topics) => ({
    [topics.transactionsByTerminal]: 'RoutedEvent',
    [topics.transactionsFeatures]: 'FeatureVector',
  }));
  const { topics, logger } = runtime;
  const prefix = config.SLUICE_TOPIC_PREFIX;
  const metrics = new FeaturesMetrics(runtime.metrics);
  logger.info({ featureSet: plan.version, features: plan.names, graceMs: plan.graceMs, entities: [...plan.entities.keys()] }, 'feature plan');
  const common = { service: 'features', kafka: runtime.kafka, serde: runtime.serde, logger, metrics: runtime.metrics };
  const storeFor = (name: string, entity: string): StoreDefinition<unknown> => {
    const codec = entityStateCodec(plan.entities.get(entity)!);
    return { name, changelogTopic: changelogTopic(prefix, 'features', name), ...codec } as StoreDefinition<unknown>;
  };

  // The terminal tasks of this instance show the customer tasks how far they have got (bounded buffers); one not
  // heard from for 30 s (revoked, or a batch that long) no longer counts.
  const terminalBoard = new AlignmentBoard(Math.max(30_000, 10 * config.FEATURES_WATERMARK_INTERVAL_MS));
  const customerStage = new CustomerStage(
    plan,
    topics,
    config.FEATURES_EVICT_INTERVAL_MS,
    metrics,
    { mode: config.FEATURES_INPUT_WATERMARKS, disorderMs: config.FEATURES_WATERMARK_DISORDER_MS, idleTimeoutMs: config.FEATURES_IDLE_TIMEOUT_MS },
    {
      limits: { maxBuffered: config.FEATURES_BUFFER_MAX_EVENTS, maxAheadMs: config.FEATURES_BUFFER_MAX_AHEAD_MS },
      terminals: terminalBoard,
      peers: new PeerMarks(Math.max(30_000, 10 * config.FEATURES_WATERMARK_INTERVAL_MS)),
    },
  );
  const processors: [string, StreamProcessor][] = [
    [
      'customer stage',
      new StreamProcessor({
        recovery: runtime.recovery,
        ...common,
        groupId: `${prefix}sluice-features-customers`,
        transactionalIdPrefix: `${prefix}sluice-features-customers`,
        maxBytesPerPartition: config.FEATURES_FETCH_MAX_BYTES,
        inputs: [
          { topic: topics.transactionsValid, format: 'avro', deadLetterTopic: topics.transactionsDlq, watermarks: true },
          { topic: topics.labelsValid, format: 'avro', deadLetterTopic: topics.labelsDlq, watermarks: true },
        ],
        stores: [
          ...(plan.entities.has(CUSTOMER_KEY) ? [storeFor(CUSTOMERS_STORE, CUSTOMER_KEY)] : []),
          { name: CUSTOMER_CLOCKS_STORE, changelogTopic: changelogTopic(prefix, 'features', CUSTOMER_CLOCKS_STORE) },
        ],
        process: (message, context) => customerStage.process(message, context),
        afterBatch: (context) => customerStage.afterBatch(context),
        watermarkOutputs: [customerStage.watermarkTopic],
        punctuate: { intervalMs: config.FEATURES_WATERMARK_INTERVAL_MS, run: (context) => customerStage.punctuate(context) },
      }),
    ],
  ];
  if (plan.entities.has(TERMINAL_KEY)) {
    const terminalStage = new TerminalStage(plan, topics, config.FEATURES_EVICT_INTERVAL_MS, metrics, terminalBoard);
    processors.push([
      'terminal stage',
      new StreamProcessor({
        recovery: runtime.recovery,
        ...common,
        groupId: `${prefix}sluice-features-terminals`,
        transactionalIdPrefix: `${prefix}sluice-features-terminals`,
        inputs: [{ topic: topics.transactionsByTerminal, format: 'avro', deadLetterTopic: topics.transactionsDlq, watermarks: true }],
        stores: [
          storeFor(TERMINALS_STORE, TERMINAL_KEY),
          { name: TERMINAL_BUFFER_STORE, changelogTopic: changelogTopic(prefix, 'features', TERMINAL_BUFFER_STORE) },
          { name: TERMINAL_CLOCKS_STORE, changelogTopic: changelogTopic(prefix, 'features', TERMINAL_CLOCKS_STORE) },
        ],
        watermarkOutputs: [topics.transactionsFeatures],
        process: (message, context) => terminalStage.process(message, context),
        afterBatch: (context) => terminalStage.afterBatch(context),
        // Changes nothing (no transaction): keeps the task on the board while the customer tasks ahead are paused.
        punctuate: { intervalMs: config.FEATURES_WATERMARK_INTERVAL_MS, run: (context) => terminalStage.punctuate(context) },
      }),
    ]);
  }

  for (const [name, processor] of processors) runtime.shutdown.register(name, () => processor.stop());
  await serveMetrics(runtime, {
    healthy: () => processors.every(([, processor]) => processor.healthy()),
    ready: () => {
      const states = processors.map(([name, processor]) => ({ name, ...processor.readiness() }));
      return { ready: states.every((state) => state.ready), reason: states.map((state) => `${state.name}: ${state.reason}`).join('; ') };
    },
  });
  for (const [, processor] of processors) await processor.start();
});
