import { randomUUID } from 'node:crypto';
import { isWatermarkRecord, type ModelSnapshot } from '@sluice/shared';
import { connect } from '../connection.js';

/** Reads model.updates to its end and returns the newest snapshot of each model. */
export async function latestSnapshots(connection: ReturnType<typeof connect>, timeoutMs = 15_000): Promise<Map<string, ModelSnapshot>> {
  const admin = connection.kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(connection.topics.modelUpdates);
  await admin.disconnect();
  const remaining = new Map(ends.filter((end) => Number(end.high) > Number(end.low)).map((end) => [end.partition, BigInt(end.high)]));
  const latest = new Map<string, ModelSnapshot>();
  if (remaining.size === 0) return latest;
  const consumer = connection.kafka.consumer({ groupId: `sluice-cli-model-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [connection.topics.modelUpdates], fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const end = remaining.get(payload.partition);
      if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) remaining.delete(payload.partition);
      if (remaining.size === 0) resolve();
    });
  });
  await consumer.run({
    eachMessage: async ({ message }) => {
      // The learner's progress records (watermark header) carry no snapshot.
      if (!message.value || isWatermarkRecord(message.headers)) return;
      const snapshot = await connection.serde.decode<ModelSnapshot>(message.value);
      const previous = latest.get(snapshot.model_name);
      if (!previous || previous.version < snapshot.version) latest.set(snapshot.model_name, snapshot);
    },
  });
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  await consumer.disconnect();
  return latest;
}

function topWeights(snapshot: ModelSnapshot, count: number): { feature: string; weight: number }[] {
  const state = JSON.parse(snapshot.state) as { weights?: unknown };
  if (!Array.isArray(state.weights)) return [];
  return (state.weights as number[])
    .map((weight, index) => ({ feature: snapshot.feature_names[index] ?? `#${index}`, weight }))
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))
    .slice(0, count);
}

/** Shows the current model version, its prequential metrics and its largest weights. */
export async function modelCommand(options: { json: boolean; top: number }): Promise<void> {
  const connection = connect();
  const latest = await latestSnapshots(connection);
  if (latest.size === 0) {
    process.stdout.write('no model published yet on ' + connection.topics.modelUpdates + '\n');
    return;
  }
  for (const snapshot of latest.values()) {
    const weights = topWeights(snapshot, options.top);
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ ...snapshot, state: undefined, top_weights: weights })}\n`);
      continue;
    }
    const metric = (value: number | null) => (value === null ? 'n/a' : value.toFixed(4));
    const { metrics } = snapshot;
    process.stdout.write(
      [
        `${snapshot.model_name} v${snapshot.version} (${snapshot.algorithm}, feature set ${snapshot.feature_set_version})`,
        `  published ${new Date(snapshot.created_at).toISOString()}, trained on ${snapshot.trained_count} labelled transactions`,
        `  over the last ${metrics.window_size} labels: ROC AUC ${metric(metrics.roc_auc)}, average precision ${metric(metrics.average_precision)}, log loss ${metric(metrics.log_loss)} (${metrics.positives} frauds, ${metrics.negatives} genuine)`,
        ...(weights.length > 0 ? ['  largest weights (standardised features):', ...weights.map((item) => `    ${item.feature.padEnd(34)} ${item.weight >= 0 ? '+' : ''}${item.weight.toFixed(4)}`)] : []),
        '',
      ].join('\n'),
    );
  }
}
