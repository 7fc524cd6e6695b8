import type { DeadLetter } from '../dead-letter.js';
import { decodeWatermark, encodeWatermark, WATERMARK_HEADER, type WatermarkMark } from '../event-time/watermark.js';
import type { Logger } from '../logger.js';
import { PartitionStore } from '../state-store.js';
import type { InputDefinition, InputMessage, ProcessorDefinition, TaskInfo } from '../runtime/contract.js';
import { bindHandler, type ProcessorTopology, type TypedHandler } from '../runtime/topology.js';
import { TaskInputs } from '../runtime/input-pauses.js';
import { openContext, processOne, readWatermark, restoredTask, type ContextEnvironment, type QueuedOutput } from '../runtime/processing-context.js';
import { commitPosition } from '../runtime/held-positions.js';
import { InMemoryTopics, type TopicRecord } from './in-memory-topics.js';

export interface DriverOptions {
  /** Shared with other drivers to chain processors (one's outputs are the next one's inputs); a new set by default. */
  topics?: InMemoryTopics;
  /** Partitions of the inputs (co-partitioned: one count for all) and of other topics not yet in `topics`. */
  partitions?: number;
  /** Wall-clock time at the start (ms); `advanceTime` moves it. */
  now?: number;
  /** Messages per batch at most (kafkajs hands over what one fetch returned: up to 1 MiB a partition). */
  maxBatchSize?: number;
  logger?: Logger;
  /**
   * Stands for the Avro encoding of a sent record at commit (the processor encodes through the registry then):
   * a test may check records against their schema here. By default a deep copy, so a record changed after
   * `send` is written as it is at commit, as it would be.
   */
  encode?: (topic: string, record: object) => unknown;
}

export interface PipedRecord {
  key?: string | null;
  /** An Avro input's decoded record; a bytes input's value (a string is taken as UTF-8). A Buffer on an Avro input is undecodable. */
  value: unknown;
  headers?: Record<string, string>;
  partition?: number;
  /** Kafka's record timestamp (ms); the driver's clock by default. */
  timestamp?: number;
}

interface DriverTask {
  partition: number;
  info: { partition: number; lagAtAssignment: Map<string, number> };
  stores: Map<string, PartitionStore<unknown>>;
  inputs: TaskInputs;
}

/**
 * Runs a processor of a service's topology with its handlers (as main.ts binds
 * them for StreamProcessor) on in-memory topics, through the same ProcessingContext as
 * the Kafka processor (runtime/processing-context.ts): records piped in are
 * delivered in batches, each batch's outputs, changelog records and input
 * offsets committed at once; punctuation runs as the clock advances. `crash`
 * loses everything held in memory (handlers too, when built by a factory) and
 * the next step restores the stores from their changelogs and goes on from
 * the committed offsets, as a restarted instance would (Kafka Streams'
 * TopologyTestDriver, with the restore).
 */
export class TopologyTestDriver<I extends ProcessorTopology['inputs'] = ProcessorTopology['inputs']> {
  readonly topics: InMemoryTopics;
  now: number;
  private definition: ProcessorDefinition;
  private readonly build: () => ProcessorDefinition;
  private readonly tasks = new Map<number, DriverTask>();
  /** Per input partition: the committed offset and, past it when records are held in memory only, the position processed through. */
  private readonly committed = new Map<string, { offset: number; processed: number }>();
  private readonly inputs: Map<string, InputDefinition>;
  private readonly environment: ContextEnvironment;
  private readonly maxBatchSize: number;
  private readonly encode: (topic: string, record: object) => unknown;
  private nextPunctuation: number | undefined;
  private failingCommits = 0;

