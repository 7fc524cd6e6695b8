import { afterEach, describe, expect, it } from 'vitest';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { AvroSerde, FeatureVector } from '@sluice/shared';
import { bruteForceFeatures, DAY_MS, handbookStream, type HandbookStream } from '../../support/handbook-stream.js';
import { consumeAll, createPipelineTopics, followByTransaction, testKafka, testSerde, uniquePrefix } from '../../support/kafka.js';
import { TestWatermarks } from '../../support/watermarks.js';
import { metricValue, scrape, startService, stopAllServices, waitUntilReady, type RunningService } from '../../support/services.js';

afterEach(stopAllServices);

const CUSTOMER_FEATURES = [0, 1, 2, 3, 4, 5, 6, 7, 8];
/**
 * These tests write transactions.valid and labels.valid themselves, standing in for ingest: after what they send,
 * a watermark of each of ingest's six tasks on every partition of both topics (everything at or before `time` sent).
 */
async function ingestMarks(kafka: Kafka, producer: Producer, prefix: string, time: number): Promise<void> {
  for (const topic of ['transactions.valid', 'labels.valid']) await new TestWatermarks(kafka, producer, `${prefix}${topic}`, 6).send(time);
}

async function pipeline(name: string) {
  const prefix = uniquePrefix(name);
  const kafka = testKafka();
  await createPipelineTopics(kafka, prefix);
  const serde = testSerde();
  await serde.register(`${prefix}transactions.valid`, 'Transaction');
  await serde.register(`${prefix}labels.valid`, 'Label');
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return { prefix, kafka, serde, producer };
}

async function send(producer: Producer, serde: AvroSerde, topic: string, records: { customer_id: string }[]): Promise<void> {
  for (let start = 0; start < records.length; start += 500) {
    const messages = await Promise.all(records.slice(start, start + 500).map(async (record) => ({ key: record.customer_id, value: await serde.encode(topic, record) })));
    await producer.send({ topic, messages, acks: -1 });
  }
}


function expectFeatures(stream: HandbookStream, vectors: Map<string, FeatureVector>, indices: readonly number[] | 'all'): void {
  stream.transactions.forEach((tx, i) => {
    const vector = vectors.get(tx.transaction_id);
    expect(vector, tx.transaction_id).toBeDefined();
    const expected = bruteForceFeatures(stream, i);
    for (const f of indices === 'all' ? expected.keys() : indices) {
      expect(vector!.feature_values[f], `${tx.transaction_id} ${vector!.feature_names[f]}`).toBeCloseTo(expected[f]!, 9);
    }
  });
}

describe('features against the real broker', () => {
  it('computes exactly the handbook features through the terminal repartition, and keeps its state across a SIGKILL', async () => {
    const { prefix, kafka, serde, producer } = await pipeline('features-exact');
    // Labels one day after their transaction: a transaction's terminal window ends 7 days back, so every label it must see comes from an earlier day.
    const stream = handbookStream({ seed: 3, transactions: 1800, customers: 40, terminals: 12, days: 45, fraudRate: 0.15, labelDelayMs: DAY_MS });
    const follower = await followByTransaction<FeatureVector>(kafka, serde, `${prefix}transactions.features`);
    // A day's transactions reach a terminal from six customer partitions in any order; no grace is needed: the
    // watermarks (ingest's marks after each day, passed on by the customer stage) order them for each terminal.
    const env = {};
    let features: RunningService = startService('features', prefix, env);
    await waitUntilReady(features);
    let labelsSinceStart = 0;
    let sentTransactions = 0;
    let sentLabels = 0;
    const first = stream.transactions[0]!.event_time;
    // Day by day in event time, waiting for each day to be through: the comparison with complete knowledge then holds exactly.
    for (let day = 0; day <= 46; day++) {
      const end = first + (day + 1) * DAY_MS;
      const transactions = stream.transactions.slice(sentTransactions).filter((tx) => tx.event_time < end);
      const labels = stream.labels.slice(sentLabels).filter((label) => label.labeled_at < end);
      await send(producer, serde, `${prefix}labels.valid`, labels);
      await send(producer, serde, `${prefix}transactions.valid`, transactions);
      await ingestMarks(kafka, producer, prefix, end - 1);
      sentTransactions += transactions.length;
      sentLabels += labels.length;
      labelsSinceStart += labels.length;
      await follower.waitFor(sentTransactions);
      const deadline = Date.now() + 30_000;
      while (metricValue(await scrape(features), 'sluice_features_labels_total', { stage: 'terminal' }) < labelsSinceStart) {
        if (Date.now() > deadline) throw new Error(`terminal stage did not take ${labelsSinceStart} labels`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (day === 22) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await features.kill('SIGKILL');
        features = startService('features', prefix, env);
        await waitUntilReady(features);
        labelsSinceStart = 0;
      }
    }
    expect(sentTransactions).toBe(stream.transactions.length);
    const metrics = await scrape(features);
    expect(metricValue(metrics, 'sluice_features_entities', { stage: 'customer' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'sluice_features_state_bytes', { stage: 'terminal' })).toBeGreaterThan(0);
    await follower.stop();
    await producer.disconnect();

    expect(follower.copies()).toBe(stream.transactions.length);
    expectFeatures(stream, follower.records, 'all');
    const risky = [...follower.records.values()].filter((vector) => vector.feature_values[14]! > 0).length;
    expect(risky).toBeGreaterThan(stream.transactions.length / 2);
    expect(metricValue(metrics, 'sluice_features_events_total', { outcome: 'late' })).toBe(0);
  });

  it('emits one vector per transaction, none lost or repeated, when killed twice mid-stream and scaled out to two instances', async () => {
    const { prefix, kafka, serde, producer } = await pipeline('features-kill');
    const stream = handbookStream({ seed: 5, transactions: 8000, customers: 300, terminals: 100, days: 40, fraudRate: 0.02, labelDelayMs: 7 * DAY_MS });
    await send(producer, serde, `${prefix}labels.valid`, stream.labels);
    await send(producer, serde, `${prefix}transactions.valid`, stream.transactions);
    await ingestMarks(kafka, producer, prefix, Math.max(...stream.labels.map((label) => label.labeled_at)));
    await producer.disconnect();
    const follower = await followByTransaction<FeatureVector>(kafka, serde, `${prefix}transactions.features`);
    const at = (fraction: number) => follower.waitFor(Math.floor(stream.transactions.length * fraction), 120_000);
    const first = startService('features', prefix);
    await at(0.2);
    await first.kill('SIGKILL');
    const second = startService('features', prefix);
    await at(0.4);
    // A second instance mid-stream: the groups rebalance and the partitions (and their state) split between the two.
    const third = startService('features', prefix);
    await third.waitForLog((line) => line.msg === 'partitions assigned' && Array.isArray(line.partitions) && line.partitions.length > 0, 90_000);
    await at(0.7);
    await second.kill('SIGKILL');
    await follower.waitFor(stream.transactions.length, 150_000);
    await follower.stop();
    const all = await consumeAll(kafka, `${prefix}transactions.features`, { count: stream.transactions.length, settleMs: 3_000 });
    expect(all).toHaveLength(stream.transactions.length);
    // Customer windows do not depend on how partitions interleave: exact after crashes and a rebalance means state and outputs committed together.
    expectFeatures(stream, follower.records, CUSTOMER_FEATURES);
  });
});
