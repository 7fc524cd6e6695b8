import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlignmentBoard } from '../../src/event-time/alignment-board.js';
import { alignmentFlow, inputFlow, pausedAfter, slowestTime, ReleaseBudget, type FlowInput, type FlowLimits, type SourcesView } from '../../src/event-time/flow-control.js';

const timeArb = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 1_000 }) }, { weight: 1, arbitrary: fc.constant(-Infinity) });
const inputArb: fc.Arbitrary<FlowInput> = fc.record({ time: timeArb, idle: fc.boolean(), paused: fc.boolean() });
const limitsArb: fc.Arbitrary<FlowLimits> = fc.record({ maxBuffered: fc.integer({ min: 0, max: 100 }), maxAheadMs: fc.integer({ min: 0, max: 300 }) });

describe('inputFlow', () => {
  it('never leaves the input holding the minimum, or an idle one, paused: the frontier can always move', () => {
    fc.assert(
      fc.property(fc.array(inputArb, { minLength: 1, maxLength: 4 }), fc.nat(200), limitsArb, (inputs, buffered, limits) => {
        const after = inputFlow(inputs, buffered, limits).map((action, i) => pausedAfter(action, inputs[i]!.paused));
        const slowest = slowestTime(inputs);
        inputs.forEach((input, i) => {
          if (input.idle || input.time === slowest) expect(after[i]).toBe(false);
        });
        if (inputs.some((input) => !input.idle)) expect(inputs.some((input, i) => !input.idle && !after[i])).toBe(true);
      }),
    );
  });

  it('pauses only past the buffer limit and the distance, and only what is not paused yet', () => {
    fc.assert(
      fc.property(fc.array(inputArb, { minLength: 1, maxLength: 4 }), fc.nat(200), limitsArb, (inputs, buffered, limits) => {
        const slowest = slowestTime(inputs);
        inputFlow(inputs, buffered, limits).forEach((action, i) => {
          const input = inputs[i]!;
          if (action === 'pause') {
            expect(input.paused).toBe(false);
            expect(input.idle).toBe(false);
            expect(buffered).toBeGreaterThan(limits.maxBuffered);
            expect(input.time - slowest).toBeGreaterThan(limits.maxAheadMs);
          }
          if (action === 'resume') expect(input.paused).toBe(true);
        });
      }),
    );
  });

  it('resumes a paused input once the buffer has drained to half its limit', () => {
    fc.assert(
      fc.property(fc.array(inputArb, { minLength: 1, maxLength: 4 }), limitsArb, (inputs, limits) => {
        const buffered = Math.floor(limits.maxBuffered / 2);
        inputFlow(inputs, buffered, limits).forEach((action, i) => expect(pausedAfter(action, inputs[i]!.paused)).toBe(false));
      }),
    );
  });

  it('labels a week ahead of the vectors: paused past the limit, kept below it, resumed when the vectors come within half the distance', () => {
    const limits = { maxBuffered: 1_000, maxAheadMs: 60_000 };
    const week = 7 * 86_400_000;
    expect(inputFlow([{ time: 0, idle: false, paused: false }, { time: week, idle: false, paused: false }], 1_001, limits)).toEqual(['keep', 'pause']);
    expect(inputFlow([{ time: 0, idle: false, paused: false }, { time: week, idle: false, paused: false }], 1_000, limits)).toEqual(['keep', 'keep']);
    expect(inputFlow([{ time: week - 40_000, idle: false, paused: false }, { time: week, idle: false, paused: true }], 900, limits)).toEqual(['keep', 'keep']);
    expect(inputFlow([{ time: week - 30_000, idle: false, paused: false }, { time: week, idle: false, paused: true }], 900, limits)).toEqual(['keep', 'resume']);
    // The vectors' input going idle leaves the labels holding the minimum.
    expect(inputFlow([{ time: 0, idle: true, paused: false }, { time: week, idle: false, paused: true }], 5_000, limits)).toEqual(['keep', 'resume']);
  });
});

/**
 * A reader of several inputs, each a sorted list of event times read in batches: it buffers what it reads and
 * releases what the slowest non-exhausted input has passed, deciding pauses after every batch. Whatever the order
 * the inputs are read in, everything is released (no deadlock), and with maxAheadMs 0 the buffer never holds more
 * than the limit plus one batch per input.
 */