  /** `handler`: a factory builds new handlers after a `crash`, as a restarted instance would; an object is kept. */
  constructor(
    topology: ProcessorTopology<I>,
    handler: TypedHandler<I> | (() => TypedHandler<I>),
    options: DriverOptions = {},
  ) {
    this.build = () => bindHandler(topology, typeof handler === 'function' ? handler() : handler);
    this.definition = this.build();
    this.topics = options.topics ?? new InMemoryTopics({}, options.partitions ?? 1);
    for (const input of this.definition.inputs) this.topics.create(input.topic, this.topics.partitions(input.topic));
    this.now = options.now ?? Date.UTC(2026, 0, 1);
    this.maxBatchSize = options.maxBatchSize ?? 500;
    this.encode = options.encode ?? ((_topic, record) => structuredClone(record));
    this.inputs = new Map(this.definition.inputs.map((input) => [input.topic, input]));
    const watermarkOutputs = new Set(this.definition.watermarkOutputs ?? []);
    this.environment = {
      service: this.definition.service,
      logger: options.logger ?? silentLogger(),
      deadLetterTopicOf: (topic) => this.inputs.get(topic)?.deadLetterTopic,
      partitionCount: (topic) => (this.inputs.has(topic) || watermarkOutputs.has(topic) ? this.topics.partitions(topic) : undefined),
      sourcesTopic: this.definition.inputs[0]!.topic,
      pausesChanged: () => undefined,
      deadLettered: () => undefined,
    };
    if (this.definition.punctuate !== undefined) this.nextPunctuation = this.now + this.definition.punctuate.intervalMs;
  }

  /** Appends records to an input (or any) topic; `run` delivers them. */
  pipe(topic: string, records: PipedRecord[]): void {
    for (const record of records) {
      const value = typeof record.value === 'string' ? Buffer.from(record.value) : record.value;
      this.topics.append(topic, { key: record.key ?? null, value, headers: record.headers, partition: record.partition, timestamp: record.timestamp ?? this.now });
    }
  }

  /** Appends a watermark record from an upstream task (`source` of `sources`) to one partition of a topic. */
  pipeWatermark(topic: string, partition: number, mark: WatermarkMark): void {
    this.topics.append(topic, { key: null, value: null, headers: { [WATERMARK_HEADER]: encodeWatermark(mark) }, partition, timestamp: this.now });
  }

  /** Delivers what waits on the inputs that are not paused, batch by batch, until nothing does; returns the batches. */
  async run(): Promise<number> {
    let batches = 0;
    for (let progressed = true; progressed; ) {
      progressed = false;
      for (const task of this.assigned()) {
        for (const input of this.definition.inputs) {
          if (this.tasks.get(task.partition) !== task || task.inputs.isPaused(input.topic)) continue;
          const pending = this.topics.read(input.topic, task.partition, this.offset(input.topic, task.partition)).slice(0, this.maxBatchSize);
          if (pending.length === 0) continue;
          await this.processBatch(task, input, pending);
          batches += 1;
          progressed = true;
        }
      }
    }
    return batches;
  }

  /** Moves the clock, punctuating each time an interval ends (and delivering what waits first, when `run` is set). */
  async advanceTime(ms: number, options: { run?: boolean } = {}): Promise<void> {
    const until = this.now + ms;
    while (this.nextPunctuation !== undefined && this.nextPunctuation <= until) {
      this.now = this.nextPunctuation;
      if (options.run) await this.run();
      await this.punctuate();
      this.nextPunctuation += this.definition.punctuate!.intervalMs;
    }
    this.now = until;
    if (options.run) await this.run();
  }

  /** One punctuation of every task, now. */
  async punctuate(): Promise<void> {
    const punctuate = this.definition.punctuate;
    if (punctuate === undefined) return;
    for (const task of this.assigned()) {
      const { context, outputs, effects } = openContext(task, this.environment, undefined, this.definition.inputs[0]!.deadLetterTopic, this.now);
      punctuate.run(context);
      const nothingToCommit = outputs.length === 0 && ![...task.stores.values()].some((store) => store.hasChanges);
      if (nothingToCommit || this.commit(task, undefined, outputs)) for (const effect of effects) effect();
    }
  }

  /** Loses what is held in memory: tasks and their stores, pauses, and the handlers when the driver was given a factory. */
  crash(): void {
    this.tasks.clear();
    this.definition = this.build();
  }

  /** A new assignment of every partition to the same handlers: the tasks are revoked, new ones restored from the changelogs. */
  reassign(): void {
    for (const task of [...this.tasks.values()]) this.discard(task);
  }

