import { SluiceError } from '../errors.js';
import type { OutputSchema } from '../feature-vector-schema.js';
import type { StoreDefinition } from '../state-store.js';
import { changelogTopic, contractTopics, type TopicDeclaration, type TopicsConfig } from '../topics.js';
import type { InputDefinition, InputMessage, ProcessingContext, ProcessorDefinition, ProcessorHandler, TaskInfo } from './contract.js';

/**
 * A service's topology, declared once in its `src/topology.ts` (Kafka Streams'
 * `Topology`): each processor's inputs with their record types, its stores,
 * its outputs. The processor's group and transactional ids, the stores'
 * changelog topics, the topics to create and wait for, and the schemas to
 * register derive from it, so that the names agree without being repeated.
 */

/** An input of a processor, typed by the record its handler receives (a phantom type: nothing of T exists at run time). */
export interface TopologyInput<T> extends InputDefinition {
  readonly record?: T;
}

/** An Avro input, decoded through the registry; `deadLetter` takes what cannot be decoded or processed. */
export function input<T extends object>(topic: string, options: { deadLetter: string; watermarks?: boolean }): TopologyInput<T> {
  return { topic, format: 'avro', deadLetterTopic: options.deadLetter, watermarks: options.watermarks ?? false };
}

/** An input handed over as its raw bytes (e.g. JSON the service validates itself). */
export function bytesInput(topic: string, options: { deadLetter: string }): TopologyInput<Buffer | null> {
  return { topic, format: 'bytes', deadLetterTopic: options.deadLetter, watermarks: false };
}

/** A store, typed by its values; JSON in the changelog unless a codec is given. */
export interface TopologyStore<V> {
  readonly serialize?: (value: V) => Buffer;
  readonly deserialize?: (bytes: Buffer) => V;
}

export function store<V>(codec: TopologyStore<V> = {}): TopologyStore<V> {
  return codec;
}

/** A topic a processor writes: `schema` is registered for it (`OutputSchema`); `watermarks`: the processor marks it. */
export interface TopologyOutput {
  readonly topic: string;
  /** A record name in shared/schemas, a schema made at start-up with its subject (a feature set's vectors), or one per feature set. */
  readonly schema?: OutputSchema;
  readonly watermarks?: boolean;
}

