import { AlignmentBoard, bootstrapService, changelogTopic, loadConfig, runService, serveMetrics, StreamProcessor } from '@sluice/shared';
import { checkLearnerConfig, learnerConfigSchema } from './config.js';
import { EARLY_LABELS_STORE, JOIN_BUFFER_STORE, JOIN_CLOCKS_STORE, JoinStage, PENDING_STORE } from './join-stage.js';
import { LearnerMetrics } from './learner-metrics.js';
import { readLatestSnapshots, withAttempts } from './snapshot-source.js';
import { MODEL_STORE, TRAIN_BUFFER_STORE, TRAIN_CLOCKS_STORE, TrainStage } from './train-stage.js';

const WATERMARK_PUNCTUATION_MS = 200;

runService('learner', async () => {
  const config = loadConfig(learnerConfigSchema);
  checkLearnerConfig(config);
  const runtime = await bootstrapService('learner', config, (topics) => ({
    [topics.learnerExamples]: 'LabelledExample',
    [topics.modelUpdates]: 'ModelSnapshot',
  }));
  const { topics, logger } = runtime;
  const prefix = config.SLUICE_TOPIC_PREFIX;
  // Read at scrape time, once the join processor below exists.
  const metrics: LearnerMetrics = new LearnerMetrics(runtime.metrics, (): number => joinProcessor.storeEntries(PENDING_STORE));
  const common = {
    service: 'learner',
    kafka: runtime.kafka,
    serde: runtime.serde,
    logger,
    metrics: runtime.metrics,
    sessionTimeoutMs: config.LEARNER_SESSION_TIMEOUT_MS,
  };

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
  const joinProcessor = new StreamProcessor({
    recovery: runtime.recovery,
    ...common,
    groupId: `${prefix}sluice-learner-join`,
    maxBytesPerPartition: config.LEARNER_FETCH_MAX_BYTES,
    transactionalIdPrefix: `${prefix}sluice-learner-join`,
    inputs: [
      { topic: topics.transactionsFeatures, format: 'avro', deadLetterTopic: topics.transactionsDlq, watermarks: true },
      { topic: topics.labelsValid, format: 'avro', deadLetterTopic: topics.labelsDlq, watermarks: true },
    ],
    stores: [PENDING_STORE, EARLY_LABELS_STORE, JOIN_BUFFER_STORE, JOIN_CLOCKS_STORE].map((name) => ({ name, changelogTopic: changelogTopic(prefix, 'learner', name) })),
    process: (message, context) => join.process(message, context),
    afterBatch: (context) => join.afterBatch(context),
    // Often enough that a labels partition going idle lets the frontier on promptly; it commits only when something moved.
    punctuate: { intervalMs: WATERMARK_PUNCTUATION_MS, run: (context) => join.punctuate(context) },
    watermarkOutputs: [topics.learnerExamples],
  });

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
  const trainProcessor = new StreamProcessor({
    recovery: runtime.recovery,
    ...common,
    groupId: `${prefix}sluice-learner-train`,
    transactionalIdPrefix: `${prefix}sluice-learner-train`,
    inputs: [{ topic: topics.learnerExamples, format: 'avro', deadLetterTopic: topics.transactionsDlq, watermarks: true }],
    stores: [MODEL_STORE, TRAIN_BUFFER_STORE, TRAIN_CLOCKS_STORE].map((name) => ({ name, changelogTopic: changelogTopic(prefix, 'learner', name) })),
    process: (message, context) => train.process(message, context),
    afterBatch: async (context) => {
      await train.afterBatch(context);
      if (context.batch !== undefined) trainingLag = context.batch.lag;
      publishTraining(context.partition, context.now);
    },
    // Changes nothing (no transaction): keeps the training task on the board while the join tasks ahead are paused.
    punctuate: { intervalMs: WATERMARK_PUNCTUATION_MS * 5, run: (context) => publishTraining(context.partition, context.now) },
    partitionsConsumedConcurrently: 1,
  });

  /** Examples left unread in learner.examples after the training task's last batch: they will be held too. */
  let trainingLag = 0;
  function publishTraining(partition: number, now: number): void {
    const state = train.readerState;
    if (state !== undefined) trainingBoard.publish(partition, { clocks: state.clocks, get buffered() { return state.buffered + trainingLag; } }, now);
  }

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
