import { buildDeadLetter, deadLetterHeaders } from '../dead-letter.js';
import { SluiceError } from '../errors.js';
import { decodeWatermark, encodeWatermark, WATERMARK_HEADER } from '../event-time/watermark.js';
import type { Logger } from '../logger.js';
import type { KeyValueStore } from '../state-store.js';
import { headerValue, type InputMessage, type OutputOptions, type ProcessingContext, type RestoredTask, type TaskInfo } from './contract.js';
import type { TaskInputs } from './input-pauses.js';

/** An output a batch (or punctuation) queued: written when its transaction commits. */
export interface QueuedOutput {
  topic: string;
  key: string | null;
  /** An Avro record, encoded at commit... */
  record?: object;
  /** ...or bytes as they are (null: a tombstone, or a watermark record's empty value). */
  bytes?: Buffer | null;
  options?: OutputOptions;
}

/** What a context needs of its task. */
export interface ContextTask {
  readonly partition: number;
  readonly info: TaskInfo;
  readonly stores: ReadonlyMap<string, KeyValueStore<unknown>>;
  readonly inputs: TaskInputs;
}

/** What a context needs of the processor it runs in. */
export interface ContextEnvironment {
  readonly service: string;
  readonly logger: Logger;
  /** The dead-letter topic of an input topic. */
  deadLetterTopicOf(topic: string): string | undefined;
  /** Partitions of an input or watermark output; undefined for a topic the processor did not declare. */
  partitionCount(topic: string): number | undefined;
  /** The processor's first input: its partition count is the number of sources a watermark speaks for. */
  readonly sourcesTopic: string;
  /** After a pause or resume (for the gauge of paused inputs). */
  pausesChanged(): void;
  /** Counts a dead letter; called after the commit. */
  deadLettered(topic: string, code: string): void;
}

export interface OpenContext {
  context: ProcessingContext;
  outputs: QueuedOutput[];
  effects: (() => void)[];
  deadLettered(): number;
}

/** A task's store by name; the handler names the type of its values (the topology declares them). */
export function storeOf<V>(stores: ReadonlyMap<string, KeyValueStore<unknown>>, name: string): KeyValueStore<V> {
  const store = stores.get(name);
  if (!store) throw new SluiceError('UNKNOWN_STORE', `no store named ${name}`);
  return store as KeyValueStore<V>;
}

/** What a handler's onRestored hook sees of a task whose stores are restored (the processor's and the test driver's). */
export function restoredTask(task: { partition: number; info: TaskInfo; stores: ReadonlyMap<string, KeyValueStore<unknown>> }, logger: Logger, now: number): RestoredTask {
  return { partition: task.partition, task: task.info, logger, now, store: <V>(name: string) => storeOf<V>(task.stores, name) };
}

/** A context for one batch (or punctuation) of a task: what it queues is committed, with the state's changes, in one transaction. */
export function openContext(
  task: ContextTask,
  environment: ContextEnvironment,
  batch: ProcessingContext['batch'],
  fallbackDeadLetterTopic: string,
  now: number,
): OpenContext {
  const outputs: QueuedOutput[] = [];
  const effects: (() => void)[] = [];
  let deadLettered = 0;
  const context: ProcessingContext = {
    partition: task.partition,
    logger: environment.logger,
    now,
    batch,
    task: task.info,
    store: <V>(name: string) => storeOf<V>(task.stores, name),
    send: (topic, key, record, options) => outputs.push({ topic, key, record, options }),
    sendBytes: (topic, key, bytes, options) => outputs.push({ topic, key, bytes, options }),
    sendWatermark: (topic, mark) => {
      const partitions = environment.partitionCount(topic);
      const sources = environment.partitionCount(environment.sourcesTopic);
      if (partitions === undefined || sources === undefined) {
        throw new SluiceError('WATERMARK_TOPIC_UNDECLARED', `${topic} is not among this processor's watermarkOutputs`);
      }
      const header = encodeWatermark({ source: task.partition, sources, time: mark.time, idle: mark.idle });
      for (let partition = 0; partition < partitions; partition++) {
        outputs.push({ topic, key: null, bytes: null, options: { partition, headers: { [WATERMARK_HEADER]: header } } });
      }
    },
    afterCommit: (effect) => effects.push(effect),
    pauseInput: (topic) => {
      task.inputs.pause(topic);
      environment.pausesChanged();
    },
    resumeInput: (topic) => {
      task.inputs.resume(topic);
      environment.pausesChanged();
    },
    isInputPaused: (topic) => task.inputs.isPaused(topic),
    deadLetter: (message, code, reason) => {
      deadLettered += 1;
      context.afterCommit(() => environment.deadLettered(message.topic, code));
      const letter = buildDeadLetter(
        { topic: message.topic, partition: message.partition, offset: message.offset, timestamp: message.timestamp, key: message.key, value: message.rawValue },
        code,
        reason,
        environment.service,
        now,
      );
      outputs.push({
        topic: environment.deadLetterTopicOf(message.topic) ?? fallbackDeadLetterTopic,
        key: message.key?.toString('utf8') ?? null,
        bytes: Buffer.from(JSON.stringify(letter)),
        options: { headers: deadLetterHeaders(letter) },
      });
    },
  };
  return { context, outputs, effects, deadLettered: () => deadLettered };
}

/**
 * An input message as it arrives, before its value is decoded: a watermark
 * record becomes a message with `watermark` set (value null); one whose header
 * does not parse is dead-lettered (undefined).
 */
export function readWatermark(message: InputMessage, context: ProcessingContext): InputMessage | 'data' | undefined {
  const header = headerValue(message.headers, WATERMARK_HEADER);
  if (header === undefined) return 'data';
  const watermark = decodeWatermark(header);
  if (watermark === undefined) {
    context.deadLetter(message, 'WATERMARK_INVALID', `the ${WATERMARK_HEADER} header '${header}' is not source/sources/time/state`);
    return undefined;
  }
  return { ...message, value: null, watermark };
}

/**
 * Runs the handler on one message. Input must never stop the pipeline: a
 * processing failure is dead-lettered with its code and reason (a SluiceError
 * says what was wrong; anything else is a bug, logged with its stack).
 */
export async function processOne(process: (message: InputMessage, context: ProcessingContext) => void | Promise<void>, message: InputMessage, context: ProcessingContext): Promise<void> {
  try {
    await process(message, context);
  } catch (error) {
    const code = error instanceof SluiceError ? error.code : 'PROCESSING_FAILED';
    const reason = error instanceof SluiceError ? error.reason : error instanceof Error ? error.message : String(error);
    if (!(error instanceof SluiceError)) context.logger.error({ err: error, topic: message.topic, offset: message.offset }, 'processing failed');
    context.deadLetter(message, code, reason);
  }
}
