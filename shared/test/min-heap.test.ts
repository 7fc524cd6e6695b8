import { describe, expect, it } from 'vitest';
import { Random } from '@sluice/shared';
import { MinHeap } from '../src/min-heap.js';

describe('MinHeap', () => {
  it('pops in sorted order under random pushes, pops and retains', () => {
    const r = new Random(8);
    const heap = new MinHeap<number>((a, b) => a < b);
    let reference: number[] = [];
    for (let step = 0; step < 5_000; step++) {
      const op = r.next();
      if (op < 0.55) {
        const v = Math.floor(r.next() * 1000);
        heap.push(v);
        reference.push(v);
      } else if (op < 0.99) {
        reference.sort((a, b) => a - b);
        expect(heap.peek()).toBe(reference[0]);
        expect(heap.pop()).toBe(reference.shift());
      } else {
        heap.retain((v) => v % 3 !== 0);
        reference = reference.filter((v) => v % 3 !== 0);
      }
      expect(heap.size).toBe(reference.length);
    }
  });
});
