import avro from 'avsc';
import { SluiceError } from './errors.js';
import { sameNames } from './feature-names.js';
import type { FeatureVector } from './records.js';

/**
 * transactions.features in the schema registry: one Avro schema per feature set, whose `features` record has one
 * double field per feature. The names live in the schema, once, instead of in every record: issue 13's profile had
 * 451 of a vector's 613 bytes on the wire be its names, read back as 15 strings by every consumer, and socket
 * writes plus Avro string work at 8-14% of the services' CPU. It is also how Avro means a record to be read: any
 * consumer with the registry (ksqlDB, Connect, a notebook) sees named feature columns.
 *
 * In memory a vector keeps the contract's shape (feature_names beside feature_values): the logical type below
 * converts at the serde, and a record written in the generic form (shared/schemas/FeatureVector.avsc, names in
 * every record) decodes to the same shape, so topics written before this change are read as before.
 */
export const FEATURE_VECTOR_LOGICAL_TYPE = 'sluice-feature-vector';

/** A feature's name when it is not a valid Avro field name (which the field is then named for instead). */
const FEATURE_NAME_ATTRIBUTE = 'sluice.feature';
const FIXED_FIELDS = ['transaction_id', 'customer_id', 'terminal_id', 'event_time', 'amount', 'feature_set_version'] as const;
const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface RegisteredSchema {
  /** For messages: what the schema is of. */
  name: string;
  /** The schema's JSON text. */
  text: string;
  /**
   * The registry subject: `<topic>-<record full name>` (Confluent's TopicRecordNameStrategy), the feature set's
   * version in the record's name. A new feature set is a new subject, not an evolution of the old one (a new
   * feature has no meaningful default, so BACKWARD would refuse it); new names under an old version are refused.
   */
  subject: string;
  /** What to tell the user when the registry refuses the schema. */
  whenRefused?: string;
}

/**
 * A topic whose records hold a feature vector (learner.examples): one schema per feature set, the record type
 * `record` of shared/schemas with its `vectorField` typed as the feature set's vector, registered when the first
 * record of that feature set is written.
 */
export interface SchemaPerFeatureSet {
  readonly record: string;
  readonly vectorField: string;
}

/** What a topology declares for an output: a record name in shared/schemas, a schema made whole, or one per feature set. */
export type OutputSchema = string | RegisteredSchema | SchemaPerFeatureSet;

export function isSchemaPerFeatureSet(schema: OutputSchema): schema is SchemaPerFeatureSet {
  return typeof schema === 'object' && 'vectorField' in schema;
}

/** The schema of one feature set's vectors on `topic`, and the subject it is registered under there. */
export function featureVectorSchema(topic: string, version: string, names: readonly string[]): RegisteredSchema {
  return registered(topic, featureVectorRecord(version, names), version);
}

/**
 * The schema of `base` (a record schema's text) with its `vectorField` typed as the feature set's vector: a record of its own per feature set, for the same reason as the vectors' (a subject per feature set).
 */
export function schemaWithFeatureVector(topic: string, base: string, vectorField: string, version: string, names: readonly string[]): RegisteredSchema {
  const schema = JSON.parse(base) as { name: string; namespace?: string; fields: { name: string; type: unknown }[] };
  const field = schema.fields.find((candidate) => candidate.name === vectorField);
  if (field === undefined) throw new SluiceError('SCHEMA_INVALID', `${schema.name} has no field ${vectorField} to hold feature vectors`);
  const record = {
    ...schema,
    name: `${schema.name}_${avroName(version)}`,
    namespace: 'dev.sluice',
    fields: schema.fields.map((candidate) => (candidate === field ? { ...candidate, type: featureVectorRecord(version, names) } : candidate)),
  };
  return registered(topic, record, version);
}

