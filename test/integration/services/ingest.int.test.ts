import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Transaction } from '@sluice/shared';
import { consumeAll, createPipelineTopics, produce, testKafka, testSerde, uniquePrefix } from '../../support/kafka.js';
import { metricValue, scrape, startService, stopAllServices, waitUntilReady } from '../../support/services.js';

afterEach(stopAllServices);

const day = Date.UTC(2024, 4, 1);
const good = (n: number) => ({ transaction_id: `tx-${n}`, customer_id: `c-${n % 5}`, terminal_id: `t-${n % 3}`, amount: 10 + n, timestamp: day + n * 1000 });

describe('ingest against the real broker', () => {
  it('accounts for every raw record: valid + dead-lettered + duplicates = sent, valid records re-keyed by customer', async () => {
    const prefix = uniquePrefix('ingest');
    const kafka = testKafka();
    await createPipelineTopics(kafka, prefix);
    const ingest = startService('ingest', prefix, { INGEST_HTTP_PORT: '0' });
    await waitUntilReady(ingest);

    const goods = Array.from({ length: 60 }, (_, n) => good(n));
    const bads = [
      '{"transaction_id": "x"',
      'null',
      JSON.stringify({ ...good(100), amount: -1 }),
      JSON.stringify({ ...good(101), amount: '12.5' }),
      JSON.stringify({ ...good(102), timestamp: '2018-13-01T00:00:00Z' }),
      JSON.stringify({ ...good(103), customer_id: '' }),
      JSON.stringify({ ...good(104), currency: 'EURO' }),
      JSON.stringify({ transaction_id: 'tx-105' }),
      'x'.repeat(70_000),
    ];
    const duplicates = goods.slice(0, 7);
    // Keyed by something else than the customer: ingest must re-key.
    await produce(kafka, `${prefix}transactions.raw`, [
      ...goods.map((record) => ({ key: record.transaction_id, value: JSON.stringify(record) })),
      ...bads.map((value) => ({ key: null, value })),
      ...duplicates.map((record) => ({ key: record.transaction_id, value: JSON.stringify(record) })),
    ]);

    const valid = await consumeAll(kafka, `${prefix}transactions.valid`, { count: goods.length });
    const dlq = await consumeAll(kafka, `${prefix}transactions.dlq`, { count: bads.length });
    expect(valid).toHaveLength(goods.length);
    expect(dlq).toHaveLength(bads.length);

    const serde = testSerde();
    const decoded = await Promise.all(valid.map(async (message) => ({ key: message.key, record: await serde.decode<Transaction>(message.value) })));
    expect(decoded.map((entry) => entry.record.transaction_id).sort()).toEqual(goods.map((record) => record.transaction_id).sort());
    for (const entry of decoded) {
      expect(entry.key).toBe(entry.record.customer_id);
      const original = goods.find((record) => record.transaction_id === entry.record.transaction_id)!;
      expect(entry.record).toMatchObject({ amount: original.amount, event_time: original.timestamp, terminal_id: original.terminal_id });
    }
    const codes = dlq.map((message) => (JSON.parse(message.value!.toString()) as { error_code: string; reason: string }));
    expect(codes.map((letter) => letter.error_code).sort()).toEqual(
      ['MALFORMED_JSON', 'NOT_AN_OBJECT', 'OUT_OF_RANGE', 'WRONG_TYPE', 'BAD_TIMESTAMP', 'BAD_ID', 'BAD_CURRENCY', 'MISSING_FIELD', 'MESSAGE_TOO_LARGE'].sort(),
    );
    for (const letter of codes) expect(letter.reason.length).toBeGreaterThan(10);

    const metrics = await scrape(ingest);
    const accepted = metricValue(metrics, 'sluice_ingest_records_total', { kind: 'transaction', outcome: 'accepted' });
    const rejected = metricValue(metrics, 'sluice_ingest_records_total', { kind: 'transaction', outcome: 'rejected' });
    const duplicate = metricValue(metrics, 'sluice_ingest_records_total', { kind: 'transaction', outcome: 'duplicate' });
    expect({ accepted, rejected, duplicate }).toEqual({ accepted: goods.length, rejected: bads.length, duplicate: duplicates.length });
    expect(accepted + rejected + duplicate).toBe(goods.length + bads.length + duplicates.length);
  });

  it('takes records over HTTP, answers per record, and puts accepted ones on the same path', async () => {
    const prefix = uniquePrefix('ingest-http');
    const kafka = testKafka();
    await createPipelineTopics(kafka, prefix);
    // The door takes only key holders (services/ingest/src/door-auth.ts); the configuration holds the key's SHA-256.
    const key = randomBytes(32).toString('base64url');
    const keys = JSON.stringify({ keys: [{ id: 'test', sha256: createHash('sha256').update(key).digest('hex'), kinds: ['transaction'] }] });
    const ingest = startService('ingest', prefix, { INGEST_HTTP_PORT: '0', INGEST_HTTP_KEYS: keys });
    await waitUntilReady(ingest);
    const door = await ingest.waitForLog((line) => line.msg === 'HTTP door listening: POST /v1/transactions, /v1/labels');

    const body = [JSON.stringify(good(1)), '{"broken":', JSON.stringify(good(2)), JSON.stringify({ ...good(3), amount: 2e9 })].join('\n');
    expect((await fetch(`http://127.0.0.1:${String(door.port)}/v1/transactions`, { method: 'POST', body })).status).toBe(401);
    const response = await fetch(`http://127.0.0.1:${String(door.port)}/v1/transactions`, { method: 'POST', body, headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(207);
    const answer = (await response.json()) as { accepted: number; rejected: number; records: { index: number; status: string; code?: string }[] };
    expect(answer).toMatchObject({ accepted: 2, rejected: 2 });
    expect(answer.records.map((record) => [record.index, record.status, record.code ?? null])).toEqual([
      [0, 'accepted', null],
      [1, 'rejected', 'MALFORMED_JSON'],
      [2, 'accepted', null],
      [3, 'rejected', 'OUT_OF_RANGE'],
    ]);
    const valid = await consumeAll(kafka, `${prefix}transactions.valid`, { count: 2 });
    expect(valid.map((message) => message.key).sort()).toEqual(['c-1', 'c-2']);
  });
});
