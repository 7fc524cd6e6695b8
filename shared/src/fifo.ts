/**
 * A first-in first-out queue with amortised O(1) push and shift.
 *
 * Exists because a Map used as a queue (delete its first key) is not O(1) in
 * V8: deleted slots stay as holes at the front until the table is rehashed, and
 * every new iterator walks past them.
 */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    // Drop the consumed prefix once it is most of the array: each element is
    // copied at most once per halving, so the cost stays amortised O(1).
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
