import { createHash } from 'node:crypto';
import { SluiceError } from './errors.js';
import { segmentedBufferCodec, type SegmentFormat } from './event-time/segmented-buffer.js';
import type { FeatureVector } from './records.js';

/**
 * Feature names held and written once per list instead of with every vector,
 * by every service that keeps vectors (the learner's pending store and
 * buffers, fraud's hold).
 *
 * Every vector carries its 15 feature names (451 of the ~970 bytes of its
 * JSON), and the learner's stores hold each vector two to three times over
 * (pending, join buffer, train buffer): in a 14-day replay those changelogs
 * wrote ~1 M records, and the kafkajs produce encoding they cost was the
 * largest item of the learner's CPU profile (32% of it, README "Pipeline
 * benchmark"). In memory, every decoded vector had its own copy of the names:
 * a vector fraud holds took 1,709 bytes of heap as decoded, 707 with its names shared
 * (services/fraud/bench/held-memory.ts).
 *
 * Stores of vectors write them in segments, many to a record, each segment
 * with its vectors' names once (`vectorSegments`); in memory they share one
 * names array per list. Until 2026-12-03 the learner's pending store wrote
 * one record per vector, and one entry per list of names
 * (`feature-names/<ref>`) that its vectors pointed at (`feature_names_ref`):
 * `featureNamesCodec` still reads those changelogs, and vectors written in
 * full before that.
 */

/** How a store's values carry their vector: `vector` finds it (undefined: none), `withVector` puts one in its place. */
export interface VectorSlot<V> {
  vector(value: V): FeatureVector | undefined;
  withVector(value: V, vector: FeatureVector): V;
}

/** The pending store's values are vectors. */
export const VECTOR_VALUES: VectorSlot<FeatureVector> = { vector: (value) => value, withVector: (_, vector) => vector };

interface NamesEntry {
  feature_names_ref: string;
  feature_names: string[];
}

/**
 * A vector as the changelog holds it: positional (its field names were a sixth of its JSON, and JSON.stringify
 * writes arrays faster than objects), its names by reference when they are a shared list (`intern`), else in full.
 */
type PackedVector = [
  transaction_id: string,
  customer_id: string,
  terminal_id: string,
  event_time: number,
  amount: number,
  feature_set_version: string,
  names: string | string[],
  feature_values: number[],
  ingested_at: number,
];

/** Names by reference in an object, as the first changelogs of this format wrote them. */
type VectorWithNamesRef = Omit<FeatureVector, 'feature_names'> & { feature_names_ref: string };

const NAMES_KEY_PREFIX = 'feature-names/';

/** The reference is the names' content hash, so any process and task resolves it to the same list. */
const namesByRef = new Map<string, string[]>();
const refByArray = new WeakMap<readonly string[], string>();

