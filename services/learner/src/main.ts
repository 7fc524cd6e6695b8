import { AlignmentBoard, bootstrapService, createProcessor, loadConfig, runService, serveMetrics, type ProcessingContext } from '@sluice/shared';
import { checkLearnerConfig, learnerConfigSchema } from './config.js';
import { JoinStage } from './join-stage.js';
import { LearnerMetrics } from './learner-metrics.js';
import { readLatestSnapshots, withAttempts } from './snapshot-source.js';
import { learnerTopology } from './topology.js';
import { TrainStage } from './train-stage.js';

const WATERMARK_PUNCTUATION_MS = 200;

runService('learner', async () => {
  const config = loadConfig(learnerConfigSchema);
  checkLearnerConfig(config);
  const topology = learnerTopology(config);
  const runtime = await bootstrapService(config, topology);
  const { topics, logger } = runtime;
  // Read at scrape time, once the join processor below exists.
  const metrics: LearnerMetrics = new LearnerMetrics(
    runtime.metrics,
    (): number => join.pendingVectors(),
    (stage) => (stage === 'join' ? join.bufferedEvents() : train.bufferedExamples()),
  );

  // The training task, when this instance has it, shows the join tasks how far it has got (bounded buffers); not
  // heard from for 30 s (revoked, or a batch that long), it no longer counts.
  const trainingBoard = new AlignmentBoard(30_000);
  const join = new JoinStage(
    topics,
    {
      ttlMs: config.LEARNER_LABEL_TTL_MS,
      maxEntries: config.LEARNER_MAX_PENDING,
      maxEarlyLabels: config.LEARNER_MAX_EARLY_LABELS,
      labelsWatermarks: config.LEARNER_INPUT_WATERMARKS,
      labelsMaxDisorderMs: config.LEARNER_LABELS_MAX_DISORDER_MS,
      labelsIdleMs: config.LEARNER_LABELS_IDLE_MS,
      flow: { maxBuffered: config.LEARNER_BUFFER_MAX_EVENTS, maxAheadMs: config.LEARNER_BUFFER_MAX_AHEAD_MS },
    },
    metrics,
    trainingBoard,
  );
  const joinProcessor = createProcessor(
    runtime,
    topology.processors['learner-join'],
    {
      process: (record, context) => join.process(record, context),
      onRestored: (task) => join.onRestored(task),
      onRevoked: (task) => join.onRevoked(task),
      heldInputs: join.heldInputs,
      afterBatch: (context) => join.afterBatch(context),
      // Often enough that a labels partition going idle lets the frontier on promptly; it commits only when something moved.
      punctuate: { intervalMs: WATERMARK_PUNCTUATION_MS, run: (context) => join.punctuate(context) },
    },
    { sessionTimeoutMs: config.LEARNER_SESSION_TIMEOUT_MS, maxBytesPerPartition: config.LEARNER_FETCH_MAX_BYTES },
  );

  // For the one-shot read of model.updates when a model has no changelog state.
  const admin = runtime.kafka.admin();
  await admin.connect();
  runtime.shutdown.register('admin', () => admin.disconnect());
  const drift = config.LEARNER_DRIFT_DETECTOR === 'none' ? null : { kind: config.LEARNER_DRIFT_DETECTOR };
  const train = new TrainStage(
    topics.modelUpdates,
    {
      models: config.LEARNER_MODELS,
      anomalyModelName: config.LEARNER_ANOMALY_MODEL_NAME,
      learningRate: config.LEARNER_LEARNING_RATE,
      l2: config.LEARNER_L2,
      metricsWindow: config.LEARNER_METRICS_WINDOW,
      drift,
      driftReaction: config.LEARNER_DRIFT_REACTION,
      shrinkKeep: config.LEARNER_DRIFT_SHRINK_KEEP,
      snapshotEveryLabels: config.LEARNER_SNAPSHOT_EVERY_LABELS,
      snapshotIntervalMs: config.LEARNER_SNAPSHOT_INTERVAL_MS,
      champion: { metric: config.LEARNER_CHAMPION_METRIC, margin: config.LEARNER_CHAMPION_MARGIN, minLabels: config.LEARNER_CHAMPION_MIN_LABELS },
    },
    metrics,
    logger,
    withAttempts(() => readLatestSnapshots(runtime.kafka, admin, runtime.serde, topics.modelUpdates, [...config.LEARNER_MODELS.map((model) => model.name), config.LEARNER_ANOMALY_MODEL_NAME], logger), {
      attempts: 3,
      backoffMs: 1_000,
      logger,
      onGiveUp: (error) => {
        logger.fatal({ err: error }, 'cannot read model.updates to resume the models: exiting rather than training from zero');
        process.exit(1);
      },
    }),
  );
  const trainProcessor = createProcessor(
    runtime,
    topology.processors['learner-train'],
    {
      process: (record, context) => train.process(record, context),
      onRestored: (task) => train.onRestored(task),
      onRevoked: (task) => train.onRevoked(task),
      heldInputs: train.heldInputs,
      afterBatch: async (context) => {
        await train.afterBatch(context);
        if (context.batch !== undefined) trainingLag = context.batch.lag;
        publishTraining(context);
      },
      // Changes nothing (no transaction): keeps the training task on the board while the join tasks ahead are paused.
      punctuate: { intervalMs: WATERMARK_PUNCTUATION_MS * 5, run: (context) => publishTraining(context) },
    },
    { sessionTimeoutMs: config.LEARNER_SESSION_TIMEOUT_MS, partitionsConsumedConcurrently: 1 },
  );

  /** Examples left unread in learner.examples after the training task's last batch: they will be held too. */
  let trainingLag = 0;
  function publishTraining(context: ProcessingContext): void {
    const state = train.readerState(context.task);
    if (state !== undefined) trainingBoard.publish(context.partition, { clocks: state.clocks, get buffered() { return state.buffered + trainingLag; } }, context.now);
  }

  // The training task's progress can let a paused join task read again: it need not wait for its next punctuation.
  trainingBoard.onPublish(() => joinProcessor.wake('paused'));
  runtime.shutdown.register('join', () => joinProcessor.stop());
  runtime.shutdown.register('train', () => trainProcessor.stop());
  await serveMetrics(runtime, {
    healthy: () => joinProcessor.healthy() && trainProcessor.healthy(),
    ready: () => {
      const joinReady = joinProcessor.readiness();
      if (!joinReady.ready) return { ready: false, reason: `join: ${joinReady.reason}` };
      // The training stage has one partition: a standby instance joins its group with none, and is ready so.
      const trainReady = trainProcessor.readiness();
      return { ready: trainReady.ready, reason: `join: ${joinReady.reason}; train: ${trainReady.reason}` };
    },
  });
  await joinProcessor.start();
  await trainProcessor.start();
});
