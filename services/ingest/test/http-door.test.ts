import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { createLogger, topicNames } from '@sluice/shared';
import { DoorGuard, hashApiKey, parseDoorKeys } from '../src/door-auth.js';
import { HttpDoor } from '../src/http-door.js';
import { IngestMetrics } from '../src/ingest-metrics.js';
import { DEFAULT_VALIDATION_LIMITS } from '../src/validation.js';

const key = randomBytes(32).toString('base64url');
const keys = parseDoorKeys(JSON.stringify({ keys: [{ id: 'producer', sha256: hashApiKey(key).toString('hex'), kinds: ['transaction'], ratePerSecond: 0.5, burst: 1 }] }), 'test');

/** Records what the door writes; the door's refusals come before any write. */
function recordingKafka(sent: unknown[]): Kafka {
  const producer = { connect: async () => undefined, disconnect: async () => undefined, send: async (record: unknown) => void sent.push(record) } as unknown as Producer;
  return { producer: () => producer } as unknown as Kafka;
}

let door: HttpDoor | undefined;
afterEach(async () => door?.stop());

describe('HttpDoor with keys', () => {
  it('answers each refusal with its status and headers, counts it by reason, and writes nothing refused', async () => {
    const sent: unknown[] = [];
    const registry = new Registry();
    const metrics = new IngestMetrics(registry);
    door = new HttpDoor(recordingKafka(sent), topicNames(''), { port: 0, host: '127.0.0.1', maxBodyBytes: 1 << 20, limits: DEFAULT_VALIDATION_LIMITS, guard: new DoorGuard(keys) }, metrics, createLogger('test', 'silent'));
    const port = await door.start();
    const body = JSON.stringify({ transaction_id: 't1', customer_id: 'c', terminal_id: 'x', amount: 5, timestamp: Date.now() - 1000 });
    const post = (path: string, headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body, headers });

    const none = await post('/v1/transactions');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await none.json()) as { error: string }).error).toBe('NO_CREDENTIALS');
    expect((await post('/v1/transactions', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post('/v1/labels', { authorization: `Bearer ${key}` })).status).toBe(403);
    expect(sent).toHaveLength(0);

    expect((await post('/v1/transactions', { 'x-api-key': key })).status).toBe(200);
    expect(sent).toHaveLength(1);
    const limited = await post('/v1/transactions', { authorization: `Bearer ${key}` });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBe(2);
    expect(sent).toHaveLength(1);

    const refusals = (await registry.getSingleMetric('sluice_http_door_refusals_total')!.get()).values.map((value) => [value.labels.reason, value.value]);
    expect(Object.fromEntries(refusals)).toEqual({ no_credentials: 1, unknown_key: 1, kind_not_granted: 1, rate_limited: 1 });
  });
});
