/**
 * Features service benchmark through a real broker: prints figures, asserts nothing.
 *   ./sluice stack start
 *   node --conditions=sluice-source --import tsx services/features/bench/service.ts [transactions] [rate] [--cpu-prof DIR] [--no-latency]
 * --cpu-prof DIR runs the service under `node --cpu-prof` and writes its
 * .cpuprofile files to DIR (one per run); --no-latency skips part 2.
 *
 * 1. Throughput: the transactions (handbook-like, 7-day labels interleaved) are
 *    produced to transactions.valid / labels.valid first, then one service
 *    instance starts; figure = vectors out / time from its first to its last.
 *    Beside it, the peak of the terminal stage's watermark buffer (events held
 *    until every customer partition has passed them) and of the process RSS.
 * 2. Latency: a fresh run of the service fed at a fixed rate; per vector,
 *    the time from production (ingested_at) to reading it back (read_committed).
 *    No labels are sent: the labels input turns idle after FEATURES_IDLE_TIMEOUT_MS
 *    (10 s), and the transactions before that wait for it, so the figures are
 *    given with and without the first idle timeout.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { AvroSerde, createSchemaRegistry, ensureTopics, isWatermarkRecord, topicNames, type FeatureVector, type Label, type Transaction } from '@sluice/shared';
import { featuresTopology } from '../src/topology.js';

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'cpu-prof': { type: 'string' }, 'no-latency': { type: 'boolean', default: false } },
});
const TRANSACTIONS = Number(positionals[0] ?? 100_000);
const RATE = Number(positionals[1] ?? 300);
const PROFILE_DIR = options['cpu-prof'];
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
  await ensureTopics(admin, featuresTopology({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: 6 }).topics, 1);
  await admin.disconnect();
  const topics = topicNames(prefix);
  await serde.register(topics.transactionsValid, 'Transaction');
  await serde.register(topics.labelsValid, 'Label');
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return { prefix, producer };
}

const METRICS_PORT = Number(process.env.BENCH_METRICS_PORT ?? 19402);

function startService(prefix: string) {
  const profile = PROFILE_DIR === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR];
  return spawn(process.execPath, [...profile, '--conditions=sluice-source', '--import', 'tsx', main], {
    // The bench writes transactions.valid itself, not through ingest: progress from arrival.
    env: { FEATURES_INPUT_WATERMARKS: 'arrival', ...process.env, SLUICE_TOPIC_PREFIX: prefix, METRICS_PORT: String(METRICS_PORT), LOG_LEVEL: 'warn', KAFKA_BROKERS: BROKERS, SCHEMA_REGISTRY_URL: REGISTRY },
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

/** Samples the service's metrics until stopped, keeping the peaks of the watermark buffer and the RSS. */
function samplePeaks() {
  const peaks = { buffered: 0, rssBytes: 0 };
  const read = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  const timer = setInterval(() => {
    fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)
      .then((response) => response.text())
      .then((text) => {
        peaks.buffered = Math.max(peaks.buffered, read(text, 'sluice_features_buffered_events'));
        peaks.rssBytes = Math.max(peaks.rssBytes, read(text, 'sluice_process_resident_memory_bytes'));
      })
      .catch(() => undefined);
  }, 200);
  return { peaks, stop: () => clearInterval(timer) };
}

/** CPU time of a process so far (user + system, /proc/<pid>/stat, Linux), in µs. */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  const CLOCK_TICKS_PER_SECOND = 100;
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
}

/** Stops the service and waits for it to exit, so that its CPU profile is written. */
async function stopService(service: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => service.once('exit', resolve));
  service.kill('SIGTERM');
  await exited;
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
  let cpuAtFirst = 0;
  const startedAt = Date.now();
  const service = startService(prefix);
  const consumer = await follow(prefix, (_vector, readAt) => {
    if (count++ === 0) {
      first = readAt;
      cpuAtFirst = cpuMicros(service.pid!);
    }
    last = readAt;
  });
  const sampler = samplePeaks();
  await until(() => count >= TRANSACTIONS);
  const cpuTotal = cpuMicros(service.pid!);
  const cpuFromFirst = cpuTotal - cpuAtFirst;
  sampler.stop();
  await stopService(service);
  await consumer.disconnect();
  const seconds = (last - first) / 1000;
  const fromStart = (last - startedAt) / 1000;
  console.log(
    `throughput: ${TRANSACTIONS.toLocaleString('en-US')} transactions + ${labels.toLocaleString('en-US')} labels through both stages ` +
      `(customer stage, repartition, terminal stage; exactly-once) in ${seconds.toFixed(1)} s = ${Math.round(TRANSACTIONS / seconds).toLocaleString('en-US')} vectors/s, one instance`,
  );
  // First to last alone flatters a run that holds much before its first vector (a large fetch fills the terminal
  // buffer first: 17,292 vectors/s first to last, 8 µs of CPU per transaction after the first vector).
  console.log(
    `from the service's start (tsx compiling and connecting included) to the last vector: ${fromStart.toFixed(1)} s = ${Math.round(TRANSACTIONS / fromStart).toLocaleString('en-US')} vectors/s; ` +
      `CPU over the whole run ${Math.round(cpuTotal / TRANSACTIONS)} µs per transaction`,
  );
  console.log(
    `watermark buffer in that full-speed replay: peak ${sampler.peaks.buffered.toLocaleString('en-US')} events held (sampled every 200 ms); ` +
      `peak RSS ${(sampler.peaks.rssBytes / 2 ** 20).toFixed(0)} MiB`,
  );
  // Labels included, as in bench:pipeline; from the first vector on (start-up and restore left out).
  console.log(`CPU from the first vector to the last: ${Math.round(cpuFromFirst / TRANSACTIONS)} µs per transaction`);
}

async function latency(): Promise<void> {
  const { prefix, producer } = await setUp();
  const topics = topicNames(prefix);
  const latencies: number[] = [];
  const consumer = await follow(prefix, (vector, readAt) => latencies.push(readAt - vector.ingested_at));
  const idleTimeoutMs = Number(process.env.FEATURES_IDLE_TIMEOUT_MS ?? 10_000);
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
  await stopService(service);
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  const describe = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return `p50 ${percentile(sorted, 50)} ms, p90 ${percentile(sorted, 90)} ms, p99 ${percentile(sorted, 99)} ms, max ${sorted.at(-1)} ms`;
  };
  console.log(`latency at ${RATE} transactions/s for 30 s (produce → both stages → read_committed): ${describe(latencies)}`);
  // The vectors of the first idle timeout waited for the labels input to be declared idle.
  const skip = Math.ceil((RATE * idleTimeoutMs) / 1000);
  console.log(`  without the first ${idleTimeoutMs / 1000} s (labels input not yet idle): ${describe(latencies.slice(skip))}`);
}

await throughput();
if (!options['no-latency']) await latency();
process.exit(0);