describe('a reader pausing with inputFlow', () => {
  const streamsArb = fc.array(fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 40 }).map((times) => times.sort((a, b) => a - b)), { minLength: 1, maxLength: 3 });

  it('releases every event, and bounds the buffer', () => {
    fc.assert(
      fc.property(streamsArb, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 20 }), fc.array(fc.nat(), { minLength: 1, maxLength: 50 }), (streams, batch, maxBuffered, choices) => {
        const limits = { maxBuffered, maxAheadMs: 0 };
        const position = streams.map(() => 0);
        const time = streams.map(() => -Infinity);
        const paused = streams.map(() => false);
        let buffer: number[] = [];
        let released = 0;
        let peak = 0;
        const exhausted = (i: number) => position[i]! >= streams[i]!.length;
        for (let step = 0; step < 10_000; step++) {
          const readable = streams.map((_, i) => i).filter((i) => !paused[i] && !exhausted(i));
          if (readable.length === 0) break;
          const i = readable[choices[step % choices.length]! % readable.length]!;
          const read = streams[i]!.slice(position[i], position[i]! + batch);
          position[i]! += read.length;
          time[i] = read[read.length - 1]!;
          buffer.push(...read);
          peak = Math.max(peak, buffer.length);
          const inputs = streams.map((_, j) => ({ time: time[j]!, idle: exhausted(j), paused: paused[j]! }));
          const frontier = inputs.every((input) => input.idle) ? Infinity : slowestTime(inputs);
          const kept = buffer.filter((t) => t > frontier);
          released += buffer.length - kept.length;
          buffer = kept;
          inputFlow(inputs, buffer.length, limits).forEach((action, j) => (paused[j] = pausedAfter(action, paused[j]!)));
        }
        expect(streams.every((_, i) => exhausted(i))).toBe(true);
        expect(released + buffer.length).toBe(streams.reduce((sum, s) => sum + s.length, 0));
        expect(buffer).toEqual([]);
        expect(peak).toBeLessThanOrEqual(maxBuffered + streams.length * batch);
      }),
    );
  });
});

