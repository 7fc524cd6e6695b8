import { readFileSync } from 'node:fs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { CommonConfig } from './config.js';
import { SluiceError, isRetriable } from './errors.js';
import {
  FEATURE_VECTOR_LOGICAL_TYPE,
  FeatureVectorType,
  isSchemaPerFeatureSet,
  schemaWithFeatureVector,
  type OutputSchema,
  type RegisteredSchema,
  type SchemaPerFeatureSet,
} from './feature-vector-schema.js';
import type { FeatureVector } from './records.js';
import { retrying } from './retry.js';

const schemaDirectory = new URL('../schemas/', import.meta.url);

/** The Avro schema of a record type, from shared/schemas/<name>.avsc (one file per record type). */
export function loadSchema(name: string): string {
  return readFileSync(new URL(`${name}.avsc`, schemaDirectory), 'utf8');
}

export function createSchemaRegistry(config: Pick<CommonConfig, 'SCHEMA_REGISTRY_URL' | 'SCHEMA_REGISTRY_USERNAME' | 'SCHEMA_REGISTRY_PASSWORD'>): SchemaRegistry {
  const auth =
    config.SCHEMA_REGISTRY_USERNAME && config.SCHEMA_REGISTRY_PASSWORD
      ? { username: config.SCHEMA_REGISTRY_USERNAME, password: config.SCHEMA_REGISTRY_PASSWORD }
      : undefined;
  // Every schema the client parses (by id, to decode) knows our logical types; other Avro readers see the record.
  // Asserted: avsc would otherwise read a schema that claims one without its shape as the bare record, a shape no
  // consumer of ours expects.
  const avro = { logicalTypes: { [FEATURE_VECTOR_LOGICAL_TYPE]: FeatureVectorType }, assertLogicalTypes: true };
  return new SchemaRegistry({ host: config.SCHEMA_REGISTRY_URL, auth, retry: { retries: 5 } }, { [SchemaType.AVRO]: avro });
}

/**
 * Avro values in the Confluent wire format (magic byte, schema id, body), with
 * schemas registered under the topic-name strategy (`<topic>-value`) unless a
 * schema names its own subject (feature vectors: one subject per feature set).
 */
export class AvroSerde {
  private readonly schemaIds = new Map<string, number>();
  private readonly perFeatureSet = new Map<string, SchemaPerFeatureSet & { base: string; ids: FeatureSetIds }>();
  /** The registry client's schema instances by id: its own cache sits behind two awaits per record. */
  private readonly schemas = new Map<number, WireSchema>();
  private scratch = Buffer.allocUnsafe(64 * 1024);

  constructor(readonly registry: SchemaRegistry) {}

  /**
   * Registers the schema of the records a topic carries, by its name in shared/schemas or given whole; call at
   * start-up for every topic written.
   */
  async register(topic: string, schema: string | RegisteredSchema): Promise<number> {
    return typeof schema === 'string' ? this.registerSchema(topic, loadSchema(schema), schema) : this.registerSchema(topic, schema.text, schema.name, schema.subject, schema.whenRefused);
  }

  /** A topic with a schema per feature set: each one is registered as its first record is written. */
  declarePerFeatureSet(topic: string, schema: SchemaPerFeatureSet): void {
    this.perFeatureSet.set(topic, { ...schema, base: loadSchema(schema.record), ids: new FeatureSetIds() });
  }

  /** What a topology declares for an output topic: registered now, or declared per feature set. */
  async registerOutput(topic: string, schema: OutputSchema): Promise<void> {
    if (isSchemaPerFeatureSet(schema)) this.declarePerFeatureSet(topic, schema);
    else await this.register(topic, schema);
  }

  /** Registers a schema given as text (for record types defined outside shared/schemas). */
  async registerSchema(topic: string, schema: string, schemaName = 'schema', subject = `${topic}-value`, whenRefused?: string): Promise<number> {
    const known = this.schemaIds.get(topic);
    if (known !== undefined) return known;
    const id = await this.registerUnder(topic, { name: schemaName, text: schema, subject, whenRefused });
    this.schemaIds.set(topic, id);
    return id;
  }

