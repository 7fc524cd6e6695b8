import type { KafkaMessage } from 'kafkajs';
import { SluiceError } from '../errors.js';
import type { AvroSerde } from '../serde.js';
import type { InputDefinition, InputMessage, ProcessingContext } from './contract.js';
import { readWatermark } from './processing-context.js';

/**
 * A fetched message as its handler receives it: an Avro input's value decoded
 * through the registry (one it cannot decode is dead-lettered), a bytes
 * input's as it is, a watermark record with `watermark` set (readWatermark).
 * Undefined when the message was dead-lettered.
 */
export async function decodeInput(serde: AvroSerde, message: KafkaMessage, topic: string, partition: number, input: InputDefinition, context: ProcessingContext): Promise<InputMessage | undefined> {
  const base: InputMessage = {
    input: input.role ?? topic,
    topic,
    partition,
    offset: message.offset,
    timestamp: message.timestamp,
    key: message.key ?? null,
    value: message.value,
    rawValue: message.value ?? null,
    headers: message.headers ?? {},
  };
  const marked = readWatermark(base, context);
  if (marked !== 'data') return marked;
  if (input.format === 'bytes') return base;
  try {
    return { ...base, value: await serde.decode(message.value ?? null) };
  } catch (error) {
    const reason = error instanceof SluiceError ? error.reason : String(error);
    context.deadLetter(base, 'UNDECODABLE_AVRO', reason);
    return undefined;
  }
}
