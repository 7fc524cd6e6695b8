import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs';
import {
  AvroSerde,
  createLogger,
  createSchemaRegistry,
  ensureTopics,
  isWatermarkRecord,
  type TopicDeclaration,
} from '@sluice/shared';
import { pipelineTopics } from '../../tools/cli/src/pipeline-topology.js';

export const testLogger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'warn');

/** A topic prefix unique to one test, so tests share the broker but never each other's data. */
export function uniquePrefix(name: string): string {
  return `test-${name}-${randomUUID().slice(0, 8)}.`;
}

export function testKafka(): Kafka {
  return new Kafka({ clientId: 'sluice-test', brokers: inject('kafkaBrokers').split(','), logLevel: logLevel.NOTHING });
}

export function testSerde(): AvroSerde {
  return new AvroSerde(createSchemaRegistry({ SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl') }));
}

/** Environment for a service process pointed at the test stack with a topic prefix. */
export function serviceEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    KAFKA_BROKERS: inject('kafkaBrokers'),
    SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
    SLUICE_TOPIC_PREFIX: prefix,
    METRICS_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    ...extra,
  };
}

export async function createTopics(kafka: Kafka, topics: TopicDeclaration[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, topics, 1);
  } finally {
    await admin.disconnect();
  }
}

export async function createPipelineTopics(kafka: Kafka, prefix: string, partitions = 6): Promise<void> {
  await createTopics(kafka, pipelineTopics({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: partitions }));
}

export async function produce(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let start = 0; start < messages.length; start += 500) {
      await producer.send({ topic, messages: messages.slice(start, start + 500), acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Reads a topic from the beginning with read_committed (skipping watermark
 * records, which carry no data) until `count` messages
 * have arrived and then `settleMs` more pass without a new one (so that
 * duplicates beyond the count would be seen), or until the timeout.
 */
export async function consumeAll(
  kafka: Kafka,
  topic: string,
  options: { count: number; timeoutMs?: number; settleMs?: number },
): Promise<ConsumedMessage[]> {
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, readUncommitted: false });
  const received: ConsumedMessage[] = [];
  let lastArrival = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic: from, partition, message }) => {
      if (isWatermarkRecord(message.headers)) return;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) if (value !== undefined) headers[name] = value.toString();
      received.push({ topic: from, partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value, headers });
      lastArrival = Date.now();
    },
  });
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const settleMs = options.settleMs ?? 3_000;
  try {
    while (Date.now() < deadline) {
      if (received.length >= options.count && Date.now() - lastArrival >= settleMs) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await consumer.disconnect();
  }
  return received;
}

/**
 * Follows a topic of Avro records with a transaction_id (read_committed, from the beginning) in the background,
 * keeping the last copy of each by id and counting every copy, so a repeat shows as copies > ids.
 */
export async function followByTransaction<T extends { transaction_id: string }>(kafka: Kafka, serde: AvroSerde, topic: string) {
  const records = new Map<string, T>();
  let copies = 0;
  const consumer = kafka.consumer({ groupId: `test-follow-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (isWatermarkRecord(message.headers)) return;
      const record = await serde.decode<T>(message.value);
      records.set(record.transaction_id, record);
      copies += 1;
    },
  });
  return {
    records,
    copies: () => copies,
    async waitFor(count: number, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (records.size < count) {
        if (Date.now() > deadline) throw new Error(`only ${records.size} of ${count} records of ${topic} arrived within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    stop: () => consumer.disconnect(),
  };
}

/**
 * Records on the topics (high − low watermark summed over partitions). Each
 * attempt uses a fresh admin client: kafkajs's admin keeps its metadata when a
 * partition's leader has moved (a broker restarted, a node killed or back) and
 * gives up with NOT_LEADER (seen in broker-restart.int.test.ts just after the
 * restart), where a new client reads the metadata anew.
 */
export async function recordCount(kafka: Kafka, topics: string[], attempts = 10): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      let total = 0;
      for (const topic of topics) for (const { high, low } of await admin.fetchTopicOffsets(topic)) total += Number(high) - Number(low);
      return total;
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await admin.disconnect();
    }
  }
}
