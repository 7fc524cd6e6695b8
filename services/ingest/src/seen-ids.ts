import { hash } from 'node:crypto';
import type { KeyValueStore } from '@sluice/shared';

/**
 * The ids ingest's de-duplication remembers, each with the time it was first
 * seen, kept as fingerprints in typed arrays and in a changelogged store.
 *
 * Why not strings in a Map: on the 92-day replay (1.74 M ids inside the 24 h
 * horizon, a backlog produced in seconds) the ids were ingest's largest heap
 * item, 250-370 MiB used (README, Memory, 2026-12-03), and 100-132 bytes per
 * id on the shared ExpiringIndex (services/ingest/bench/dedup-memory.ts). An
 * entry here is a fixed ~50 bytes whatever the id's length: a 128-bit
 * fingerprint, the time, its place in a heap, its segment links and a hash
 * slot. The fingerprint is the first 128 bits of the id's SHA-256: two ids
 * share one with probability ~n^2/2^129 (below 10^-26 for 10^7 ids held), and
 * finding an id that shares a given id's fingerprint is a second preimage of
 * SHA-256, so nobody can make a stranger's transaction look like a duplicate.
 *
 * Every decision is a function of the stored (fingerprint, time) pairs alone,
 * as ExpiringIndex's are: entries leave in (time, fingerprint) order, never by
 * arrival, so a store rebuilt from its changelog, whose records come back in
 * any order, makes the same decisions as the one that wrote it.
 *
 * The changelog holds *segments*, as before: the entries first written during
 * one batch under `segment-<n>`, as `{"fingerprints": <base64, 16 bytes
 * each>, "at": [<time>, ...]}`, written when the batch commits and rewritten
 * only when entries leave it (a tombstone once none is left). Stores written
 * by earlier versions are taken over: segments of ids (`{"ids": [...], "at":
 * [...]}`) and the first format (key = id, value = time), whose entries move
 * into a new segment.
 */

/** Bytes of an id's fingerprint: four 32-bit words. */
const FINGERPRINT_BYTES = 16;
const SEGMENT_KEY_PREFIX = 'segment-';
/**
 * A segment is sealed at this many entries (~36 bytes each as JSON: ~300 KB), well under the broker's default
 * message limit (1 MiB) however large a batch a bigger INGEST_FETCH_MAX_BYTES brings (as shared's segmented
 * buffers are at SEGMENT_BYTES).
 */
export const MAX_SEGMENT_ENTRIES = 8_192;
const NONE = -1;
const INITIAL_CAPACITY = 256;
/** Capacity grows by half: a full table of 500,000 entries wastes at most a third of it. */
const GROWTH = 1.5;
/** Hash slots per entry at most 3/4 full: linear probing stays short. */
const MAX_LOAD = 0.75;

/** An id's fingerprint as four unsigned 32-bit words (big-endian words of the first 16 bytes of its SHA-256). */
export function fingerprintOf(id: string, into: Uint32Array = new Uint32Array(4)): Uint32Array {
  // 'binary' (latin1) gives one character per byte: ~0.55 µs per id, against ~1.7 µs for a Buffer (measured here, Node 20).
  const digest = hash('sha256', id, 'binary');
  for (let word = 0; word < 4; word++) {
    const at = word * 4;
    into[word] = ((digest.charCodeAt(at) << 24) | (digest.charCodeAt(at + 1) << 16) | (digest.charCodeAt(at + 2) << 8) | digest.charCodeAt(at + 3)) >>> 0;
  }
  return into;
}

/** A segment as this version writes it to the changelog. */
interface SegmentRecord {
  fingerprints: string;
  at: number[];
}

