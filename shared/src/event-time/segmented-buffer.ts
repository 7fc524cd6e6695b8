import type { KeyValueStore } from '../state-store.js';
import type { BufferMap, HeldOrigin } from './ordered-buffer.js';

/**
 * An event-time buffer's events in its changelogged store, many to a record.
 *
 * Kept one event per key, every buffered event cost two changelog records, a
 * put and a tombstone: in a 14-day bench:pipeline replay the learner's join
 * and train buffers wrote 808 k of its ~1.85 M records and the terminal
 * buffer 272 k of the features service's ~620 k, and the kafkajs produce
 * encoding's work is per record as much as per byte (`produce/v3/request.js`,
 * the record encoder, crc32C: the largest CPU item of both). Here the events
 * put between two `seal`s (one batch) share one record (`segment-<n>`,
 * written again while it is open, sealed at `SEGMENT_BYTES`), and a segment
 * is deleted once every event in it has been released: 808 k → 3.3 k and
 * 272 k → 706 records in that replay.
 *
 * A segment is not rewritten when only some of its events were released: the
 * owner's applied frontier, written in the same transaction as the releases,
 * tells them apart when the store is restored (`appliedThrough`: every event
 * at or before it was released, none after it is). Events stored one per key
 * (changelogs from before) are read and released as before.
 *
 * An event put with its origin (the input record it is) is not written at
 * all: the input keeps it. Its processor commits, for that input, the offset
 * of the oldest record still held (`oldestHeld`) rather than the end of the
 * batch, and notes the end beside it; after an assignment, the records between
 * the two are read again and their owner puts back those still after its
 * applied frontier (ProcessorHandler.heldInputs). Even in segments, the held
 * events cost a changelog copy of every vector: without them a 92-day
 * bench:pipeline replay went from 7,233 to 7,807 tx/s, and 209 to 195 CPU µs
 * per transaction (issue 13; 700 MiB of the replay's changelogs were buffers).
 */

/**
 * A segment is sealed once its events' estimated JSON passes this size, well
 * under the broker's default message limit (1 MiB) whatever the number of
 * features (each format's `estimatedBytes` is an upper bound).
 */
export const SEGMENT_BYTES = 256 * 1024;

export const SEGMENT_KEY_PREFIX = 'segment-';

/** How one buffer's events are written in a segment record, and read back. */
export interface SegmentFormat<T> {
  /** At most what an event takes in the segment's JSON. */
  estimatedBytes(event: T): number;
  /** The JSON of a segment's events (the record is `{"segment": <this>}`). */
  write(events: ReadonlyMap<string, T>): unknown;
  /** The events of a segment record as `write` wrote it; `where` names it in errors. */
  read(written: unknown, where: string): Iterable<[string, T]>;
  /** An event stored under its own key (before segments) as the store's codec decoded it. */
  single(value: unknown, key: string): T;
  /** An event as the buffer keeps it, when put (e.g. its vector's names shared); identity when absent. */
  held?(event: T): T;
  /** Store keys that hold no event (e.g. names written once beside the segments). */
  isAuxiliary?(key: string): boolean;
}

/** A changelog record holding many of a store's values (a segment, a list of removals): written as its own JSON. */
export abstract class ChangelogBlock {
  abstract toJSON(): unknown;
}

/** A segment while this process holds it: its events still buffered (or values still stored), by key. */
export class Segment<T> extends ChangelogBlock {
  readonly events = new Map<string, T>();
  /** What the events put in it would take as JSON, at most (`estimatedBytes`). */
  bytes = 0;
  constructor(
    readonly key: string,
    private readonly format: SegmentFormat<T>,
  ) {
    super();
  }

  toJSON(): { segment: unknown } {
    return { segment: this.format.write(this.events) };
  }
}

/** A segment record as restored. */
interface WrittenSegment {
  segment: unknown;
}

/**
 * The events of a restored segment record: the live object when the store is this process's own, else what `format`
 * reads from the record's JSON.
 */
export function segmentEvents<T>(value: unknown, format: SegmentFormat<T>, key: string): Iterable<[string, T]> {
  return value instanceof Segment ? (value as Segment<T>).events : format.read((value as WrittenSegment).segment, key);
}

/** JSON records whose first member is one of these are blocks (`ChangelogBlock`); both prefixes are 11 bytes. */
const BLOCK_PREFIXES = ['{"segment":', '{"removed":'];

/**
 * The buffer store's codec (the topology's), from the codec of events stored
 * one per key before segments: a block (a segment, or a `SegmentedStore`'s
 * removals) is JSON whose first member is `segment` or `removed`, anything
 * else the single event's codec reads.
 */
export function segmentedBufferCodec(single: { serialize: (value: never) => Buffer; deserialize: (bytes: Buffer) => unknown }): {
  serialize: (value: unknown) => Buffer;
  deserialize: (bytes: Buffer) => unknown;
} {
  return {
    serialize: (value) => (value instanceof ChangelogBlock ? Buffer.from(JSON.stringify(value)) : single.serialize(value as never)),
    deserialize: (bytes) => (BLOCK_PREFIXES.includes(bytes.subarray(0, 11).toString('latin1')) ? (JSON.parse(bytes.toString('utf8')) as unknown) : single.deserialize(bytes)),
  };
}