  /** The next `count` commits abort: their task is dropped and its batch redone on state restored from the changelog. */
  failNextCommits(count = 1): void {
    this.failingCommits += count;
  }

  /** Data records committed to a topic (no watermark records), partition by partition. */
  outputs(topic: string): TopicRecord[] {
    return this.topics.all(topic).filter((record) => record.headers[WATERMARK_HEADER] === undefined);
  }

  /** Watermark records committed to a topic. */
  watermarks(topic: string): (WatermarkMark & { partition: number })[] {
    return this.topics.all(topic).flatMap((record) => {
      const header = record.headers[WATERMARK_HEADER];
      const mark = header === undefined ? undefined : decodeWatermark(header);
      return mark === undefined ? [] : [{ ...mark, partition: record.partition }];
    });
  }

  deadLetters(topic: string): DeadLetter[] {
    return this.outputs(topic).map((record) => JSON.parse((record.value as Buffer).toString('utf8')) as DeadLetter);
  }

  /** A copy of a store's entries on a partition, as held in memory now (restored first after a crash). */
  store<V>(partition: number, name: string): Map<string, V> {
    const task = this.assigned().find((candidate) => candidate.partition === partition);
    const store = task?.stores.get(name);
    if (store === undefined) throw new Error(`no store ${name} on partition ${partition}`);
    return new Map(store.entries() as IterableIterator<[string, V]>);
  }

  task(partition: number): TaskInfo | undefined {
    return this.tasks.get(partition)?.info;
  }

  isPaused(partition: number, topic: string): boolean {
    return this.tasks.get(partition)?.inputs.isPaused(topic) ?? false;
  }

  /** The offset committed: the position processed through, or the oldest record still held in memory only. */
  committedOffset(topic: string, partition: number): number {
    return this.committed.get(`${topic}/${partition}`)?.offset ?? 0;
  }

  /** The tasks, one per input partition, each created when first needed (after a start, crash, reassignment or abort): stores restored, lag at assignment read. */
  private assigned(): DriverTask[] {
    const inputs = new Set(this.inputs.keys());
    for (let partition = 0; partition < this.topics.partitions(this.environment.sourcesTopic); partition++) {
      if (!this.tasks.has(partition)) {
        const stores = new Map<string, PartitionStore<unknown>>();
        for (const definition of this.definition.stores ?? []) {
          const store = new PartitionStore(definition, partition);
          for (const record of this.topics.read(definition.changelogTopic, partition)) store.restore(record.key!, record.value as Buffer | null);
          stores.set(definition.name, store);
        }
        const lagAtAssignment = new Map([...inputs].map((topic) => [topic, this.topics.end(topic, partition) - this.offset(topic, partition)]));
        const task = { partition, info: { partition, lagAtAssignment }, stores, inputs: new TaskInputs(partition, inputs, () => undefined) };
        this.tasks.set(partition, task);
        this.definition.onRestored?.(restoredTask(task, this.environment.logger, this.now));
        this.replayHeld(task);
      }
    }
    return [...this.tasks.values()].sort((a, b) => a.partition - b.partition);
  }

  /** As the processor does after the restore: the records processed but held in memory only go back to the handler (ProcessorHandler.heldInputs). */
  private replayHeld(task: DriverTask): void {
    const held = this.definition.heldInputs;
    if (held === undefined) return;
    for (const input of this.definition.inputs) {
      const position = this.committed.get(`${input.topic}/${task.partition}`);
      if (position === undefined || position.processed <= position.offset) continue;
      for (const record of this.topics.read(input.topic, task.partition, position.offset)) {
        if (record.offset >= position.processed) break;
        if (record.headers?.[WATERMARK_HEADER] !== undefined || (input.format === 'avro' && (record.value === null || record.value instanceof Buffer))) continue;
        const raw = record.value instanceof Buffer ? record.value : record.value === null ? null : Buffer.from(JSON.stringify(record.value));
        const message: InputMessage = {
          input: input.role ?? input.topic,
          topic: record.topic,
          partition: record.partition,
          offset: String(record.offset),
          timestamp: String(record.timestamp),
          key: record.key === null ? null : Buffer.from(record.key),
          value: input.format === 'avro' ? structuredClone(record.value) : record.value,
          rawValue: raw,
          headers: { ...record.headers },
        };
        try {
          held.replay(message, task.info);
        } catch {
          // Refused when first read too (dead-lettered then), so never held.
        }
      }
    }
  }

