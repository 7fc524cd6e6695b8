/**
 * The terminal stage's buffer of routed events in its changelogged store,
 * many events to a record (as the learner's buffers since 429070b).
 *
 * Kept one event per key, every buffered event cost two changelog records, a
 * put and a tombstone: 272 k of the ~620 k records the service wrote in the
 * 14-day bench:pipeline replay, and the produce encoding's work is per record
 * as much as per byte (kafkajs `produce/v3/request.js:95`, the record
 * encoder, crc32C: the service's largest CPU item). Here the events put
 * between two `seal`s (one batch) share one record (`segment-<n>`, written
 * again while it is open, at most ~SEGMENT_BYTES), and a segment is deleted
 * once every event in it has been released.
 *
 * A segment is not rewritten when only some of its events were released: the
 * terminal clocks' frontier, written in the same transaction as the releases,
 * tells them apart when the store is restored (every event at or before it
 * was released, none after it is). Events stored one per key (changelogs
 * from before) are read and released as before.
 */

import type { RoutedEvent } from '@sluice/shared';
import type { BufferMap } from '@sluice/shared/event-time';
import { routedFields, routedOf, serializeRoutedEvent, type RoutedFields } from './routed-codec.js';

/** A segment is sealed once its events' estimated JSON passes this size, well under the broker's 1 MiB message limit. */
export const SEGMENT_BYTES = 256 * 1024;

/** At most 300 bytes an event besides its values, at most 24 a value. */
function estimatedBytes(routed: RoutedEvent): number {
  return 300 + 24 * (routed.event_values.length + routed.customer_values.length);
}

const SEGMENT_KEY_PREFIX = 'segment-';

/** A segment as its changelog record holds it: its events with their buffer keys. */
interface StoredSegment {
  segment: [string, RoutedFields][];
}

/** A segment while this process holds it: its events still buffered, by key; JSON as `StoredSegment`. */
class Segment {
  readonly events = new Map<string, RoutedEvent>();
  bytes = 0;
  constructor(readonly key: string) {}

  toJSON(): StoredSegment {
    return { segment: Array.from(this.events, ([key, routed]): [string, RoutedFields] => [key, routedFields(routed)]) };
  }
}

/** What the buffer's store holds under a key: a segment (as held, or as restored), or one event (before segments). */
export type TerminalBufferValue = Segment | StoredSegment | RoutedEvent;

function isStoredSegment(value: unknown): value is StoredSegment {
  return typeof value === 'object' && value !== null && 'segment' in value;
}

/** The buffer store's codec (topology.ts). */
export const terminalBufferCodec = {
  serialize: (value: TerminalBufferValue): Buffer =>
    value instanceof Segment || isStoredSegment(value) ? Buffer.from(JSON.stringify(value)) : serializeRoutedEvent(value),
  deserialize: (bytes: Buffer): TerminalBufferValue => {
    const parsed = JSON.parse(bytes.toString('utf8')) as StoredSegment | RoutedFields | RoutedEvent;
    return isStoredSegment(parsed) ? parsed : routedOf(parsed);
  },
};

function segmentEvents(value: Segment | StoredSegment): Iterable<[string, RoutedEvent]> {
  if (value instanceof Segment) return value.events;
  return value.segment.map(([key, fields]): [string, RoutedEvent] => [key, routedOf(fields)]);
}

export interface BufferStore {
  entries(): IterableIterator<[string, TerminalBufferValue]>;
  put(key: string, value: TerminalBufferValue): void;
  delete(key: string): void;
}

export class SegmentedBuffer implements BufferMap<RoutedEvent> {
  /** Every buffered event, with its segment (null: stored under its own key, before segments). */
  private readonly events = new Map<string, { value: RoutedEvent; segment: Segment | null }>();
  private open: Segment | undefined;
  private nextSegment = 0;

  /** `store` as restored; `appliedThrough`: the frontier stored beside it (events at or before it were released). */
  constructor(
    private readonly store: BufferStore,
    appliedThrough: number,
    timeOf: (routed: RoutedEvent) => number,
  ) {
    const drained: string[] = [];
    for (const [key, value] of store.entries()) {
      if (!key.startsWith(SEGMENT_KEY_PREFIX)) {
        this.events.set(key, { value: value as RoutedEvent, segment: null });
        continue;
      }
      this.nextSegment = Math.max(this.nextSegment, Number(key.slice(SEGMENT_KEY_PREFIX.length)) + 1);
      const segment = new Segment(key);
      for (const [eventKey, routed] of segmentEvents(value as Segment | StoredSegment)) {
        if (timeOf(routed) <= appliedThrough || this.events.has(eventKey)) continue;
        segment.events.set(eventKey, routed);
        this.events.set(eventKey, { value: routed, segment });
      }
      if (segment.events.size === 0) drained.push(key);
    }
    for (const key of drained) store.delete(key);
  }

  get size(): number {
    return this.events.size;
  }

  get(key: string): RoutedEvent | undefined {
    return this.events.get(key)?.value;
  }

  put(key: string, value: RoutedEvent): void {
    this.delete(key);
    this.open ??= new Segment(`${SEGMENT_KEY_PREFIX}${this.nextSegment++}`);
    const segment = this.open;
    segment.events.set(key, value);
    segment.bytes += estimatedBytes(value);
    this.events.set(key, { value, segment });
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

  *entries(): IterableIterator<[string, RoutedEvent]> {
    for (const [key, { value }] of this.events) yield [key, value];
  }

  /** Ends the open segment: the next event starts another (after each batch). */
  seal(): void {
    this.open = undefined;
  }
}
