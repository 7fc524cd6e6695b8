import { MinHeap } from '../min-heap.js';

/** Where an event goes in the total order a reader applies: event time, then a rank per kind, then its id. */
export interface EventOrder {
  time: number;
  /** Breaks ties between kinds at the same time (e.g. a label established at t before a transaction at t). */
  rank: number;
  id: string;
}

export function compareOrder(a: EventOrder, b: EventOrder): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  if (a.rank !== b.rank) return a.rank - b.rank;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Where a buffered event was read: its input topic (the task's partition of it) and offset. A store that keeps such an
 * event only in memory (SegmentedBuffer) reads it again from there after an assignment.
 */
export interface HeldOrigin {
  topic: string;
  offset: string;
}

/** The part of a (changelogged) key-value store the buffer needs; shared's KeyValueStore has this shape. */
export interface BufferMap<T> {
  get(key: string): T | undefined;
  /** `origin`: the input record the event came from, when it is one (see HeldOrigin). */
  put(key: string, value: T, origin?: HeldOrigin): void;
  delete(key: string): void;
  readonly size: number;
  entries(): IterableIterator<[string, T]>;
}

/** One key per position in the order, so that a store rebuilt from its changelog holds exactly the buffered events. */
export function orderKey(order: EventOrder): string {
  return `${order.time}|${order.rank}|${order.id}`;
}

interface Pending {
  order: EventOrder;
  key: string;
}

/**
 * Events waiting for the watermark, in a store (so they are state: written
 * to the changelog with the batch, restored on assignment) with a min-heap
 * beside it for the order. `releaseThrough(frontier)` hands back, in order,
 * every event at or before the frontier and deletes it from the store. The
 * heap is rebuilt from the store when the buffer is created, so a restored
 * reader releases the same events in the same order as the one that stopped.
 * The same event buffered twice (an upstream retry the de-duplication did not
 * catch) occupies one key and is released once.
 */
export class OrderedBuffer<T> {
  private readonly heap = new MinHeap<Pending>((a, b) => compareOrder(a.order, b.order) < 0);

  constructor(
    private readonly store: BufferMap<T>,
    private readonly orderOf: (event: T) => EventOrder,
  ) {
    for (const [key, event] of store.entries()) this.heap.push({ order: orderOf(event), key });
  }

  get size(): number {
    return this.store.size;
  }

  /** Event time of the oldest buffered event. */
  get oldestTime(): number | undefined {
    this.dropReleased();
    return this.heap.peek()?.order.time;
  }

  /** `origin`: the input record the event is (HeldOrigin), when the store may keep it in memory only. */
  add(event: T, origin?: HeldOrigin): void {
    const order = this.orderOf(event);
    const key = orderKey(order);
    if (this.store.get(key) === undefined) this.heap.push({ order, key });
    this.store.put(key, event, origin);
  }

  releaseThrough(frontier: number): T[] {
    return this.releaseAtMost(frontier, Infinity).events;
  }

  /**
   * Like `releaseThrough`, but stops after about `maxEvents`: past them it
   * releases only the rest of the last one's time, so that `through`, the
   * time everything at or before has now been released, is a watermark its
   * reader can pass on (`frontier` when nothing at or before it is left).
   */
  releaseAtMost(frontier: number, maxEvents: number): { events: T[]; through: number } {
    const events: T[] = [];
    let last = -Infinity;
    for (;;) {
      this.dropReleased();
      const top = this.heap.peek();
      if (top === undefined || top.order.time > frontier) return { events, through: frontier };
      if (events.length >= maxEvents && top.order.time !== last) return { events, through: last };
      this.heap.pop();
      events.push(this.store.get(top.key)!);
      this.store.delete(top.key);
      last = top.order.time;
    }
  }

  /** Heap entries whose key left the store (released earlier under a duplicate) are skipped. */
  private dropReleased(): void {
    for (let top = this.heap.peek(); top !== undefined && this.store.get(top.key) === undefined; top = this.heap.peek()) this.heap.pop();
  }
}