  private async processBatch(task: DriverTask, input: InputDefinition, records: readonly TopicRecord[]): Promise<void> {
    const last = records[records.length - 1]!;
    const batch = { input: input.role ?? input.topic, topic: input.topic, lag: this.topics.end(input.topic, task.partition) - last.offset - 1 };
    const { context, outputs, effects } = openContext(task, this.environment, batch, input.deadLetterTopic, this.now);
    for (const record of records) {
      const raw = record.value instanceof Buffer ? record.value : record.value === null ? null : Buffer.from(JSON.stringify(record.value));
      const base: InputMessage = {
        input: input.role ?? input.topic,
        topic: record.topic,
        partition: record.partition,
        offset: String(record.offset),
        timestamp: String(record.timestamp),
        key: record.key === null ? null : Buffer.from(record.key),
        value: record.value,
        rawValue: raw,
        headers: { ...record.headers },
      };
      const marked = readWatermark(base, context);
      if (marked === undefined || (marked !== 'data' && !input.watermarks)) continue;
      let message = marked === 'data' ? base : marked;
      if (marked === 'data' && input.format === 'avro') {
        if (record.value === null || record.value instanceof Buffer) {
          context.deadLetter(base, 'UNDECODABLE_AVRO', 'not an Avro record (the driver takes decoded records on Avro inputs)');
          continue;
        }
        message = { ...base, value: structuredClone(record.value) };
      }
      await processOne(this.definition.process, message, context);
    }
    try {
      await this.definition.afterBatch?.(context);
    } catch (error) {
      this.discard(task);
      throw error;
    }
    if (this.commit(task, { topic: input.topic, next: last.offset + 1 }, outputs)) for (const effect of effects) effect();
  }

  /** Writes a batch's outputs, its stores' changes and its input offset at once; false when it was made to abort. */
  private commit(task: DriverTask, consumed: { topic: string; next: number } | undefined, outputs: QueuedOutput[]): boolean {
    if (this.failingCommits > 0) {
      this.failingCommits -= 1;
      this.discard(task);
      return false;
    }
    for (const output of outputs) {
      const value = output.record !== undefined ? this.encode(output.topic, output.record) : (output.bytes ?? null);
      this.topics.append(output.topic, { key: output.key, value, headers: output.options?.headers, partition: output.options?.partition, timestamp: this.now });
    }
    for (const store of task.stores.values()) {
      for (const change of store.drainChanges()) this.topics.append(change.topic, { key: change.key, value: change.value, partition: change.partition, timestamp: this.now });
    }
    if (consumed !== undefined) {
      const position = commitPosition(BigInt(consumed.next), this.definition.heldInputs?.oldestHeld(task.info, consumed.topic));
      this.committed.set(`${consumed.topic}/${task.partition}`, { offset: Number(position.offset), processed: consumed.next });
    }
    return true;
  }

  /** As the processor does after an abort: the task's state may hold the failed batch, so the partition starts afresh. */
  private discard(task: DriverTask): void {
    if (this.tasks.get(task.partition) !== task) return;
    this.tasks.delete(task.partition);
    this.definition.onRevoked?.(task.info);
  }

  /** Where reading goes on: the position processed through (the held records before it are replayed on restore). */
  private offset(topic: string, partition: number): number {
    return this.committed.get(`${topic}/${partition}`)?.processed ?? 0;
  }
}

/** A logger that writes nothing, without loading pino: the driver loads no I/O library. */
function silentLogger(): Logger {
  const logger: Logger = new Proxy({} as Logger, {
    get: (_target, property) => (property === 'child' ? () => logger : property === 'level' ? 'silent' : () => undefined),
  });
  return logger;
}