  private async registerUnder(topic: string, schema: RegisteredSchema): Promise<number> {
    try {
      return (await this.registerRacing(schema.text, schema.subject)).id;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      const hint = schema.whenRefused === undefined ? '' : ` (${schema.whenRefused})`;
      throw new SluiceError('SCHEMA_REGISTRATION_FAILED', `could not register schema ${schema.name} for ${topic} under ${schema.subject}: ${detail}${hint}`, { cause: error });
    }
  }

  /**
   * The client registers a new subject first and sets its compatibility after;
   * another instance registering the same subject in between reads the
   * default (NONE) and is refused, or sets the rule too and is told it already
   * exists. Asking again a moment later settles it.
   */
  private registerRacing(schema: string, subject: string): Promise<{ id: number }> {
    const register = () =>
      this.registry.register({ type: SchemaType.AVRO, schema }, { subject }).catch((error: unknown) => {
        throw lostRegistrationRace(error) ? new SluiceError('SCHEMA_REGISTRY_RACE', `${subject} is being registered by another instance`, { cause: error }) : error;
      });
    return retrying(register, { attempts: 6, delayMs: (attempt) => 200 * attempt, retriable: isRetriable });
  }

  /**
   * The record in the wire format, written once into a scratch buffer and copied out once. The registry client's
   * encode awaits its schema cache and copies the body twice (`toBuffer`, then a concat with the header): issue
   * 13's profile had Avro at 12-15% of the features, learner and fraud services' CPU. The schema is the client's
   * own instance (getSchema), so the bytes are the same; anything the fast path cannot write (an invalid record)
   * goes through the client, which throws its own error.
   */
  async encode(topic: string, record: object): Promise<Buffer> {
    const id = this.schemaIds.get(topic) ?? (await this.featureSetSchemaId(topic, record));
    const schema = this.schemas.get(id) ?? (await this.schemaOf(id));
    try {
      return this.frame(id, schema, record);
    } catch {
      return this.registry.encode(id, record);
    }
  }

  /** Decodes with the writer's schema named in the message; throws SluiceError UNDECODABLE_AVRO on anything else. */
  async decode<T>(buffer: Buffer | null): Promise<T> {
    if (buffer === null) throw new SluiceError('UNDECODABLE_AVRO', 'message has no value (tombstone)');
    try {
      // What the client's decode does without reader options (check the magic byte, then the writer schema's
      // fromBuffer on the body), with the schema looked up by id in a Map instead of through two awaits.
      if (Buffer.isBuffer(buffer) && buffer.length >= WIRE_HEADER_BYTES && buffer[0] === MAGIC_BYTE) {
        const id = buffer.readInt32BE(1);
        const schema = this.schemas.get(id) ?? (await this.schemaOf(id));
        return schema.fromBuffer(buffer.subarray(WIRE_HEADER_BYTES)) as T;
      }
      return (await this.registry.decode(buffer)) as T;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new SluiceError('UNDECODABLE_AVRO', `not a Confluent-framed Avro value this registry can decode: ${detail}`, {
        cause: error,
      });
    }
  }

  /** The id of the schema of the record's feature set on a topic with one schema per feature set (registered on first sight). */
  private async featureSetSchemaId(topic: string, record: object): Promise<number> {
    const declared = this.perFeatureSet.get(topic);
    if (declared === undefined) throw new SluiceError('SCHEMA_NOT_REGISTERED', `no schema registered for topic ${topic}`);
    const vector = (record as Record<string, FeatureVector | undefined>)[declared.vectorField];
    if (vector === undefined || !Array.isArray(vector.feature_names)) {
      throw new SluiceError('SCHEMA_NOT_REGISTERED', `a record for ${topic} has no feature vector in ${declared.vectorField}, which names its schema`);
    }
    const known = declared.ids.get(vector.feature_set_version, vector.feature_names);
    if (known !== undefined) return known;
    const schema = schemaWithFeatureVector(topic, declared.base, declared.vectorField, vector.feature_set_version, vector.feature_names);
    const id = await this.registerUnder(topic, schema);
    declared.ids.set(vector.feature_set_version, vector.feature_names, id);
    return id;
  }

