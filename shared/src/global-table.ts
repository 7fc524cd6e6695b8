import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from './logger.js';
import type { AvroSerde } from './serde.js';

/**
 * Follows a whole topic on every instance (Kafka Streams' GlobalKTable): a
 * consumer group of its own, never committing, from the beginning, committed
 * data only. `caughtUp` resolves once everything present at start has been
 * read, so a service can wait for it before it processes anything.
 */
export class GlobalTableFollower<T> {
  private consumer?: Consumer;
  private readonly groupId: string;
  readonly caughtUp: Promise<void>;
  private markCaughtUp!: () => void;

  constructor(
    private readonly kafka: Kafka,
    private readonly serde: AvroSerde,
    private readonly topic: string,
    private readonly onRecord: (key: string | null, value: T) => void,
    private readonly logger: Logger,
    groupPrefix: string,
    private readonly onUndecodable: (error: unknown) => void = () => undefined,
  ) {
    this.groupId = `${groupPrefix}-${randomUUID()}`;
    this.caughtUp = new Promise((resolve) => (this.markCaughtUp = resolve));
  }

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(this.topic);
    await admin.disconnect();
    const remaining = new Map(ends.filter((end) => BigInt(end.high) > BigInt(end.low)).map((end) => [end.partition, BigInt(end.high)]));
    if (remaining.size === 0) this.markCaughtUp();
    this.consumer = this.kafka.consumer({ groupId: this.groupId, readUncommitted: false });
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const end = remaining.get(payload.partition);
      if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) remaining.delete(payload.partition);
      if (remaining.size === 0) this.markCaughtUp();
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        try {
          this.onRecord(message.key?.toString('utf8') ?? null, await this.serde.decode<T>(message.value ?? null));
        } catch (error) {
          this.onUndecodable(error);
          this.logger.error({ err: error, topic: this.topic, partition, offset: message.offset }, 'skipping a record of the global table that cannot be decoded');
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    const admin = this.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([this.groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
