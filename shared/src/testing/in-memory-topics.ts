/** One record of an in-memory topic partition. */
export interface TopicRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  /** An Avro record as a processor sent it (`context.send`), or bytes (`sendBytes`, dead letters; null for a watermark record or a tombstone). */
  readonly value: unknown;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
}

export interface AppendedRecord {
  key: string | null;
  value: unknown;
  headers?: Record<string, string>;
  /** Defaults to the key's partition (murmur2, as kafkajs's and the Java client's default partitioner). */
  partition?: number;
  timestamp: number;
}

/**
 * Topics as logs in memory, for the test driver: records in offset order per
 * partition, never compacted (a restore replays a store's changelog in order,
 * which ends in the same state as its compaction would). A topic that is not
 * created first gets `defaultPartitions`.
 */
export class InMemoryTopics {
  private readonly logs = new Map<string, TopicRecord[][]>();
  private readonly nextNullKeyPartition = new Map<string, number>();

  constructor(
    partitions: Record<string, number> = {},
    private readonly defaultPartitions = 1,
  ) {
    for (const [topic, count] of Object.entries(partitions)) this.create(topic, count);
  }

  create(topic: string, partitions: number): void {
    const log = this.logs.get(topic);
    if (log !== undefined && log.length !== partitions) throw new Error(`${topic} already has ${log.length} partitions`);
    if (log === undefined) this.logs.set(topic, Array.from({ length: partitions }, () => []));
  }

  partitions(topic: string): number {
    return this.log(topic).length;
  }

  append(topic: string, record: AppendedRecord): TopicRecord {
    const log = this.log(topic);
    const partition = record.partition ?? this.partitionOf(topic, record.key, log.length);
    const records = log[partition];
    if (records === undefined) throw new Error(`${topic} has no partition ${partition} (${log.length} partitions)`);
    const appended = { topic, partition, offset: records.length, key: record.key, value: record.value, headers: record.headers ?? {}, timestamp: record.timestamp };
    records.push(appended);
    return appended;
  }

  /** The records of a partition from `offset` on. */
  read(topic: string, partition: number, offset = 0): readonly TopicRecord[] {
    return (this.log(topic)[partition] ?? []).slice(offset);
  }

  /** The offset the next record of the partition will have. */
  end(topic: string, partition: number): number {
    return this.log(topic)[partition]?.length ?? 0;
  }

  /** Every record of the topic, partition by partition. */
  all(topic: string): readonly TopicRecord[] {
    return this.log(topic).flat();
  }

  private log(topic: string): TopicRecord[][] {
    if (!this.logs.has(topic)) this.create(topic, this.defaultPartitions);
    return this.logs.get(topic)!;
  }

  private partitionOf(topic: string, key: string | null, partitions: number): number {
    if (key === null) {
      // kafkajs spreads keyless records round-robin from a random start; here from 0, so that a test is repeatable.
      const next = this.nextNullKeyPartition.get(topic) ?? 0;
      this.nextNullKeyPartition.set(topic, (next + 1) % partitions);
      return next;
    }
    return (murmur2(key) & 0x7fffffff) % partitions;
  }
}

/**
 * Kafka's murmur2 of a key's UTF-8 bytes, as the producers' default
 * partitioner computes it (kafkajs's DefaultPartitioner, the Java client's):
 * the driver puts a keyed record in the partition Kafka would. Here in 32-bit
 * arithmetic, which is what kafkajs's 64-bit Long version keeps; a test checks
 * the two agree.
 */
export function murmur2(key: string): number {
  const data = Buffer.from(key, 'utf8');
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ data.length) | 0;
  const whole = data.length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = data.length % 4;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ data[whole]!, m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
