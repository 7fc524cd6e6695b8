import { describe, expect, it } from 'vitest';
import { Random } from '@sluice/shared';
import { Adwin, createDriftDetector, PageHinkley, restoreDriftDetector, type DriftDetector } from '../src/drift.js';

const CHANGE_AT = 5000;

/** A classifier's 0/1 error stream whose error rate jumps from 0.2 to 0.5. */
function abruptStream(seed: number, length = 8000): number[] {
  const r = new Random(seed);
  return Array.from({ length }, (_, t) => (r.next() < (t < CHANGE_AT ? 0.2 : 0.5) ? 1 : 0));
}

function stationaryStream(seed: number, length = 5000): number[] {
  const r = new Random(seed);
  return Array.from({ length }, () => Math.min(1, Math.max(0, 0.3 + 0.1 * r.normal())));
}

function detections(detector: DriftDetector, values: number[]): number[] {
  const at: number[] = [];
  values.forEach((v, t) => {
    if (detector.update(v)) at.push(t);
  });
  return at;
}

const SEEDS = [1, 2, 3, 4, 5];
const makers: [string, () => DriftDetector][] = [
  ['ADWIN', () => new Adwin()],
  ['Page-Hinkley', () => new PageHinkley()],
];

describe.each(makers)('%s', (_name, make) => {
  it('detects an abrupt rise in the error rate within 300 examples, and not before it', () => {
    for (const seed of SEEDS) {
      const at = detections(make(), abruptStream(seed));
      expect(at.filter((t) => t < CHANGE_AT)).toEqual([]);
      expect(at.length).toBeGreaterThan(0);
      expect((at[0] as number) - CHANGE_AT).toBeLessThan(300);
    }
  });

  it('raises no alarm on a stationary stream', () => {
    for (const seed of SEEDS) {
      expect(detections(make(), stationaryStream(seed + 100))).toEqual([]);
      expect(detections(make(), abruptStream(seed, CHANGE_AT))).toEqual([]);
    }
  });

  it('round-trips through JSON mid-stream to identical decisions', () => {
    const values = abruptStream(9);
    const detector = make();
    values.slice(0, 4321).forEach((v) => detector.update(v));
    const restored = restoreDriftDetector(JSON.parse(JSON.stringify(detector.toJSON())));
    expect(restored.kind).toBe(detector.kind);
    for (const v of values.slice(4321)) {
      expect(restored.update(v)).toBe(detector.update(v));
      expect(restored.estimation).toBe(detector.estimation);
    }
    expect(restored.toJSON()).toEqual(detector.toJSON());
  });
});

describe('ADWIN window', () => {
  it('is always the most recent values: mean and variance equal brute force over the last `windowLength` values', () => {
    const r = new Random(3);
    const values = abruptStream(3).map((v) => v + 0.1 * r.normal());
    const adwin = new Adwin();
    values.forEach((v, t) => {
      adwin.update(v);
      if (t % 50 !== 0) return;
      const recent = values.slice(t + 1 - adwin.windowLength, t + 1);
      const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
      expect(adwin.estimation).toBeCloseTo(mean, 9);
      expect(adwin.windowVariance).toBeCloseTo(recent.reduce((a, b) => a + (b - mean) ** 2, 0) / recent.length, 9);
    });
    expect(adwin.windowLength).toBeLessThan(values.length - CHANGE_AT + 500);
  });

  it('forgets the old concept after a drift', () => {
    const adwin = new Adwin();
    abruptStream(4).forEach((v) => adwin.update(v));
    expect(adwin.windowLength).toBeLessThan(3500);
    expect(Math.abs(adwin.estimation - 0.5)).toBeLessThan(0.04);
  });

  it("reports a fall in the mean only in mode 'both', but shrinks its window either way", () => {
    const falling = abruptStream(5).map((v) => 1 - v);
    const up = new Adwin();
    const both = new Adwin({ mode: 'both' });
    expect(detections(up, falling)).toEqual([]);
    const at = detections(both, falling);
    expect(at.length).toBeGreaterThan(0);
    expect((at[0] as number) - CHANGE_AT).toBeLessThan(300);
    expect(up.windowLength).toBe(both.windowLength);
    expect(up.windowLength).toBeLessThan(3500);
  });

  it('keeps O(log n) buckets that add up to the window', () => {
    const adwin = new Adwin({ maxBuckets: 5 });
    const r = new Random(6);
    for (let i = 0; i < 100_000; i++) adwin.update(r.next());
    const state = adwin.toJSON();
    expect(adwin.windowLength).toBe(100_000);
    expect(state.rows.length).toBeLessThanOrEqual(Math.ceil(Math.log2(100_000 / 5)) + 1);
    state.rows.forEach((row) => expect(row.totals.length).toBeLessThanOrEqual(5));
    expect(state.rows.reduce((n, row, i) => n + row.totals.length * 2 ** i, 0)).toBe(100_000);
  });
});

describe('detector factory', () => {
  it('creates and restores each kind, and rejects unknown state', () => {
    expect(createDriftDetector({ kind: 'adwin', delta: 0.01 }).toJSON()).toMatchObject({ kind: 'adwin', options: { delta: 0.01 } });
    expect(createDriftDetector({ kind: 'page_hinkley', threshold: 20 }).toJSON()).toMatchObject({
      kind: 'page_hinkley',
      options: { threshold: 20 },
    });
    expect(() => createDriftDetector({ kind: 'adwin', delta: 2 })).toThrow(expect.objectContaining({ code: 'invalid_learner_options' }));
    expect(() => restoreDriftDetector({ kind: 'cusum' })).toThrow(expect.objectContaining({ code: 'learner_state_invalid' }));
    expect(() => restoreDriftDetector({ kind: 'adwin' })).toThrow(expect.objectContaining({ code: 'learner_state_invalid' }));
    expect(() => new Adwin().update(NaN)).toThrow(expect.objectContaining({ code: 'invalid_drift_value' }));
  });
});
