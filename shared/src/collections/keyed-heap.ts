/**
 * A binary min-heap of ids ordered by (time, id), with each id's position
 * kept in a Map: push, pop, remove and re-time any id in O(log n), look one up
 * in O(1). Ties go by id, never by arrival, so two heaps holding the same
 * (id, time) pairs pop them in the same order however they were filled (a
 * store rebuilt from its changelog is filled in another order).
 *
 * Entries are two parallel arrays (a time array of doubles is stored
 * unboxed): no object per entry. The position Map holds small integers, which
 * V8 stores without a box.
 */
export class KeyedHeap {
  private readonly times: number[] = [];
  private readonly ids: string[] = [];
  private readonly positions = new Map<string, number>();

  get size(): number {
    return this.ids.length;
  }

  has(id: string): boolean {
    return this.positions.has(id);
  }

  timeOf(id: string): number | undefined {
    const at = this.positions.get(id);
    return at === undefined ? undefined : this.times[at];
  }

  /** The smallest (time, id), or undefined when empty. */
  peekId(): string | undefined {
    return this.ids[0];
  }

  peekTime(): number | undefined {
    return this.times[0];
  }

  /** Adds `id`, or moves it to `time` when already held. */
  set(id: string, time: number): void {
    const at = this.positions.get(id);
    if (at !== undefined) {
      this.times[at] = time;
      this.siftDown(this.siftUp(at));
      return;
    }
    this.times.push(time);
    this.ids.push(id);
    this.positions.set(id, this.ids.length - 1);
    this.siftUp(this.ids.length - 1);
  }

  /** Removes `id`; false when it was not held. */
  remove(id: string): boolean {
    const at = this.positions.get(id);
    if (at === undefined) return false;
    this.positions.delete(id);
    const time = this.times.pop()!;
    const last = this.ids.pop()!;
    if (at < this.ids.length) {
      this.place(at, time, last);
      this.siftDown(this.siftUp(at));
    }
    return true;
  }

  private less(i: number, j: number): boolean {
    const a = this.times[i]!;
    const b = this.times[j]!;
    return a < b || (a === b && this.ids[i]! < this.ids[j]!);
  }

  private place(at: number, time: number, id: string): void {
    this.times[at] = time;
    this.ids[at] = id;
    this.positions.set(id, at);
  }

  private swap(i: number, j: number): void {
    const time = this.times[i]!;
    const id = this.ids[i]!;
    this.place(i, this.times[j]!, this.ids[j]!);
    this.place(j, time, id);
  }

  private siftUp(index: number): number {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
    return i;
  }

  private siftDown(index: number): void {
    const n = this.ids.length;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.less(right, left) ? right : left;
      if (!this.less(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }
}
