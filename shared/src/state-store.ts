import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from './logger.js';

/** A key-value view of one store on one partition, as a processor sees it while handling a batch. */
export interface KeyValueStore<V> {
  get(key: string): V | undefined;
  has(key: string): boolean;
  put(key: string, value: V): void;
  delete(key: string): void;
  readonly size: number;
  keys(): IterableIterator<string>;
  entries(): IterableIterator<[string, V]>;
}

export interface StoreDefinition<V> {
  name: string;
  changelogTopic: string;
  /** Defaults to JSON. */
  serialize?: (value: V) => Buffer;
  deserialize?: (bytes: Buffer) => V;
}

export interface ChangelogRecord {
  topic: string;
  partition: number;
  key: string;
  /** null deletes the key (a tombstone, which compaction removes). */
  value: Buffer | null;
}

/**
 * One store's state on one partition: in memory, with every change of the
 * current batch remembered so that it is written to the changelog in the same
 * transaction as the batch's outputs.
 */
export class PartitionStore<V> implements KeyValueStore<V> {
  private readonly data = new Map<string, V>();
  /**
   * The keys changed since the last drain, each with whether the changelog
   * holds a value for it (it had one before its first change). A key that
   * had none and has none again (a buffer taking an event in and releasing
   * it within one batch) needs no record: in the 30-day replay every buffered
   * event cost a put and a tombstone, 3.4 records per transaction in the
   * terminal stage's buffer alone (README, Bounded buffers).
   */
  private readonly changed = new Map<string, boolean>();

  constructor(
    readonly definition: StoreDefinition<V>,
    readonly partition: number,
  ) {}

  get(key: string): V | undefined {
    return this.data.get(key);
  }

  has(key: string): boolean {
    return this.data.has(key);
  }

  put(key: string, value: V): void {
    if (!this.changed.has(key)) this.changed.set(key, this.data.has(key));
    this.data.set(key, value);
  }

  delete(key: string): void {
    if (!this.data.delete(key)) return;
    if (!this.changed.has(key)) this.changed.set(key, true);
  }

  get size(): number {
    return this.data.size;
  }

  keys(): IterableIterator<string> {
    return this.data.keys();
  }

  entries(): IterableIterator<[string, V]> {
    return this.data.entries();
  }

  /** Applies a changelog record during restore, without marking it changed. */
  restore(key: string, value: Buffer | null): void {
    if (value === null) this.data.delete(key);
    else this.data.set(key, this.deserialize(value));
  }

  /** True when a change waits for the changelog (it may turn out to need no record). */
  get hasChanges(): boolean {
    return this.changed.size > 0;
  }

  /** The changes since the last call, one record per key (its latest value): compaction-friendly. */
  drainChanges(): ChangelogRecord[] {
    const records: ChangelogRecord[] = [];
    for (const [key, logged] of this.changed) {
      const value = this.data.get(key);
      if (value === undefined && !logged) continue;
      records.push({
        topic: this.definition.changelogTopic,
        partition: this.partition,
        key,
        value: value === undefined ? null : this.serialize(value),
      });
    }
    this.changed.clear();
    return records;
  }

  private serialize(value: V): Buffer {
    return this.definition.serialize ? this.definition.serialize(value) : Buffer.from(JSON.stringify(value));
  }

  private deserialize(bytes: Buffer): V {
    return this.definition.deserialize ? this.definition.deserialize(bytes) : (JSON.parse(bytes.toString('utf8')) as V);
  }
}

/**
 * Reads changelog partitions from their beginning to their current end
 * (read_committed) and hands every keyed record to `apply`.
 *
 * Call it only after the task's transactional producer has been initialised:
 * that aborts any transaction a previous owner left open, so the end offset is
 * reachable under read_committed.
 */
export async function restoreChangelogs(
  kafka: Kafka,
  admin: Admin,
  wanted: { topic: string; partitions: number[] }[],
  apply: (record: ChangelogRecord) => void,
  logger: Logger,
  heartbeat: () => Promise<void> = async () => {},
): Promise<number> {
  const ranges: PartitionRange[] = [];
  for (const { topic, partitions } of wanted) {
    if (partitions.length === 0) continue;
    const offsets = await admin.fetchTopicOffsets(topic);
    for (const { partition, high, low } of offsets) {
      if (partitions.includes(partition) && BigInt(high) > BigInt(low)) ranges.push({ topic, partition, to: BigInt(high) });
    }
  }
  let restored = 0;
  await readPartitions(
    kafka,
    admin,
    ranges,
    (topic, partition, message) => {
      if (message.key === null) return;
      apply({ topic, partition, key: message.key.toString('utf8'), value: message.value });
      restored += 1;
    },
    logger,
    heartbeat,
  );
  return restored;
}

/** Part of a partition to read: from `from` (the beginning when absent) to just before `to`. */
export interface PartitionRange {
  topic: string;
  partition: number;
  from?: string;
  to: bigint;
}

/**
 * Reads the ranges (read_committed) and hands every record in them to `apply`, in offset order per partition.
 * kafkajs has no manual partition assignment, so this joins a throw-away consumer group, pauses the partitions it
 * does not need, seeks the others to where their range starts, and deletes the group afterwards.
 */
export async function readPartitions(
  kafka: Kafka,
  admin: Admin,
  ranges: readonly PartitionRange[],
  apply: (topic: string, partition: number, message: KafkaMessage) => void,
  logger: Logger,
  heartbeat: () => Promise<void> = async () => {},
): Promise<void> {
  const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  const remaining = new Map<string, PartitionRange>();
  for (const range of ranges) if (range.from === undefined || BigInt(range.from) < range.to) remaining.set(keyOf(range.topic, range.partition), range);
  if (remaining.size === 0) return;

  const groupId = `sluice-restore-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxBytesPerPartition: 4 * 1024 * 1024, retry: { retries: 10 } });
  let settle!: (error?: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => {
    settle = (error?: unknown) => (error ? reject(error) : resolve());
  });
  const markProgress = (topic: string, partition: number, lastOffset: string) => {
    const key = keyOf(topic, partition);
    const range = remaining.get(key);
    if (range !== undefined && BigInt(lastOffset) + 1n >= range.to) {
      remaining.delete(key);
      if (remaining.size === 0) settle();
    }
  };
  // Batches holding only transaction markers never reach eachBatch, but do end here.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => markProgress(payload.topic, payload.partition, payload.lastOffset));
  consumer.on(consumer.events.CRASH, ({ payload }) => settle(payload.error));
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const unwanted = Object.entries(payload.memberAssignment).map(([topic, partitions]) => ({
      topic,
      partitions: partitions.filter((partition) => !remaining.has(keyOf(topic, partition))),
    }));
    consumer.pause(unwanted.filter((entry) => entry.partitions.length > 0));
    for (const range of remaining.values()) if (range.from !== undefined) consumer.seek({ topic: range.topic, partition: range.partition, offset: range.from });
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...new Set(ranges.map((range) => range.topic))], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const range = remaining.get(keyOf(batch.topic, batch.partition));
        if (range === undefined) return;
        for (const message of batch.messages) {
          if (BigInt(message.offset) >= range.to) break;
          if (range.from !== undefined && BigInt(message.offset) < BigInt(range.from)) continue;
          apply(batch.topic, batch.partition, message);
        }
        await heartbeat();
      },
    });
    await finished;
  } finally {
    await consumer.disconnect().catch((error: unknown) => logger.warn({ err: error }, 'restore consumer did not disconnect cleanly'));
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
}