/** Where a held event is kept: in a segment, under its own key (before segments), or in memory only (read again from its origin). */
type Place<T> = Segment<T> | 'own-key' | HeldAt;

/** An event kept in memory only: its input record, and its key here (a key put again later has another place). */
interface HeldAt extends HeldOrigin {
  key: string;
}

/**
 * One input's events kept in memory only, in the order read (offset order), with those released since left in
 * place until they reach the front or a compaction. Without compaction a long-held event at the front kept every
 * later entry, held or not: in a 92-day replay the learner's labels wait days of event time in the join, and its
 * peak RSS rose by ~100 MiB. Compacting when the queue passes twice the events still held bounds it by that.
 */
class HeldQueue {
  private entries: HeldAt[] = [];
  private head = 0;
  /** Entries still held (`isHeld`), whatever their position. */
  live = 0;

  push(entry: HeldAt, isHeld: (entry: HeldAt) => boolean): void {
    this.entries.push(entry);
    this.live += 1;
    if (this.entries.length - this.head > 2 * this.live + 1024) {
      this.entries = this.entries.slice(this.head).filter(isHeld);
      this.head = 0;
    }
  }

  /** The oldest entry still held, dropping the released ones before it. */
  oldest(isHeld: (entry: HeldAt) => boolean): HeldAt | undefined {
    while (this.head < this.entries.length && !isHeld(this.entries[this.head]!)) this.head += 1;
    if (this.head >= 1024 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return this.entries[this.head];
  }
}

export class SegmentedBuffer<T> implements BufferMap<T> {
  /** Every buffered event, with where it is kept. */
  private readonly events = new Map<string, { value: T; place: Place<T> }>();
  /** Per input topic, the events kept in memory only, in the order read (offset order): some released since. */
  private readonly origins = new Map<string, HeldQueue>();
  private readonly isHeld = (entry: HeldAt): boolean => this.events.get(entry.key)?.place === entry;
  private open: Segment<T> | undefined;
  private nextSegment = 0;

  /**
   * `store` as restored (its codec `segmentedBufferCodec`'s); `appliedThrough`:
   * the owner's frontier stored beside it (events at or before it were
   * released); `timeOf`: an event's time in the owner's order.
   */
  constructor(
    private readonly store: KeyValueStore<unknown>,
    private readonly format: SegmentFormat<T>,
    appliedThrough: number,
    timeOf: (event: T) => number,
  ) {
    const drained: string[] = [];
    for (const [key, value] of store.entries()) {
      if (format.isAuxiliary?.(key)) continue;
      if (!key.startsWith(SEGMENT_KEY_PREFIX)) {
        this.events.set(key, { value: format.single(value, key), place: 'own-key' });
        continue;
      }
      this.nextSegment = Math.max(this.nextSegment, Number(key.slice(SEGMENT_KEY_PREFIX.length)) + 1);
      const segment = new Segment<T>(key, format);
      const events = segmentEvents(value, format, key);
      for (const [eventKey, event] of events) {
        if (timeOf(event) <= appliedThrough || this.events.has(eventKey)) continue;
        segment.events.set(eventKey, event);
        this.events.set(eventKey, { value: event, place: segment });
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

  put(key: string, value: T, origin?: HeldOrigin): void {
    this.delete(key);
    const event = this.format.held ? this.format.held(value) : value;
    if (origin !== undefined) {
      const held: HeldAt = { topic: origin.topic, offset: origin.offset, key };
      let topic = this.origins.get(origin.topic);
      if (topic === undefined) this.origins.set(origin.topic, (topic = new HeldQueue()));
      this.events.set(key, { value: event, place: held });
      topic.push(held, this.isHeld);
      return;
    }
    this.open ??= new Segment(`${SEGMENT_KEY_PREFIX}${this.nextSegment++}`, this.format);
    const segment = this.open;
    segment.events.set(key, event);
    segment.bytes += this.format.estimatedBytes(event);
    this.events.set(key, { value: event, place: segment });
    // Written again while open: the store serialises its latest value once per transaction.
    this.store.put(segment.key, segment);
    if (segment.bytes >= SEGMENT_BYTES) this.seal();
  }

  delete(key: string): void {
    const held = this.events.get(key);
    if (held === undefined) return;
    this.events.delete(key);
    const { place } = held;
    if (place === 'own-key') {
      this.store.delete(key);
      return;
    }
    if (!(place instanceof Segment)) {
      this.origins.get(place.topic)!.live -= 1;
      return;
    }
    place.events.delete(key);
    if (place.events.size > 0) return;
    this.store.delete(place.key);
    if (place === this.open) this.open = undefined;
  }

  /**
   * The offset of the oldest record of `topic` whose event is still held in memory only: where that input must be
   * read again from after an assignment. Undefined when none is.
   */
  oldestHeld(topic: string): string | undefined {
    return this.origins.get(topic)?.oldest(this.isHeld)?.offset;
  }

  *entries(): IterableIterator<[string, T]> {
    for (const [key, { value }] of this.events) yield [key, value];
  }

  /** Ends the open segment: the next event starts another (call after each batch). */
  seal(): void {
    this.open = undefined;
  }
}
