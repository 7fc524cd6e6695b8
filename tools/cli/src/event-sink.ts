import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Partitioners, type Message, type Producer } from 'kafkajs';
import type { Connection } from './connection.js';
import type { SimulatedEvent } from './simulator/index.js';

/** Where simulated or replayed events go: a Kafka topic pair or an NDJSON file. */
export interface EventSink {
  write(event: SimulatedEvent): Promise<void>;
  close(): Promise<void>;
}

/**
 * Batches of events into the raw topics with an idempotent producer (acks=all,
 * one request in flight): a request retried through a broker restart keeps its
 * producer id and sequence numbers, so the broker keeps each event once per
 * partition. A connection made with `waitForBroker` waits out the restart.
 */
export class KafkaEventSink implements EventSink {
  private readonly pending = new Map<string, Message[]>();
  private producer?: Producer;
  private count = 0;

  constructor(
    private readonly connection: Connection,
    private readonly batchSize = 500,
  ) {}

  async open(): Promise<this> {
    this.producer = this.connection.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    return this;
  }

  async write(event: SimulatedEvent): Promise<void> {
    const topic = event.kind === 'transaction' ? this.connection.topics.transactionsRaw : this.connection.topics.labelsRaw;
    const messages = this.pending.get(topic) ?? [];
    messages.push({ key: event.payload.customer_id, value: JSON.stringify(event.payload) });
    this.pending.set(topic, messages);
    if (++this.count % this.batchSize === 0) await this.flush();
  }

  async flush(): Promise<void> {
    const topicMessages = [...this.pending].filter(([, messages]) => messages.length > 0).map(([topic, messages]) => ({ topic, messages }));
    this.pending.clear();
    if (topicMessages.length > 0) await this.producer!.sendBatch({ topicMessages, acks: -1 });
  }

  async close(): Promise<void> {
    await this.flush();
    await this.producer?.disconnect();
  }
}

export class FileEventSink implements EventSink {
  private readonly stream: WriteStream;

  constructor(path: string) {
    this.stream = createWriteStream(path);
  }

  async write(event: SimulatedEvent): Promise<void> {
    if (!this.stream.write(`${JSON.stringify(event)}\n`)) await new Promise<void>((resolve) => this.stream.once('drain', () => resolve()));
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
}

/** Paces writes to a target rate (events per second); 0 means as fast as possible. */
export class RateLimiter {
  private readonly started = performance.now();
  private sent = 0;

  constructor(private readonly perSecond: number) {}

  async tick(): Promise<void> {
    this.sent += 1;
    if (this.perSecond <= 0) return;
    const due = this.started + (this.sent / this.perSecond) * 1000;
    const wait = due - performance.now();
    if (wait > 5) await sleep(wait);
  }
}
