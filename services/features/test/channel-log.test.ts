import { describe, expect, it } from 'vitest';
import { emptyLog, insertPoint, itemTime, toBuckets, upperBound } from '../src/channel-log.js';
import { compileSpec } from '../src/plan.js';
import { prng } from './synthetic-stream.js';

const plan = compileSpec({
  version: 'c',
  bucketMs: 1000,
  features: [
    { kind: 'window', name: 'sd', entity: 'k', windowMs: 60_000, aggregation: 'stddev', field: 'x' },
    { kind: 'window', name: 'lo', entity: 'k', windowMs: 60_000, aggregation: 'min', field: 'x' },
    { kind: 'window', name: 'hi', entity: 'k', windowMs: 60_000, aggregation: 'max', field: 'x' },
  ],
}).entities.get('k')!;
const channel = plan.channels[0]!;

function points(seed: number, count: number): { time: number; x: number }[] {
  const random = prng(seed);
  return Array.from({ length: count }, () => ({ time: -5000 + Math.floor(random() * 20_000), x: Math.round(random() * 100) }));
}

describe('channel log', () => {
  it('keeps exact points sorted, equal times in arrival order', () => {
    const log = emptyLog(channel);
    const input = points(1, 500).map((p, i) => ({ ...p, time: Math.floor(p.time / 50), i }));
    for (const p of input) insertPoint(channel, log, p.time, [p.i]);
    const expected = [...input].sort((a, b) => a.time - b.time || a.i - b.i);
    expect(log.t).toEqual(expected.map((p) => p.time));
    expect(log.c[0]).toEqual(expected.map((p) => p.i));
  });

  it('buckets hold the count, sums and extremes of the points of their slot, negative times included', () => {
    const input = points(2, 400);
    const log = emptyLog(channel);
    for (const p of input.slice(0, 100)) insertPoint(channel, log, p.time, [p.x]);
    toBuckets(channel, log, 0);
    for (const p of input.slice(100)) insertPoint(channel, log, p.time, [p.x]);
    const cols = channel.bucketColumns[0]!;
    const slots = new Map<number, number[]>();
    for (const p of input) {
      const slot = Math.floor(p.time / 1000) * 1000;
      slots.set(slot, [...(slots.get(slot) ?? []), p.x]);
    }
    expect(log.t).toEqual([...slots.keys()].sort((a, b) => a - b));
    log.t.forEach((slot, i) => {
      const xs = slots.get(slot)!;
      const base = log.c[cols.base]![i]!;
      expect(itemTime(log, slot + 999)).toBe(slot);
      expect(log.n[i]).toBe(xs.length);
      expect(base + log.c[cols.sum]![i]! / xs.length).toBeCloseTo(xs.reduce((a, b) => a + b, 0) / xs.length, 9);
      expect(log.c[cols.sumsq]![i]).toBeCloseTo(xs.reduce((a, x) => a + (x - base) ** 2, 0), 6);
      expect(log.c[cols.min]![i]).toBe(Math.min(...xs));
      expect(log.c[cols.max]![i]).toBe(Math.max(...xs));
    });
  });

  it('finds the first item after a time', () => {
    const times = [1, 2, 2, 2, 5];
    expect([0, 1, 2, 4, 5, 9].map((t) => upperBound(times, t))).toEqual([0, 1, 4, 4, 5, 5]);
  });
});
