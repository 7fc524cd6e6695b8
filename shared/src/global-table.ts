import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { decodeWatermark, WATERMARK_HEADER, type WatermarkMark } from './event-time/watermark.js';
import type { Logger } from './logger.js';
import { headerValue } from './processor.js';
import { ConsumerRecovery, exitingRecovery, type RecoveryPolicy } from './recovery.js';
import type { AvroSerde } from './serde.js';

/**
 * Follows a whole topic on every instance (Kafka Streams' GlobalKTable): a
 * consumer group of its own, never committing, from the beginning, committed
 * data only. `caughtUp` resolves once everything present at start has been
 * read, so a service can wait for it before it processes anything. A
 * crashed consumer is replaced by a new one reading from the beginning again
 * (it never commits), within the recovery policy's deadline.
 */
export class GlobalTableFollower<T> {
  private consumer?: Consumer;
  private readonly groupId: string;
  readonly caughtUp: Promise<void>;
  private markCaughtUp!: () => void;
  private readonly recovery: ConsumerRecovery;
  private remaining = new Map<number, bigint>();
  private running = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly serde: AvroSerde,
    private readonly topic: string,
    private readonly onRecord: (key: string | null, value: T) => void,
    private readonly logger: Logger,
    groupPrefix: string,
    private readonly onUndecodable: (error: unknown) => void = () => undefined,
    recovery: RecoveryPolicy = exitingRecovery(logger),
    /** Records with the watermark header (a writer's progress, e.g. the learner's) carry no table entry: they go here. */
    private readonly onWatermark: (mark: WatermarkMark) => void = () => undefined,
  ) {
    this.groupId = `${groupPrefix}-${randomUUID()}`;
    this.caughtUp = new Promise((resolve) => (this.markCaughtUp = resolve));
    this.recovery = new ConsumerRecovery({ name: this.groupId, logger, policy: recovery, restart: () => this.restartConsumer() });
  }

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(this.topic);
    await admin.disconnect();
    this.remaining = new Map(ends.filter((end) => BigInt(end.high) > BigInt(end.low)).map((end) => [end.partition, BigInt(end.high)]));
    if (this.remaining.size === 0) this.markCaughtUp();
    this.running = true;
    await this.startConsumer();
  }

  /** False once the consumer has stayed crashed past the recovery deadline. */
  healthy(): boolean {
    return !this.recovery.gaveUp;
  }

  private async startConsumer(): Promise<void> {
    const consumer = this.kafka.consumer({ groupId: this.groupId, readUncommitted: false });
    this.consumer = consumer;
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const end = this.remaining.get(payload.partition);
      if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) this.remaining.delete(payload.partition);
      if (this.remaining.size === 0) this.markCaughtUp();
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (this.consumer === consumer) this.recovery.joined();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.consumer === consumer && this.running) this.recovery.crashed(payload.error, payload.restart);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        const watermark = message.headers ? headerValue(message.headers, WATERMARK_HEADER) : undefined;
        if (watermark !== undefined) {
          const mark = decodeWatermark(watermark);
          if (mark) this.onWatermark(mark);
          else this.logger.warn({ topic: this.topic, partition, offset: message.offset, header: watermark }, 'skipping a malformed watermark record of the global table');
          return;
        }
        try {
          this.onRecord(message.key?.toString('utf8') ?? null, await this.serde.decode<T>(message.value ?? null));
        } catch (error) {
          this.onUndecodable(error);
          this.logger.error({ err: error, topic: this.topic, partition, offset: message.offset }, 'skipping a record of the global table that cannot be decoded');
        }
      },
    });
  }

  /** Records read again are offered again: the reader keeps the newest it has seen, so that changes nothing. */
  private async restartConsumer(): Promise<void> {
    if (!this.running) return;
    await this.consumer?.disconnect().catch(() => undefined);
    if (this.running) await this.startConsumer();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.recovery.stop();
    await this.consumer?.disconnect();
    const admin = this.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([this.groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
