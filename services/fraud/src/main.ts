import { readFileSync } from 'node:fs';
import {
  bootstrapService,
  createProcessor,
  GlobalTableFollower,
  loadConfig,
  runService,
  serveMetrics,
  snapshotToModel,
  SluiceError,
  SourceClocks,
  type ServiceRuntime,
  type ModelSnapshot,
} from '@sluice/shared';
import { DAY_MS } from './alert-budget.js';
import { fraudConfigSchema } from './config.js';
import { FraudMetrics } from './fraud-metrics.js';
import { labelClockOf, ModelSelection, type OfferResult } from './model-selection.js';
import { DEFAULT_RULES, parseRules } from './rules.js';
import { Scoring, type AlertMode } from './scoring.js';
import { modelReadyThrough } from './scoring-order.js';
import { fraudTopology } from './topology.js';

const PUNCTUATE_INTERVAL_MS = 250;

/** Partitions of a topic (bootstrapService has created it): the alert budget splits its cards across them. */
async function partitionCount(kafka: ServiceRuntime['kafka'], topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return metadata.topics[0]!.partitions.length;
  } finally {
    await admin.disconnect();
  }
}

runService('fraud', async () => {
  const config = loadConfig(fraudConfigSchema);
  const rules = config.FRAUD_RULES_FILE
    ? parseRules(readFileSync(config.FRAUD_RULES_FILE, 'utf8'), config.FRAUD_RULES_FILE)
    : config.FRAUD_RULES_JSON
      ? parseRules(config.FRAUD_RULES_JSON, 'FRAUD_RULES_JSON')
      : [...DEFAULT_RULES];
  const topology = fraudTopology(config);
  const runtime = await bootstrapService(config, topology);
  const { topics, logger } = runtime;
  const pin = config.FRAUD_MODEL_PIN ?? null;
  const selection = new ModelSelection({ defaultModel: config.FRAUD_MODEL_NAME, pin }, snapshotToModel, { delayMs: config.FRAUD_MODEL_DELAY_MS, maxSnapshots: config.FRAUD_MODEL_MAX_SNAPSHOTS });
  const metrics = new FraudMetrics(runtime.metrics, () => selection.newest?.snapshot.created_at ?? null);
  const partitions = await partitionCount(runtime.kafka, topics.transactionsFeatures);
  const alert: AlertMode =
    config.FRAUD_ALERT_MODE === 'threshold' ? { mode: 'threshold' } : { mode: 'budget', cardsPerDay: config.FRAUD_ALERT_BUDGET_CARDS_PER_DAY, partitions, dayMs: DAY_MS };
  if (alert.mode === 'budget' && alert.cardsPerDay < alert.partitions) {
    throw new SluiceError('CONFIG_INVALID', `FRAUD_ALERT_BUDGET_CARDS_PER_DAY=${alert.cardsPerDay} is below the ${alert.partitions} partitions of ${topics.transactionsFeatures}: each partition's task needs a share of at least one card`);
  }
  logger.info(
    {
      rules: rules.map((rule) => rule.name),
      threshold: config.FRAUD_THRESHOLD,
      alert,
      model: config.FRAUD_MODEL_NAME,
      pin,
      modelDelayMs: config.FRAUD_MODEL_DELAY_MS,
      modelWaitMaxMs: config.FRAUD_MODEL_WAIT_MAX_MS,
      maxHeld: config.FRAUD_MAX_HELD,
      partitions,
    },
    'scoring configuration',
  );

  const refused = (result: OfferResult) => {
    if (result.status !== 'refused-feature-mismatch' && result.status !== 'refused-invalid') return;
    metrics.refusals.inc({ reason: result.status === 'refused-invalid' ? 'invalid' : 'feature_mismatch' });
    logger.error({ reason: result.reason }, 'model refused: the snapshots before it stay in use');
  };
  const offer = (snapshot: ModelSnapshot) => {
    const result = selection.offer(snapshot);
    if (result.status === 'accepted') {
      metrics.modelVersion.set(result.newestVersion);
      logger.info({ model: snapshot.model_name, version: snapshot.version, label_clock: labelClockOf(snapshot) }, 'model snapshot added');
      if (result.evicted > 0) logger.warn({ evicted: result.evicted, held: selection.size }, 'oldest model snapshots dropped: FRAUD_MODEL_MAX_SNAPSHOTS held (vectors that needed them are scored by rules alone)');
    } else refused(result);
  };
  // The learner's progress on model.updates: every snapshot with a label clock at or before it is already there.
  const progress = new SourceClocks();
  const models = new GlobalTableFollower<ModelSnapshot>(
    runtime.kafka,
    runtime.serde,
    topics.modelUpdates,
    (_key, snapshot) => offer(snapshot),
    logger,
    `${topology.processors.fraud.groupId}-models`,
    () => metrics.refusals.inc({ reason: 'undecodable' }),
    runtime.recovery,
    (mark) => {
      progress.observe(mark);
      // The learner has moved: vectors held for it may be scored, and a task that paused transactions.features for it
      // may read again, now rather than at the next batch or punctuation.
      processor.wake('all');
    },
  );
  const scoring = new Scoring(
    topics,
    selection,
    {
      threshold: config.FRAUD_THRESHOLD,
      alert,
      minRuleSeverity: config.FRAUD_MIN_RULE_SEVERITY,
      rules,
      topFeatures: config.FRAUD_TOP_FEATURES,
      cooldown: { cooldownMs: config.FRAUD_COOLDOWN_MS, maxEntries: config.FRAUD_COOLDOWN_MAX_CUSTOMERS, pendingRetentionMs: 30 * 86_400_000 },
      modelWaitMaxMs: config.FRAUD_MODEL_WAIT_MAX_MS,
      maxHeld: config.FRAUD_MAX_HELD,
      partitions,
    },
    metrics,
    () => modelReadyThrough(progress, config.FRAUD_MODEL_DELAY_MS),
  );
  // Only a vector tells which features the models must have.
  let featuresKnown = false;
  const processor = createProcessor(
    runtime,
    topology.processors.fraud,
    {
      process: (record, context) => {
        if (!featuresKnown && record.watermark === undefined) {
          featuresKnown = true;
          for (const result of selection.expectFeatures(record.value.feature_names)) refused(result);
        }
        scoring.process(record, context);
      },
      onRestored: (task) => scoring.onRestored(task),
      onRevoked: (task) => scoring.onRevoked(task),
      heldInputs: scoring.heldInputs,
      afterBatch: (context) => scoring.advance(context),
      // Waits end and the learner's progress arrives without any input: look for what they release this often.
      punctuate: { intervalMs: PUNCTUATE_INTERVAL_MS, run: (context) => scoring.advance(context) },
    },
    { maxBytesPerPartition: config.FRAUD_FETCH_MAX_BYTES },
  );

  runtime.shutdown.register('processor', () => processor.stop());
  runtime.shutdown.register('model follower', () => models.stop());
  await serveMetrics(runtime, { healthy: () => processor.healthy() && models.healthy(), ready: () => processor.readiness() });
  await models.start();
  await models.caughtUp;
  logger.info({ newest: selection.newest ? `${selection.newest.snapshot.model_name} v${selection.newest.snapshot.version}` : null, snapshots: selection.size, progress: progress.census().reported > 0 ? progress.frontier : null }, 'model.updates read to its end');
  await processor.start();
});
