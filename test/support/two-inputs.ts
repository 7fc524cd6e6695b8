import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { createMetricsRegistry, StreamProcessor, type ProcessorHandler } from '@sluice/shared';
import { createTopics, testKafka, testLogger, testSerde, uniquePrefix } from './kafka.js';

/**
 * The shape of the processor tests that need a task with two inputs: topics `a` and `b` (one partition each, read
 * as bytes by one task), `out` for what it writes and a dead-letter topic, under a fresh prefix. `newProcessor` builds
 * a StreamProcessor over them with the handler given (not started); every processor built shares the group.
 */
export async function twoInputTopics(name: string) {
  const prefix = uniquePrefix(name);
  const kafka = testKafka();
  const [a, b, out, deadLetters] = [`${prefix}a`, `${prefix}b`, `${prefix}out`, `${prefix}dlq`];
  await createTopics(
    kafka,
    [a, b, out, deadLetters].map((topic) => ({ name: topic, partitions: 1, cleanupPolicy: 'delete' as const })),
  );
  const newProcessor = (handler: ProcessorHandler, metrics = createMetricsRegistry(`${name}-test`)) =>
    new StreamProcessor({
      ...handler,
      service: `${name}-test`,
      kafka,
      serde: testSerde(),
      logger: testLogger,
      metrics,
      groupId: `${prefix}group`,
      transactionalIdPrefix: `${prefix}group`,
      inputs: [a, b].map((topic) => ({ topic, format: 'bytes' as const, deadLetterTopic: deadLetters })),
    });
  return { kafka, a, b, out, newProcessor };
}

/** Every value written to `topic` (read committed, from the beginning), as it arrives, as text; `stop` disconnects. */
export async function followValues(kafka: Kafka, topic: string): Promise<{ seen: string[]; stop: () => Promise<void> }> {
  const seen: string[] = [];
  const reader = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, readUncommitted: false });
  await reader.connect();
  await reader.subscribe({ topics: [topic], fromBeginning: true });
  await reader.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
  return { seen, stop: () => reader.disconnect() };
}
