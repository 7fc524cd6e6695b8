import type { IHeaders } from 'kafkajs';
import type { WatermarkMark } from '../event-time/watermark.js';
import type { Logger } from '../logger.js';
import type { KeyValueStore, StoreDefinition } from '../state-store.js';

/**
 * The contract between the runtime and a service's handlers: what a processor
 * reads and keeps (ProcessorDefinition), what a handler is handed
 * (InputMessage, ProcessingContext). The Kafka processor (processor.ts) and
 * the in-memory test driver (testing/) both run handlers through it.
 */
export interface InputDefinition {
  topic: string;
  /** 'avro': decoded through the registry; 'bytes': handed over raw (e.g. JSON validated by the service). */
  format: 'avro' | 'bytes';
  /** Where undecodable or refused messages of this topic go. */
  deadLetterTopic: string;
  /**
   * The topic carries watermark records (event-time/watermark.ts) from the
   * tasks that write it: they reach `process` as messages with `watermark`
   * set. Otherwise they are skipped, so a reader that does not order by event
   * time never sees them.
   */
  watermarks?: boolean;
  /** The input's name in its topology (runtime/topology.ts), handed to the handler as `InputMessage.input`. */
  role?: string;
}

export interface InputMessage<T = unknown> {
  /** The role of the input it came from (its topology's name for it; the topic when the definition names none). */
  input: string;
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  /** Decoded value for 'avro' inputs; the raw bytes for 'bytes' inputs. */
  value: T;
  rawValue: Buffer | null;
  headers: IHeaders;
  /** Set on a watermark record of an input declared `watermarks: true` (its value is then null). */
  watermark?: WatermarkMark;
}

export interface OutputOptions {
  headers?: Record<string, string>;
  /** Defaults to the key's partition (murmur2, as the Java client). */
  partition?: number;
}

/** What a processor can do while handling one batch of one partition. */
export interface ProcessingContext {
  readonly partition: number;
  readonly logger: Logger;
  store<V>(name: string): KeyValueStore<V>;
  /** Queues an Avro record for the topic; written when the batch's transaction commits. */
  send(topic: string, key: string | null, record: object, options?: OutputOptions): void;
  /** Queues a message whose value is already bytes (JSON, or a tombstone when null). */
  sendBytes(topic: string, key: string | null, value: Buffer | null, options?: OutputOptions): void;
  /** Dead-letters the message with a code and a reason; counted, never lost. */
  deadLetter(message: InputMessage, code: string, reason: string): void;
  /**
   * Runs `effect` once the batch's transaction has committed, never if it
   * aborts. Metrics that count what a batch did belong here: an aborted batch
   * is processed again on rebuilt state, and counting it as it is processed
   * would count it twice.
   */
  afterCommit(effect: () => void): void;
  /**
   * Writes this task's watermark to every partition of `topic`, after the
   * outputs queued so far, in the same transaction: source = this partition,
   * sources = the partition count of the processor's first input.
   */
  sendWatermark(topic: string, mark: { time: number; idle: boolean }): void;
  /** Wall-clock time of the batch (ms), read once so that a batch is handled as of one instant. */
  readonly now: number;
  /** The input of this batch (its role in the topology, and its topic) and the messages still behind it there; undefined in a punctuation. */
  readonly batch: { input: string; topic: string; lag: number } | undefined;
  /** The task this batch belongs to: the same object until the partition is assigned again. */
  readonly task: TaskInfo;
  /**
   * Stops fetching this task's partition of `topic` (an input of the
   * processor) until `resumeInput`: records already delivered in the current
   * batch are still processed, and no later batch of it reaches `process`.
   * Punctuation goes on. Pausing changes only when records are read, never
   * which: they wait in the log. A task starts with every input flowing: the
   * pauses of a task end with it (a new assignment, or a task discarded after
   * an aborted transaction).
   */
  pauseInput(topic: string): void;
  resumeInput(topic: string): void;
  isInputPaused(topic: string): boolean;
}

/** What a handler may know of the task a batch belongs to; one object per assignment of a partition. */
export interface TaskInfo {
  readonly partition: number;
  /**
   * Messages each input partition had left to read when this task was assigned (end offset minus committed
   * position, read after the fence). 0: caught up, so a partition that then delivers nothing has nothing to say.
   */
  readonly lagAtAssignment: ReadonlyMap<string, number>;
}

/** What a store lifecycle hook may see of a task: its stores as restored. */
export type RestoredTask = Pick<ProcessingContext, 'partition' | 'task' | 'logger' | 'store' | 'now'>;

/** The handlers of a processor: what runs for each input message, after each batch, and on the clock. */
export interface ProcessorHandler {
  process(message: InputMessage, context: ProcessingContext): void | Promise<void>;
  /** Runs after the batch's messages and before its commit (periodic work: snapshots, expiry). */
  afterBatch?(context: ProcessingContext): void | Promise<void>;
  /**
   * Runs on every ready task each `intervalMs` of wall-clock time, between
   * batches, whether or not input arrives (Kafka Streams' wall-clock
   * punctuation): what it sends and the state it changes commit in a
   * transaction of their own. For work that must happen while an input is
   * quiet, e.g. telling downstream readers that this source is idle.
   */
  punctuate?: { intervalMs: number; run(context: ProcessingContext): void };
  /**
   * Runs once a task's stores are restored, before its first batch or
   * punctuation: a new assignment, or a task started afresh after an aborted
   * transaction. What a handler derives from the stores it builds here.
   */
  onRestored?(task: RestoredTask): void;
  /**
   * Runs once a task is revoked or discarded and its last work has settled:
   * what the handler held for it (by `context.task`) can go.
   */
  onRevoked?(task: TaskInfo): void;
  /**
   * A handler that holds input records in memory only (event-time buffers: SegmentedBuffer with origins), rather
   * than in a changelog: the processor commits, for each input, the offset of the oldest record still held, and the
   * offset processed through beside it (the commit's metadata). After an assignment it reads the records between
   * the two again, once `onRestored` has run and before the task's first batch, and hands each to `replay`, which
   * holds it again if it is still waiting (after the applied frontier the stores restored). Nothing else happens
   * to them: they were processed, so they are not dead-lettered, counted or sent again.
   */
  heldInputs?: {
    /** The offset of the oldest record of `topic` (the task's partition of it) still held; undefined when none is. */
    oldestHeld(task: TaskInfo, topic: string): string | undefined;
    /** A record read again after an assignment (decoded; never a watermark record, nor one its decoder refused). */
    replay(message: InputMessage, task: TaskInfo): void;
  };
}

/** What a processor reads, keeps and writes watermarks to, and its handlers: all a test driver needs to run it. */
export interface ProcessorDefinition extends ProcessorHandler {
  /** Names the service in dead letters. */
  service: string;
  inputs: InputDefinition[];
  stores?: StoreDefinition<unknown>[];
  /** Topics this processor writes watermarks to (`context.sendWatermark`). */
  watermarkOutputs?: string[];
}

/** A header's value as a string, whatever form kafkajs gives it in. */
export function headerValue(headers: IHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}
