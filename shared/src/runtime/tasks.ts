import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from '../logger.js';
import { processedPosition } from './held-positions.js';
import { PartitionStore, restoreChangelogs, type ChangelogRecord, type StoreDefinition } from '../state-store.js';
import type { FetchControl } from './input-pauses.js';
import { TaskInputs } from './input-pauses.js';

/**
 * One input partition's task: its stores, its transactional producer
 * (`<prefix>-<partition>`: whoever owns the partition next fences this one),
 * its paused inputs, and the turn its batches and punctuations take.
 */
export interface Task {
  partition: number;
  info: { partition: number; lagAtAssignment: Map<string, number> };
  producer: Producer;
  stores: Map<string, PartitionStore<unknown>>;
  /** The inputs this task has paused. */
  inputs: TaskInputs;
  /** Settles once the task is fenced and restored. */
  ready: Promise<void>;
  isReady: boolean;
  /** Set once the handler has been told the task is restored (ProcessorHandler.onRestored). */
  heard: boolean;
  /** Set once the handler has been told the task is revoked (ProcessorHandler.onRevoked): it is told once. */
  revoked: boolean;
  /** Settles when the batch in flight on this task has committed or aborted. */
  turn: Promise<void>;
}

export interface TaskSettings {
  kafka: Kafka;
  transactionalIdPrefix: string;
  inputs: ReadonlySet<string>;
  stores: readonly StoreDefinition<unknown>[];
}

/** A task with empty stores, not yet fenced or restored; `fetcher` is the consumer while the task owns the partition (TaskInputs). */
export function createTask(settings: TaskSettings, partition: number, fetcher: (task: Task) => FetchControl | undefined): Task {
  const producer = settings.kafka.producer({
    transactionalId: `${settings.transactionalIdPrefix}-${partition}`,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 60_000,
    // A batch's transaction often starts while the previous commit's markers are still being written, and the
    // coordinator refuses it (CONCURRENT_TRANSACTIONS) for a few ms; kafkajs's default first back-off (300 ms) then
    // added 300 ms to the batch and to every event-time hop behind it. The Java producer retries that case after
    // 20 ms (TransactionManager's ADD_PARTITIONS_RETRY_BACKOFF_MS, KAFKA-5482). Four more doublings than kafkajs's
    // default 5 keep about the same patience before a send fails (~10 s, against 300 ms x (2^5 - 1) = 9.3 s), so a
    // missing topic or a broker away still ends the transaction and leaves recovery to the processor, as before.
    retry: { initialRetryTime: 20, retries: 9 },
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const stores = new Map<string, PartitionStore<unknown>>();
  for (const definition of settings.stores) stores.set(definition.name, new PartitionStore(definition, partition));
  const task: Task = {
    partition,
    info: { partition, lagAtAssignment: new Map() },
    producer,
    stores,
    inputs: new TaskInputs(partition, settings.inputs, () => fetcher(task)),
    ready: Promise.resolve(),
    isReady: false,
    heard: false,
    revoked: false,
    turn: Promise.resolve(),
  };
  return task;
}

/**
 * Runs `work` once the task's previous work has settled. Co-partitioned inputs (transactions and labels of the
 * same customers) share partition p's task, its stores and its transactional producer: their batches, which
 * kafkajs may hand over concurrently, and the task's punctuations take turns.
 */
export async function inTurn(task: Task, work: () => Promise<void>): Promise<void> {
  const previous = task.turn;
  let release!: () => void;
  task.turn = new Promise((resolve) => (release = resolve));
  await previous;
  try {
    await work();
  } finally {
    release();
  }
}

/**
 * kafkajs initialises a transactional producer id only when a first
 * transaction begins: begin and abort one now, so the previous owner is fenced
 * and its open transaction aborted before the changelog is read.
 */
async function fence(tasks: readonly Task[]): Promise<void> {
  await Promise.all(
    tasks.map(async (task) => {
      await task.producer.connect();
      await (await task.producer.transaction()).abort();
    }),
  );
}

/** Reads the tasks' changelog partitions into their stores (after the fence); returns the records read. */
async function restoreStores(kafka: Kafka, admin: Admin, definitions: readonly StoreDefinition<unknown>[], tasks: readonly Task[], logger: Logger): Promise<number> {
  if (definitions.length === 0 || tasks.length === 0) return 0;
  const byTopic = new Map(definitions.map((definition) => [definition.changelogTopic, definition.name]));
  const taskByPartition = new Map(tasks.map((task) => [task.partition, task]));
  return restoreChangelogs(
    kafka,
    admin,
    definitions.map((definition) => ({ topic: definition.changelogTopic, partitions: tasks.map((task) => task.partition) })),
    (record: ChangelogRecord) => taskByPartition.get(record.partition)?.stores.get(byTopic.get(record.topic)!)?.restore(record.key, record.value),
    logger,
  );
}

export interface CommittedPosition {
  topic: string;
  partition: number;
  /** The group's committed offset; undefined when it has none (reading starts at the log's beginning). */
  offset: string | undefined;
  /**
   * Where processing goes on: the committed offset, or past it when the records from there on were processed and
   * some are held in memory only (held-positions.ts): those are read again first (ProcessorHandler.heldInputs).
   */
  processed: string | undefined;
}

/**
 * The group's committed positions on the tasks' input partitions, read after
 * the fence, and the lag each task had when assigned (in `info.lagAtAssignment`).
 * kafkajs read the committed offsets when the partitions were assigned, a
 * moment before the fence: a previous owner that was only paused could have
 * committed in between, and its batch is already in the state just restored.
 * The caller seeks to these positions, which makes any batch fetched from the
 * older position stale, so it is dropped, not applied twice.
 */
async function committedPositions(admin: Admin, groupId: string, inputs: readonly string[], tasks: readonly Task[]): Promise<CommittedPosition[]> {
  const byPartition = new Map(tasks.map((task) => [task.partition, task]));
  const positions: CommittedPosition[] = [];
  const committed = await admin.fetchOffsets({ groupId, topics: [...inputs] });
  for (const { topic, partitions: offsets } of committed) {
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((end) => [end.partition, end]));
    for (const { partition, offset, metadata } of offsets) {
      const task = byPartition.get(partition);
      if (task === undefined) continue;
      const known = BigInt(offset) >= 0n;
      const processed = known ? processedPosition(offset, metadata) : undefined;
      positions.push({ topic, partition, offset: known ? offset : undefined, processed });
      const end = ends.get(partition);
      if (end !== undefined) task.info.lagAtAssignment.set(topic, Number(BigInt(end.high) - (processed !== undefined ? BigInt(processed) : BigInt(end.low))));
    }
  }
  return positions;
}

export interface Prepared {
  /** Changelog records read into the stores. */
  restored: number;
  seconds: number;
  /** Where the caller seeks its consumer: the committed positions, read after the fence. */
  positions: CommittedPosition[];
}

/** Makes new tasks ready: fences the partitions' previous owners, restores the stores, reads the committed positions. */
export async function prepareTasks(settings: TaskSettings, admin: Admin, groupId: string, tasks: readonly Task[], logger: Logger): Promise<Prepared> {
  const started = performance.now();
  await fence(tasks);
  const restored = await restoreStores(settings.kafka, admin, settings.stores, tasks, logger);
  const seconds = (performance.now() - started) / 1000;
  return { restored, seconds, positions: await committedPositions(admin, groupId, [...settings.inputs], tasks) };
}
