/**
 * Latency in real time through the four services (issue 12's cost figure):
 *   npm run bench:latency -- [options]        (needs ./sluice stack start, or KAFKA_BROKERS + SCHEMA_REGISTRY_URL)
 *
 * The four services start on fresh topics with their defaults; transactions are
 * produced to transactions.raw at a steady rate with event time = now (and,
 * for a share of them, a label some seconds later on labels.raw, as
 * chargebacks and confirmations trickle in live); after a warm-up (the
 * services' first idle timeouts: a raw partition with nothing yet is waited
 * for until ingest has seen it quiet for INGEST_IDLE_TIMEOUT_MS) the
 * transactions of the measured window are followed to their vector on
 * transactions.features and their score on fraud.scores. Per transaction,
 * from the records:
 * - produce → vector written: the vector record's timestamp (set when the
 *   features service sends it) − the raw record's (set by this bench);
 * - produce → vector readable: when this bench reads the vector
 *   (read_committed, so after the features transaction committed) − the raw
 *   record's timestamp;
 * - the same two to the score;
 * and where the time goes: raw → ingest (the vector's ingested_at), ingest →
 * vector written (customer and terminal stages, which hold a vector until
 * every upstream source's watermark has passed it; apart at the routed
 * record's timestamp on transactions.by-terminal), vector readable → score
 * written (fraud, which holds it until the features watermarks and the
 * learner's progress have passed it). Sending goes on, unmeasured, for a few
 * seconds after the window, so the last measured transactions are released by
 * the next records' watermarks rather than by an idle timeout.
 * Topics carry a unique prefix (beside other work on a shared stack) and are
 * deleted at the end. Prints figures, asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { Kafka, logLevel, Partitioners, type Consumer, type Message, type Producer } from 'kafkajs';
import { AvroSerde, createSchemaRegistry, ensureTopics, isWatermarkRecord, topicNames, type FeatureVector, type Score } from '@sluice/shared';
import { buildServices, describeNode, nodeOptionsOption, SERVICE_NAMES, startService, stopService, type BenchService, type NodeSettings } from './pipeline/services.js';
import { pipelineTopics } from '../src/pipeline-topology.js';

const whole = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${name} must be a whole number ≥ 0`);
  return parsed;
};
const share = (value: string) => {
  const parsed = Number(value);
  if (!(parsed >= 0 && parsed <= 1)) throw new InvalidArgumentError('--label-share is a number in [0, 1]');
  return parsed;
};

interface Options {
  rate: number;
  seconds: number;
  warmupSeconds: number;
  tailSeconds: number;
  labelShare: number;
  labelDelaySeconds: number;
  customers: number;
  terminals: number;
  nodeOptions: string;
}

const options = new Command('bench:latency')
  .description('p50/p99 produce → vector and produce → score latency at a steady rate in real time, through the four services.')
  .option('--rate <n>', 'transactions per second', whole('rate'), 300)
  .option('--seconds <n>', 'seconds of load measured, after the warm-up', whole('seconds'), 60)
  .option('--warmup-seconds <n>', 'seconds of load before the measured window (covers the start: labels partitions idle until the first label, then held one idle timeout, 10 s by default, as they resume)', whole('warmup-seconds'), 30)
  .option('--tail-seconds <n>', 'seconds of unmeasured load after the window', whole('tail-seconds'), 5)
  .option('--label-share <x>', 'share of transactions that get a label, in [0, 1]', share, 1)
  .option('--label-delay-seconds <n>', 'seconds between a transaction and its label', whole('label-delay-seconds'), 10)
  .option('--customers <n>', 'customers', whole('customers'), 5_000)
  .option('--terminals <n>', 'terminals', whole('terminals'), 10_000)
  .addOption(nodeOptionsOption())
  .parse()
  .opts<Options>();

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const prefix = `${process.env.SLUICE_TOPIC_PREFIX ?? ''}bench-latency-${randomUUID().slice(0, 6)}.`;
const topics = topicNames(prefix);
const kafka = new Kafka({ clientId: 'sluice-bench-latency', brokers, logLevel: logLevel.NOTHING });
const serde = new AvroSerde(createSchemaRegistry({ SCHEMA_REGISTRY_URL: registryUrl }));
const say = (text: string) => process.stderr.write(`[bench] ${text}\n`);
const fixed = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a');

/** What is known of one measured transaction, all in ms since the epoch. */
interface Trace {
  sent: number;
  validWritten?: number;
  routedWritten?: number;
  vectorWritten?: number;
  vectorRead?: number;
  scoreWritten?: number;
  scoreRead?: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A seeded generator (Park–Miller), so that every run sends the same customers, terminals and amounts. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 16807) % 2147483647) / 2147483647;
}

