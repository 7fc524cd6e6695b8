import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { WATERMARK_HEADER } from '../event-time/watermark.js';
import type { Logger } from '../logger.js';
import type { AvroSerde } from '../serde.js';
import { readPartitions, type PartitionRange } from '../state-store.js';
import type { InputDefinition, InputMessage, ProcessorHandler, TaskInfo } from './contract.js';
import type { CommittedPosition } from './tasks.js';

/** The parts of the inputs to read again after an assignment: from each committed offset to the position processed through. */
export function heldRanges(positions: readonly CommittedPosition[]): PartitionRange[] {
  const ranges: PartitionRange[] = [];
  for (const { topic, partition, offset, processed } of positions) {
    if (offset !== undefined && processed !== undefined && BigInt(processed) > BigInt(offset)) ranges.push({ topic, partition, from: offset, to: BigInt(processed) });
  }
  return ranges;
}

/**
 * Reads again the records the tasks' previous owner had processed and still held in memory only, and hands each to
 * the handler's `replay` (ProcessorHandler.heldInputs), in offset order per partition, decoded as the processor
 * decodes them. Watermark records and records the decoder refuses were dealt with when first read: skipped.
 * Returns the records handed over.
 */
export async function replayHeldRecords(
  kafka: Kafka,
  admin: Admin,
  serde: AvroSerde,
  inputs: ReadonlyMap<string, InputDefinition>,
  ranges: readonly PartitionRange[],
  tasks: ReadonlyMap<number, TaskInfo>,
  held: NonNullable<ProcessorHandler['heldInputs']>,
  logger: Logger,
): Promise<number> {
  if (ranges.length === 0) return 0;
  const read: { topic: string; partition: number; message: KafkaMessage }[] = [];
  await readPartitions(kafka, admin, ranges, (topic, partition, message) => read.push({ topic, partition, message }), logger);
  let replayed = 0;
  for (const { topic, partition, message } of read) {
    const task = tasks.get(partition);
    const input = inputs.get(topic);
    if (task === undefined || input === undefined || message.headers?.[WATERMARK_HEADER] !== undefined) continue;
    let value: unknown = message.value;
    if (input.format === 'avro') {
      try {
        value = await serde.decode(message.value ?? null);
      } catch {
        continue;
      }
    }
    const replay: InputMessage = {
      input: input.role ?? topic,
      topic,
      partition,
      offset: message.offset,
      timestamp: message.timestamp,
      key: message.key ?? null,
      value,
      rawValue: message.value ?? null,
      headers: message.headers ?? {},
    };
    try {
      held.replay(replay, task);
      replayed += 1;
    } catch {
      // Refused when first read too (dead-lettered then), so never held.
    }
  }
  return replayed;
}
