import { topicNames, type Label, type Transaction, type TypedHandler } from '@sluice/shared';
import { TopologyTestDriver } from '@sluice/shared/testing';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DEDUP_OPTIONS } from '../src/dedup.js';
import { IngestMetrics } from '../src/ingest-metrics.js';
import { IngestProcessor, SEEN_TRANSACTIONS_STORE } from '../src/ingest-processor.js';
import { IngestWatermarks } from '../src/ingest-watermarks.js';
import { ingestTopology, type IngestInputs } from '../src/topology.js';
import { DEFAULT_VALIDATION_LIMITS } from '../src/validation.js';

const topics = topicNames('');
const topology = ingestTopology({ SLUICE_TOPIC_PREFIX: '', TOPIC_PARTITIONS: 3 }).processors.ingest;

/** The ingest handlers as main.ts wires them (a new instance per call: a crash loses it). */
function ingest(): TypedHandler<IngestInputs> {
  const metrics = new IngestMetrics(new Registry());
  const watermarks = new IngestWatermarks(topics, { disorderMs: 0, idleTimeoutMs: 10_000 });
  const processor = new IngestProcessor(topics, { limits: DEFAULT_VALIDATION_LIMITS, dedup: DEFAULT_DEDUP_OPTIONS }, metrics, watermarks);
  return {
    process: (message, context) => processor.process(message, context),
    onRestored: (task) => processor.onRestored(task),
    onRevoked: (task) => processor.onRevoked(task),
    punctuate: { intervalMs: 1_000, run: (context) => watermarks.send(context) },
    afterBatch: (context) => {
      watermarks.afterBatch(context);
      processor.noteDedupSizes(context);
    },
  };
}

const NOW = Date.UTC(2024, 5, 1, 12);
const transaction = (n: number) => ({
  key: `c${n % 5}`,
  value: JSON.stringify({ transaction_id: `tx-${n}`, customer_id: `c${n % 5}`, terminal_id: `t${n % 3}`, amount: 10 + n, timestamp: NOW - 60_000 + n, currency: 'EUR' }),
});
const label = (n: number) => ({
  key: `c${n % 5}`,
  value: JSON.stringify({ transaction_id: `tx-${n}`, customer_id: `c${n % 5}`, terminal_id: `t${n % 3}`, tx_timestamp: NOW - 60_000 + n, is_fraud: n % 4 === 0, labeled_at: NOW - 1_000 }),
});
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => from + index);

describe('ingest handlers through the test driver', () => {
  it('writes valid records by customer, dead-letters invalid ones with their code, drops duplicates, and marks its outputs', async () => {
    const driver = new TopologyTestDriver(topology, ingest, { partitions: 3, now: NOW });
    driver.pipe(topics.transactionsRaw, [...range(0, 20).map(transaction), transaction(3), { key: 'c1', value: '{"transaction_id": ' }]);
    driver.pipe(topics.labelsRaw, range(0, 4).map(label));
    await driver.run();

    const valid = driver.outputs(topics.transactionsValid);
    expect(valid.map((record) => (record.value as Transaction).transaction_id).sort()).toEqual(range(0, 20).map((n) => `tx-${n}`).sort());
    for (const record of valid) expect(record.key).toBe((record.value as Transaction).customer_id);
    expect(driver.outputs(topics.labelsValid).map((record) => (record.value as Label).transaction_id).sort()).toEqual(range(0, 4).map((n) => `tx-${n}`).sort());
    expect(driver.deadLetters(topics.transactionsDlq).map((letter) => letter.error_code)).toEqual(['MALFORMED_JSON']);
    // Each task marks every partition of both outputs behind what it wrote.
    expect(new Set(driver.watermarks(topics.transactionsValid).map((mark) => `${mark.source}->${mark.partition}`)).size).toBe(9);
  });

  it('still recognises duplicates after a crash: the ids seen are restored from the changelog, with new handlers', async () => {
    const driver = new TopologyTestDriver(topology, ingest, { partitions: 3, now: NOW, maxBatchSize: 7 });
    driver.pipe(topics.transactionsRaw, range(0, 30).map(transaction));
    await driver.run();
    const segments = () => [0, 1, 2].map((partition) => [...driver.store(partition, SEEN_TRANSACTIONS_STORE).keys()].sort());
    const before = segments();
    driver.crash();
    expect(segments()).toEqual(before);
    // A producer retrying after the crash sends ten again, with ten new ones.
    driver.pipe(topics.transactionsRaw, [...range(20, 30).map(transaction), ...range(30, 40).map(transaction)]);
    await driver.run();
    const ids = driver.outputs(topics.transactionsValid).map((record) => (record.value as Transaction).transaction_id);
    expect(ids.sort()).toEqual(range(0, 40).map((n) => `tx-${n}`).sort());
  });

  it('an aborted transaction is redone on restored state: each record written once', async () => {
    const driver = new TopologyTestDriver(topology, ingest, { partitions: 2, now: NOW, maxBatchSize: 4 });
    driver.pipe(topics.transactionsRaw, range(0, 12).map(transaction));
    driver.failNextCommits(3);
    await driver.run();
    const ids = driver.outputs(topics.transactionsValid).map((record) => (record.value as Transaction).transaction_id);
    expect(ids.sort()).toEqual(range(0, 12).map((n) => `tx-${n}`).sort());
  });
});
