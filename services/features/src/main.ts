import { AlignmentBoard, bootstrapService, createProcessor, loadConfig, PeerMarks, runService, serveMetrics, type StreamProcessor } from '@sluice/shared';
import { featuresConfigSchema, loadFeaturePlan } from './config.js';
import { CustomerStage, TerminalStage } from './feature-stages.js';
import { FeaturesMetrics } from './features-metrics.js';
import { featuresTopology } from './topology.js';

runService('features', async () => {
  const config = loadConfig(featuresConfigSchema);
  const plan = loadFeaturePlan(config);
  const topology = featuresTopology(config, plan);
  const runtime = await bootstrapService(config, topology);
  const { topics, logger } = runtime;
  const metrics = new FeaturesMetrics(runtime.metrics);
  logger.info({ featureSet: plan.version, features: plan.names, graceMs: plan.graceMs, entities: [...plan.entities.keys()] }, 'feature plan');

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
      createProcessor(
        runtime,
        topology.processors['features-customers'],
        {
          process: (record, context) => customerStage.process(record, context),
          afterBatch: (context) => customerStage.afterBatch(context),
          punctuate: { intervalMs: config.FEATURES_WATERMARK_INTERVAL_MS, run: (context) => customerStage.punctuate(context) },
          onRestored: (task) => customerStage.onRestored(task),
          onRevoked: (task) => customerStage.onRevoked(task),
        },
        { maxBytesPerPartition: config.FEATURES_FETCH_MAX_BYTES },
      ),
    ],
  ];
  const terminals = topology.processors['features-terminals'];
  if (terminals !== undefined) {
    const terminalStage = new TerminalStage(plan, topics, config.FEATURES_EVICT_INTERVAL_MS, metrics, terminalBoard);
    processors.push([
      'terminal stage',
      createProcessor(runtime, terminals, {
        process: (record, context) => terminalStage.process(record, context),
        afterBatch: (context) => terminalStage.afterBatch(context),
        // Changes nothing (no transaction): keeps the task on the board while the customer tasks ahead are paused.
        punctuate: { intervalMs: config.FEATURES_WATERMARK_INTERVAL_MS, run: (context) => terminalStage.punctuate(context) },
        onRestored: (task) => terminalStage.onRestored(task),
        onRevoked: (task) => terminalStage.onRevoked(task),
        heldInputs: terminalStage.heldInputs,
      }),
    ]);
  }

  // A terminal task's progress can let a paused customer task read again: it need not wait for its next punctuation.
  const customerProcessor = processors[0]![1];
  terminalBoard.onPublish(() => customerProcessor.wake('paused'));
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
