/**
 * The broker's own ceiling, measured with Kafka's perf tools from the cached
 * distribution that `deploy/local/stack.sh` runs (the same JVM client the
 * Kafka Streams comparison in issue 13 used): ProducerPerformance, then
 * ConsumerPerformance over what it wrote, and LogDirsCommand for the bytes a
 * topic holds on disk.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const KAFKA_VERSION = '3.9.1';

export interface BrokerCeiling {
  producedPerSecond: number;
  producedMiBPerSecond: number;
  producerAvgLatencyMs: number;
  consumedPerSecond: number;
  consumedMiBPerSecond: number;
}

/**
 * The class path of the cached Kafka distribution plus kafka-tools. A cache
 * fetched before `kafka-runtime.pom.xml` listed kafka-tools lacks it: that one
 * jar (its other dependencies are the broker's) is fetched beside the cache,
 * never into the running broker's libs.
 */
export async function kafkaToolsClassPath(log: (text: string) => void): Promise<string> {
  const cache = process.env.SLUICE_CACHE_DIR ?? join(homedir(), '.cache', 'sluice');
  const libs = join(cache, `kafka-${KAFKA_VERSION}`, 'libs');
  if (!existsSync(libs)) throw new Error(`no Kafka distribution in ${libs}: run ./sluice stack start once (it fetches Kafka ${KAFKA_VERSION})`);
  if (readdirSync(libs).some((file) => file.startsWith('kafka-tools-') && !file.startsWith('kafka-tools-api'))) return `${libs}/*`;
  const extra = join(cache, `kafka-${KAFKA_VERSION}-perf-tools`);
  if (!existsSync(join(extra, `kafka-tools-${KAFKA_VERSION}.jar`))) {
    log(`fetching org.apache.kafka:kafka-tools:${KAFKA_VERSION} from Maven Central into ${extra} (the cached distribution predates it)`);
    await run('mvn', ['-q', '-B', 'dependency:copy', `-Dartifact=org.apache.kafka:kafka-tools:${KAFKA_VERSION}`, `-DoutputDirectory=${extra}`], { maxBuffer: 16 * 2 ** 20 });
  }
  return `${libs}/*:${extra}/*`;
}

function java(classPath: string, mainClass: string, args: string[], timeoutMs: number): Promise<string> {
  return run('java', ['-Xmx512m', '-cp', classPath, '-Dlog4j.configuration=file:/dev/null', mainClass, ...args], { maxBuffer: 64 * 2 ** 20, timeout: timeoutMs }).then(
    ({ stdout }) => stdout,
    (error: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`${mainClass} failed: ${error.message}\n${error.stderr ?? ''}`);
    },
  );
}

/**
 * Produces `records` records of `recordBytes` bytes with acks=all as fast as
 * the broker takes them, then consumes them back; the topic must exist.
 */
export async function measureBrokerCeiling(
  classPath: string,
  bootstrap: string,
  topic: string,
  records: number,
  recordBytes: number,
): Promise<BrokerCeiling> {
  const produced = await java(
    classPath,
    'org.apache.kafka.tools.ProducerPerformance',
    ['--topic', topic, '--num-records', String(records), '--record-size', String(recordBytes), '--throughput', '-1', '--producer-props', `bootstrap.servers=${bootstrap}`, 'acks=all'],
    600_000,
  );
  // Last line: "N records sent, X records/sec (Y MB/sec), Z ms avg latency, …"
  const summary = produced.trim().split('\n').at(-1) ?? '';
  const producer = /records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency/.exec(summary);
  if (!producer) throw new Error(`unexpected ProducerPerformance output: ${summary}`);
  const consumed = await java(
    classPath,
    'org.apache.kafka.tools.ConsumerPerformance',
    ['--bootstrap-server', bootstrap, '--topic', topic, '--messages', String(records), '--timeout', '60000', '--group', `${topic}-perf-consumer`],
    600_000,
  );
  // Header then one CSV line: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
  // rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec. The fetch.* figures leave out the group join.
  const row = consumed.trim().split('\n').at(-1)?.split(',').map((cell) => cell.trim()) ?? [];
  const fetchMiB = Number(row[8]);
  const fetchRecords = Number(row[9]);
  if (!Number.isFinite(fetchRecords)) throw new Error(`unexpected ConsumerPerformance output: ${consumed}`);
  return {
    producedPerSecond: Number(producer[1]),
    producedMiBPerSecond: Number(producer[2]),
    producerAvgLatencyMs: Number(producer[3]),
    consumedPerSecond: fetchRecords,
    consumedMiBPerSecond: fetchMiB,
  };
}

/** Bytes each topic holds on the broker's disks (all partitions, all log directories), by LogDirsCommand. */
export async function topicBytesOnDisk(classPath: string, bootstrap: string, topics: string[]): Promise<Map<string, number>> {
  const output = await java(classPath, 'org.apache.kafka.tools.LogDirsCommand', ['--bootstrap-server', bootstrap, '--describe', '--topic-list', topics.join(',')], 120_000);
  const json = output.split('\n').find((line) => line.startsWith('{'));
  if (!json) throw new Error(`unexpected LogDirsCommand output: ${output}`);
  const parsed = JSON.parse(json) as { brokers: { logDirs: { partitions: { partition: string; size: number }[] }[] }[] };
  const bytes = new Map<string, number>();
  for (const broker of parsed.brokers) {
    for (const dir of broker.logDirs) {
      for (const { partition, size } of dir.partitions) {
        const topic = partition.slice(0, partition.lastIndexOf('-'));
        bytes.set(topic, (bytes.get(topic) ?? 0) + size);
      }
    }
  }
  return bytes;
}
