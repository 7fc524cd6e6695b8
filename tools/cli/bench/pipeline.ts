/**
 * The pipeline benchmark (issue 13), in one run on one broker:
 *   npm run bench:pipeline -- [options]        (needs ./sluice stack start, or KAFKA_BROKERS + SCHEMA_REGISTRY_URL)
 *
 * 1. the broker's ceiling with Kafka's perf tools (180-byte records, acks=all, 6 partitions);
 * 2. a fixed simulated stream (the handbook simulator, seeded) preloaded into the raw topics, then the four
 *    services built and started compiled, as the image runs them, and timed until every transaction has a score on
 *    fraud.scores: transactions/s end to end, CPU µs per transaction and peak RSS per service (with what the RSS
 *    was made of at its peak), bytes per record on each topic;
 * 3. latency raw → score and raw → alert at paced rates, the services staying up with the state of step 2.
 * During step 2 every service's metrics are sampled each second: the peak entries of each event-time buffer store (the learner's pending vectors too)
 * (sluice_state_entries, summed over the service's tasks), the peak RSS beside them and the peak count of paused
 * task inputs (flow control), with the changelog records each buffer wrote per transaction.
 * With --profile DIR each service runs under `node --cpu-prof` and the breakdown of each profile is printed.
 * With --heap-snapshots DIR each service writes a heap snapshot at half the replay, and what it holds live is printed.
 * With --through features only ingest and the features service run, timed until every transaction has its vector on
 * transactions.features (issue 13's ingest + features line, against a Kafka Streams peer doing the same).
 * Topics carry a unique prefix (beside other work on a shared stack) and are deleted at the end (--keep-topics).
 * Prints figures, asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Kafka, logLevel, Partitioners, type Consumer, type Message, type Producer } from 'kafkajs';
import { AvroSerde, createSchemaRegistry, ensureTopics, topicNames, type Alert, type Score, type TopicNames } from '@sluice/shared';
import { Simulation, type SimulatedEvent } from '../src/simulator/index.js';
import { kafkaToolsClassPath, measureBrokerCeiling, topicBytesOnDisk, type BrokerCeiling } from './pipeline/broker-ceiling.js';
import { formatHeapSummary, summariseHeapSnapshot } from './pipeline/heap-snapshot-summary.js';
import { formatBreakdown, summariseProfile } from './pipeline/profile-summary.js';
import { BufferSampler, bufferLimit, EVENT_TIME_BUFFER_STORES } from './pipeline/buffer-sampler.js';
import {
  buildServices,
  cpuSeconds,
  describeNode,
  nodeOptionsOption,
  peakRssMiB,
  scrapeMetrics,
  SERVICE_NAMES,
  startService,
  stopService,
  sumByLabel,
  type BenchService,
  type NodeSettings,
} from './pipeline/services.js';
import { pipelineTopics } from '../src/pipeline-topology.js';

const DAY_MS = 86_400_000;
const PARTITIONS = 6;

const whole = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${name} must be a whole number ≥ 0`);
  return parsed;
};
const rateList = (value: string) => {
  const rates = value.split(',').map(Number);
  if (rates.some((rate) => !Number.isInteger(rate) || rate <= 0)) throw new InvalidArgumentError('rates are positive whole numbers, comma-separated');
  return rates;
};

interface Options {
  customers: number;
  terminals: number;
  days: number;
  seed: number;
  ceilingRecords: number;
  recordBytes: number;
  rates: number[];
  rateSeconds: number;
  warmupSeconds: number;
  ceiling: boolean;
  replay: boolean;
  latency: boolean;
  profile?: string;
  heapSnapshots?: string;
  nodeOptions: string;
  nodeArg: string[];
  logs?: string;
  logLevel: string;
  keepTopics: boolean;
  stallSeconds: number;
  through: 'features' | 'fraud';
}

const options = new Command('bench:pipeline')
  .description('Broker ceiling, full-speed replay through the four services, latency at paced rates: figures for the README.')
  .option('--customers <n>', 'simulated customers', whole('customers'), 5_000)
  .option('--terminals <n>', 'simulated terminals', whole('terminals'), 10_000)
  .option('--days <n>', 'days of event time preloaded (92 days of the handbook population: ~905,000 transactions and ~860,000 labels)', whole('days'), 92)
  .option('--seed <n>', 'simulator seed', whole('seed'), 0)
  .option('--ceiling-records <n>', 'records for the producer/consumer perf tools', whole('ceiling-records'), 2_000_000)
  .option('--record-bytes <n>', 'record size for the perf tools', whole('record-bytes'), 180)
  .option('--rates <list>', 'paced rates for the latency step, transactions/s', rateList, [200, 1_000, 3_000])
  .option('--rate-seconds <n>', 'seconds per paced rate', whole('rate-seconds'), 20)
  .option('--warmup-seconds <n>', 'seconds at the start of each rate left out of the percentiles', whole('warmup-seconds'), 3)
  .option('--no-ceiling', 'skip the perf tools')
  .option('--no-replay', 'skip the full-speed replay (the services still start; the latency step then runs on empty state)')
  .option('--no-latency', 'skip the paced rates')
  .option('--profile <dir>', 'run the services under node --cpu-prof, profiles written to this directory, and print their breakdown')
  .option(
    '--heap-snapshots <dir>',
    'when half the transactions are scored, write a heap snapshot of every service to this directory and print what each holds live (a snapshot stops a service for seconds and takes memory: that run\'s speed and peak RSS are not figures to quote)',
  )
  .addOption(nodeOptionsOption())
  .option('--node-arg <flag>', 'a Node or V8 flag for every service, repeatable: --node-arg=--heap-growing-percent=50', (flag: string, flags: string[]) => [...flags, flag], [])
  .option('--logs <dir>', "write each service's log lines to <dir>/<service>.log")
  .option('--log-level <level>', "the services' LOG_LEVEL (debug shows flow control's pauses, with --logs)", 'info')
  .option('--keep-topics', 'keep the run\'s topics (deleted by default)', false)
  .option('--stall-seconds <n>', 'give up when no score (with --through features, no vector) arrives for this long', whole('stall-seconds'), 180)
  .addOption(
    new Option('--through <service>', 'the last service run: features times ingest + features alone until every transaction has its vector (no latency step)')
      .choices(['features', 'fraud'])
      .default('fraud'),
  )
  .parse()
  .opts<Options>();

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const prefix = `${process.env.SLUICE_TOPIC_PREFIX ?? ''}bench-pipeline-${randomUUID().slice(0, 6)}.`;
const topics = topicNames(prefix);
const kafka = new Kafka({ clientId: 'sluice-bench-pipeline', brokers, logLevel: logLevel.NOTHING });
const serde = new AvroSerde(createSchemaRegistry({ SCHEMA_REGISTRY_URL: registryUrl }));
const say = (text: string) => process.stderr.write(`[bench] ${text}\n`);
const number = (value: number, digits = 0) => (Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const lines: string[] = [];
const print = (text = '') => {
  lines.push(text);
  process.stdout.write(`${text}\n`);
};

function table(header: string[], rows: string[][]): void {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const format = (row: string[]) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  print(format(header));
  print(`|${widths.map((width, i) => (i === 0 ? '-'.repeat(width + 2) : `${'-'.repeat(width + 1)}:`)).join('|')}|`);
  for (const row of rows) print(format(row));
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The services run, and what counts a transaction as through them: its score, or its vector (--through features). */
const running = SERVICE_NAMES.slice(0, SERVICE_NAMES.indexOf(options.through) + 1);
const outcome =
  options.through === 'fraud'
    ? { topic: topics.fraudScores, done: 'scored', record: 'score', all: 'all four' }
    : { topic: topics.transactionsFeatures, done: 'with a vector', record: 'vector', all: 'both' };
