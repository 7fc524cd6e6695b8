import type { BufferMap, FeatureVector, KeyValueStore } from '@sluice/shared';
import { SluiceError } from '@sluice/shared/errors';
import { featureNamesCodec, packVector, register, unpackVector, withSharedNames, type VectorSlot } from './shared-feature-names.js';

/**
 * An event-time buffer's events in its changelogged store, many to a record.
 *
 * Kept one event per key, every buffered event cost two changelog records, a
 * put and a tombstone: in the 14-day replay the join and train buffers wrote
 * 808 k of the learner's ~1.85 M records, and the produce encoding's work is
 * per record as much as per byte (`produce/v3/request.js:95`, the record
 * encoder, drainChanges: ~15% of the learner's CPU together). Here the events
 * put between two `seal`s share one record (`segment-<n>`, written again while
 * it is open, at most `SEGMENT_BYTES`), and a segment is deleted once
 * every event in it has been released.
 *
 * A segment is not rewritten when only some of its events were released: the
 * owner's applied frontier, written in the same transaction as the releases,
 * tells them apart when the store is restored (`appliedThrough`: every event
 * at or before it was released, none after it is). Events stored one per key
 * (changelogs from before) are read and released as before.
 */

/**
 * A segment is sealed once its events' estimated JSON passes this size, well under the broker's default message limit
 * (1 MiB) whatever the number of features: at most 300 bytes an event besides its values, at most 24 a value.
 */
export const SEGMENT_BYTES = 256 * 1024;

function estimatedBytes(vector: FeatureVector | undefined): number {
  return 300 + 24 * (vector?.feature_values.length ?? 0);
}

const SEGMENT_KEY_PREFIX = 'segment-';
const NAMES_KEY_PREFIX = 'feature-names/';

/** A segment as its changelog record holds it: its vectors' names once, then its events. */
interface StoredSegment {
  segment: { names: Record<string, string[]>; events: [string, unknown][] };
}

/** A segment while this process holds it: its events still buffered, by key; JSON as `StoredSegment`. */
class Segment<T> {
  readonly events = new Map<string, T>();
  /** What the events put in it would take as JSON, at most (`estimatedBytes`). */
  bytes = 0;
  constructor(
    readonly key: string,
    private readonly slot: VectorSlot<T>,
  ) {}

  toJSON(): StoredSegment {
    const names: Record<string, string[]> = {};
    const events: [string, unknown][] = [];
    for (const [key, event] of this.events) {
      const vector = this.slot.vector(event);
      if (vector === undefined) {
        events.push([key, event]);
        continue;
      }
      const { packed, ref } = packVector(vector);
      if (ref !== undefined) names[ref] = vector.feature_names;
      events.push([key, this.slot.withVector(event, packed as unknown as FeatureVector)]);
    }
    return { segment: { names, events } };
  }
}

/** The events of a segment as restored (a record) or as held (the store kept in memory), vectors with their names. */
function segmentEvents<T>(value: unknown, slot: VectorSlot<T>, key: string): Iterable<[string, T]> {
  if (value instanceof Segment) return (value as Segment<T>).events;
  const { names, events } = (value as StoredSegment).segment;
  for (const [ref, list] of Object.entries(names)) register(ref, list);
  return events.map(([eventKey, event]): [string, T] => [eventKey, readable(slot, event as T, `${key}: ${eventKey}`)]);
}

/** The event with its vector unpacked, names included; a store's names entries are all registered by the time it is read. */
function readable<T>(slot: VectorSlot<T>, event: T, where: string): T {
  const stored: unknown = slot.vector(event);
  if (stored === undefined) return event;
  const vector = unpackVector(stored);
  if (vector === undefined) throw new SluiceError('learner_state_invalid', `${where}: feature names not in the changelog`);
  return vector === stored ? event : slot.withVector(event, vector);
}

/** The store codec (topology.ts) for a buffer whose values carry vectors as `slot` says; records from before segments read as `featureNamesCodec`'s. */
export function segmentedBufferCodec<V>(slot: VectorSlot<V>): { serialize: (value: unknown) => Buffer; deserialize: (bytes: Buffer) => unknown } {
  const perKey = featureNamesCodec(slot);
  return {
    serialize: (value) => (value instanceof Segment ? Buffer.from(JSON.stringify(value)) : perKey.serialize(value as V)),
    deserialize: (bytes) => (bytes.subarray(0, 11).toString('latin1') === '{"segment":' ? (JSON.parse(bytes.toString('utf8')) as unknown) : perKey.deserialize(bytes)),
  };
}

export class SegmentedBuffer<T> implements BufferMap<T> {
  /** Every buffered event, with its segment (null: stored under its own key, before segments). */
  private readonly events = new Map<string, { value: T; segment: Segment<T> | null }>();
  private open: Segment<T> | undefined;
  private nextSegment = 0;

  /**
   * `store` as restored; `appliedThrough`: the owner's frontier stored beside it (events at or before it were
   * released); `timeOf`: an event's time in the owner's order.
   */
  constructor(
    private readonly store: KeyValueStore<unknown>,
    private readonly slot: VectorSlot<T>,
    appliedThrough: number,
    timeOf: (event: T) => number,
  ) {
    const drained: string[] = [];
    for (const [key, value] of store.entries()) {
      if (key.startsWith(NAMES_KEY_PREFIX)) continue;
      if (!key.startsWith(SEGMENT_KEY_PREFIX)) {
        this.events.set(key, { value: readable(slot, value as T, key), segment: null });
        continue;
      }
      this.nextSegment = Math.max(this.nextSegment, Number(key.slice(SEGMENT_KEY_PREFIX.length)) + 1);
      const segment = new Segment<T>(key, slot);
      for (const [eventKey, event] of segmentEvents(value, slot, key)) {
        if (timeOf(event) <= appliedThrough || this.events.has(eventKey)) continue;
        segment.events.set(eventKey, event);
        this.events.set(eventKey, { value: event, segment });
      }
      if (segment.events.size === 0) drained.push(key);
    }
    for (const key of drained) store.delete(key);
  }

  get size(): number {
    return this.events.size;
  }

  get(key: string): T | undefined {
    return this.events.get(key)?.value;
  }

  put(key: string, value: T): void {
    this.delete(key);
    const event = withSharedNames(this.slot, value);
    this.open ??= new Segment(`${SEGMENT_KEY_PREFIX}${this.nextSegment++}`, this.slot);
    const segment = this.open;
    segment.events.set(key, event);
    segment.bytes += estimatedBytes(this.slot.vector(event));
    this.events.set(key, { value: event, segment });
    // Written again while open: the store serialises its latest value once per transaction.
    this.store.put(segment.key, segment);
    if (segment.bytes >= SEGMENT_BYTES) this.seal();
  }

  delete(key: string): void {
    const held = this.events.get(key);
    if (held === undefined) return;
    this.events.delete(key);
    if (held.segment === null) {
      this.store.delete(key);
      return;
    }
    held.segment.events.delete(key);
    if (held.segment.events.size > 0) return;
    this.store.delete(held.segment.key);
    if (held.segment === this.open) this.open = undefined;
  }

  *entries(): IterableIterator<[string, T]> {
    for (const [key, { value }] of this.events) yield [key, value];
  }

  /** Ends the open segment: the next event starts another (call after each batch). */
  seal(): void {
    this.open = undefined;
  }
}