describe('alignmentFlow', () => {
  const viewArb: fc.Arbitrary<SourcesView> = fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.array(fc.record({ time: timeArb, idle: fc.boolean() }), { minLength: 1, maxLength: 4 }), fc.nat(200))
    .map(([expected, clocks, buffered]) => ({ expected: Math.max(expected, clocks.length), clocks: new Map(clocks.map((clock, i) => [i, clock])), buffered }));

  const ownArb = fc.record({ time: timeArb, idle: fc.boolean() });

  it('never leaves the source the reader waits for, or one it has not heard, paused', () => {
    fc.assert(
      fc.property(viewArb, fc.nat(4), ownArb, fc.boolean(), limitsArb, (view, source, own, paused, limits) => {
        const after = pausedAfter(alignmentFlow(view, source, own, paused, limits), paused);
        const heard = view.clocks.get(source);
        const slowest = view.clocks.size < view.expected ? -Infinity : slowestTime(view.clocks.values());
        if (heard === undefined || heard.idle || own.idle || heard.time <= slowest) expect(after).toBe(false);
        // Every source holding the minimum is free, whatever it has written since: the reader's frontier waits on no paused source.
        if (view.clocks.size === view.expected && [...view.clocks.values()].some((clock) => !clock.idle)) {
          const free = [...view.clocks].filter(([s, clock]) => !clock.idle && !pausedAfter(alignmentFlow(view, s, { time: Infinity, idle: false }, true, limits), true));
          expect(free.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it('pauses nothing without a view', () => {
    const own = { time: 1_000, idle: false };
    expect(alignmentFlow(undefined, 0, own, true, { maxBuffered: 0, maxAheadMs: 0 })).toBe('resume');
    expect(alignmentFlow(undefined, 0, own, false, { maxBuffered: 0, maxAheadMs: 0 })).toBe('keep');
  });

  it('measures how far ahead by what the source has sent, heard by the reader or not yet', () => {
    const view: SourcesView = { expected: 2, clocks: new Map([[0, { time: 100, idle: false }], [1, { time: 10, idle: false }]]), buffered: 50 };
    const limits = { maxBuffered: 40, maxAheadMs: 200 };
    // The reader has heard source 0 at 100 (90 ahead), but it has sent through 500 since: 490 ahead.
    expect(alignmentFlow(view, 0, { time: 100, idle: false }, false, limits)).toBe('keep');
    expect(alignmentFlow(view, 0, { time: 500, idle: false }, false, limits)).toBe('pause');
    // Source 1 holds the reader's minimum: never paused, however far it has gone since.
    expect(alignmentFlow(view, 1, { time: 5_000, idle: false }, false, limits)).toBe('keep');
    expect(alignmentFlow(view, 1, { time: 5_000, idle: false }, true, limits)).toBe('resume');
  });
});

describe('ReleaseBudget', () => {
  const view = (times: number[], buffered = 0, expected = times.length): SourcesView => ({
    expected,
    clocks: new Map(times.map((time, i) => [i, { time, idle: false }])),
    buffered,
  });
  const limits = { maxBuffered: 9, maxAheadMs: 0 };

  it('lets each of the reader\'s sources have its share of the limit sent past the reader\'s frontier, and no more', () => {
    const budget = new ReleaseBudget();
    expect(budget.room(view([10, 20, 30]), limits, 1)).toBe(3);
    for (const time of [11, 12, 13]) budget.record(time);
    expect(budget.room(view([10, 20, 30]), limits, 1)).toBe(0);
    // The reader's frontier passes 12: two of the three are released there, room for two more.
    expect(budget.room(view([12, 20, 30]), limits, 1)).toBe(2);
    expect(budget.room(view([40, 20, 30]), limits, 1)).toBe(3);
  });

  it('before the reader has heard any source, counts everything sent against a share of the writers it knows of', () => {
    const budget = new ReleaseBudget();
    const silent: SourcesView = { expected: 0, clocks: new Map(), buffered: 0 };
    expect(budget.room(silent, limits, 3)).toBe(3);
    for (const time of [1, 2]) budget.record(time);
    expect(budget.room(silent, limits, 3)).toBe(1);
  });

  it('counts from the very start until the reader has heard every source, and tracks nothing without a view', () => {
    const budget = new ReleaseBudget();
    expect(budget.room(view([50], 0, 3), limits, 1)).toBe(3);
    budget.record(-5);
    expect(budget.room(view([50], 0, 3), limits, 1)).toBe(2);
    expect(budget.room(undefined, limits, 1)).toBe(Infinity);
    budget.record(1);
    expect(budget.room(view([0, 0, 0]), limits, 1)).toBe(3);
  });

  it('bounds what the reader holds, read or not, by its limit, and every source gets everything through', () => {
    // Three writers release the same ordered times in rounds; the reader reads some of what was sent each round.
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 30 }), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 3, max: 12 }),
        fc.array(fc.nat(5), { minLength: 1, maxLength: 20 }),
        (gaps, maxBuffered, reads) => {
          const pending = gaps.map((steps) => steps.reduce<number[]>((times, gap) => [...times, (times.at(-1) ?? 0) + gap], []));
          const budgets = pending.map(() => new ReleaseBudget());
          const topic: { source: number; time: number; mark: number }[] = [];
          const heard = new Map(pending.map((_, source) => [source, { time: -Infinity, idle: false }]));
          const read: number[] = [];
          const sent = pending.map(() => -Infinity);
          const done = pending.map(() => false);
          for (let round = 0; round < 500 && (pending.some((times) => times.length > 0) || topic.length > 0); round++) {
            pending.forEach((times, source) => {
              const room = budgets[source]!.room({ expected: 3, clocks: heard, buffered: 0 }, { maxBuffered, maxAheadMs: 0 }, 1);
              let released = 0;
              while (times.length > 0 && (released < room || times[0] === sent[source])) {
                const time = times.shift()!;
                budgets[source]!.record(time);
                sent[source] = time;
                released += 1;
                topic.push({ source, time, mark: time });
              }
              // Done: one last mark, as a writer sends a mark only when it changes.
              if (times.length === 0 && !done[source]) {
                done[source] = true;
                topic.push({ source, time: NaN, mark: Infinity });
              }
            });
            const frontier = () => Math.min(...[...heard.values()].map((clock) => clock.time));
            // What the reader holds or has not read yet never exceeds the three shares of the limit.
            const held = read.filter((time) => time > frontier()).length + topic.filter((record) => !Number.isNaN(record.time)).length;
            expect(held).toBeLessThanOrEqual(3 * Math.ceil(maxBuffered / 3));
            for (let k = reads[round % reads.length]! + 1; k > 0 && topic.length > 0; k--) {
              const record = topic.shift()!;
              if (!Number.isNaN(record.time)) read.push(record.time);
              heard.set(record.source, { time: record.mark, idle: false });
            }
          }
          expect(pending.every((times) => times.length === 0)).toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('AlignmentBoard', () => {
  const reader = (times: number[], buffered: number) => ({
    clocks: { expected: times.length, bySource: new Map(times.map((time, i) => [i, { time, idle: false }])) },
    buffered,
  });

  it('shows the reader furthest along with the largest buffer, and forgets a reader not heard from', () => {
    const board = new AlignmentBoard(10_000);
    expect(board.view(0)).toBeUndefined();
    board.publish(0, reader([5, 9], 100), 0);
    board.publish(1, reader([7, 9], 40), 5_000);
    expect(board.view(6_000)).toMatchObject({ expected: 2, buffered: 100, clocks: new Map([[0, { time: 7, idle: false }], [1, { time: 9, idle: false }]]) });
    // Reader 0 was last heard at 0: gone after 10 s.
    expect(board.view(12_000)).toMatchObject({ buffered: 40 });
    expect(board.view(20_000)).toBeUndefined();
  });

  it('tells its listeners of every publish, after the view has it', () => {
    const board = new AlignmentBoard(10_000);
    const seen: (number | undefined)[] = [];
    board.onPublish(() => seen.push(board.view(0)?.buffered));
    board.onPublish(() => seen.push(-1));
    board.publish(0, reader([5], 100), 0);
    board.publish(0, reader([6], 30), 0);
    expect(seen).toEqual([100, -1, 30, -1]);
  });
});
