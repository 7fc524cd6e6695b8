import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FEATURE_VECTOR_LOGICAL_TYPE, FeatureVectorType, featureVectorSchema, schemaWithFeatureVector } from '../src/feature-vector-schema.js';
import type { FeatureVector, LabelledExample } from '../src/records.js';
import { AvroSerde, createSchemaRegistry, loadSchema } from '../src/serde.js';

/**
 * A feature set's vectors carry their names in the schema, not in each record. The oracle for the bytes is avsc
 * itself without our logical type: what any other Avro reader of the topic sees, a `features` record of named
 * doubles. The in-memory shape is the contract's (feature_names beside feature_values), as the generic schema
 * (shared/schemas/FeatureVector.avsc) reads it.
 */

const logicalTypes = { [FEATURE_VECTOR_LOGICAL_TYPE]: FeatureVectorType };
const typeOf = (text: string) => avro.Type.forSchema(JSON.parse(text) as avro.Schema, { logicalTypes });
const plainTypeOf = (text: string) => avro.Type.forSchema(JSON.parse(text) as avro.Schema);

const HANDBOOK_NAMES = ['customer_id_nb_tx_1day_window', 'customer_id_avg_amount_1day_window', 'terminal_id_risk_7day_window', 'tx_during_weekend', 'tx_amount'];

// Any non-empty name a feature set may declare: Avro names, and names Avro cannot hold (hyphens, digits first,
// non-ASCII), including pairs that sanitise to the same name ("a-b", "a_b", "a.b").
const featureName = fc.oneof(
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  fc.constantFrom('a-b', 'a_b', 'a.b', '_0_a_b', '1x', 'amount (EUR)', '__proto__', 'constructor', 'toString', 'clone'),
);
const vectorOf = (names: string[]) =>
  fc.record({
    transaction_id: fc.string({ maxLength: 30 }),
    customer_id: fc.string({ maxLength: 12 }),
    terminal_id: fc.string({ maxLength: 12 }),
    event_time: fc.integer({ min: 0, max: 2 ** 47 }),
    amount: fc.double({ noNaN: true }),
    feature_set_version: fc.string({ minLength: 1, maxLength: 10 }),
    feature_names: fc.constant(names),
    feature_values: fc.array(fc.double(), { minLength: names.length, maxLength: names.length }),
    ingested_at: fc.integer({ min: 0, max: 2 ** 47 }),
  });
const namesAndVector = fc.uniqueArray(featureName, { minLength: 1, maxLength: 20 }).chain((names) => fc.tuple(fc.constant(names), vectorOf(names)));

function handbookVector(names: string[] = [...HANDBOOK_NAMES]): FeatureVector {
  return {
    transaction_id: 'tx-1',
    customer_id: 'c-1',
    terminal_id: 't-1',
    event_time: 1_700_000_000_000,
    amount: 57.16,
    feature_set_version: 'handbook-v1',
    feature_names: names,
    feature_values: names.map((_, i) => i + 0.5),
    ingested_at: 1_700_000_000_123,
  };
}

