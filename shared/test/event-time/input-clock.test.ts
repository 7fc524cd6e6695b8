import { describe, expect, it } from 'vitest';
import { InputClock } from '../../src/event-time/input-clock.js';
import { combineProgress, InputWatermark } from '../../src/event-time/input-watermark.js';

describe('InputClock', () => {
  it('trails the newest event time by the allowed disorder, and one more millisecond (another record of it may follow)', () => {
    const clock = new InputClock(100, 5_000, 0);
    expect(clock.time).toBe(-Infinity);
    clock.observe(1_000, 0);
    clock.observe(900, 0);
    expect(clock.time).toBe(899);
    expect(clock.newestTime).toBe(1_000);
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

  it('resuming from idle, stands where it was for one more idle timeout, so partitions resuming with it are not overtaken', () => {
    const clock = new InputClock(0, 1_000, 0);
    clock.observe(500, 0);
    clock.endOfBatch(0, 0);
    expect(clock.idle(1_000)).toBe(true);
    clock.observe(9_000, 1_500);
    clock.endOfBatch(0, 1_500);
    expect(clock.idle(1_500)).toBe(false);
    expect(clock.time).toBe(500);
    expect(clock.idle(2_499)).toBe(false);
    expect(clock.time).toBe(500);
    expect(clock.idle(2_500)).toBe(true);
    expect(clock.time).toBe(8_999);
    // A partition that was never idle does not hold.
    const busy = new InputClock(0, 1_000, 0);
    busy.observe(500, 0);
    busy.observe(600, 900);
    expect(busy.time).toBe(599);
    // Nor one that was quiet but never said idle (its task was busy elsewhere: nobody was told).
    const unasked = new InputClock(0, 1_000, 0);
    unasked.observe(100, 0);
    unasked.observe(200, 5_000);
    expect(unasked.time).toBe(199);
    // Records during the hold move nothing; the first tick after it does.
    const quiet = new InputClock(0, 1_000, 0);
    quiet.observe(100, 0);
    expect(quiet.idle(4_000)).toBe(true);
    quiet.observe(200, 5_000);
    expect(quiet.time).toBe(100);
    quiet.observe(300, 5_900);
    expect(quiet.time).toBe(100);
    expect(quiet.idle(6_000)).toBe(false);
    expect(quiet.time).toBe(299);
  });

  it('combines inputs as the minimum over the active ones, idle when all are', () => {
    const transactions = new InputClock(0, 1_000, 0);
    const labels = new InputClock(0, 1_000, 0);
    const progress = (now: number) => combineProgress([transactions, labels].map((clock) => ({ time: clock.time, idle: clock.idle(now) })));
    transactions.observe(500, 0);
    transactions.endOfBatch(10, 0);
    labels.endOfBatch(0, 0);
    expect(progress(10)).toEqual({ time: -Infinity, idle: false });
    // Labels caught up at assignment and never delivered a batch: quiet for the timeout, they are idle.
    expect(new InputClock(0, 1_000, 0).idle(1_000)).toBe(true);
    // A backlog at assignment: not idle however long its first batch takes.
    expect(new InputClock(0, 1_000, 0, false).idle(60_000)).toBe(false);
    expect(progress(2_000)).toEqual({ time: 499, idle: false });
    transactions.endOfBatch(0, 2_000);
    expect(progress(3_000)).toEqual({ time: 499, idle: true });
  });
});

describe('InputWatermark', () => {
  it('follows upstream marks and never judges idleness itself in upstream mode', () => {
    const input = new InputWatermark({ mode: 'upstream', disorderMs: 0, idleTimeoutMs: 1_000 }, 0, true);
    expect(input.unheard).toBe(true);
    input.observeEvent(900, 0);
    expect(input.progress(60_000)).toEqual({ time: -Infinity, idle: false });
    input.observeMark({ source: 0, sources: 2, time: 100, idle: false });
    expect(input.observeMark({ source: 1, sources: 2, time: 50, idle: false })).toBe(true);
    expect(input.progress(60_000)).toEqual({ time: 50, idle: false });
    input.observeMark({ source: 1, sources: 2, time: 50, idle: true });
    input.observeMark({ source: 0, sources: 2, time: 120, idle: true });
    expect(input.progress(60_000)).toEqual({ time: 120, idle: true });
    const restored = new InputWatermark({ mode: 'upstream', disorderMs: 0, idleTimeoutMs: 1_000 }, 0, true, JSON.parse(JSON.stringify(input.state())));
    expect(restored.progress(0)).toEqual({ time: 120, idle: true });
  });

  it('reads arrival in arrival mode', () => {
    const input = new InputWatermark({ mode: 'arrival', disorderMs: 10, idleTimeoutMs: 1_000 }, 0, false);
    expect(input.observeMark({ source: 0, sources: 1, time: 5, idle: false })).toBe(false);
    input.observeEvent(900, 0);
    input.endOfBatch(0, 0);
    expect(input.progress(500)).toEqual({ time: 889, idle: false });
    // Idle: everything read has been passed on, through the newest time.
    expect(input.progress(1_000)).toEqual({ time: 900, idle: true });
    expect(input.state()).toBeUndefined();
  });
});
