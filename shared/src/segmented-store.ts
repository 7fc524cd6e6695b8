import { ChangelogBlock, Segment, SEGMENT_BYTES, SEGMENT_KEY_PREFIX, segmentEvents, type SegmentFormat } from './event-time/segmented-buffer.js';
import type { KeyValueStore } from './state-store.js';

/**
 * A key-value store whose values are written to the changelog many to a
 * record, for stores whose entries leave in any order (the learner's vectors
 * waiting for a label leave when the label comes): kept one value per key,
 * every entry cost two changelog records, a put and a tombstone, 1.92 per
 * transaction in the learner's pending store on the 92-day bench:pipeline
 * replay, as many as all of learner.examples.
 *
 * - The values put between two `seal`s (one batch) share one record,
 *   `segment-<n>`, written again while it is open (as `SegmentedBuffer`'s).
 * - A value deleted from a sealed segment is listed in that batch's removals
 *   record, `removed-<m>` (`{"removed": {"<n>": [keys]}}`); the segment is not
 *   rewritten. On restore, a segment's values less those its removals list are
 *   the store.
 * - A segment whose values are all gone is deleted, and a removals record
 *   once every segment it lists is.
 * - A segment down to a quarter of the values it was written with is
 *   compacted: those left move to the open segment and it is deleted, so the
 *   changelog holds at most about four times the live values (plus removals)
 *   however long a few of them wait (a vector waits up to its TTL, 30 days).
 *
 * Every change is put in the store when it is made, so a transaction's
 * records always describe the store as of its commit. Values stored one per
 * key (changelogs from before) are read, kept and deleted as before.
 */

const REMOVED_KEY_PREFIX = 'removed-';

/** A compacted segment is one down to this share of the values it was written with. */
const COMPACT_BELOW_SHARE = 0.25;
/** Bytes a removal takes in a removals record at most, besides its key (quotes, comma). */
const REMOVAL_OVERHEAD_BYTES = 4;

/** The keys deleted from sealed segments, by segment index, in one batch (or until it fills). */
class Removals extends ChangelogBlock {
  readonly bySegment = new Map<number, string[]>();
  bytes = 0;
  /** Listed segments not yet deleted. */
  liveSegments = 0;
  constructor(readonly key: string) {
    super();
  }

  toJSON(): { removed: Record<string, string[]> } {
    return { removed: Object.fromEntries(this.bySegment) };
  }
}

interface SegmentState<T> {
  index: number;
  record: Segment<T>;
  /** Values the segment's record holds (its values at its last write); null while it is open (rewritten each transaction). */
  written: number | null;
  /** Removals records listing keys of this segment. */
  listedIn: Set<Removals>;
}

interface Held<T> {
  value: T;
  /** null: stored under its own key (before segments). */
  segment: SegmentState<T> | null;
}

export class SegmentedStore<T> implements KeyValueStore<T> {
  private readonly held = new Map<string, Held<T>>();
  private readonly segments = new Map<number, SegmentState<T>>();
  private open: SegmentState<T> | undefined;
  private openRemovals: Removals | undefined;
  private nextSegment = 0;
  private nextRemovals = 0;

  /** `store` as restored (its codec `segmentedBufferCodec`'s, e.g. `vectorBufferCodec`); only this class may write to it. */
  constructor(
    private readonly store: KeyValueStore<unknown>,
    private readonly format: SegmentFormat<T>,
  ) {
    const removals: [string, Record<string, string[]>][] = [];
    for (const [key, value] of store.entries()) {
      if (format.isAuxiliary?.(key)) continue;
      if (key.startsWith(SEGMENT_KEY_PREFIX)) {
        const index = Number(key.slice(SEGMENT_KEY_PREFIX.length));
        this.nextSegment = Math.max(this.nextSegment, index + 1);
        const record = new Segment<T>(key, format);
        for (const [valueKey, stored] of segmentEvents(value, format, key)) record.events.set(valueKey, stored);
        this.segments.set(index, { index, record, written: record.events.size, listedIn: new Set() });
      } else if (key.startsWith(REMOVED_KEY_PREFIX)) {
        this.nextRemovals = Math.max(this.nextRemovals, Number(key.slice(REMOVED_KEY_PREFIX.length)) + 1);
        removals.push([key, value instanceof Removals ? Object.fromEntries(value.bySegment) : (value as { removed: Record<string, string[]> }).removed]);
      } else {
        this.held.set(key, { value: format.single(value, key), segment: null });
      }
    }
    for (const [key, bySegment] of removals) {
      const record = new Removals(key);
      for (const [index, keys] of Object.entries(bySegment)) {
        // A deleted segment's index may still be listed here: a new segment must not take it (its keys would go).
        this.nextSegment = Math.max(this.nextSegment, Number(index) + 1);
        const segment = this.segments.get(Number(index));
        if (segment === undefined) continue;
        for (const removed of keys) segment.record.events.delete(removed);
        record.bySegment.set(Number(index), keys);
        record.liveSegments += 1;
        segment.listedIn.add(record);
      }
      if (record.liveSegments === 0) store.delete(key);
    }
    for (const segment of [...this.segments.values()].sort((a, b) => a.index - b.index)) {
      for (const [key, value] of segment.record.events) {
        // A key in two segments cannot be written by this class (a put lists the old one's removal); keep the first.
        if (this.held.has(key)) segment.record.events.delete(key);
        else this.held.set(key, { value, segment });
      }
      this.afterRemoval(segment);
    }
  }

