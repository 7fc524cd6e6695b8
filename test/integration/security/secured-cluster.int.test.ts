import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, Partitioners, type KafkaConfig } from 'kafkajs';
import { AvroSerde, createSchemaRegistry, ensureTopics, type Score } from '@sluice/shared';
import { aclRules, kafkaAcls, loadAclDefinition } from '../../../tools/cli/src/acl.js';
import { runCli } from '../../support/cli.js';
import { consumeAll, uniquePrefix } from '../../support/kafka.js';
import { startOwnStack, type OwnStack } from '../../support/own-stack.js';
import { startService, stopAllServices, waitUntilReady, type ServiceName } from '../../support/services.js';
import { pipelineTopics } from '../../../tools/cli/src/pipeline-topology.js';

const SERVICES: ServiceName[] = ['ingest', 'features', 'learner', 'fraud'];

let stack: OwnStack;
beforeAll(async () => {
  stack = await startOwnStack('secured', { SLUICE_SECURE: '1' });
});
afterAll(async () => {
  await stopAllServices();
  await stack?.remove();
});

const password = (principal: string) => readFileSync(join(stack.dataDir, 'secrets', `${principal}.password`), 'utf8').trim();
const ca = () => readFileSync(join(stack.dataDir, 'tls', 'ca.pem'), 'utf8');

/** A client as `principal`; `overrides` replace the TLS or SASL settings to try what should be refused. */
function client(principal: string, overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: `secured-test-${principal}`,
    brokers: [stack.brokers],
    logLevel: logLevel.NOTHING,
    ssl: { ca: [ca()] },
    sasl: { mechanism: 'scram-sha-512', username: principal, password: password(principal) },
    connectionTimeout: 5_000,
    retry: { retries: 1, initialRetryTime: 100 },
    ...overrides,
  });
}

/** Environment for a service or the CLI connecting as `principal`. */
function principalEnv(principal: string, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    KAFKA_BROKERS: stack.brokers,
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    SLUICE_TOPIC_PREFIX: prefix,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: join(stack.dataDir, 'tls', 'ca.pem'),
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: principal,
    KAFKA_SASL_PASSWORD: password(principal),
    ...extra,
  };
}


/** The error's name and message, with the broker's error type and code from it or the cause kafkajs wrapped. */
function describeError(error: unknown): string {
  type Described = { name: string; type?: string; code?: number; message: string; cause?: Described };
  const { name, message, cause } = error as Described;
  const type = (error as Described).type ?? cause?.type;
  const code = (error as Described).code ?? cause?.code;
  return `${name}${type ? ` ${type}` : ''}${code === undefined ? '' : ` (code ${code})`}: ${message}`;
}

