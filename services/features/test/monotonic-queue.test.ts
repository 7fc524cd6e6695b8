import { describe, expect, it } from 'vitest';
import { emptyQueue, queueEvict, queueFront, queueInsert } from '../src/monotonic-queue.js';
import { prng } from './synthetic-stream.js';

describe('monotonic queue', () => {
  it('fronts the minimum of the points after the far edge, whatever order they arrive in', () => {
    const random = prng(5);
    const queue = emptyQueue();
    let points: { time: number; value: number }[] = [];
    let edge = 0;
    let clock = 0;
    for (let step = 0; step < 20_000; step++) {
      if (random() < 0.7) {
        clock += Math.floor(random() * 5);
        // Mostly in order; some behind the newest point, some at the same time.
        const time = random() < 0.3 ? Math.max(edge + 1, clock - Math.floor(random() * 40)) : clock;
        const value = Math.floor(random() * 50);
        queueInsert(queue, time, value);
        points.push({ time, value });
      } else {
        edge = Math.max(edge, clock - 60 + Math.floor(random() * 20));
        queueEvict(queue, edge);
        points = points.filter((p) => p.time > edge);
      }
      const expected = points.length === 0 ? undefined : Math.min(...points.map((p) => p.value));
      expect(queueFront(queue)).toBe(expected);
    }
    // Dominated entries are dropped: the queue never holds more than the live points.
    expect((queue.length - queue[0]!) / 2).toBeLessThanOrEqual(points.length);
  });
});
