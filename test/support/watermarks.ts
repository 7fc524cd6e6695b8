import type { Kafka, Producer } from 'kafkajs';
import { encodeWatermark, WATERMARK_HEADER } from '@sluice/shared';

/**
 * Stands in for the features service's terminal stages in tests that produce
 * vectors straight onto transactions.features: writes, for each of `sources`
 * sources, a watermark record ("everything at or before `time` has been sent") to
 * every partition of `topic`, as a terminal task does after each batch.
 * Readers in event time (fraud, the learner's join) apply nothing until every
 * source has reported, so call this after each batch of vectors, with the
 * newest event time sent (the test producer sends in event-time order).
 */
export class TestWatermarks {
  private partitions?: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly sources: number,
  ) {}

  async send(time: number, idle = false): Promise<void> {
    const partitions = await this.partitionCount();
    const messages = [];
    for (let source = 0; source < this.sources; source++) {
      const header = encodeWatermark({ source, sources: this.sources, time, idle });
      for (let partition = 0; partition < partitions; partition++) messages.push({ partition, key: null, value: null, headers: { [WATERMARK_HEADER]: header } });
    }
    await this.producer.send({ topic: this.topic, messages, acks: -1 });
  }

  private async partitionCount(): Promise<number> {
    if (this.partitions === undefined) {
      const admin = this.kafka.admin();
      await admin.connect();
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: [this.topic] });
        this.partitions = metadata.topics[0]!.partitions.length;
      } finally {
        await admin.disconnect();
      }
    }
    return this.partitions;
  }
}
