import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { isWatermarkRecord } from '@sluice/shared';

export interface Followed<T> {
  partition: number;
  offset: string;
  key: string | null;
  /** Decoded, or null for a tombstone. */
  value: T | null;
}

/**
 * Reads a topic from the beginning for the whole of a test, committed data
 * only, and keeps every record in arrival (per partition: offset) order, so a
 * test can wait for what it expects without re-reading the topic each time.
 */
export class TopicFollower<T> {
  readonly records: Followed<T>[] = [];
  private consumer?: Consumer;

  private constructor(readonly topic: string) {}

  /** `decode`: e.g. `(bytes) => serde.decode(bytes)` for Avro, `JSON.parse` for a changelog. */
  static async start<T>(kafka: Kafka, topic: string, decode: (bytes: Buffer) => T | Promise<T>): Promise<TopicFollower<T>> {
    const follower = new TopicFollower<T>(topic);
    const consumer = kafka.consumer({ groupId: `test-follower-${randomUUID()}`, readUncommitted: false });
    follower.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        // Watermark records (on learner.examples, and the learner's progress on model.updates) carry no data.
        if (isWatermarkRecord(message.headers)) return;
        const value = message.value === null ? null : await decode(message.value);
        follower.records.push({ partition, offset: message.offset, key: message.key?.toString('utf8') ?? null, value });
      },
    });
    return follower;
  }

  values(): T[] {
    return this.records.flatMap((record) => (record.value === null ? [] : [record.value]));
  }

  /** Polls until `done()` holds; on timeout throws with `describe()`'s account of what is missing. */
  async waitFor(done: () => boolean, what: string, timeoutMs = 60_000, describe: () => string = () => ''): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`${this.topic}: ${what} not within ${timeoutMs} ms ${describe()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/**
 * Snapshot versions that repeat or go back (each one after its predecessor in reading order): a zombie trainer's.
 * Gaps are allowed: model.updates is compacted, and a test run writes more than a 64 MiB segment of snapshots (72 MB
 * in one partition, measured 2026-12-02), so the log cleaner may drop superseded versions before a follower reads
 * them (a CI run read versions 1-564, then 834 on).
 */
export function versionsGoingBack(versions: readonly number[]): number[] {
  return versions.slice(1).filter((version, i) => version <= versions[i]!);
}
