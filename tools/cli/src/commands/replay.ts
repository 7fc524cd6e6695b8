import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Partitioners } from 'kafkajs';
import { SingleBar, Presets } from 'cli-progress';
import { SluiceError } from '@sluice/shared';
import { connect } from '../connection.js';
import { RateLimiter } from '../event-sink.js';

export interface ReplayOptions {
  topic?: string;
  rate: number;
  progress: boolean;
}

/**
 * NDJSON into Kafka. A line written by `simulate --out` ({kind, payload}) goes
 * to the raw topic of its kind; any other line goes as it is to --topic. Lines
 * are not validated here: that is ingest's job, and its dead-letter topic's.
 *
 * Through a broker restart the sends wait and retry (connect's waitForBroker),
 * then the replay resumes where it was. The producer is idempotent (acks=all,
 * one request in flight): a retried request carries the same producer id and
 * sequence numbers, so the broker keeps each line once, in order, per
 * partition, even when the first attempt was written but its answer lost.
 * That holds within one run: running the file again writes every line again.
 */
export async function replayCommand(file: string, options: ReplayOptions): Promise<void> {
  const connection = connect({ waitForBroker: true });
  const producer = connection.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const size = statSync(file).size;
  const bar = new SingleBar({ format: 'replay |{bar}| {percentage}% · {lines} lines · {rate} lines/s', stream: process.stderr }, Presets.shades_classic);
  if (options.progress) bar.start(size, 0, { lines: 0, rate: 0 });
  const limiter = new RateLimiter(options.rate);
  const started = performance.now();
  let bytes = 0;
  let lines = 0;
  let acknowledged = 0;
  let batch = new Map<string, { key: string | null; value: string }[]>();
  const flush = async () => {
    const topicMessages = [...batch].map(([topic, messages]) => ({ topic, messages }));
    batch = new Map();
    if (topicMessages.length > 0) {
      try {
        await producer.sendBatch({ topicMessages, acks: -1 });
      } catch (error) {
        // Lines up to `acknowledged` are in Kafka; the ones after it may or may not be.
        throw new SluiceError('REPLAY_SEND_FAILED', `the broker did not acknowledge the records after the first ${acknowledged} non-empty lines (those are in Kafka, the later ones may be): ${String(error)}`, { cause: error });
      }
    }
    acknowledged = lines;
  };
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    bytes += Buffer.byteLength(line) + 1;
    if (line.trim() === '') continue;
    const { topic, key, value } = route(line, options.topic, connection.topics);
    const messages = batch.get(topic) ?? [];
    messages.push({ key, value });
    batch.set(topic, messages);
    lines += 1;
    if (lines % 500 === 0) {
      await flush();
      if (options.progress) bar.update(bytes, { lines, rate: Math.round(lines / ((performance.now() - started) / 1000)) });
    }
    await limiter.tick();
  }
  await flush();
  await producer.disconnect();
  if (options.progress) {
    bar.update(size, { lines });
    bar.stop();
  }
  process.stderr.write(`${lines} lines replayed in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

function route(line: string, topic: string | undefined, topics: { transactionsRaw: string; labelsRaw: string }) {
  try {
    const parsed = JSON.parse(line) as { kind?: unknown; payload?: { customer_id?: unknown } };
    if ((parsed.kind === 'transaction' || parsed.kind === 'label') && parsed.payload && typeof parsed.payload === 'object') {
      return {
        topic: parsed.kind === 'transaction' ? topics.transactionsRaw : topics.labelsRaw,
        key: typeof parsed.payload.customer_id === 'string' ? parsed.payload.customer_id : null,
        value: JSON.stringify(parsed.payload),
      };
    }
  } catch {
    // Not JSON: still replayed as is, so that ingest's validation and dead-lettering can be exercised.
  }
  if (!topic) throw new Error(`line is not a simulated event and no --topic was given: ${line.slice(0, 80)}`);
  return { topic, key: null, value: line };
}
