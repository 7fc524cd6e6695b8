/**
 * Features service benchmark through a real broker: prints figures, asserts nothing.
 *   ./sluice stack start
 *   node --conditions=sluice-source --import tsx services/features/bench/service.ts [transactions] [rate]
 *
 * 1. Throughput: the transactions (handbook-like, 7-day labels interleaved) are
 *    produced to transactions.valid / labels.valid first, then one service
 *    instance starts; figure = vectors out / time from its first to its last.
 * 2. Latency: a fresh run of the service fed at a fixed rate; per vector,
 *    the time from production (ingested_at) to reading it back (read_committed).
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { AvroSerde, createSchemaRegistry, ensureTopics, isWatermarkRecord, pipelineTopics, topicNames, type FeatureVector, type Label, type Transaction } from '@sluice/shared';

const TRANSACTIONS = Number(process.argv[2] ?? 100_000);
const RATE = Number(process.argv[3] ?? 300);
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const REGISTRY = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const DAY = 86_400_000;
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

const kafka = new Kafka({ clientId: 'sluice-bench', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
const serde = new AvroSerde(createSchemaRegistry({ SCHEMA_REGISTRY_URL: REGISTRY }));

function* events(count: number, start: number): Generator<{ kind: 'tx'; tx: Transaction } | { kind: 'label'; label: Label }> {
  let seed = 42;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const labels: Label[] = [];
  const spacing = (60 * DAY) / count;
  for (let i = 0; i < count; i++) {
    const time = start + Math.floor(i * spacing);
    while (labels.length > 0 && labels[0]!.labeled_at <= time) yield { kind: 'label', label: labels.shift()! };
    const tx: Transaction = {
      transaction_id: `tx-${i}`,
      customer_id: `C${Math.floor(random() * 5_000)}`,
      terminal_id: `T${Math.floor(random() * 10_000)}`,
      amount: Math.round(random() * 20_000) / 100,
      event_time: time,
      currency: null,
      ingested_at: Date.now(),
    };
    labels.push({ transaction_id: tx.transaction_id, customer_id: tx.customer_id, terminal_id: tx.terminal_id, tx_event_time: time, is_fraud: random() < 0.01, labeled_at: time + 7 * DAY, ingested_at: 0 });
    yield { kind: 'tx', tx };
  }
}

async function setUp(): Promise<{ prefix: string; producer: Producer }> {
  const prefix = `bench-${randomUUID().slice(0, 6)}.`;
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, pipelineTopics({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: 6 }), 1);
  await admin.disconnect();
  const topics = topicNames(prefix);
  await serde.register(topics.transactionsValid, 'Transaction');
  await serde.register(topics.labelsValid, 'Label');
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return { prefix, producer };
}

function startService(prefix: string) {
  return spawn(process.execPath, ['--conditions=sluice-source', '--import', 'tsx', main], {
    env: { ...process.env, SLUICE_TOPIC_PREFIX: prefix, METRICS_PORT: '0', LOG_LEVEL: 'warn', KAFKA_BROKERS: BROKERS, SCHEMA_REGISTRY_URL: REGISTRY },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function follow(prefix: string, onVector: (vector: FeatureVector, readAt: number) => void) {
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [topicNames(prefix).transactionsFeatures], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (!isWatermarkRecord(message.headers)) onVector(await serde.decode<FeatureVector>(message.value), Date.now());
    },
  });
  return consumer;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 100));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function throughput(): Promise<void> {
  const { prefix, producer } = await setUp();
  const topics = topicNames(prefix);
  let batch: { topic: string; key: string; value: Buffer }[] = [];
  const flush = async () => {
    const byTopic = new Map<string, { key: string; value: Buffer }[]>();
    for (const { topic, key, value } of batch) byTopic.set(topic, [...(byTopic.get(topic) ?? []), { key, value }]);
    await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    batch = [];
  };
  let labels = 0;
  for (const event of events(TRANSACTIONS, Date.UTC(2024, 0, 1))) {
    if (event.kind === 'tx') batch.push({ topic: topics.transactionsValid, key: event.tx.customer_id, value: await serde.encode(topics.transactionsValid, event.tx) });
    else {
      labels++;
      batch.push({ topic: topics.labelsValid, key: event.label.customer_id, value: await serde.encode(topics.labelsValid, event.label) });
    }
    if (batch.length >= 1_000) await flush();
  }
  await flush();
  await producer.disconnect();
  let count = 0;
  let first = 0;
  let last = 0;
  const consumer = await follow(prefix, (_vector, readAt) => {
    if (count++ === 0) first = readAt;
    last = readAt;
  });
  const service = startService(prefix);
  await until(() => count >= TRANSACTIONS);
  service.kill('SIGTERM');
  await consumer.disconnect();
  const seconds = (last - first) / 1000;
  console.log(
    `throughput: ${TRANSACTIONS.toLocaleString('en-US')} transactions + ${labels.toLocaleString('en-US')} labels through both stages ` +
      `(customer stage, repartition, terminal stage; exactly-once) in ${seconds.toFixed(1)} s = ${Math.round(TRANSACTIONS / seconds).toLocaleString('en-US')} vectors/s, one instance`,
  );
}

async function latency(): Promise<void> {
  const { prefix, producer } = await setUp();
  const topics = topicNames(prefix);
  const latencies: number[] = [];
  const consumer = await follow(prefix, (vector, readAt) => latencies.push(readAt - vector.ingested_at));
  const service = startService(prefix);
  await new Promise((resolve) => setTimeout(resolve, 8_000));
  const count = RATE * 30;
  const started = Date.now();
  let sent = 0;
  for (const event of events(count, Date.UTC(2024, 0, 1))) {
    if (event.kind !== 'tx') continue;
    const due = started + (sent * 1000) / RATE;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    event.tx.ingested_at = Date.now();
    await producer.send({ topic: topics.transactionsValid, messages: [{ key: event.tx.customer_id, value: await serde.encode(topics.transactionsValid, event.tx) }] });
    sent++;
  }
  await until(() => latencies.length >= sent);
  service.kill('SIGTERM');
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  const sorted = latencies.sort((a, b) => a - b);
  console.log(
    `latency at ${RATE} transactions/s for 30 s (produce → both stages → read_committed): ` +
      `p50 ${percentile(sorted, 50)} ms, p90 ${percentile(sorted, 90)} ms, p99 ${percentile(sorted, 99)} ms, max ${sorted.at(-1)} ms`,
  );
}

await throughput();
await latency();
process.exit(0);