export class SeenIds {
  private capacity = 0;
  private fingerprints = new Uint32Array(0);
  private times = new Float64Array(0);
  /** Each entry's segment number. */
  private segmentOf = new Int32Array(0);
  /** Links of each segment's list of entries; `next` also links the free entries. */
  private next = new Int32Array(0);
  private previous = new Int32Array(0);
  /** Open addressing, linear probing: entry index + 1, 0 for an empty slot. */
  private slots = new Int32Array(0);
  /** A binary min-heap of entry indices by (time, fingerprint); heap[0..size) holds every entry. */
  private heap = new Int32Array(0);
  private count = 0;
  private freeHead = NONE;
  /** Entries ever handed out; those below it and not held are on the free list. */
  private allocated = 0;
  private readonly segments = new Map<number, Segment>();
  private open: Segment | undefined;
  private nextSegment = 0;
  /** The fingerprint of `probedId`: ingest asks `seen` and then `remember` of one id, which hashes it once. */
  private readonly probe = new Uint32Array(4);
  private probedId: string | undefined;
  private readonly describe = (segment: Segment): SegmentRecord => this.segmentRecord(segment);

  /**
   * Takes over `store` (typically just restored from its changelog). `maxEntries`
   * only sizes the arrays' growth: the caller applies the bound.
   */
  constructor(
    private readonly store: KeyValueStore<unknown>,
    private readonly maxEntries: number,
  ) {
    this.resize(Math.min(INITIAL_CAPACITY, maxEntries + 1));
    this.load();
  }

  get size(): number {
    return this.count;
  }

  /** When `id` was first seen, if it is held. */
  firstSeen(id: string): number | undefined {
    const entry = this.find(this.fingerprint(id), 0);
    return entry === NONE ? undefined : this.times[entry];
  }

  /** Holds `id` as first seen at `at`; the caller has checked it is not held. */
  add(id: string, at: number): void {
    const segment = this.openSegment();
    this.insert(this.fingerprint(id), 0, at, segment);
    this.store.put(segment.key, segment);
    if (segment.live >= MAX_SEGMENT_ENTRIES) segment.sealed = true;
  }

  private fingerprint(id: string): Uint32Array {
    if (id !== this.probedId) {
      fingerprintOf(id, this.probe);
      this.probedId = id;
    }
    return this.probe;
  }

  /** The time of the oldest entry by (time, fingerprint), if any. */
  oldestTime(): number | undefined {
    return this.count === 0 ? undefined : this.times[this.heap[0]!];
  }

  /** Removes the oldest entry by (time, fingerprint); returns its time. */
  removeOldest(): number {
    const entry = this.heap[0]!;
    const time = this.times[entry]!;
    this.count -= 1;
    if (this.count > 0) {
      this.heap[0] = this.heap[this.count]!;
      this.siftDown(0);
    }
    this.unslot(entry);
    this.leaveSegment(entry);
    this.next[entry] = this.freeHead;
    this.freeHead = entry;
    return time;
  }

  /** A segment's live entries, in the order they were written, as this version writes them. */
  private segmentRecord(segment: Segment): SegmentRecord {
    const bytes = Buffer.allocUnsafe(segment.live * FINGERPRINT_BYTES);
    const at: number[] = [];
    let offset = 0;
    for (let entry = segment.head; entry !== NONE; entry = this.next[entry]!) {
      for (let word = 0; word < 4; word++) bytes.writeUInt32BE(this.fingerprints[entry * 4 + word]!, offset + word * 4);
      offset += FINGERPRINT_BYTES;
      at.push(this.times[entry]!);
    }
    return { fingerprints: bytes.toString('base64'), at };
  }

  private load(): void {
    const legacy: [string, number][] = [];
    const unreadable: string[] = [];
    for (const [key, value] of this.store.entries()) {
      const number = key.startsWith(SEGMENT_KEY_PREFIX) ? Number(key.slice(SEGMENT_KEY_PREFIX.length)) : NaN;
      const entries = Number.isInteger(number) && number >= 0 ? segmentEntries(value) : undefined;
      if (entries !== undefined) this.adopt(number, entries);
      else if (isTime(value)) legacy.push([key, value]);
      // The changelog is plain JSON: what cannot be read as entries cannot be judged, so it goes.
      else unreadable.push(key);
    }
    for (const key of unreadable) this.store.delete(key);
    for (const [id, at] of legacy) {
      this.store.delete(id);
      // As new ids are added, so a large store of the first format becomes segments of at most MAX_SEGMENT_ENTRIES.
      if (this.firstSeen(id) === undefined) this.add(id, at);
    }
  }