describe('featureVectorSchema', () => {
  it('reads back every vector it writes, names and values in order, for any names a feature set may have', () => {
    fc.assert(
      fc.property(namesAndVector, ([names, vector]) => {
        const type = typeOf(featureVectorSchema('transactions.features', vector.feature_set_version, names).text);
        const decoded = type.fromBuffer(type.toBuffer(vector)) as FeatureVector;
        expect(decoded).toEqual(vector);
        expect(Object.is(decoded.amount, vector.amount)).toBe(true);
        decoded.feature_values.forEach((value, i) => expect(Object.is(value, vector.feature_values[i])).toBe(true));
      }),
      { numRuns: 300 },
    );
  });

  it('puts the features in the schema as named doubles, and none of their names in the records', () => {
    fc.assert(
      fc.property(namesAndVector, ([names, vector]) => {
        const { text } = featureVectorSchema('transactions.features', vector.feature_set_version, names);
        const bytes = typeOf(text).toBuffer(vector);
        const wire = plainTypeOf(text).fromBuffer(bytes) as { features: Record<string, number> };
        const fields = (JSON.parse(text) as { fields: { name: string; type: { fields?: { name: string; 'sluice.feature'?: string }[] } }[] }).fields;
        const featureFields = fields.find((field) => field.name === 'features')!.type.fields!;
        expect(featureFields.map((field) => field['sluice.feature'] ?? field.name)).toEqual(names);
        expect(featureFields.map((field) => wire.features[field.name])).toEqual(vector.feature_values);
        // The generic record less its names and the framing of its values' array (count, end).
        const generic = plainTypeOf(loadSchema('FeatureVector')).toBuffer(vector);
        const namesBytes = avro.Type.forSchema({ type: 'array', items: 'string' }).toBuffer(names).length;
        const valuesFraming = avro.Type.forSchema({ type: 'array', items: 'double' }).toBuffer(vector.feature_values).length - 8 * names.length;
        expect(bytes.length).toBe(generic.length - namesBytes - valuesFraming);
        const strings = [vector.transaction_id, vector.customer_id, vector.terminal_id, vector.feature_set_version].join('\u0000');
        for (const name of names.filter((name) => name.length > 3 && !strings.includes(name))) expect(bytes.includes(Buffer.from(name))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps valid Avro names as the field names, so other readers see the features by name', () => {
    const { text } = featureVectorSchema('transactions.features', 'handbook-v1', HANDBOOK_NAMES);
    const wire = plainTypeOf(text).fromBuffer(typeOf(text).toBuffer(handbookVector())) as { features: Record<string, number> };
    expect(wire.features).toEqual({
      customer_id_nb_tx_1day_window: 0.5,
      customer_id_avg_amount_1day_window: 1.5,
      terminal_id_risk_7day_window: 2.5,
      tx_during_weekend: 3.5,
      tx_amount: 4.5,
    });
  });

  it('decodes to what the generic schema decodes, with one frozen names array per schema', () => {
    const type = typeOf(featureVectorSchema('transactions.features', 'handbook-v1', HANDBOOK_NAMES).text);
    const generic = plainTypeOf(loadSchema('FeatureVector'));
    const vector = handbookVector();
    const first = type.fromBuffer(type.toBuffer(vector)) as FeatureVector;
    const second = type.fromBuffer(type.toBuffer({ ...vector, feature_values: [9, 8, 7, 6, 5] })) as FeatureVector;
    expect(first).toEqual(generic.fromBuffer(generic.toBuffer(vector)));
    expect(second.feature_names).toBe(first.feature_names);
    expect(Object.isFrozen(first.feature_names)).toBe(true);
    expect(second.feature_values).toEqual([9, 8, 7, 6, 5]);
  });

  it('refuses a vector of another feature set with FEATURE_SET_MISMATCH, naming both lists', () => {
    const type = typeOf(featureVectorSchema('transactions.features', 'handbook-v1', HANDBOOK_NAMES).text);
    const reordered = [...HANDBOOK_NAMES].reverse();
    expect(() => type.toBuffer(handbookVector(reordered))).toThrow(expect.objectContaining({ code: 'FEATURE_SET_MISMATCH', reason: expect.stringContaining(reordered.join(', ')) }));
    expect(() => type.toBuffer({ ...handbookVector(), feature_values: [1, 2] })).toThrow(expect.objectContaining({ code: 'FEATURE_SET_MISMATCH', reason: expect.stringContaining('2 values for 5 features') }));
  });

  it('names one subject per topic and feature set version, and the same text for the same feature set', () => {
    const a = featureVectorSchema('transactions.features', 'handbook-v1', HANDBOOK_NAMES);
    expect(a.subject).toBe('transactions.features-dev.sluice.FeatureVector_handbook_v1');
    expect(featureVectorSchema('transactions.features', 'handbook-v1', [...HANDBOOK_NAMES])).toEqual(a);
    expect(featureVectorSchema('transactions.features', '2.0', HANDBOOK_NAMES).subject).toBe('transactions.features-dev.sluice.FeatureVector__2_0');
    expect(featureVectorSchema('dev.transactions.features', 'handbook-v1', HANDBOOK_NAMES).subject).toBe('dev.transactions.features-dev.sluice.FeatureVector_handbook_v1');
    expect(a.whenRefused).toContain('new version');
  });

  it('refuses a schema that claims the logical type without a feature vector shape', () => {
    const shapeless = { type: 'record', name: 'NotAVector', logicalType: FEATURE_VECTOR_LOGICAL_TYPE, fields: [{ name: 'transaction_id', type: 'string' }] };
    expect(() => avro.Type.forSchema(shapeless as avro.Schema, { logicalTypes, assertLogicalTypes: true })).toThrow(expect.objectContaining({ code: 'SCHEMA_INVALID' }));
  });
});

describe('the registry client made by createSchemaRegistry', () => {
  it('decodes a feature set schema fetched by id to the in-memory vector', async () => {
    const registry = createSchemaRegistry({ SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' });
    const schema = featureVectorSchema('transactions.features', 'handbook-v1', HANDBOOK_NAMES);
    // Only the registry's HTTP answers are stood in for: the id a registration returns, the text by id.
    const stub = registry as unknown as {
      register(schema: { schema: string }, options: { subject: string }): Promise<{ id: number }>;
      getSchemaOriginRequest(id: number): Promise<{ data(): { schema: string } }>;
    };
    const subjects: string[] = [];
    stub.register = async (_schema, { subject }) => {
      subjects.push(subject);
      return { id: 7 };
    };
    stub.getSchemaOriginRequest = async () => ({ data: () => ({ schema: schema.text }) });
    const writer = new AvroSerde(registry);
    await writer.register('transactions.features', schema);
    const bytes = await writer.encode('transactions.features', handbookVector());
    expect(subjects).toEqual([schema.subject]);
    expect(await new AvroSerde(registry).decode(bytes)).toEqual(handbookVector());
    expect(await registry.decode(bytes)).toEqual(handbookVector());
  });

  it('does not read a schema that claims the logical type without its shape as some other record', async () => {
    const registry = createSchemaRegistry({ SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' });
    const shapeless = { type: 'record', name: 'NotAVector', namespace: 'dev.sluice', logicalType: FEATURE_VECTOR_LOGICAL_TYPE, fields: [{ name: 'transaction_id', type: 'string' }] };
    (registry as unknown as { getSchemaOriginRequest(): Promise<{ data(): { schema: string } }> }).getSchemaOriginRequest = async () => ({
      data: () => ({ schema: JSON.stringify(shapeless) }),
    });
    const bytes = Buffer.concat([Buffer.from([0, 0, 0, 0, 9]), avro.Type.forSchema({ type: 'string' }).toBuffer('tx-1')]);
    await expect(new AvroSerde(registry).decode(bytes)).rejects.toMatchObject({ code: 'UNDECODABLE_AVRO', reason: expect.stringContaining('features (a record of doubles)') });
  });
});

function example(vector: FeatureVector): LabelledExample {
  return { kind: 'labelled', label_source: 'label', is_fraud: true, labeled_at: 1_700_000_500_000, decided_at: null, vector };
}

describe('schemaWithFeatureVector', () => {
  it("types a record's vector field as the feature set's vector: examples read back as the generic schema reads them", () => {
    const generic = plainTypeOf(loadSchema('LabelledExample'));
    fc.assert(
      fc.property(namesAndVector, ([names, vector]) => {
        const schema = schemaWithFeatureVector('learner.examples', loadSchema('LabelledExample'), 'vector', vector.feature_set_version, names);
        const type = typeOf(schema.text);
        const bytes = type.toBuffer(example(vector));
        expect(type.fromBuffer(bytes)).toEqual(generic.fromBuffer(generic.toBuffer(example(vector))));
        expect(bytes.length).toBeLessThan(generic.toBuffer(example(vector)).length);
      }),
      { numRuns: 200 },
    );
  });

  it('names the record and the subject after the feature set, and refuses a record without the field', () => {
    const schema = schemaWithFeatureVector('learner.examples', loadSchema('LabelledExample'), 'vector', 'handbook-v1', HANDBOOK_NAMES);
    expect(schema.subject).toBe('learner.examples-dev.sluice.LabelledExample_handbook_v1');
    expect(JSON.parse(schema.text)).toMatchObject({ name: 'LabelledExample_handbook_v1', namespace: 'dev.sluice' });
    expect(() => schemaWithFeatureVector('learner.examples', loadSchema('LabelledExample'), 'vectors', 'v', HANDBOOK_NAMES)).toThrow(
      expect.objectContaining({ code: 'SCHEMA_INVALID', reason: expect.stringContaining('no field vectors') }),
    );
  });
});

describe('AvroSerde, one schema per feature set', () => {
  /** The registry's answers stood in for: an id per schema text, and the text by id. */
  function stubbedRegistry() {
    const registry = createSchemaRegistry({ SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' });
    const texts: string[] = [];
    const subjects: string[] = [];
    const stub = registry as unknown as {
      register(schema: { schema: string }, options: { subject: string }): Promise<{ id: number }>;
      getSchemaOriginRequest(id: number): Promise<{ data(): { schema: string } }>;
    };
    stub.register = async ({ schema }, { subject }) => {
      subjects.push(subject);
      if (!texts.includes(schema)) texts.push(schema);
      return { id: texts.indexOf(schema) + 1 };
    };
    stub.getSchemaOriginRequest = async (id) => ({ data: () => ({ schema: texts[id - 1]! }) });
    return { registry, subjects };
  }

  it('registers each feature set once, as its first record is written, and reads every record back', async () => {
    const { registry, subjects } = stubbedRegistry();
    const writer = new AvroSerde(registry);
    await writer.registerOutput('learner.examples', { record: 'LabelledExample', vectorField: 'vector' });
    expect(subjects).toEqual([]);
    const other = { ...handbookVector(['x', 'y']), feature_set_version: 'custom-2' };
    const written = [example(handbookVector()), example(handbookVector()), example(other), example(handbookVector([...HANDBOOK_NAMES]))];
    const bytes = [];
    for (const record of written) bytes.push(await writer.encode('learner.examples', record));
    expect(subjects).toEqual(['learner.examples-dev.sluice.LabelledExample_handbook_v1', 'learner.examples-dev.sluice.LabelledExample_custom_2']);
    const reader = new AvroSerde(registry);
    for (const [i, record] of written.entries()) expect(await reader.decode(bytes[i]!)).toEqual(record);
  });

  it('says what to change when the registry refuses a feature set (its names changed under the same version)', async () => {
    const { registry } = stubbedRegistry();
    (registry as unknown as { register(): Promise<never> }).register = async () => {
      throw new Error('Incompatible artifact');
    };
    const writer = new AvroSerde(registry);
    writer.declarePerFeatureSet('learner.examples', { record: 'LabelledExample', vectorField: 'vector' });
    await expect(writer.encode('learner.examples', example(handbookVector()))).rejects.toMatchObject({
      code: 'SCHEMA_REGISTRATION_FAILED',
      reason: expect.stringMatching(/learner\.examples-dev\.sluice\.LabelledExample_handbook_v1: Incompatible artifact \(.*needs a new version/),
    });
    await expect(writer.register('transactions.features', featureVectorSchema('transactions.features', 'handbook-v1', HANDBOOK_NAMES))).rejects.toMatchObject({
      code: 'SCHEMA_REGISTRATION_FAILED',
      reason: expect.stringContaining('needs a new version'),
    });
  });

  it('refuses a record with no vector where the declaration says, and a topic declared nowhere', async () => {
    const writer = new AvroSerde(stubbedRegistry().registry);
    writer.declarePerFeatureSet('learner.examples', { record: 'LabelledExample', vectorField: 'vector' });
    await expect(writer.encode('learner.examples', { kind: 'labelled' })).rejects.toMatchObject({ code: 'SCHEMA_NOT_REGISTERED', reason: expect.stringContaining('no feature vector in vector') });
    await expect(writer.encode('elsewhere', example(handbookVector()))).rejects.toMatchObject({ code: 'SCHEMA_NOT_REGISTERED' });
  });
});
