import type { KeyValueStore } from '../state-store.js';
import type { HeldEntries, IndexLayout, IndexLayoutFactory } from './expiring-index.js';

/**
 * Two ways to keep an ExpiringIndex in a KeyValueStore, chosen per use rather
 * than one for all, because each is the cheaper one where it is used:
 * - `perKeyLayout`: one store entry (one changelog record) per id, the value
 *   itself. For values that are large or change alone (a feature vector, a
 *   label, a customer's suppressed count): a change rewrites only its own
 *   record, compaction keeps one record per id, and the values live only in
 *   the store (the index holds ids and times).
 * - `segmentLayout`: for a set of ids whose value is just a time (ingest's
 *   de-duplication). Per id, the changelog record and the store's Map entry
 *   cost more than the id itself: issue 13 measured ~1 GiB for 500,000 ids
 *   kept one record per id. Segments hold the ids of one batch together
 *   (about one changelog record per batch; services/ingest/bench/dedup-memory.ts
 *   prints bytes per id).
 * Forcing segments on the per-key uses would rewrite a segment of vectors
 * whenever one of them is taken by its label; forcing per-key on ingest would
 * bring back issue 13's memory.
 */

/** One store entry per id (key = id). Entries failing `valid` are deleted when the index takes the store over. */
export function perKeyLayout<V>(store: KeyValueStore<V>, valid: (value: V) => boolean = () => true): IndexLayoutFactory<V> {
  return () => ({
    load(accept) {
      const refused: string[] = [];
      for (const [id, value] of store.entries()) if (!valid(value) || !accept(id, value, 0)) refused.push(id);
      for (const id of refused) store.delete(id);
    },
    value: (id) => store.get(id)!,
    write(id, value) {
      store.put(id, value);
      return 0;
    },
    erase: (id) => store.delete(id),
  });
}

/** A segment as written to the changelog: parallel arrays, live ids only. */
export interface SegmentRecord {
  ids: string[];
  at: number[];
}

const SEGMENT_KEY_PREFIX = 'segment-';

/** The ids first written during one batch; `ids`/`at` may still hold some that have left (dropped when written). */
class Segment {
  readonly ids: string[] = [];
  readonly at: number[] = [];
  /** How many of `ids` are still held. */
  live = 0;
  sealed = false;

  constructor(
    readonly number: number,
    private readonly held: HeldEntries,
  ) {}

  get key(): string {
    return `${SEGMENT_KEY_PREFIX}${this.number}`;
  }

  /** Called by the store's JSON serialisation when the batch commits: the segment is written, so it closes. */
  toJSON(): SegmentRecord {
    this.sealed = true;
    if (this.ids.length > this.live) {
      let kept = 0;
      for (let i = 0; i < this.ids.length; i++) {
        const id = this.ids[i]!;
        const at = this.at[i]!;
        if (this.held.tagOf(id) !== this.number || this.held.timeOf(id) !== at) continue;
        this.ids[kept] = id;
        this.at[kept] = at;
        kept += 1;
      }
      this.ids.length = kept;
      this.at.length = kept;
    }
    return { ids: this.ids, at: this.at };
  }
}

/**
 * Ids with a time (the value is the time), held in *segments*: each the ids
 * first written during one batch (`{"ids":[…],"at":[…]}` under
 * `segment-<n>`). A segment is written to the changelog when its batch commits
 * (serialising it closes it: the next id opens a new one), and written again
 * only when ids leave it (rewritten with those still held, or a tombstone once
 * none is).
 *
 * A store written by the earlier format (key = id, value = time) is converted
 * when taken over: its entries move into one segment and their keys are
 * deleted. Entries it cannot read are deleted.
 */
export function segmentLayout(store: KeyValueStore<unknown>): IndexLayoutFactory<number> {
  return (held) => new SegmentLayout(store, held);
}

class SegmentLayout implements IndexLayout<number> {
  private readonly segments = new Map<number, Segment>();
  private open: Segment | undefined;
  private nextSegment = 0;

  constructor(
    private readonly store: KeyValueStore<unknown>,
    private readonly held: HeldEntries,
  ) {}

  load(accept: (id: string, at: number, tag: number) => boolean): void {
    const legacy: [string, number][] = [];
    const unreadable: string[] = [];
    for (const [key, value] of this.store.entries()) {
      const number = key.startsWith(SEGMENT_KEY_PREFIX) ? Number(key.slice(SEGMENT_KEY_PREFIX.length)) : NaN;
      if (Number.isInteger(number) && isSegmentRecord(value)) this.adopt(number, value, accept);
      else if (isTime(value)) legacy.push([key, value]);
      // The changelog is plain JSON: what cannot be read as entries cannot be judged, so it goes.
      else unreadable.push(key);
    }
    for (const key of unreadable) this.store.delete(key);
    for (const [id, at] of legacy) {
      this.store.delete(id);
      const segment = this.openSegment();
      if (accept(id, at, segment.number)) this.append(segment, id, at);
    }
  }

  value(_id: string, time: number): number {
    return time;
  }

  write(id: string, at: number): number {
    const segment = this.openSegment();
    this.append(segment, id, at);
    return segment.number;
  }

  erase(_id: string, tag: number): void {
    const segment = this.segments.get(tag);
    if (segment === undefined) return;
    segment.live -= 1;
    if (segment.live <= 0) this.drop(segment);
    else this.store.put(segment.key, segment);
  }

  private openSegment(): Segment {
    if (this.open === undefined || this.open.sealed) {
      this.open = new Segment(this.nextSegment++, this.held);
      this.segments.set(this.open.number, this.open);
    }
    return this.open;
  }

  private append(segment: Segment, id: string, at: number): void {
    segment.ids.push(id);
    segment.at.push(at);
    segment.live += 1;
    this.store.put(segment.key, segment);
  }

  /** A segment restored from the changelog: the entries the index accepts. */
  private adopt(number: number, record: SegmentRecord, accept: (id: string, at: number, tag: number) => boolean): void {
    const segment = new Segment(number, this.held);
    for (let i = 0; i < record.ids.length; i++) {
      const id = record.ids[i];
      const at = record.at[i];
      if (typeof id !== 'string' || !isTime(at) || !accept(id, at, number)) continue;
      segment.ids.push(id);
      segment.at.push(at);
      segment.live += 1;
    }
    segment.sealed = true;
    this.segments.set(number, segment);
    this.nextSegment = Math.max(this.nextSegment, number + 1);
    if (segment.live === 0) this.drop(segment);
  }

  private drop(segment: Segment): void {
    this.segments.delete(segment.number);
    this.store.delete(segment.key);
    if (this.open === segment) this.open = undefined;
  }
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isSegmentRecord(value: unknown): value is SegmentRecord {
  return typeof value === 'object' && value !== null && Array.isArray((value as SegmentRecord).ids) && Array.isArray((value as SegmentRecord).at);
}