  /** A segment restored from the changelog: its entries not held already (a duplicate keeps the first one read). */
  private adopt(number: number, entries: { fingerprints: Uint32Array; at: number[] }): void {
    const segment = new Segment(number, this.describe);
    segment.sealed = true;
    this.segments.set(number, segment);
    this.nextSegment = Math.max(this.nextSegment, number + 1);
    for (let i = 0; i < entries.at.length; i++) {
      if (this.find(entries.fingerprints, i * 4) !== NONE) continue;
      this.insert(entries.fingerprints, i * 4, entries.at[i]!, segment);
    }
    if (segment.live === 0) this.dropSegment(segment);
    else if (entries.at.length > segment.live) this.store.put(segment.key, segment);
  }

  private openSegment(): Segment {
    if (this.open === undefined || this.open.sealed) {
      this.open = new Segment(this.nextSegment++, this.describe);
      this.segments.set(this.open.number, this.open);
    }
    return this.open;
  }

  private insert(fingerprint: Uint32Array, from: number, time: number, segment: Segment): void {
    if (this.count === this.capacity) {
      // Up to the bound (+1: the caller evicts after adding); a store restored over a lowered bound grows past it.
      const limit = this.maxEntries + 1;
      const grown = Math.ceil(this.capacity * GROWTH);
      this.resize(this.count < limit ? Math.min(grown, limit) : grown);
    }
    let entry: number;
    if (this.freeHead !== NONE) {
      entry = this.freeHead;
      this.freeHead = this.next[entry]!;
    } else {
      entry = this.allocated++;
    }
    for (let word = 0; word < 4; word++) this.fingerprints[entry * 4 + word] = fingerprint[from + word]!;
    this.times[entry] = time;
    this.slot(entry);
    this.heap[this.count] = entry;
    this.count += 1;
    this.siftUp(this.count - 1);
    this.segmentOf[entry] = segment.number;
    this.next[entry] = NONE;
    this.previous[entry] = segment.tail;
    if (segment.tail === NONE) segment.head = entry;
    else this.next[segment.tail] = entry;
    segment.tail = entry;
    segment.live += 1;
  }

  private leaveSegment(entry: number): void {
    const segment = this.segments.get(this.segmentOf[entry]!)!;
    const before = this.previous[entry]!;
    const after = this.next[entry]!;
    if (before === NONE) segment.head = after;
    else this.next[before] = after;
    if (after === NONE) segment.tail = before;
    else this.previous[after] = before;
    segment.live -= 1;
    if (segment.live === 0) this.dropSegment(segment);
    else this.store.put(segment.key, segment);
  }

  private dropSegment(segment: Segment): void {
    this.segments.delete(segment.number);
    this.store.delete(segment.key);
    if (this.open === segment) this.open = undefined;
  }

  /** The entry holding the fingerprint at `fingerprint[from..from+4)`, or NONE. */
  private find(fingerprint: Uint32Array, from: number): number {
    const mask = this.slots.length - 1;
    for (let slot = fingerprint[from]! & mask; ; slot = (slot + 1) & mask) {
      const held = this.slots[slot]!;
      if (held === 0) return NONE;
      const entry = held - 1;
      const at = entry * 4;
      if (
        this.fingerprints[at] === fingerprint[from] &&
        this.fingerprints[at + 1] === fingerprint[from + 1] &&
        this.fingerprints[at + 2] === fingerprint[from + 2] &&
        this.fingerprints[at + 3] === fingerprint[from + 3]
      ) {
        return entry;
      }
    }
  }

  private home(entry: number): number {
    return this.fingerprints[entry * 4]! & (this.slots.length - 1);
  }

  private slot(entry: number): void {
    const mask = this.slots.length - 1;
    let slot = this.home(entry);
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = entry + 1;
  }

  /** Empties the entry's slot, shifting back the entries after it that would no longer be found (no tombstones). */
  private unslot(entry: number): void {
    const mask = this.slots.length - 1;
    let hole = this.home(entry);
    while (this.slots[hole] !== entry + 1) hole = (hole + 1) & mask;
    for (let slot = (hole + 1) & mask; this.slots[slot] !== 0; slot = (slot + 1) & mask) {
      const home = this.home(this.slots[slot]! - 1);
      // The entry at `slot` may fill the hole unless its home lies cyclically in (hole, slot].
      const reachable = hole <= slot ? home > hole && home <= slot : home > hole || home <= slot;
      if (reachable) continue;
      this.slots[hole] = this.slots[slot]!;
      hole = slot;
    }
    this.slots[hole] = 0;
  }

