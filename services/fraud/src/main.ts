import { readFileSync } from 'node:fs';
import {
  bootstrapService,
  changelogTopic,
  GlobalTableFollower,
  loadConfig,
  runService,
  serveMetrics,
  snapshotToModel,
  StreamProcessor,
  type ModelSnapshot,
} from '@sluice/shared';
import { fraudConfigSchema } from './config.js';
import { FraudMetrics } from './fraud-metrics.js';
import { ModelSelection } from './model-selection.js';
import { DEFAULT_RULES, parseRules } from './rules.js';
import { COOLDOWN_STORE, Scoring } from './scoring.js';

runService('fraud', async () => {
  const config = loadConfig(fraudConfigSchema);
  const rules = config.FRAUD_RULES_FILE
    ? parseRules(readFileSync(config.FRAUD_RULES_FILE, 'utf8'), config.FRAUD_RULES_FILE)
    : config.FRAUD_RULES_JSON
      ? parseRules(config.FRAUD_RULES_JSON, 'FRAUD_RULES_JSON')
      : [...DEFAULT_RULES];
  const runtime = await bootstrapService('fraud', config, (topics) => ({
    [topics.fraudScores]: 'Score',
    [topics.fraudAlerts]: 'Alert',
  }));
  const { topics, logger } = runtime;
  const prefix = config.SLUICE_TOPIC_PREFIX;
  const selection = new ModelSelection(config.FRAUD_MODEL_NAME, snapshotToModel);
  const metrics = new FraudMetrics(runtime.metrics, () => selection.current?.snapshot.created_at ?? null);
  logger.info({ rules: rules.map((rule) => rule.name), threshold: config.FRAUD_THRESHOLD, model: config.FRAUD_MODEL_NAME }, 'scoring configuration');

  // Snapshots that arrive before the first vector wait for it: only a vector tells which features the model must have.
  let expectedFeatures: readonly string[] | null = null;
  let waiting: ModelSnapshot | null = null;
  const offer = (snapshot: ModelSnapshot) => {
    if (expectedFeatures === null) {
      if (snapshot.model_name === config.FRAUD_MODEL_NAME && (!waiting || waiting.version < snapshot.version)) waiting = snapshot;
      return;
    }
    const result = selection.offer(snapshot, expectedFeatures);
    if (result.status === 'accepted') {
      metrics.modelVersion.set(snapshot.version);
      logger.info({ model: snapshot.model_name, version: snapshot.version, previous: result.previousVersion }, 'model swapped in');
    } else if (result.status === 'refused-feature-mismatch' || result.status === 'refused-invalid') {
      metrics.refusals.inc({ reason: result.status === 'refused-invalid' ? 'invalid' : 'feature_mismatch' });
      logger.error({ model: snapshot.model_name, version: snapshot.version, reason: result.reason }, 'model refused: the previous model stays in use');
    }
  };
  const models = new GlobalTableFollower<ModelSnapshot>(
    runtime.kafka,
    runtime.serde,
    topics.modelUpdates,
    (_key, snapshot) => offer(snapshot),
    logger,
    `${prefix}sluice-fraud-models`,
    () => metrics.refusals.inc({ reason: 'undecodable' }),
    runtime.recovery,
  );

  const scoring = new Scoring(
    topics,
    selection,
    {
      threshold: config.FRAUD_THRESHOLD,
      minRuleSeverity: config.FRAUD_MIN_RULE_SEVERITY,
      rules,
      topFeatures: config.FRAUD_TOP_FEATURES,
      cooldown: { cooldownMs: config.FRAUD_COOLDOWN_MS, maxEntries: config.FRAUD_COOLDOWN_MAX_CUSTOMERS, pendingRetentionMs: 30 * 86_400_000 },
    },
    metrics,
  );
  const processor = new StreamProcessor({
    recovery: runtime.recovery,
    service: 'fraud',
    kafka: runtime.kafka,
    serde: runtime.serde,
    logger,
    metrics: runtime.metrics,
    groupId: `${prefix}sluice-fraud`,
    transactionalIdPrefix: `${prefix}sluice-fraud`,
    inputs: [{ topic: topics.transactionsFeatures, format: 'avro', deadLetterTopic: topics.transactionsDlq }],
    stores: [{ name: COOLDOWN_STORE, changelogTopic: changelogTopic(prefix, 'fraud', COOLDOWN_STORE) }],
    process: (message, context) => {
      if (expectedFeatures === null) {
        expectedFeatures = (message.value as { feature_names: string[] }).feature_names;
        if (waiting) offer(waiting);
        waiting = null;
      }
      scoring.process(message, context);
    },
  });

  runtime.shutdown.register('processor', () => processor.stop());
  runtime.shutdown.register('model follower', () => models.stop());
  await serveMetrics(runtime, { healthy: () => processor.healthy() && models.healthy(), ready: () => processor.readiness() });
  await models.start();
  await models.caughtUp;
  logger.info({ model: selection.current?.snapshot.version ?? (waiting as ModelSnapshot | null)?.version ?? null }, 'model.updates read to its end');
  await processor.start();
});
