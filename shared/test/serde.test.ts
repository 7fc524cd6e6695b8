import { readdirSync } from 'node:fs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { AvroSerde, loadSchema } from '../src/serde.js';

/**
 * AvroSerde writes and reads the wire format itself (one buffer, schemas by id
 * in a Map); the registry client's own encode/decode is the oracle. Only the
 * registry's HTTP answers are stood in for: the schema text by id and the id
 * a registration returns. Every record comes from the schema itself (avsc's
 * random values), for every record type in shared/schemas.
 */

const schemaNames = readdirSync(new URL('../schemas/', import.meta.url))
  .filter((file) => file.endsWith('.avsc'))
  .map((file) => file.slice(0, -'.avsc'.length));

interface RandomSchema {
  random(): object;
}

async function serdeFor(names: readonly string[]): Promise<{ serde: AvroSerde; registry: SchemaRegistry; ids: Map<string, number> }> {
  const registry = new SchemaRegistry({ host: 'http://127.0.0.1:1' });
  const texts = new Map(names.map((name, i) => [1000 + i, loadSchema(name)]));
  const byText = new Map([...texts].map(([id, text]) => [text, id]));
  const stub = registry as unknown as {
    register(schema: { schema: string }): Promise<{ id: number }>;
    getSchemaOriginRequest(id: number): Promise<{ data(): { schema: string } }>;
  };
  stub.register = async ({ schema }) => ({ id: byText.get(schema)! });
  stub.getSchemaOriginRequest = async (id) => {
    const schema = texts.get(id);
    if (schema === undefined) throw new Error(`no schema ${id}`);
    return { data: () => ({ schema }) };
  };
  const serde = new AvroSerde(registry);
  const ids = new Map<string, number>();
  for (const name of names) ids.set(name, await serde.register(`topic-${name}`, name));
  return { serde, registry, ids };
}

describe('AvroSerde', () => {
  it('writes the bytes the registry client writes, and reads them back as the client does, for every record type', async () => {
    const { serde, registry, ids } = await serdeFor(schemaNames);
    expect(schemaNames.length).toBeGreaterThanOrEqual(8);
    for (const name of schemaNames) {
      const schema = (await registry.getSchema(ids.get(name)!)) as unknown as RandomSchema;
      for (let i = 0; i < 200; i++) {
        const record = schema.random();
        const bytes = await serde.encode(`topic-${name}`, record);
        expect(bytes.equals(await registry.encode(ids.get(name)!, record))).toBe(true);
        expect(await serde.decode(bytes)).toEqual(await registry.decode(bytes));
      }
    }
  });

  it('grows its scratch buffer for a record larger than it', async () => {
    const { serde, registry, ids } = await serdeFor(['ModelSnapshot']);
    const record = ((await registry.getSchema(ids.get('ModelSnapshot')!)) as unknown as RandomSchema).random() as Record<string, unknown>;
    const large = { ...record, model_name: 'x'.repeat(300_000) };
    const bytes = await serde.encode('topic-ModelSnapshot', large);
    expect(bytes.equals(await registry.encode(ids.get('ModelSnapshot')!, large))).toBe(true);
    expect(await serde.decode(bytes)).toEqual(large);
  });

  it('fails as the client does: an invalid record with its validation error, bad bytes as UNDECODABLE_AVRO with its reason', async () => {
    const { serde, registry, ids } = await serdeFor(['Transaction']);
    const invalid = { transaction_id: 7 };
    const clientError = await registry.encode(ids.get('Transaction')!, invalid).then(
      () => new Error('the client encoded an invalid record'),
      (error: unknown) => error as Error,
    );
    await expect(serde.encode('topic-Transaction', invalid)).rejects.toThrow(clientError.message);
    const good = await serde.encode('topic-Transaction', (await registry.getSchema(ids.get('Transaction')!) as unknown as RandomSchema).random());
    for (const [bytes, reason] of [
      [good.subarray(0, good.length - 1), 'truncated buffer'],
      [Buffer.concat([good, Buffer.from([0])]), 'trailing data'],
      [Buffer.concat([Buffer.from([1]), good.subarray(1)]), 'magic byte'],
      [Buffer.from([0, 0, 0]), ''],
    ] as const) {
      const clientReason = await registry.decode(bytes).then(() => 'decoded', (error: Error) => error.message);
      await expect(serde.decode(bytes)).rejects.toMatchObject({ code: 'UNDECODABLE_AVRO', reason: expect.stringContaining(clientReason) });
      expect(clientReason).toContain(reason);
    }
    await expect(serde.decode(Buffer.from([0, 0, 0, 0x0f, 0x42, 1]))).rejects.toMatchObject({ code: 'UNDECODABLE_AVRO', reason: expect.stringContaining('no schema 3906') });
  });
});
