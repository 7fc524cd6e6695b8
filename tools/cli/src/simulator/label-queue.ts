/**
 * Labels waiting for their event time. The delay is the same for every label
 * and transactions come in time order, so a FIFO is already sorted by time;
 * it holds at most delay × daily volume labels.
 */
import type { LabelEvent } from './events.js';

export class LabelQueue {
  private items: LabelEvent[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(label: LabelEvent): void {
    this.items.push(label);
  }

  /** The next label if it is due at or before `at`. */
  shiftDue(at: number): LabelEvent | undefined {
    const next = this.items[this.head];
    if (next === undefined || next.at > at) return undefined;
    this.head++;
    // Drop the consumed prefix once it dominates, so memory follows the live size.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return next;
  }
}