if (options.through !== 'fraud' && options.latency) {
  say('--through features: no latency step (it measures to the score)');
  options.latency = false;
}

const admin = kafka.admin();
await admin.connect();
const createdTopics: string[] = [];
let services: BenchService[] = [];
let classPath: string | undefined;
const errors: string[] = [];

try {
  print(`Sluice pipeline benchmark ${new Date().toISOString().slice(0, 10)}, brokers ${brokers.join(',')}, topic prefix ${prefix}, ${(await import('node:os')).cpus().length} cores, load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  // 1. The broker's ceiling.
  let ceiling: BrokerCeiling | undefined;
  if (options.ceiling) {
    classPath = await kafkaToolsClassPath(say);
    const perfTopic = `${prefix}perf`;
    await admin.createTopics({ topics: [{ topic: perfTopic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    createdTopics.push(perfTopic);
    say(`broker ceiling: ProducerPerformance then ConsumerPerformance, ${number(options.ceilingRecords)} records of ${options.recordBytes} bytes, acks=all, ${PARTITIONS} partitions`);
    ceiling = await measureBrokerCeiling(classPath, brokers.join(','), perfTopic, options.ceilingRecords, options.recordBytes);
    print();
    print(`Broker ceiling (Kafka ${'3.9.1'} perf tools, ${options.recordBytes}-byte records, acks=all, ${PARTITIONS} partitions, ${number(options.ceilingRecords)} records):`);
    table(
      ['', 'records/s', 'MiB/s'],
      [
        ['produce (ProducerPerformance)', number(ceiling.producedPerSecond), number(ceiling.producedMiBPerSecond, 1)],
        ['consume (ConsumerPerformance, fetch time)', number(ceiling.consumedPerSecond), number(ceiling.consumedMiBPerSecond, 1)],
      ],
    );
  }

  // 2. Preload the fixed stream, start the services, time until every transaction is scored.
  const declared = pipelineTopics({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: PARTITIONS });
  await ensureTopics(admin, declared, 1);
  createdTopics.push(...declared.map((topic) => topic.name));
  const latencyTransactions = options.latency ? options.rates.reduce((sum, rate) => sum + rate * options.rateSeconds, 0) : 0;
  const extraDays = Math.ceil((latencyTransactions * 1.5) / Math.max(1, options.customers * 2)) + 8;
  const simulation = new Simulation({ nCustomers: options.customers, nTerminals: options.terminals, nbDays: (options.replay ? options.days : 0) + extraDays, seed: options.seed, transactionIdPrefix: `${options.seed}-` });
  const stream = simulation.events()[Symbol.iterator]();
  const cutoffMs = Date.UTC(2018, 3, 1) + (options.replay ? options.days : 0) * DAY_MS;
  let pending: SimulatedEvent | undefined;
  /** The next event of the one stream: the replay takes its first `days`, the paced rates continue from there. */
  const take = (): SimulatedEvent | undefined => {
    const held = pending;
    pending = undefined;
    if (held !== undefined) return held;
    const next = stream.next();
    return next.done === true ? undefined : next.value;
  };

  const scores = { count: 0, first: 0, last: 0 };
  const sentAt = new Map<string, number>();
  const latencies: { score: number[]; alert: number[] } = { score: [], alert: [] };
  const followers = await follow(topics, outcome.topic, scores, sentAt, latencies);

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  let preloaded = { transactions: 0, labels: 0, rawBytes: { transactions: 0, labels: 0 } };
  if (options.replay) {
    say(`preloading ${options.days} days of ${number(options.customers)} customers / ${number(options.terminals)} terminals (seed ${options.seed}) into the raw topics…`);
    const started = performance.now();
    preloaded = await preload(producer, () => {
      const next = take();
      if (next === undefined) return undefined;
      if (next.at >= cutoffMs) {
        pending = next;
        return undefined;
      }
      return next;
    });
    say(`preloaded ${number(preloaded.transactions)} transactions and ${number(preloaded.labels)} labels in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  if (options.profile) mkdirSync(options.profile, { recursive: true });
  if (options.heapSnapshots) mkdirSync(options.heapSnapshots, { recursive: true });
  const node: NodeSettings = {
    nodeOptions: options.nodeOptions,
    nodeArguments: [
      ...options.nodeArg,
      ...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${options.profile}`] : []),
      ...(options.heapSnapshots ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${options.heapSnapshots}`] : []),
    ],
  };
  buildServices();
  const serviceEnv = {
    KAFKA_BROKERS: brokers.join(','),
    SCHEMA_REGISTRY_URL: registryUrl,
    SLUICE_TOPIC_PREFIX: prefix,
    METRICS_PORT: '0',
    LOG_LEVEL: options.logLevel,
    INGEST_HTTP_ENABLED: 'false',
    // A replay runs months of event time in minutes: a terminal's transactions arrive from six customer partitions
    // far apart in event time (as in ./sluice demo).
    FEATURES_GRACE_MS: String(DAY_MS),
  };
  const startedAt = performance.now();
  if (options.logs) mkdirSync(options.logs, { recursive: true });
  services = running.map((name) =>
    startService(name, serviceEnv, node, (line) => (errors.push(line), say(line)), options.logs && join(options.logs, `${name}.log`)),
  );
  // A service that dies at start-up (a bad build, a missing export) fails the run instead of leaving it waiting.
  await Promise.all(services.map((service) => service.started));
  say(`services started in ${((performance.now() - startedAt) / 1000).toFixed(1)} s (pids ${services.map((s) => `${s.name} ${s.child.pid}`).join(', ')})`);

  if (options.replay) {
    const sampler = new BufferSampler(services);
    sampler.start();
    let lastCount = -1;
    let lastProgress = performance.now();
    let lastReport = 0;
    let snapshotsTaken = false;
    while (scores.count < preloaded.transactions) {
      await sleep(250);
      if (options.heapSnapshots && !snapshotsTaken && scores.count >= preloaded.transactions / 2) {
        snapshotsTaken = true;
        for (const service of services) service.child.kill('SIGUSR2');
        say(`heap snapshots requested at ${number(scores.count)} of ${number(preloaded.transactions)} ${outcome.done}`);
      }
      // A service that dies mid-replay (out of heap under a NODE_OPTIONS limit) ends the run: its figures would be of a dead process.
      const dead = services.find((service) => service.child.exitCode !== null || service.child.signalCode !== null);
      if (dead !== undefined) {
        throw new Error(`${dead.name} exited (${dead.child.signalCode ?? `code ${dead.child.exitCode}`}) at ${number(scores.count)} of ${number(preloaded.transactions)} ${outcome.done}: see its lines above`);
      }
      if (scores.count !== lastCount) {
        lastCount = scores.count;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > options.stallSeconds * 1000) {
        say(`none ${outcome.done} for ${options.stallSeconds} s at ${number(scores.count)} of ${number(preloaded.transactions)}: giving up on the replay`);
        break;
      }
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        say(`replay: ${number(scores.count)} of ${number(preloaded.transactions)} ${outcome.done}, ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
      }
    }
    await sampler.stop();
    const finishedAt = performance.now();
    const seconds = (finishedAt - startedAt) / 1000;
    const steadySeconds = (scores.last - scores.first) / 1000;
    const cpu = services.map((service) => cpuSeconds(service.child.pid!) - service.cpuAtStart);
    const rss = services.map((service) => peakRssMiB(service.child.pid!));
    const produced = new Map<string, number>();
    // Transaction cadence per service: Kafka transactions committed, input records per transaction, mean time to
    // process and commit one batch (sluice_batch_processing_seconds).
    const cadence: { transactions: number; consumed: number; batchMs: number }[] = [];
    for (const service of services) {
      const metrics = await scrapeMetrics(service);
      for (const [topic, count] of sumByLabel(metrics, 'sluice_messages_produced_total', 'topic')) produced.set(topic, (produced.get(topic) ?? 0) + count);
      const sum = (name: string, label: string) => [...sumByLabel(metrics, name, label).values()].reduce((a, b) => a + b, 0);
      const batchSeconds = sum('sluice_batch_processing_seconds_sum', 'topic');
      const batches = sum('sluice_batch_processing_seconds_count', 'topic');
      cadence.push({
        transactions: sumByLabel(metrics, 'sluice_kafka_transactions_total', 'outcome').get('committed') ?? 0,
        consumed: sum('sluice_messages_consumed_total', 'topic'),
        batchMs: (batchSeconds / batches) * 1000,
      });
    }
    produced.set(topics.transactionsRaw, preloaded.transactions);
    produced.set(topics.labelsRaw, preloaded.labels);
    const totalWritten = [...produced.values()].reduce((a, b) => a + b, 0);
    const rate = scores.count / seconds;

    print();
    print(`Full-speed replay: ${number(preloaded.transactions)} transactions + ${number(preloaded.labels)} labels preloaded (${options.days} days, ${number(options.customers)} customers, seed ${options.seed}), ${running.length === SERVICE_NAMES.length ? 'four services' : running.join(' and ')}, one instance each, exactly-once, ${describeNode(node)}:`);
    table(
      ['', 'figure', 'vs produce ceiling', 'vs consume ceiling'],
      [
        [`transactions ${outcome.done} end to end (${number(scores.count)} in ${seconds.toFixed(1)} s from service start)`, `${number(rate)} tx/s`, ratio(rate, ceiling?.producedPerSecond), ratio(rate, ceiling?.consumedPerSecond)],
        [`same, first to last ${outcome.record} (${steadySeconds.toFixed(1)} s, start-up excluded)`, `${number(scores.count / steadySeconds)} tx/s`, ratio(scores.count / steadySeconds, ceiling?.producedPerSecond), ratio(scores.count / steadySeconds, ceiling?.consumedPerSecond)],
        [`records written by the services to all topics (changelogs included)`, `${number((totalWritten - preloaded.transactions - preloaded.labels) / seconds)} records/s`, ratio((totalWritten - preloaded.transactions - preloaded.labels) / seconds, ceiling?.producedPerSecond), ''],
      ],
    );
    print();
    print(`Per service (CPU from "processor started" to the last ${outcome.record}, over transactions ${outcome.done}; labels flow too and are included):`);
    const totalCpu = cpu.reduce((a, b) => a + b, 0);
    table(
      ['service', 'CPU s', 'CPU µs / transaction', 'peak RSS MiB', 'Kafka transactions', 'records in / transaction', 'ms / batch (process + commit)'],
      [
        ...services.map((service, i) => [
          service.name,
          cpu[i]!.toFixed(1),
          number((cpu[i]! / scores.count) * 1e6),
          number(rss[i]!),
          number(cadence[i]!.transactions),
          number(cadence[i]!.consumed / cadence[i]!.transactions),
          number(cadence[i]!.batchMs),
        ]),
        [outcome.all, totalCpu.toFixed(1), number((totalCpu / scores.count) * 1e6), '', '', '', ''],
      ],
    );

    print();
    print('Event-time buffers (events held: each service\'s gauge for its buffers, sluice_state_entries for early-labels; summed over the service\'s tasks, sampled every second; changelog records the store wrote, puts and tombstones, per transaction scored):');
    table(
      ['store', 'peak entries', 'peak in one task (bounded store: its limit)', 'changelog records', 'per transaction'],
      EVENT_TIME_BUFFER_STORES.filter(({ service }) => running.includes(service)).map(({ service, store }) => {
        const written = produced.get(`${prefix}sluice.${service}.${store}.changelog`) ?? 0;
        const inOneTask = sampler.peakInOneTask(service, store);
        const limit = bufferLimit(service, store);
        const bounded = inOneTask === undefined ? '' : `${number(inOneTask)}${limit === undefined ? '' : ` (${number(limit)})`}`;
        return [`${service} ${store}`, number(sampler.peakEntries(service, store)), bounded, number(written), number(written / scores.count, 2)];
      }),
    );
    print(`Peak RSS MiB sampled beside them: ${services.map((service) => `${service.name} ${number(sampler.peakRss(service.name))}`).join(', ')}; most task inputs paused at once: ${services.map((service) => `${service.name} ${number(sampler.peakPaused(service.name))}`).join(', ')}.`);
    print(
      `At each peak, MiB of V8 heap used / reserved / memory outside the heap (Buffers): ${services
        .map((service) => {
          const memory = sampler.memoryAtPeak(service.name);
          return `${service.name} ${memory ? [memory.heapUsed, memory.heapTotal, memory.external].map((mib) => number(mib)).join(' / ') : 'not sampled'}`;
        })
        .join(', ')}.`,
    );

    if (classPath === undefined && options.ceiling === false) {
      try {
        classPath = await kafkaToolsClassPath(say);
      } catch (error) {
        say(`bytes per record left out: ${String(error)}`);
      }
    }
    if (classPath !== undefined) {
      const bytes = await topicBytesOnDisk(classPath, brokers.join(','), declared.map((topic) => topic.name));
      print();
      print('Bytes per record on each topic (bytes on the broker\'s disk, batch headers and transaction markers included, / records written):');
      table(
        ['topic', 'records', 'MiB on disk', 'bytes / record'],
        declared
          .map((topic) => topic.name)
          .filter((name) => (produced.get(name) ?? 0) > 0)
          .map((name) => [name.slice(prefix.length), number(produced.get(name)!), number((bytes.get(name) ?? 0) / 2 ** 20, 1), number((bytes.get(name) ?? 0) / produced.get(name)!)]),
      );
    }
  }

  // 3. Latency at paced rates, continuing the same stream (event time keeps moving forward).
  if (options.latency) {
    await waitForQuiet(scores);
    print();
    print(`Latency at paced rates (${options.rateSeconds} s each, the first ${options.warmupSeconds} s left out; raw = the bench's send time, acks=all; labels of the stream sent alongside):`);
    const rows: string[][] = [];
    for (const rate of options.rates) {
      latencies.score = [];
      latencies.alert = [];
      sentAt.clear();
      const result = await paced(producer, take, rate, options.rateSeconds, options.warmupSeconds, sentAt);
      // Every measured transaction's score, however late (an event-time stage may hold it): a p99 over only the
      // early ones would flatter. Gives up after --stall-seconds without a new one; the missing are counted.
      await waitForScores(latencies.score, sentAt.size, options.stallSeconds * 1000);
      const score = [...latencies.score].sort((a, b) => a - b);
      const alert = [...latencies.alert].sort((a, b) => a - b);
      rows.push([
        `${number(rate)} tx/s`,
        number(result.achieved),
        number(result.measured),
        number(score.length),
        number(percentile(score, 50)),
        number(percentile(score, 99)),
        number(alert.length),
        number(percentile(alert, 50)),
        number(percentile(alert, 99)),
      ]);
    }
    table(['target', 'sent tx/s', 'measured', 'scored', 'raw → score p50 ms', 'p99 ms', 'alerts', 'raw → alert p50 ms', 'p99 ms'], rows);
  }

  await producer.disconnect();
  await followers();
} finally {
  await Promise.all(services.map((service) => stopService(service)));
  if (!options.keepTopics && createdTopics.length > 0) {
    await admin.deleteTopics({ topics: createdTopics }).catch((error: unknown) => say(`could not delete the run's topics: ${String(error)}`));
  }
  await admin.disconnect();
}

if (options.profile) {
  print();
  print(`CPU profiles (${options.profile}), self time by category:`);
  const files = readdirSync(options.profile).filter((file) => file.endsWith('.cpuprofile'));
  for (const service of services) {
    // One profile per thread of the process; the main thread's is the large one.
    const own = files.filter((file) => file.includes(`.${service.child.pid}.`)).map((file) => join(options.profile!, file));
    const main = own.map((file) => summariseProfile(file, 12)).sort((a, b) => b.busyMs - a.busyMs)[0];
    if (main) print(formatBreakdown(service.name, main));
  }
}
if (options.heapSnapshots) {
  print();
  print(`Heap snapshots (${options.heapSnapshots}) at half the replay, what each service holds live (V8 collects before it writes one; /metrics counts garbage too):`);
  const files = readdirSync(options.heapSnapshots).filter((file) => file.endsWith('.heapsnapshot'));
  for (const service of services) {
    const own = files.filter((file) => file.includes(`.${service.child.pid}.`)).sort();
    if (own.length === 0) print(`${service.name}: no snapshot (the replay ended before half, or the service before writing it)`);
    else print(formatHeapSummary(service.name, summariseHeapSnapshot(join(options.heapSnapshots, own[0]!))));
  }
}
if (errors.length > 0) {
  print();
  print(`${errors.length} error lines from the services (first 5):`);
  for (const line of errors.slice(0, 5)) print(`  ${line}`);
}
process.exit(0);

function ratio(value: number, reference: number | undefined): string {
  return reference === undefined || !Number.isFinite(value) ? '' : `${(value / reference).toFixed(3)}×`;
}

function rawMessage(event: SimulatedEvent, timestamp?: number): { topic: string; message: Message } {
  return {
    topic: event.kind === 'transaction' ? topics.transactionsRaw : topics.labelsRaw,
    message: { key: event.payload.customer_id, value: JSON.stringify(event.payload), timestamp: timestamp === undefined ? undefined : String(timestamp) },
  };
}

/** As fast as the broker takes it: batches of 4,000 events, four requests in flight, acks=all. */
async function preload(producer: Producer, next: () => SimulatedEvent | undefined): Promise<{ transactions: number; labels: number; rawBytes: { transactions: number; labels: number } }> {
  const counts = { transactions: 0, labels: 0, rawBytes: { transactions: 0, labels: 0 } };
  const inFlight = new Set<Promise<unknown>>();
  for (;;) {
    const batch = new Map<string, Message[]>();
    let size = 0;
    for (let event = next(); event !== undefined; event = size < 4_000 ? next() : undefined) {
      const { topic, message } = rawMessage(event);
      if (event.kind === 'transaction') counts.transactions += 1;
      else counts.labels += 1;
      (batch.get(topic) ?? batch.set(topic, []).get(topic)!).push(message);
      size += 1;
    }
    if (size === 0) break;
    const request = producer.sendBatch({ topicMessages: [...batch].map(([topic, messages]) => ({ topic, messages })), acks: -1 });
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return counts;
}

/** Sends transactions at `rate` per second (with the labels that fall between them) in 10 ms slices. */
async function paced(
  producer: Producer,
  next: () => SimulatedEvent | undefined,
  rate: number,
  seconds: number,
  warmupSeconds: number,
  sentAt: Map<string, number>,
): Promise<{ achieved: number; measured: number }> {
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < seconds * 1000) {
    const elapsed = (performance.now() - started) / 1000;
    const due = Math.floor(elapsed * rate);
    const batch = new Map<string, Message[]>();
    const now = Date.now();
    while (sent < due) {
      const event = next();
      if (event === undefined) break;
      const { topic, message } = rawMessage(event, now);
      (batch.get(topic) ?? batch.set(topic, []).get(topic)!).push(message);
      if (event.kind === 'transaction') {
        sent += 1;
        if (elapsed >= warmupSeconds) sentAt.set(event.payload.transaction_id, now);
      }
    }
    if (batch.size > 0) await producer.sendBatch({ topicMessages: [...batch].map(([topic, messages]) => ({ topic, messages })), acks: -1 });
    await sleep(10);
  }
  return { achieved: sent / ((performance.now() - started) / 1000), measured: sentAt.size };
}

/**
 * Counts the records on `counted` (fraud.scores, or transactions.features with --through features; read_committed)
 * and, for the transactions in `sentAt` (the paced step's, after warm-up), their latency to score and alert.
 */
async function follow(
  names: TopicNames,
  counted: string,
  counter: { count: number; first: number; last: number },
  sentAt: Map<string, number>,
  latencies: { score: number[]; alert: number[] },
): Promise<() => Promise<void>> {
  const consumers: Consumer[] = [];
  const follower = async (topic: string, onValue: (value: Buffer, now: number) => Promise<void>) => {
    const consumer = kafka.consumer({ groupId: `sluice-bench-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 50 });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const message of batch.messages) if (message.value) await onValue(message.value, now);
      },
    });
  };
  await follower(counted, async (value, now) => {
    counter.count += 1;
    if (counter.first === 0) counter.first = performance.now();
    counter.last = performance.now();
    if (sentAt.size === 0) return;
    const score = await serde.decode<Score>(value);
    const sent = sentAt.get(score.transaction_id);
    if (sent !== undefined) latencies.score.push(now - sent);
  });
  const stop = async () => {
    await Promise.all(consumers.map((consumer) => consumer.disconnect()));
  };
  if (counted !== names.fraudScores) return stop;
  await follower(names.fraudAlerts, async (value, now) => {
    if (sentAt.size === 0) return;
    const alert = await serde.decode<Alert>(value);
    const sent = sentAt.get(alert.transaction_id);
    if (sent !== undefined) latencies.alert.push(now - sent);
  });
  return stop;
}

/** Waits until `expected` latencies are in, or none has come for `stallMs`. */
async function waitForScores(latencies: number[], expected: number, stallMs: number): Promise<void> {
  let last = latencies.length;
  let since = performance.now();
  while (latencies.length < expected && performance.now() - since < stallMs) {
    await sleep(250);
    if (latencies.length !== last) {
      last = latencies.length;
      since = performance.now();
    }
  }
}

/** Waits until the score count has not moved for `quietMs` (the pipeline has drained), at most `limitMs`. */
async function waitForQuiet(counter: { count: number }, quietMs = 3_000, limitMs = 60_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  let last = counter.count;
  let since = performance.now();
  while (performance.now() < deadline) {
    await sleep(250);
    if (counter.count !== last) {
      last = counter.count;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) return;
  }
}