export function output(topic: string, options: { schema?: OutputSchema; watermarks?: boolean } = {}): TopologyOutput {
  return { topic, ...options };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the record types of a processor's inputs vary by role
type Inputs = Record<string, TopologyInput<any>>;

export interface ProcessorSpec<I extends Inputs> {
  inputs: I;
  /** By store name (unique in the service: it names the changelog). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each store's codec has its own value type
  stores?: Record<string, TopologyStore<any>>;
  outputs?: TopologyOutput[];
}

/** One processor of a service, as declared and with what derives from it. */
export interface ProcessorTopology<I extends Inputs = Inputs> {
  readonly service: string;
  /** `<prefix>sluice-<name>`: the consumer group, and the prefix of the transactional ids (`<id>-<partition>`). */
  readonly groupId: string;
  readonly transactionalIdPrefix: string;
  readonly inputs: I;
  readonly stores: StoreDefinition<unknown>[];
  readonly outputs: readonly TopologyOutput[];
}

/** What a handler receives: one member per input role, so `switch (record.input)` narrows the value's type. */
export type InputRecord<I extends Inputs> = {
  [R in keyof I & string]: (InputMessage<NonNullable<I[R]['record']>> & { input: R; watermark?: undefined }) | (InputMessage<null> & { input: R; watermark: NonNullable<InputMessage['watermark']> });
}[keyof I & string];

/** A processor's handlers, typed by its topology's inputs; the store lifecycle hooks are ProcessorHandler's. */
export interface TypedHandler<I extends Inputs> extends Omit<ProcessorHandler, 'process' | 'heldInputs'> {
  process(record: InputRecord<I>, context: ProcessingContext): void | Promise<void>;
  heldInputs?: {
    oldestHeld(task: TaskInfo, topic: string): string | undefined;
    replay(record: InputRecord<I>, task: TaskInfo): void;
  };
}

export interface Topology<P extends Record<string, ProcessorTopology> = Record<string, ProcessorTopology>> {
  readonly service: string;
  readonly processors: P;
  /** Every topic the service reads, writes, dead-letters to or keeps state in: created at start-up, then awaited. */
  readonly topics: TopicDeclaration[];
  /** The topics it reads with a plain consumer, outside its processors (`TopologyExtras.reads`). */
  readonly reads: readonly string[];
  /** The Avro schema of each output topic that has one (topic → record name or schema), registered at start-up. */
  readonly schemas: Record<string, OutputSchema>;
}

/**
 * What a service touches outside its processors: `reads`, contract topics it
 * reads with a plain consumer (e.g. fraud's model history); `internal`, topics
 * that are the service's own (neither in the contract nor a changelog).
 */
export interface TopologyExtras {
  reads?: string[];
  internal?: TopicDeclaration[];
}

/**
 * Derives a service's topology. `config` supplies the prefix and the partition
 * count. A changelog has the partitions of its processor's first input, which
 * its tasks follow.
 */
export function defineTopology<S extends Record<string, ProcessorSpec<Inputs>>>(
  config: TopicsConfig,
  service: string,
  processors: S,
  extras: TopologyExtras = {},
): Topology<{ [K in keyof S]: ProcessorTopology<S[K]['inputs']> }> {
  const known = new Map([...contractTopics(config), ...(extras.internal ?? [])].map((topic) => [topic.name, topic]));
  const declared = new Map<string, TopicDeclaration>();
  const declare = (name: string): TopicDeclaration => {
    const topic = known.get(name);
    if (topic === undefined) throw new SluiceError('CONFIG_INVALID', `${service} names ${name}, which is neither a contract topic nor one of its internal topics`);
    declared.set(name, topic);
    return topic;
  };
  (extras.reads ?? []).forEach(declare);
  const schemas: Record<string, OutputSchema> = {};
  const derived: Record<string, ProcessorTopology> = {};
  const storeNames = new Set<string>();
  for (const [name, spec] of Object.entries(processors)) {
    const inputs = Object.values(spec.inputs);
    if (inputs.length === 0) throw new SluiceError('CONFIG_INVALID', `${service}'s ${name} processor has no input`);
    const partitions = declare(inputs[0]!.topic).partitions;
    for (const { topic, deadLetterTopic } of inputs) [topic, deadLetterTopic].forEach(declare);
    for (const { topic, schema } of spec.outputs ?? []) {
      declare(topic);
      if (schema !== undefined) schemas[topic] = schema;
    }
    const stores = Object.entries(spec.stores ?? {}).map(([store, codec]) => {
      if (storeNames.has(store)) throw new SluiceError('CONFIG_INVALID', `${service} declares the store ${store} twice: a store's name names its changelog`);
      storeNames.add(store);
      const definition: StoreDefinition<unknown> = { name: store, changelogTopic: changelogTopic(config.SLUICE_TOPIC_PREFIX, service, store), ...codec };
      declared.set(definition.changelogTopic, { name: definition.changelogTopic, partitions, cleanupPolicy: 'compact' });
      return definition;
    });
    const id = `${config.SLUICE_TOPIC_PREFIX}sluice-${name}`;
    derived[name] = { service, groupId: id, transactionalIdPrefix: id, inputs: spec.inputs, stores, outputs: spec.outputs ?? [] };
  }
  return { service, processors: derived as { [K in keyof S]: ProcessorTopology<S[K]['inputs']> }, topics: [...declared.values()], reads: extras.reads ?? [], schemas };
}

/** The runtime's view of a processor: its topology bound to its handlers (what StreamProcessor and the test driver run). */
export function bindHandler<I extends Inputs>(topology: ProcessorTopology<I>, handler: TypedHandler<I>): ProcessorDefinition {
  const inputs = Object.entries(topology.inputs).map(([role, definition]) => ({ ...definition, role }));
  return {
    service: topology.service,
    inputs,
    stores: topology.stores,
    watermarkOutputs: topology.outputs.filter((out) => out.watermarks === true).map((out) => out.topic),
    // The runtime sets `input` from the definition's role (input-decoder.ts), which is what InputRecord promises.
    process: handler.process.bind(handler),
    afterBatch: handler.afterBatch?.bind(handler),
    punctuate: handler.punctuate,
    onRestored: handler.onRestored?.bind(handler),
    onRevoked: handler.onRevoked?.bind(handler),
    // As `process`: the runtime hands `replay` records decoded per their input's definition.
    heldInputs: handler.heldInputs as ProcessorHandler['heldInputs'],
  };
}