const admin = kafka.admin();
await admin.connect();
const declared = pipelineTopics({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: 6 });
let services: BenchService[] = [];
const consumers: Consumer[] = [];
const errors: string[] = [];
const started = new Date();
const loadBefore = loadavg();
try {
  await ensureTopics(admin, declared, 1);
  const traces = new Map<string, Trace>();
  await follow(topics.transactionsFeatures, async (value, timestamp, now) => {
    const vector = await serde.decode<FeatureVector>(value);
    const trace = traces.get(vector.transaction_id);
    if (trace === undefined) return;
    trace.vectorWritten = timestamp;
    trace.vectorRead = now;
  });
  await follow(topics.transactionsValid, async (value, timestamp) => {
    const trace = traces.get((await serde.decode<{ transaction_id: string }>(value)).transaction_id);
    if (trace !== undefined) trace.validWritten = timestamp;
  });
  await follow(topics.transactionsByTerminal, async (value, timestamp) => {
    const routed = await serde.decode<{ transaction: { transaction_id: string } | null }>(value);
    const trace = routed.transaction === null ? undefined : traces.get(routed.transaction.transaction_id);
    if (trace !== undefined) trace.routedWritten = timestamp;
  });
  await follow(topics.fraudScores, async (value, timestamp, now) => {
    const score = await serde.decode<Score>(value);
    const trace = traces.get(score.transaction_id);
    if (trace === undefined) return;
    trace.scoreWritten = timestamp;
    trace.scoreRead = now;
  });

  const env = { KAFKA_BROKERS: brokers.join(','), SCHEMA_REGISTRY_URL: registryUrl, SLUICE_TOPIC_PREFIX: prefix, METRICS_PORT: '0', INGEST_HTTP_ENABLED: 'false' };
  buildServices();
  const node: NodeSettings = { nodeOptions: options.nodeOptions, nodeArguments: [] };
  services = SERVICE_NAMES.map((name) => startService(name, env, node, (line) => (errors.push(line), say(line))));
  await Promise.all(services.map((service) => service.started));
  say(`services started; ${options.warmupSeconds} s warm-up, ${options.seconds} s measured, ${options.tailSeconds} s tail at ${options.rate} tx/s, labels for ${options.labelShare * 100}% of them ${options.labelDelaySeconds} s later`);

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  await send(producer, traces);
  await producer.disconnect();

  // Everything measured has a score, or nothing has moved for a minute (then the missing are counted).
  let last = -1;
  let since = Date.now();
  for (;;) {
    const done = [...traces.values()].filter((trace) => trace.scoreRead !== undefined).length;
    if (done === traces.size || Date.now() - since > 60_000) break;
    if (done !== last) [last, since] = [done, Date.now()];
    await sleep(250);
  }

  const all = [...traces.values()];
  const spans = (from: (t: Trace) => number | undefined, to: (t: Trace) => number | undefined) =>
    all
      .map((trace) => {
        const [a, b] = [from(trace), to(trace)];
        return a === undefined || b === undefined ? undefined : b - a;
      })
      .filter((span): span is number => span !== undefined)
      .sort((a, b) => a - b);
  const rows: [string, number[]][] = [
    ['produce → vector written (record timestamps)', spans((t) => t.sent, (t) => t.vectorWritten)],
    ['produce → vector readable (read_committed)', spans((t) => t.sent, (t) => t.vectorRead)],
    ['produce → score written (record timestamps)', spans((t) => t.sent, (t) => t.scoreWritten)],
    ['produce → score readable (read_committed)', spans((t) => t.sent, (t) => t.scoreRead)],
    ['  of which raw → valid written (ingest)', spans((t) => t.sent, (t) => t.validWritten)],
    ['  of which valid written → vector written (features holds and computes)', spans((t) => t.validWritten, (t) => t.vectorWritten)],
    ['    customer stage: valid written → routed to its terminal', spans((t) => t.validWritten, (t) => t.routedWritten)],
    ['    terminal stage: routed → vector written (commit, read, hold)', spans((t) => t.routedWritten, (t) => t.vectorWritten)],
    ['  of which vector written → readable (features commit + reader)', spans((t) => t.vectorWritten, (t) => t.vectorRead)],
    ['  of which vector written → score written (fraud holds and scores)', spans((t) => t.vectorWritten, (t) => t.scoreWritten)],
  ];
  const loadAfter = loadavg();
  console.log(
    `Sluice latency benchmark ${started.toISOString()}, ${cpus().length} cores, load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')} before, ${loadAfter.map((x) => x.toFixed(2)).join(' ')} after; ` +
      `${options.rate} tx/s, ${options.seconds} s measured after a ${options.warmupSeconds} s warm-up, labels for ${options.labelShare * 100}% of transactions ${options.labelDelaySeconds} s later; services ${describeNode(node)}; ` +
      `${traces.size.toLocaleString('en-US')} transactions measured, ${all.filter((t) => t.vectorRead !== undefined).length.toLocaleString('en-US')} vectors and ${all.filter((t) => t.scoreRead !== undefined).length.toLocaleString('en-US')} scores read`,
  );
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`| ${'ms'.padEnd(width)} |    p50 |    p99 |    max |`);
  console.log(`|${'-'.repeat(width + 2)}|-------:|-------:|-------:|`);
  for (const [name, sorted] of rows) console.log(`| ${name.padEnd(width)} | ${fixed(percentile(sorted, 50)).padStart(6)} | ${fixed(percentile(sorted, 99)).padStart(6)} | ${fixed(sorted.at(-1) ?? NaN).padStart(6)} |`);
  // A latency that grows through the window is a queue (the services do not keep up at this rate), not a wait.
  const first = Math.min(...all.map((t) => t.sent));
  for (const [name, end] of [['vector', (t: Trace) => t.vectorRead], ['score', (t: Trace) => t.scoreRead]] as const) {
    const slices = new Map<number, number[]>();
    for (const trace of all) {
      const read = end(trace);
      if (read === undefined) continue;
      const slice = Math.floor((trace.sent - first) / 10_000);
      (slices.get(slice) ?? slices.set(slice, []).get(slice)!).push(read - trace.sent);
    }
    const figures = [...slices]
      .sort(([a], [b]) => a - b)
      .map(([slice, spans]) => {
        const sorted = spans.sort((a, b) => a - b);
        return `${slice * 10}-${slice * 10 + 10} s ${fixed(percentile(sorted, 50))} / ${fixed(percentile(sorted, 99))}`;
      });
    console.log(`produce → ${name} readable p50 / p99 by 10 s of the window: ${figures.join(', ')} ms`);
  }
} finally {
  await Promise.all(consumers.map((consumer) => consumer.disconnect()));
  await Promise.all(services.map((service) => stopService(service)));
  await admin.deleteTopics({ topics: declared.map((topic) => topic.name) }).catch((error: unknown) => say(`could not delete the run's topics: ${String(error)}`));
  await admin.disconnect();
}
if (errors.length > 0) {
  console.log(`${errors.length} error lines from the services (first 5):`);
  for (const line of errors.slice(0, 5)) console.log(`  ${line}`);
}
process.exit(0);

