/**
 * Ingest benchmark through a real broker: prints figures, asserts nothing.
 *   ./sluice stack start
 *   node --conditions=sluice-source --import tsx services/ingest/bench/service.ts [records] [valid,bad]
 *
 * 1. Valid JSON: the records are produced to transactions.raw first, then one
 *    ingest instance starts; figure = records on transactions.valid (Avro,
 *    re-keyed, de-duplicated, exactly-once) / time from the first to the last.
 * 2. 100% bad input (six kinds of bad record in turn): the same, counting
 *    transactions.dlq, plus how many log lines ingest wrote and its peak RSS.
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { ensureTopics, topicNames } from '@sluice/shared';
import { ingestTopology } from '../src/topology.js';

const RECORDS = Number(process.argv[2] ?? 100_000);
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const REGISTRY = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const kafka = new Kafka({ clientId: 'sluice-bench', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });

const validRecord = (i: number): string =>
  JSON.stringify({ transaction_id: `tx-${i}`, customer_id: `C${i % 5_000}`, terminal_id: `T${i % 10_000}`, amount: (i % 20_000) / 100, timestamp: Date.UTC(2024, 0, 1) + i * 1_000, currency: 'eur' });

const BAD_RECORDS = [
  (i: number) => `{"transaction_id": "tx-${i}", "customer_id": `,
  (i: number) => JSON.stringify({ transaction_id: `tx-${i}`, customer_id: 'C1', terminal_id: 'T1', amount: 'twelve', timestamp: Date.UTC(2024, 0, 1) }),
  (i: number) => JSON.stringify({ transaction_id: `tx-${i}`, customer_id: 'C1', terminal_id: 'T1', amount: -5, timestamp: Date.UTC(2024, 0, 1) }),
  (i: number) => JSON.stringify({ transaction_id: `tx-${i}`, customer_id: 'C1', terminal_id: 'T1', amount: 5, timestamp: 'yesterday-ish' }),
  (i: number) => JSON.stringify({ transaction_id: `tx-${i}`, terminal_id: 'T1', amount: 5, timestamp: Date.UTC(2024, 0, 1) }),
  () => 'null',
];

/** User + system CPU time of a process so far, from /proc/<pid>/stat (Linux; clock ticks of 1/100 s). */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function run(kind: 'valid' | 'bad'): Promise<void> {
  const prefix = `bench-ingest-${randomUUID().slice(0, 6)}.`;
  const topics = topicNames(prefix);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, ingestTopology({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: 6 }).topics, 1);
  await admin.disconnect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let start = 0; start < RECORDS; start += 2_000) {
    const messages = [];
    for (let i = start; i < Math.min(RECORDS, start + 2_000); i++) messages.push({ value: kind === 'valid' ? validRecord(i) : BAD_RECORDS[i % BAD_RECORDS.length]!(i) });
    await producer.send({ topic: topics.transactionsRaw, messages });
  }
  await producer.disconnect();

  let count = 0;
  let first = 0;
  // CPU from the first output on, so that start-up (tsx compiling, connecting, joining) is not counted.
  let cpuAtFirst = 0;
  let countAtFirst = 0;
  let servicePid = 0;
  let last = 0;
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [kind === 'valid' ? topics.transactionsValid : topics.transactionsDlq], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      if (count === 0) {
        first = now;
        cpuAtFirst = processCpuSeconds(servicePid);
        countAtFirst = batch.messages.length;
      }
      count += batch.messages.length;
      last = now;
    },
  });
  let logLines = 0;
  let peakRssKiB = 0;
  // INGEST_BENCH_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the service.
  const nodeOptions = (process.env.INGEST_BENCH_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const service = spawn(process.execPath, [...nodeOptions, '--conditions=sluice-source', '--import', 'tsx', main], {
    env: { ...process.env, SLUICE_TOPIC_PREFIX: prefix, METRICS_PORT: '0', INGEST_HTTP_PORT: '0', LOG_LEVEL: 'info', KAFKA_BROKERS: BROKERS, SCHEMA_REGISTRY_URL: REGISTRY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  servicePid = service.pid!;
  service.stdout.on('data', (chunk: Buffer) => (logLines += chunk.toString().split('\n').length - 1));
  const sampler = setInterval(() => {
    const rss = spawn('ps', ['-o', 'rss=', '-p', String(service.pid)]);
    rss.stdout.on('data', (chunk: Buffer) => (peakRssKiB = Math.max(peakRssKiB, Number(chunk.toString().trim()) || 0)));
  }, 500);
  while (count < RECORDS) await new Promise((resolve) => setTimeout(resolve, 100));
  clearInterval(sampler);
  const cpuMicrosPerRecord = ((processCpuSeconds(servicePid) - cpuAtFirst) / (count - countAtFirst)) * 1e6;
  service.kill('SIGTERM');
  await consumer.disconnect();
  // The run's topics go (a broker full of old bench topics ran out of open files once); the service is stopped first.
  await new Promise((resolve) => (service.exitCode !== null || service.signalCode !== null ? resolve(undefined) : service.once('exit', resolve)));
  const cleanup = kafka.admin();
  await cleanup.connect();
  await cleanup.deleteTopics({ topics: (await cleanup.listTopics()).filter((topic) => topic.startsWith(prefix)) });
  await cleanup.disconnect();
  const seconds = (last - first) / 1000;
  const rate = Math.round(RECORDS / seconds).toLocaleString('en-US');
  if (kind === 'valid') {
    console.log(`valid JSON → transactions.valid (Avro, re-keyed, de-duplicated, exactly-once): ${RECORDS.toLocaleString('en-US')} records in ${seconds.toFixed(1)} s = ${rate} records/s, one instance; ${Math.round(cpuMicrosPerRecord)} µs CPU per record; peak RSS ${Math.round(peakRssKiB / 1024)} MiB`);
  } else {
    console.log(
      `100% bad input → transactions.dlq: ${RECORDS.toLocaleString('en-US')} records (${BAD_RECORDS.length} kinds) in ${seconds.toFixed(1)} s = ${rate} records/s, ${Math.round(cpuMicrosPerRecord)} µs CPU per record; ` +
        `${logLines} log lines written by ingest (rejections are throttled per reason); peak RSS ${Math.round(peakRssKiB / 1024)} MiB`,
    );
  }
}

for (const kind of (process.argv[3] ?? 'valid,bad').split(',')) await run(kind === 'bad' ? 'bad' : 'valid');
process.exit(0);