export function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The shared array of these names and its reference, registered on first sight. Every decoded vector brings
 * its own array; comparing it with the few lists known is cheaper than hashing it (profiled: hashing's string
 * join was a third of the wrapper's put).
 */
export function intern(names: string[]): { names: string[]; ref: string } {
  const known = refByArray.get(names);
  if (known !== undefined) return { names: namesByRef.get(known)!, ref: known };
  for (const [ref, shared] of namesByRef) if (sameNames(shared, names)) return { names: shared, ref };
  const ref = createHash('sha256').update(JSON.stringify(names)).digest('hex').slice(0, 16);
  register(ref, names);
  return { names: namesByRef.get(ref)!, ref };
}

export function register(ref: string, names: string[]): void {
  if (namesByRef.has(ref)) return;
  const shared = [...names];
  namesByRef.set(ref, shared);
  refByArray.set(shared, ref);
}

function isNamesEntry(value: unknown): value is NamesEntry {
  return typeof value === 'object' && value !== null && typeof (value as NamesEntry).feature_names_ref === 'string' && Array.isArray((value as NamesEntry).feature_names);
}

/** A vector object with its names in full: what a reader gets, and what changelogs from before held. */
function isFullVector(stored: unknown): stored is FeatureVector {
  return typeof stored === 'object' && stored !== null && !Array.isArray(stored) && Array.isArray((stored as FeatureVector).feature_names);
}

export function packVector(vector: FeatureVector): { packed: PackedVector; ref?: string } {
  const ref = refByArray.get(vector.feature_names);
  const packed: PackedVector = [
    vector.transaction_id,
    vector.customer_id,
    vector.terminal_id,
    vector.event_time,
    vector.amount,
    vector.feature_set_version,
    ref ?? vector.feature_names,
    vector.feature_values,
    vector.ingested_at,
  ];
  return ref === undefined ? { packed } : { packed, ref };
}

/** The vector a stored one stands for, with its names from the table; undefined when its reference is not known (yet). */
export function unpackVector(stored: unknown): FeatureVector | undefined {
  if (isFullVector(stored)) return stored;
  if (!Array.isArray(stored)) {
    const { feature_names_ref, ...fields } = stored as VectorWithNamesRef;
    const names = namesByRef.get(feature_names_ref);
    return names && { ...fields, feature_names: names };
  }
  const [transaction_id, customer_id, terminal_id, event_time, amount, feature_set_version, names, feature_values, ingested_at] = stored as PackedVector;
  const feature_names = typeof names === 'string' ? namesByRef.get(names) : names;
  if (feature_names === undefined) return undefined;
  return { transaction_id, customer_id, terminal_id, event_time, amount, feature_set_version, feature_names, feature_values, ingested_at };
}

/** The value with its vector's names replaced by their shared list (the same content). */
export function withSharedNames<V>(slot: VectorSlot<V>, value: V): V {
  const vector = slot.vector(value);
  if (vector === undefined) return value;
  const { names } = intern(vector.feature_names);
  return vector.feature_names === names ? value : slot.withVector(value, { ...vector, feature_names: names });
}

/**
 * The store codec (topology.ts): JSON, with a vector whose names are a shared list written by reference.
 * Reading, a names entry registers its list; a vector whose entry comes later in the changelog stays
 * unresolved until the restored store is read (`vectorSegments`' `single`), every entry registered by then.
 */
export function featureNamesCodec<V>(slot: VectorSlot<V>): { serialize: (value: V) => Buffer; deserialize: (bytes: Buffer) => V } {
  return {
    serialize(value) {
      const vector = isNamesEntry(value) ? undefined : slot.vector(value);
      if (vector === undefined) return Buffer.from(JSON.stringify(value));
      return Buffer.from(JSON.stringify(slot.withVector(value, packVector(vector).packed as unknown as FeatureVector)));
    },
    deserialize(bytes) {
      const value: unknown = JSON.parse(bytes.toString('utf8'));
      if (isNamesEntry(value)) {
        register(value.feature_names_ref, value.feature_names);
        return value as V;
      }
      const stored: unknown = slot.vector(value as V);
      if (stored === undefined || isFullVector(stored)) return value as V;
      const vector = unpackVector(stored);
      return vector === undefined ? (value as V) : slot.withVector(value as V, vector);
    },
  };
}

/**
 * How a buffer of events carrying vectors (the learner's join events and
 * examples, fraud's held vectors) writes them in segments (`SegmentedBuffer`,
 * many events to a changelog record): each segment holds its vectors' feature
 * names once (`names`, by reference) and its events with their vectors packed.
 */

/** A segment's JSON: its vectors' names once, then its events. */
interface WrittenSegment {
  names: Record<string, string[]>;
  events: [string, unknown][];
}

/** The event with its vector unpacked, names included; a store's names entries are all registered by the time it is read. */
function readable<T>(slot: VectorSlot<T>, event: T, where: string): T {
  const stored: unknown = slot.vector(event);
  if (stored === undefined) return event;
  const vector = unpackVector(stored);
  if (vector === undefined) throw new SluiceError('FEATURE_NAMES_MISSING', `${where}: feature names not in the changelog`);
  return vector === stored ? event : slot.withVector(event, vector);
}

/** The segment format of a buffer whose events carry vectors as `slot` says. */
export function vectorSegments<T>(slot: VectorSlot<T>): SegmentFormat<T> {
  return {
    // At most 300 bytes an event besides its values, at most 24 a value.
    estimatedBytes: (event) => 300 + 24 * (slot.vector(event)?.feature_values.length ?? 0),
    write(events): WrittenSegment {
      const names: Record<string, string[]> = {};
      const written: [string, unknown][] = [];
      for (const [key, event] of events) {
        const vector = slot.vector(event);
        if (vector === undefined) {
          written.push([key, event]);
          continue;
        }
        const { packed, ref } = packVector(vector);
        if (ref !== undefined) names[ref] = vector.feature_names;
        written.push([key, slot.withVector(event, packed as unknown as FeatureVector)]);
      }
      return { names, events: written };
    },
    read(written, where) {
      // A plain list of [key, event]: a segment written before names were shared (fraud's hold until 2026-12-02).
      const { names, events } = Array.isArray(written) ? { names: {}, events: written as [string, unknown][] } : (written as WrittenSegment);
      for (const [ref, list] of Object.entries(names)) register(ref, list);
      return events.map(([key, event]): [string, T] => [key, readable(slot, event as T, `${where}: ${key}`)]);
    },
    single: (value, key) => readable(slot, value as T, key),
    held: (event) => withSharedNames(slot, event),
    isAuxiliary: (key) => key.startsWith(NAMES_KEY_PREFIX),
  };
}

/** The store codec (topology.ts) of such a buffer; records from before segments read as `featureNamesCodec`'s. */
export function vectorBufferCodec<V>(slot: VectorSlot<V>): { serialize: (value: unknown) => Buffer; deserialize: (bytes: Buffer) => unknown } {
  return segmentedBufferCodec(featureNamesCodec(slot));
}