  private resize(capacity: number): void {
    const grow = <T extends Int32Array | Uint32Array | Float64Array>(old: T, make: (length: number) => T, width = 1): T => {
      const next = make(capacity * width);
      next.set(old.subarray(0, this.allocated * width));
      return next;
    };
    this.fingerprints = grow(this.fingerprints, (n) => new Uint32Array(n), 4);
    this.times = grow(this.times, (n) => new Float64Array(n));
    this.segmentOf = grow(this.segmentOf, (n) => new Int32Array(n));
    this.next = grow(this.next, (n) => new Int32Array(n));
    this.previous = grow(this.previous, (n) => new Int32Array(n));
    const heap = new Int32Array(capacity);
    heap.set(this.heap.subarray(0, this.count));
    this.heap = heap;
    this.capacity = capacity;
    let slots = 1;
    while (slots * MAX_LOAD < capacity) slots *= 2;
    if (slots !== this.slots.length) {
      this.slots = new Int32Array(slots);
      for (let i = 0; i < this.count; i++) this.slot(this.heap[i]!);
    }
  }

  private less(a: number, b: number): boolean {
    const ta = this.times[a]!;
    const tb = this.times[b]!;
    if (ta !== tb) return ta < tb;
    for (let word = 0; word < 4; word++) {
      const fa = this.fingerprints[a * 4 + word]!;
      const fb = this.fingerprints[b * 4 + word]!;
      if (fa !== fb) return fa < fb;
    }
    return false;
  }

  private siftUp(index: number): void {
    const entry = this.heap[index]!;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(entry, this.heap[parent]!)) break;
      this.heap[i] = this.heap[parent]!;
      i = parent;
    }
    this.heap[i] = entry;
  }

  private siftDown(index: number): void {
    const entry = this.heap[index]!;
    const n = this.count;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.less(this.heap[right]!, this.heap[left]!) ? right : left;
      if (!this.less(this.heap[child]!, entry)) break;
      this.heap[i] = this.heap[child]!;
      i = child;
    }
    this.heap[i] = entry;
  }
}

/** The entries first written during one batch; the store holds it as the value of its key until it empties. */
class Segment {
  head = NONE;
  tail = NONE;
  live = 0;
  /** Written to the changelog, or full: the next entry opens a new segment. */
  sealed = false;

  constructor(
    readonly number: number,
    private readonly describe: (segment: Segment) => SegmentRecord,
  ) {}

  get key(): string {
    return `${SEGMENT_KEY_PREFIX}${this.number}`;
  }

  /** Called by the store's JSON serialisation when the batch commits. */
  toJSON(): SegmentRecord {
    this.sealed = true;
    return this.describe(this);
  }
}

/** A segment record of this version or of the earlier one (ids), as fingerprints and times; undefined when unreadable. */
function segmentEntries(value: unknown): { fingerprints: Uint32Array; at: number[] } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { fingerprints, ids, at } = value as { fingerprints?: unknown; ids?: unknown; at?: unknown };
  if (!Array.isArray(at) || !at.every(isTime)) return undefined;
  if (typeof fingerprints === 'string') {
    const bytes = Buffer.from(fingerprints, 'base64');
    if (bytes.length !== at.length * FINGERPRINT_BYTES) return undefined;
    const words = new Uint32Array(at.length * 4);
    for (let i = 0; i < words.length; i++) words[i] = bytes.readUInt32BE(i * 4);
    return { fingerprints: words, at };
  }
  if (Array.isArray(ids) && ids.length === at.length && ids.every((id) => typeof id === 'string')) {
    const words = new Uint32Array(ids.length * 4);
    ids.forEach((id: string, i) => fingerprintOf(id, words.subarray(i * 4, i * 4 + 4)));
    return { fingerprints: words, at };
  }
  return undefined;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