  get size(): number {
    return this.held.size;
  }

  get(key: string): T | undefined {
    return this.held.get(key)?.value;
  }

  has(key: string): boolean {
    return this.held.has(key);
  }

  put(key: string, value: T): void {
    this.delete(key);
    const stored = this.format.held ? this.format.held(value) : value;
    this.place(key, stored);
  }

  delete(key: string): void {
    const entry = this.held.get(key);
    if (entry === undefined) return;
    this.held.delete(key);
    const { segment } = entry;
    if (segment === null) {
      this.store.delete(key);
      return;
    }
    segment.record.events.delete(key);
    // The open segment is written again without it (it may be in an earlier transaction's record already).
    if (segment.written === null) this.store.put(segment.record.key, segment.record);
    else this.listRemoval(segment, key);
    this.afterRemoval(segment);
  }

  keys(): IterableIterator<string> {
    return this.held.keys();
  }

  *entries(): IterableIterator<[string, T]> {
    for (const [key, { value }] of this.held) yield [key, value];
  }

  /** Ends the open segment and removals record: the next change starts others (call after each batch). */
  seal(): void {
    if (this.open !== undefined) this.open.written = this.open.record.events.size;
    this.open = undefined;
    this.openRemovals = undefined;
  }

  private place(key: string, value: T): void {
    if (this.open === undefined) {
      const index = this.nextSegment++;
      this.open = { index, record: new Segment<T>(`${SEGMENT_KEY_PREFIX}${index}`, this.format), written: null, listedIn: new Set() };
      this.segments.set(index, this.open);
    }
    const segment = this.open;
    segment.record.events.set(key, value);
    segment.record.bytes += this.format.estimatedBytes(value);
    this.held.set(key, { value, segment });
    // Written again while open: the store serialises its latest value once per transaction.
    this.store.put(segment.record.key, segment.record);
    if (segment.record.bytes >= SEGMENT_BYTES) this.seal();
  }

  private listRemoval(segment: SegmentState<T>, key: string): void {
    if (this.openRemovals === undefined) this.openRemovals = new Removals(`${REMOVED_KEY_PREFIX}${this.nextRemovals++}`);
    const removals = this.openRemovals;
    let keys = removals.bySegment.get(segment.index);
    if (keys === undefined) {
      keys = [];
      removals.bySegment.set(segment.index, keys);
      removals.liveSegments += 1;
      segment.listedIn.add(removals);
    }
    keys.push(key);
    removals.bytes += key.length + REMOVAL_OVERHEAD_BYTES;
    this.store.put(removals.key, removals);
    if (removals.bytes >= SEGMENT_BYTES) this.openRemovals = undefined;
  }

  /** Deletes a segment left empty, or compacts a sealed one down to a quarter of what it was written with. */
  private afterRemoval(segment: SegmentState<T>): void {
    const left = segment.record.events.size;
    if (left > 0 && (segment.written === null || left > segment.written * COMPACT_BELOW_SHARE)) return;
    if (segment === this.open) this.open = undefined;
    this.segments.delete(segment.index);
    this.store.delete(segment.record.key);
    for (const removals of segment.listedIn) {
      removals.liveSegments -= 1;
      if (removals.liveSegments > 0) continue;
      this.store.delete(removals.key);
      if (removals === this.openRemovals) this.openRemovals = undefined;
    }
    for (const [key, value] of segment.record.events) this.place(key, value);
  }
}