/** How a connection attempt ends: 'connected', or the error's name, type and message. */
async function tryConnecting(kafka: Kafka): Promise<string> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return 'connected';
  } catch (error) {
    return describeError(error);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

describe('the pipeline on a secured cluster (SASL_SSL, SCRAM-SHA-512, deny by default, least-privilege ACLs)', () => {
  it('refuses clients without credentials, with a wrong password or over plaintext, and a service writing a topic it does not own', async () => {
    const refusals = {
      'no credentials': await tryConnecting(client('fraud', { sasl: undefined })),
      'wrong password': await tryConnecting(client('fraud', { sasl: { mechanism: 'scram-sha-512', username: 'fraud', password: 'not-the-password' } })),
      'plaintext to the TLS port': await tryConnecting(client('fraud', { ssl: false })),
      'admin, for comparison': await tryConnecting(client('admin')),
    };
    for (const [attempt, outcome] of Object.entries(refusals)) console.log(`${attempt}: ${outcome}`);
    expect(refusals['admin, for comparison']).toBe('connected');
    expect(refusals['no credentials']).not.toBe('connected');
    expect(refusals['wrong password']).toMatch(/KafkaJSSASLAuthenticationError.*invalid credentials/);
    expect(refusals['plaintext to the TLS port']).not.toBe('connected');

    const prefix = uniquePrefix('acl');
    const admin = client('admin').admin();
    await admin.connect();
    const topics = pipelineTopics({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: 2 });
    await ensureTopics(admin, topics, 1);
    await admin.createAcls({ acl: kafkaAcls(aclRules(loadAclDefinition(), prefix, topics.map((topic) => topic.name))) });
    await admin.disconnect();

    // Fraud may write fraud.scores, not transactions.valid: the broker's refusal names the topic and carries a code.
    const producer = client('fraud').producer({ createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 0 } });
    await producer.connect();
    type Refusal = { name: string; type?: string; code?: number; message: string; cause?: Refusal };
    // Fraud may not even describe transactions.valid (a service's grants cover its own topology only), so the broker
    // refuses the metadata request; kafkajs gives up at once and keeps the broker's error as the cause.
    const refused = await producer.send({ topic: `${prefix}transactions.valid`, messages: [{ key: 'c', value: 'forged' }] }).then(
      () => undefined,
      (error: unknown) => ((error as Refusal).cause ?? error) as Refusal,
    );
    console.log(`fraud writing transactions.valid: ${refused ? `${refused.name} ${refused.type} (code ${refused.code}): ${refused.message}` : 'written!'}`);
    expect(refused?.type).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(refused?.code).toBe(29);
    await producer.send({ topic: `${prefix}fraud.scores`, messages: [{ key: 'c', value: 'allowed' }] });
    await producer.disconnect();

    // Nor may it read a topic it does not own, even through a consumer group it may use.
    const reader = client('fraud').consumer({ groupId: `${prefix}sluice-fraud-peek` });
    const crashed = new Promise<string>((resolve) => reader.on(reader.events.CRASH, ({ payload }) => resolve(describeError(payload.error))));
    await reader.connect();
    const readRefusal = await reader.subscribe({ topics: [`${prefix}transactions.raw`], fromBeginning: true }).then(
      async () => {
        await reader.run({ eachMessage: async () => undefined });
        return crashed;
      },
      (error: unknown) => describeError(error),
    );
    console.log(`fraud reading transactions.raw: ${readRefusal}`);
    expect(readRefusal).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    await reader.disconnect().catch(() => undefined);
  });

  it('runs end to end with one principal per service, every transaction scored once, and no password in any log', { timeout: 420_000 }, async () => {
    const prefix = uniquePrefix('secured');
    const admin = client('admin').admin();
    await admin.connect();
    const topics = pipelineTopics({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: 3 });
    await ensureTopics(admin, topics, 1);
    await admin.createAcls({ acl: kafkaAcls(aclRules(loadAclDefinition(), prefix, topics.map((topic) => topic.name))) });
    await admin.disconnect();

    const file = join(tmpdir(), `sluice-secured-${process.pid}.ndjson`);
    const simulated = await runCli(['simulate', '--out', file, '--customers', '60', '--terminals', '120', '--days', '12', '--label-fraction', '0.2', '--no-progress'], process.env as Record<string, string>);
    expect(simulated.code, simulated.output).toBe(0);
    const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '');
    const transactionIds = lines.map((line) => JSON.parse(line) as { kind: string; payload: { transaction_id: string } }).filter((event) => event.kind === 'transaction').map((event) => event.payload.transaction_id);

    // Each service as its own principal, logging at debug so that anything that could leak a secret is written.
    const services = SERVICES.map((name) => startService(name, prefix, principalEnv(name, prefix, { LOG_LEVEL: 'debug', METRICS_PORT: '0', INGEST_HTTP_PORT: '0', TOPIC_PARTITIONS: '3' })));
    await Promise.all(services.map((service) => waitUntilReady(service, 180_000)));
    const replayed = await runCli(['replay', file, '--no-progress'], principalEnv('producer', prefix, { LOG_LEVEL: 'debug' }));
    expect(replayed.code, replayed.output).toBe(0);

    const serde = new AvroSerde(createSchemaRegistry({ SCHEMA_REGISTRY_URL: stack.registryUrl }));
    const scores = await consumeAll(client('admin'), `${prefix}fraud.scores`, { count: transactionIds.length, timeoutMs: 180_000, settleMs: 3_000 });
    const scoredIds = await Promise.all(scores.map(async (message) => (await serde.decode<Score>(message.value)).transaction_id));
    console.log(`secured pipeline: ${transactionIds.length} transactions, ${scoredIds.length} scores, ${new Set(scoredIds).size} distinct`);
    expect(new Set(scoredIds)).toEqual(new Set(transactionIds));
    expect(scoredIds).toHaveLength(transactionIds.length);

    // The CLI as its own principal reads the alerts' side of the pipeline.
    const topicsView = await runCli(['topics', '--json'], principalEnv('cli', prefix));
    expect(topicsView.code, topicsView.output).toBe(0);

    for (const service of services) {
      const text = service.logs.map((line) => JSON.stringify(line)).join('\n');
      expect(service.logs.length, `${service.name} wrote no log lines`).toBeGreaterThan(10);
      for (const principal of ['admin', ...SERVICES, 'producer', 'cli', 'keystore']) expect(text.includes(password(principal)), `${principal}'s password in ${service.name}'s log`).toBe(false);
      const authorizationErrors = service.logs.filter((line) => /authoriz/i.test(JSON.stringify(line)));
      expect(authorizationErrors, `${service.name} was refused something it needs`).toEqual([]);
    }
    expect(replayed.output.includes(password('producer'))).toBe(false);
  });
});