  /** The client's schema instance for an id (fetched from the registry once, then kept here). */
  private async schemaOf(id: number): Promise<WireSchema> {
    const schema = (await this.registry.getSchema(id)) as WireSchema;
    this.schemas.set(id, schema);
    return schema;
  }

  private frame(id: number, schema: WireSchema, record: object): Buffer {
    if (typeof schema.encode !== 'function') {
      const body = schema.toBuffer(record);
      const framed = Buffer.allocUnsafe(WIRE_HEADER_BYTES + body.length);
      framed[0] = MAGIC_BYTE;
      framed.writeInt32BE(id, 1);
      body.copy(framed, WIRE_HEADER_BYTES);
      return framed;
    }
    for (;;) {
      const end = schema.encode(record, this.scratch, WIRE_HEADER_BYTES);
      if (end >= 0) {
        const framed = Buffer.allocUnsafe(end);
        this.scratch.copy(framed, 0, 0, end);
        framed[0] = MAGIC_BYTE;
        framed.writeInt32BE(id, 1);
        return framed;
      }
      // avsc returns minus the bytes missing; grow and write again.
      this.scratch = Buffer.allocUnsafe(2 * (this.scratch.length - end));
    }
  }
}

/**
 * Schema ids by feature set: by the names array itself first (decoded vectors share one per schema, stored ones
 * one per list), then by content.
 */
class FeatureSetIds {
  private readonly byArray = new WeakMap<readonly string[], Map<string, number>>();
  private readonly byContent = new Map<string, number>();

  get(version: string, names: readonly string[]): number | undefined {
    const byVersion = this.byArray.get(names);
    const known = byVersion?.get(version);
    if (known !== undefined) return known;
    const id = this.byContent.get(contentKey(version, names));
    if (id !== undefined) this.remember(version, names, id);
    return id;
  }

  set(version: string, names: readonly string[], id: number): void {
    this.byContent.set(contentKey(version, names), id);
    this.remember(version, names, id);
  }

  private remember(version: string, names: readonly string[], id: number): void {
    let byVersion = this.byArray.get(names);
    if (byVersion === undefined) this.byArray.set(names, (byVersion = new Map()));
    byVersion.set(version, id);
  }
}

/** JSON, so that no name or version can run into the next. */
const contentKey = (version: string, names: readonly string[]) => JSON.stringify([version, names]);

const MAGIC_BYTE = 0;
/** Magic byte and 4-byte schema id (Confluent wire format). */
const WIRE_HEADER_BYTES = 5;

/** A schema as the registry client holds it; an Avro one (an avsc Type) can also write into a given buffer. */
interface WireSchema {
  toBuffer(payload: object): Buffer;
  fromBuffer(buffer: Buffer): unknown;
  encode?: (value: unknown, buffer: Buffer, position: number) => number;
}

/**
 * The two ways the client's register() fails when another instance registers
 * the same new subject at the same moment: it reads the subject's rule before
 * the other has set it (ConfluentSchemaRegistryCompatibilityError), or both set
 * it and the second is refused (Apicurio answers the PUT of the subject's
 * config with 409 "A rule named 'COMPATIBILITY' already exists"; seen with 8
 * instances registering one subject at once). Registering is refused with 409
 * too when the schema is incompatible, but that is a POST to the versions.
 */
function lostRegistrationRace(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'ConfluentSchemaRegistryCompatibilityError') return true;
  const { status, url } = error as { status?: unknown; url?: unknown };
  return status === 409 && typeof url === 'string' && /^put .*\/config\//i.test(url);
}
