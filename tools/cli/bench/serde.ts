/**
 * Avro wire-format cost per record, AvroSerde against the registry client's
 * own encode/decode (what AvroSerde called before), on the records the
 * pipeline carries most: transactions (ingest's output) and feature vectors
 * (the features service's). No registry is contacted: the client's HTTP
 * answer for the schema is stood in for. Prints figures, asserts nothing.
 *   node --conditions=sluice-source --import tsx tools/cli/bench/serde.ts [records]
 */
import { AvroSerde, createSchemaRegistry, loadSchema } from '@sluice/shared';

const records = Number(process.argv[2] ?? 200_000);
const names = ['Transaction', 'FeatureVector'];
const registry = createSchemaRegistry({ SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' });
const stub = registry as unknown as {
  register(schema: { schema: string }): Promise<{ id: number }>;
  getSchemaOriginRequest(id: number): Promise<{ data(): { schema: string } }>;
};
stub.register = async ({ schema }) => ({ id: 1 + names.findIndex((name) => loadSchema(name) === schema) });
stub.getSchemaOriginRequest = async (id) => ({ data: () => ({ schema: loadSchema(names[id - 1]!) }) });
const serde = new AvroSerde(registry);

const transaction = (i: number) => ({
  transaction_id: `tx-${i}`,
  customer_id: `c-${i % 5000}`,
  terminal_id: `t-${i % 10000}`,
  amount: 57.16 + (i % 100),
  event_time: 1_522_540_800_000 + i * 1000,
  currency: null,
  ingested_at: 1_522_540_800_000 + i * 1000,
});
const FEATURE_NAMES = Array.from({ length: 15 }, (_, k) => `feature_${k}`);
const vector = (i: number) => ({
  transaction_id: `tx-${i}`,
  customer_id: `c-${i % 5000}`,
  terminal_id: `t-${i % 10000}`,
  event_time: 1_522_540_800_000 + i * 1000,
  amount: 57.16 + (i % 100),
  feature_set_version: 'handbook-v1',
  feature_names: FEATURE_NAMES,
  feature_values: FEATURE_NAMES.map((_, k) => (i * (k + 1)) % 97 / 7),
  ingested_at: 1_522_540_800_000 + i * 1000,
});

async function time(label: string, run: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 20_000; i++) await run(i);
  const started = process.cpuUsage();
  for (let i = 0; i < records; i++) await run(i);
  const used = process.cpuUsage(started);
  console.log(`${label.padEnd(44)} ${(((used.user + used.system) / records)).toFixed(2)} µs CPU per record`);
}

for (const [name, make] of [['Transaction', transaction], ['FeatureVector', vector]] as const) {
  const id = await serde.register(`bench-${name}`, name);
  const encoded = Array.from({ length: 1000 }, (_, i) => serde.encode(`bench-${name}`, make(i)));
  const bytes = await Promise.all(encoded);
  await time(`${name} encode, registry client`, (i) => registry.encode(id, make(i)));
  await time(`${name} encode, AvroSerde`, (i) => serde.encode(`bench-${name}`, make(i)));
  await time(`${name} decode, registry client`, (i) => registry.decode(bytes[i % 1000]!));
  await time(`${name} decode, AvroSerde`, (i) => serde.decode(bytes[i % 1000]!));
}