function featureVectorRecord(version: string, names: readonly string[]): { name: string } & Record<string, unknown> {
  const recordName = `FeatureVector_${avroName(version)}`;
  return {
    type: 'record',
    name: recordName,
    namespace: 'dev.sluice',
    doc: `One feature vector per valid transaction, feature set ${version}: the features are the fields of 'features'.`,
    logicalType: FEATURE_VECTOR_LOGICAL_TYPE,
    fields: [
      { name: 'transaction_id', type: 'string' },
      { name: 'customer_id', type: 'string' },
      { name: 'terminal_id', type: 'string' },
      { name: 'event_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'amount', type: 'double' },
      { name: 'feature_set_version', type: 'string' },
      { name: 'features', type: { type: 'record', name: `${recordName}_features`, fields: featureFields(names) } },
      { name: 'ingested_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ],
  };
}

function registered(topic: string, record: { name: string }, version: string): RegisteredSchema {
  return {
    name: `${record.name} (feature set ${version})`,
    text: JSON.stringify(record),
    subject: `${topic}-dev.sluice.${record.name}`,
    whenRefused: `a feature set's version names its features: a feature set with other features needs a new version (the "version" in FEATURES_SPEC_FILE)`,
  };
}

/** A name avsc's generated record classes cannot hold as a field: assigning it sets the object's prototype. */
const usableField = (name: string) => AVRO_NAME.test(name) && name !== '__proto__';

function featureFields(names: readonly string[]): object[] {
  const taken = new Set(names.filter(usableField));
  return names.map((name, index) => {
    if (usableField(name)) return { name, type: 'double' };
    let field = `_${index}_${avroName(name)}`;
    while (taken.has(field)) field = `_${field}`;
    taken.add(field);
    return { name: field, type: 'double', [FEATURE_NAME_ATTRIBUTE]: name };
  });
}

/** `text` as an Avro name: characters an Avro name cannot hold become `_`, and it starts with a letter or `_`. */
function avroName(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

interface RawField {
  name: string;
  type: unknown;
  [FEATURE_NAME_ATTRIBUTE]?: string;
}

/** What avsc hands the record constructors it generates: fields by position. */
type RecordConstructor = new (...fields: unknown[]) => object;

/** A feature set's vector as its schema has it: the fixed fields, and the values by field name in `features`. */
type WireVector = Omit<FeatureVector, 'feature_names' | 'feature_values'> & { features: Record<string, number> };

/**
 * The in-memory FeatureVector ⇄ the feature set's wire record. Every decoded vector shares one names array per
 * schema (frozen: it is every vector's), so consumers that intern names find it by identity.
 */
export class FeatureVectorType extends avro.types.LogicalType {
  private readonly names: readonly string[];
  private readonly fieldNames: readonly string[];
  private readonly wireRecord: RecordConstructor;
  private readonly featuresRecord: RecordConstructor;

  constructor(schema: avro.Schema, options?: Partial<avro.ForSchemaOptions>) {
    super(schema, options);
    const fields = (schema as { fields?: RawField[] }).fields ?? [];
    const features = fields.find((field) => field.name === 'features')?.type as { fields?: RawField[] } | undefined;
    const fixed = fields.filter((field) => field.name !== 'features' && field.name !== 'ingested_at').map((field) => field.name);
    if (features?.fields === undefined || fixed.join() !== FIXED_FIELDS.join() || fields.at(-1)?.name !== 'ingested_at' || fields[FIXED_FIELDS.length]?.name !== 'features') {
      throw new SluiceError('SCHEMA_INVALID', `a ${FEATURE_VECTOR_LOGICAL_TYPE} schema has the fields ${FIXED_FIELDS.join(', ')}, features (a record of doubles), ingested_at`);
    }
    this.fieldNames = features.fields.map((field) => field.name);
    this.names = Object.freeze(features.fields.map((field) => field[FEATURE_NAME_ATTRIBUTE] ?? field.name));
    const underlying = this.underlyingType as avro.types.RecordType;
    // The registry client's register() refuses a parsed schema without a name (AvroHelper.validate), and avsc
    // leaves a logical type's own name unset.
    (this as { name: string | undefined }).name = underlying.name;
    this.wireRecord = underlying.recordConstructor as RecordConstructor;
    this.featuresRecord = (underlying.field('features').type as avro.types.RecordType).recordConstructor as RecordConstructor;
  }

  protected override _fromValue(wire: WireVector): FeatureVector {
    const { features } = wire;
    const values = new Array<number>(this.fieldNames.length);
    for (let i = 0; i < values.length; i++) values[i] = features[this.fieldNames[i]!]!;
    return {
      transaction_id: wire.transaction_id,
      customer_id: wire.customer_id,
      terminal_id: wire.terminal_id,
      event_time: wire.event_time,
      amount: wire.amount,
      feature_set_version: wire.feature_set_version,
      feature_names: this.names as string[],
      feature_values: values,
      ingested_at: wire.ingested_at,
    };
  }

  protected override _toValue(vector: FeatureVector): object {
    if (vector.feature_names !== this.names && !sameNames(vector.feature_names, this.names)) {
      throw new SluiceError(
        'FEATURE_SET_MISMATCH',
        `vector ${vector.transaction_id} has the features [${vector.feature_names.join(', ')}], the schema of feature set ${vector.feature_set_version} [${this.names.join(', ')}]`,
      );
    }
    if (vector.feature_values.length !== this.names.length) {
      throw new SluiceError('FEATURE_SET_MISMATCH', `vector ${vector.transaction_id} has ${vector.feature_values.length} values for ${this.names.length} features`);
    }
    const { wireRecord: Wire, featuresRecord: Features } = this;
    return new Wire(vector.transaction_id, vector.customer_id, vector.terminal_id, vector.event_time, vector.amount, vector.feature_set_version, new Features(...vector.feature_values), vector.ingested_at);
  }

  /** Vectors are only read with the schema they were written with (the registry's, by id). */
  protected override _resolve(): undefined {
    return undefined;
  }
}