/** Sends at `options.rate` in 10 ms slices, records the measured window's send times, and the labels due by then. */
async function send(producer: Producer, traces: Map<string, Trace>): Promise<void> {
  const random = seeded(42);
  const labelsDue: { at: number; message: Message }[] = [];
  const begin = Date.now();
  const measureFrom = begin + options.warmupSeconds * 1_000;
  const measureTo = measureFrom + options.seconds * 1_000;
  const end = measureTo + options.tailSeconds * 1_000;
  let sent = 0;
  for (let now = Date.now(); now < end; now = Date.now()) {
    const transactions: Message[] = [];
    for (const due = Math.floor(((now - begin) / 1_000) * options.rate); sent < due; sent++) {
      const id = `lat-${sent}`;
      const customer = `C${Math.floor(random() * options.customers)}`;
      const terminal = `T${Math.floor(random() * options.terminals)}`;
      const amount = Math.round(random() * 20_000) / 100;
      transactions.push({ key: customer, value: JSON.stringify({ transaction_id: id, customer_id: customer, terminal_id: terminal, amount, timestamp: now, currency: 'EUR' }), timestamp: String(now) });
      if (now >= measureFrom && now < measureTo) traces.set(id, { sent: now });
      if (random() < options.labelShare) {
        const at = now + options.labelDelaySeconds * 1_000;
        const label = { transaction_id: id, customer_id: customer, terminal_id: terminal, tx_timestamp: now, is_fraud: random() < 0.02, labeled_at: at };
        labelsDue.push({ at, message: { key: customer, value: JSON.stringify(label) } });
      }
    }
    const labels: Message[] = [];
    while (labelsDue.length > 0 && labelsDue[0]!.at <= now) {
      const { message } = labelsDue.shift()!;
      labels.push({ ...message, value: JSON.stringify({ ...JSON.parse(String(message.value)), labeled_at: now }), timestamp: String(now) });
    }
    const topicMessages = [
      ...(transactions.length > 0 ? [{ topic: topics.transactionsRaw, messages: transactions }] : []),
      ...(labels.length > 0 ? [{ topic: topics.labelsRaw, messages: labels }] : []),
    ];
    if (topicMessages.length > 0) await producer.sendBatch({ topicMessages, acks: -1 });
    await sleep(10);
  }
}

/** Follows a topic from the beginning (read_committed), handing each data record's value, timestamp and arrival time. */
async function follow(topic: string, onRecord: (value: Buffer, timestamp: number, now: number) => Promise<void>): Promise<void> {
  const consumer = kafka.consumer({ groupId: `sluice-bench-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 20 });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const message of batch.messages) {
        if (message.value === null || isWatermarkRecord(message.headers)) continue;
        await onRecord(message.value, Number(message.timestamp), now);
      }
    },
  });
}
