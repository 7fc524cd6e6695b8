import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TRANSIENT_STATES, TransientStateWatch, transientStateOf } from '../../src/runtime/transient-states.js';

const [unreachable, coordinator] = [TRANSIENT_STATES[0]!, TRANSIENT_STATES[1]!];

describe('transientStateOf', () => {
  it("finds the state in the line's text or in its error", () => {
    expect(transientStateOf('Connection error: connect ECONNREFUSED 127.0.0.1:9092')?.name).toBe('broker unreachable');
    expect(transientStateOf('Response GroupCoordinator(key: 10, version: 2)', 'The group coordinator is not available')?.name).toBe(coordinator.name);
    expect(transientStateOf('Response Produce(key: 0, version: 7)', 'Not authorized to access topics: [Topic authorization failed.]')).toBeUndefined();
  });
});

describe('TransientStateWatch', () => {
  it('reports each state on its own clock', () => {
    const watch = new TransientStateWatch(10_000, 5_000);
    expect(watch.observe(unreachable, 0)).toBeUndefined();
    expect(watch.observe(coordinator, 8_000)).toBeUndefined();
    expect(watch.observe(unreachable, 4_000)).toBeUndefined();
    expect(watch.observe(unreachable, 8_000)).toBeUndefined();
    expect(watch.observe(unreachable, 10_000)).toEqual({ state: unreachable, seconds: 10, lines: 4 });
    expect(watch.observe(coordinator, 12_000)).toBeUndefined();
  });

  it('never reports a state whose lasting spells are reported by the code waiting on it (a consumer restarting: recovery.ts)', () => {
    const watch = new TransientStateWatch(10_000, 5_000);
    const restarting = TRANSIENT_STATES.find((state) => state.name === 'consumer restarting')!;
    for (let ms = 0; ms <= 60_000; ms += 1_000) expect(watch.observe(restarting, ms)).toBeUndefined();
  });

  it('reports a spell exactly when it has lasted the deadline, once; a spell starts again after a quiet gap (brute force)', () => {
    const deadlineMs = 10_000;
    const quietMs = 3_000;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 6_000 }), { maxLength: 60 }), (gaps) => {
        const watch = new TransientStateWatch(deadlineMs, quietMs);
        let now = 0;
        let since = 0;
        let reported = false;
        for (const [index, gap] of gaps.entries()) {
          now += gap;
          if (index === 0 || gap > quietMs) {
            since = now;
            reported = false;
          }
          const expectReport = !reported && now - since >= deadlineMs;
          if (expectReport) reported = true;
          expect(watch.observe(coordinator, now) !== undefined).toBe(expectReport);
        }
      }),
    );
  });
});
