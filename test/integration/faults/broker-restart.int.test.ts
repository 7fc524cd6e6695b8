import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { AvroSerde, createSchemaRegistry, type Score } from '@sluice/shared';
import { runCli, startCli } from '../../support/cli.js';
import { consumeAll, createTopics, recordCount, uniquePrefix } from '../../support/kafka.js';
import { startOwnStack, type OwnStack } from '../../support/own-stack.js';
import { startService, stopAllServices, waitUntilReady, type RunningService, type ServiceName } from '../../support/services.js';
import { pipelineTopics } from '../../../tools/cli/src/pipeline-topology.js';

const SERVICES: ServiceName[] = ['ingest', 'features', 'learner', 'fraud'];
const OUTAGE_MS = 18_000;


async function allReady(services: RunningService[], timeoutMs: number): Promise<void> {
  await Promise.all(services.map((service) => waitUntilReady(service, timeoutMs)));
}

let stack: OwnStack | undefined;
beforeAll(async () => {
  stack = await startOwnStack('broker-restart');
});
afterAll(async () => {
  await stopAllServices();
  await stack?.remove();
});

describe('the single broker stopped for ~18 s mid-stream and started again', () => {
  it('every service recovers by itself, the replay resumes, and every transaction gets exactly one score', { timeout: 480_000 }, async () => {
    const env = (extra: Record<string, string> = {}) => ({
      ...(process.env as Record<string, string>),
      KAFKA_BROKERS: stack!.brokers,
      SCHEMA_REGISTRY_URL: stack!.registryUrl,
      SLUICE_TOPIC_PREFIX: prefix,
      // kafkajs shortens its retries under NODE_ENV=test (vitest's): run the services as deployed.
      NODE_ENV: 'production',
      ...extra,
    });
    const prefix = uniquePrefix('restart');
    const kafka = new Kafka({ clientId: 'broker-restart-test', brokers: [stack!.brokers], logLevel: logLevel.NOTHING });
    await createTopics(kafka, pipelineTopics({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: 6 }));

    const file = join(tmpdir(), `sluice-restart-${process.pid}.ndjson`);
    const simulated = await runCli(['simulate', '--out', file, '--customers', '120', '--terminals', '240', '--days', '21', '--label-fraction', '0.2', '--no-progress'], env());
    expect(simulated.code, simulated.output).toBe(0);
    const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '');
    const transactionIds = lines.map((line) => JSON.parse(line) as { kind: string; payload: { transaction_id: string } }).filter((event) => event.kind === 'transaction').map((event) => event.payload.transaction_id);
    expect(new Set(transactionIds).size).toBe(transactionIds.length);

    const services = SERVICES.map((name) => startService(name, prefix, env({ LOG_LEVEL: 'info', METRICS_PORT: '0', INGEST_HTTP_PORT: '0', SLUICE_RECOVERY_DEADLINE_MS: '150000' })));
    await allReady(services, 180_000);

    // ~25 s of stream; the broker goes away a few seconds in, while records flow through every stage.
    const rate = Math.ceil(lines.length / 25);
    const replay = startCli(['replay', file, '--rate', String(rate), '--no-progress'], env({ LOG_LEVEL: 'warn' }));
    // Stop the broker once records flow through every stage: a quarter of the file in, scores coming out.
    const records = (topics: string[]) => recordCount(kafka, topics);
    while ((await records([`${prefix}transactions.raw`, `${prefix}labels.raw`])) < lines.length / 4 || (await records([`${prefix}fraud.scores`])) === 0) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const stopped = Date.now();
    await stack!.stopBroker();
    const exited = Date.now();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (exited - stopped))));
    const starting = Date.now();
    await stack!.start();
    const back = Date.now();
    console.log(
      `broker: SIGTERM to exit ${((exited - stopped) / 1000).toFixed(1)} s, away ${((starting - exited) / 1000).toFixed(1)} s, ` +
        `start to answering ${((back - starting) / 1000).toFixed(1)} s: ${((back - stopped) / 1000).toFixed(1)} s in all`,
    );

    const readyAgain = allReady(services, 180_000).then(() => Date.now());

    const replayed = await replay.done;
    expect(replayed.code, replayed.output).toBe(0);
    console.log(`replay finished ${((Date.now() - back) / 1000).toFixed(1)} s after the broker was back: ${replayed.output.trim().split('\n').at(-1)}`);

    // The replay's idempotent producer wrote every line once, through the restart.
    expect(await records([`${prefix}transactions.raw`, `${prefix}labels.raw`])).toBe(lines.length);

    const serde = new AvroSerde(createSchemaRegistry({ SCHEMA_REGISTRY_URL: stack!.registryUrl }));
    const scores = await consumeAll(kafka, `${prefix}fraud.scores`, { count: transactionIds.length, timeoutMs: 180_000, settleMs: 5_000 });
    const scoredIds = await Promise.all(scores.map(async (message) => (await serde.decode<Score>(message.value)).transaction_id));
    const caughtUp = Date.now();
    const missing = transactionIds.filter((id) => !scoredIds.includes(id));
    console.log(
      `fraud.scores: ${scoredIds.length} scores, ${new Set(scoredIds).size} distinct, for ${transactionIds.length} transactions (${missing.length} missing); ` +
        `the last score ${((caughtUp - back) / 1000 - 5).toFixed(1)} s after the broker was back`,
    );
    if (missing.length > 0) for (const service of services) console.log(service.name, JSON.stringify(service.logs.slice(-8)));
    expect(new Set(scoredIds)).toEqual(new Set(transactionIds));
    expect(scoredIds).toHaveLength(transactionIds.length);

    // Nobody was restarted by hand: the same four processes, each ready again.
    for (const service of services) expect(service.child.exitCode, `${service.name} exited`).toBeNull();
    console.log(`all four services ready again ${((await readyAgain - back) / 1000).toFixed(1)} s after the broker was back`);
    for (const service of services) {
      const recoveries = service.logs.filter((line) => line.msg === 'consumer recovered').map((line) => `${String(line.consumer)} ${String(line.downMs)} ms`);
      const crashes = service.logs.filter((line) => String(line.msg).startsWith('consumer crashed')).length;
      const errors = service.logs.filter((line) => Number(line.level) >= 50 || line.level === 'error' || line.level === 'fatal').map((line) => String(line.msg));
      console.log(`${service.name}: ${crashes} consumer crashes, recovered: [${recoveries.join('; ')}]; error lines: ${errors.length} ${JSON.stringify([...new Set(errors)].slice(0, 5))}`);
      expect(service.logs.some((line) => line.level === 'fatal' || Number(line.level) >= 60)).toBe(false);
    }
  });
});
