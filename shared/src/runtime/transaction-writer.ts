import type { Message, Producer } from 'kafkajs';
import { WATERMARK_HEADER } from '../event-time/watermark.js';
import { retrying } from '../retry.js';
import type { AvroSerde } from '../serde.js';
import type { PartitionStore } from '../state-store.js';
import { commitPosition } from './held-positions.js';
import type { QueuedOutput } from './processing-context.js';

/** What a committed transaction wrote, by topic: data records, and watermark records apart (they carry no data). */
export interface Written {
  records: Map<string, number>;
  watermarks: Map<string, number>;
}

export interface Consumed {
  groupId: string;
  topic: string;
  partition: number;
  lastOffset: string;
  /** The handler's oldest record of this input still held in memory only (ProcessorHandler.heldInputs). */
  oldestHeld?: string;
}

/**
 * Writes what a task's batches (or a punctuation) produced in one
 * transaction of the task's producer: the outputs (Avro records encoded now),
 * its stores' changes (changelog records) and, for batches, the input offset
 * after each (or the oldest record still held, with that offset as its
 * metadata: held-positions.ts). On any failure the transaction is aborted and the error thrown:
 * the caller's in-memory state then holds changes that did not commit.
 */
export async function writeTransaction(
  producer: Producer,
  serde: AvroSerde,
  outputs: readonly QueuedOutput[],
  stores: Iterable<PartitionStore<unknown>>,
  consumed: readonly Consumed[],
): Promise<Written> {
  const transaction = await producer.transaction();
  const outgoing: OutgoingMessage[] = [];
  try {
    for (const output of outputs) {
      const value = output.record ? await serde.encode(output.topic, output.record) : (output.bytes ?? null);
      outgoing.push({ topic: output.topic, message: { key: output.key, value, headers: output.options?.headers, partition: output.options?.partition } });
    }
    for (const store of stores) {
      for (const record of store.drainChanges()) outgoing.push({ topic: record.topic, message: { key: record.key, value: record.value, partition: record.partition } });
    }
    for (const topicMessages of requestsUnder(outgoing, MAX_REQUEST_BYTES)) {
      await whileTransactionSettles(() => transaction.sendBatch({ topicMessages }));
    }
    // One task's batches: one group, one partition of each input.
    const [first] = consumed;
    if (first !== undefined) {
      await whileTransactionSettles(() =>
        transaction.sendOffsets({
          consumerGroupId: first.groupId,
          topics: consumed.map((offset) => ({ topic: offset.topic, partitions: [{ partition: offset.partition, ...commitPosition(BigInt(offset.lastOffset) + 1n, offset.oldestHeld) }] })),
        }),
      );
    }
    await transaction.commit();
  } catch (error) {
    await transaction.abort().catch(() => undefined);
    throw error;
  }
  const written: Written = { records: new Map(), watermarks: new Map() };
  for (const { topic, message } of outgoing) {
    const counts = message.headers?.[WATERMARK_HEADER] === undefined ? written.records : written.watermarks;
    counts.set(topic, (counts.get(topic) ?? 0) + 1);
  }
  return written;
}

/**
 * Half the broker's default message.max.bytes (1 MiB): kafkajs sends one
 * record batch per partition per request, and the broker refuses a batch
 * larger than that limit, so a big batch of outputs and changelog records
 * (many entity states after a 1 MB input batch) goes in several requests of
 * the same transaction.
 */
const MAX_REQUEST_BYTES = 512 * 1024;

function messageBytes(message: Message): number {
  let bytes = 64 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
  for (const [name, value] of Object.entries(message.headers ?? {})) bytes += name.length + String(value ?? '').length;
  return bytes;
}

interface OutgoingMessage {
  topic: string;
  message: Message;
}

/** The messages in order, grouped by topic into requests of at most `maxBytes` (one oversized message goes alone). */
function* requestsUnder(outgoing: readonly OutgoingMessage[], maxBytes: number): Generator<{ topic: string; messages: Message[] }[]> {
  let request = new Map<string, Message[]>();
  let bytes = 0;
  for (const { topic, message } of outgoing) {
    const size = messageBytes(message);
    if (bytes > 0 && bytes + size > maxBytes) {
      yield [...request].map(([target, messages]) => ({ topic: target, messages }));
      request = new Map();
      bytes = 0;
    }
    const messages = request.get(topic);
    if (messages) messages.push(message);
    else request.set(topic, [message]);
    bytes += size;
  }
  if (bytes > 0) yield [...request].map(([target, messages]) => ({ topic: target, messages }));
}

/**
 * Retries a transactional request the coordinator refused with
 * CONCURRENT_TRANSACTIONS: the previous transaction's commit markers are still
 * being written, so the request had no effect and can be sent again (as the
 * Java producer does). kafkajs does not retry AddOffsetsToTxn itself. By this
 * code only, not kafkajs's retriable flag (errors.ts isRetriable): kafkajs marks
 * a timed-out request retriable too, and a Produce that timed out may have
 * been written, so sending it again could write it twice in the transaction.
 */
function whileTransactionSettles<T>(request: () => Promise<T>): Promise<T> {
  return retrying(request, {
    attempts: 9,
    delayMs: (attempt) => 20 * 2 ** (attempt - 1),
    retriable: (error) => error instanceof Error && (error as { type?: string }).type === 'CONCURRENT_TRANSACTIONS',
  });
}
