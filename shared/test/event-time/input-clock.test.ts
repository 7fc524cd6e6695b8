import { describe, expect, it } from 'vitest';
import { combineInputClocks, InputClock } from '../../src/event-time/input-clock.js';

describe('InputClock', () => {
  it('trails the newest event time by the allowed disorder', () => {
    const clock = new InputClock(100, 5_000, 0);
    expect(clock.time).toBe(-Infinity);
    clock.observe(1_000, 0);
    clock.observe(900, 0);
    expect(clock.time).toBe(900);
  });

  it('is idle only when caught up and quiet for the timeout, never while behind', () => {
    const clock = new InputClock(0, 5_000, 0);
    clock.observe(10, 0);
    clock.endOfBatch(3, 0);
    expect(clock.idle(60_000)).toBe(false);
    clock.endOfBatch(0, 1_000);
    expect(clock.idle(5_999)).toBe(false);
    expect(clock.idle(6_000)).toBe(true);
    clock.observe(20, 7_000);
    expect(clock.idle(7_001)).toBe(false);
  });

  it('combines inputs as the minimum over the active ones, idle when all are', () => {
    const transactions = new InputClock(0, 1_000, 0);
    const labels = new InputClock(0, 1_000, 0);
    transactions.observe(500, 0);
    transactions.endOfBatch(10, 0);
    labels.endOfBatch(0, 0);
    expect(combineInputClocks([transactions, labels], 10)).toEqual({ time: -Infinity, idle: false });
    // Labels caught up at assignment and never delivered a batch: quiet for the timeout, they are idle.
    expect(new InputClock(0, 1_000, 0).idle(1_000)).toBe(true);
    // A backlog at assignment: not idle however long its first batch takes.
    expect(new InputClock(0, 1_000, 0, false).idle(60_000)).toBe(false);
    expect(combineInputClocks([transactions, labels], 2_000)).toEqual({ time: 500, idle: false });
    transactions.endOfBatch(0, 2_000);
    expect(combineInputClocks([transactions, labels], 3_000)).toEqual({ time: 500, idle: true });
  });
});
