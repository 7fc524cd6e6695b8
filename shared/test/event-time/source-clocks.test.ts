import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SourceClocks } from '../../src/event-time/source-clocks.js';
import { decodeWatermark, encodeWatermark, type WatermarkMark } from '../../src/event-time/watermark.js';

const SOURCES = 3;
const markArb = fc.record({
  source: fc.integer({ min: 0, max: SOURCES - 1 }),
  sources: fc.constant(SOURCES),
  time: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(-Infinity)),
  idle: fc.boolean(),
});

/**
 * The frontier by its definition, once all sources have reported: the running maximum of the minimum over the
 * non-idle sources' newest times, or of the newest time of all when every source is idle.
 */
function bruteForceFrontiers(marks: readonly WatermarkMark[]): number[] {
  const newest = new Map<number, number>();
  const idle = new Map<number, boolean>();
  let frontier = -Infinity;
  return marks.map((mark) => {
    newest.set(mark.source, Math.max(newest.get(mark.source) ?? -Infinity, mark.time));
    idle.set(mark.source, mark.idle);
    if (newest.size === SOURCES) {
      const active = [...newest].filter(([source]) => !idle.get(source)).map(([, time]) => time);
      frontier = Math.max(frontier, active.length > 0 ? Math.min(...active) : Math.max(...newest.values()));
    }
    return frontier;
  });
}

describe('SourceClocks', () => {
  it('follows the brute-force frontier, and a restored copy continues identically', () => {
    fc.assert(
      fc.property(fc.array(markArb, { maxLength: 60 }), fc.nat(60), (marks, restoreAt) => {
        const expected = bruteForceFrontiers(marks);
        let clocks = new SourceClocks();
        marks.forEach((mark, i) => {
          if (i === restoreAt) clocks = SourceClocks.restore(JSON.parse(JSON.stringify(clocks.toState())));
          clocks.observe(mark);
          expect(clocks.frontier).toBe(expected[i]);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('waits for every source, lets an idle one be passed, and releases all it holds when every source is idle', () => {
    const clocks = new SourceClocks();
    clocks.observe({ source: 0, sources: 2, time: 10, idle: false });
    expect(clocks.frontier).toBe(-Infinity);
    clocks.observe({ source: 1, sources: 2, time: 4, idle: false });
    expect(clocks.frontier).toBe(4);
    clocks.observe({ source: 1, sources: 2, time: 4, idle: true });
    expect(clocks.frontier).toBe(10);
    clocks.observe({ source: 0, sources: 2, time: 12, idle: true });
    expect(clocks.allIdle).toBe(true);
    expect(clocks.frontier).toBe(12);
    // Back from idle behind the frontier: the frontier does not go back.
    clocks.observe({ source: 1, sources: 2, time: 6, idle: false });
    expect(clocks.frontier).toBe(12);
    expect(clocks.census()).toEqual({ expected: 2, reported: 2, idle: 1 });
  });
});

describe('watermark header', () => {
  it('round-trips, including a source with no event yet', () => {
    for (const mark of [
      { source: 0, sources: 6, time: 1_700_000_000_000, idle: false },
      { source: 5, sources: 6, time: -Infinity, idle: true },
    ]) {
      expect(decodeWatermark(encodeWatermark(mark))).toEqual(mark);
    }
  });

  it('refuses malformed headers', () => {
    for (const header of ['', '1/2/3', '2/2/5/active', 'a/2/5/idle', '0/2/1.5/active', '0/2/5/asleep']) expect(decodeWatermark(header)).toBeUndefined();
  });
});
