import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Random } from '@sluice/shared';
import { averagePrecision, logLoss, PrequentialMetrics, rocAuc } from '../src/prequential-metrics.js';

/** Every positive/negative pair, a tie counting one half. */
function bruteAuc(scores: number[], labels: number[]): number | null {
  let wins = 0;
  let pairs = 0;
  scores.forEach((sp, i) => {
    if (labels[i] !== 1) return;
    scores.forEach((sn, j) => {
      if (labels[j] !== 0) return;
      pairs += 1;
      wins += sp > sn ? 1 : sp === sn ? 0.5 : 0;
    });
  });
  return pairs === 0 ? null : wins / pairs;
}

/**
 * sklearn's AP = Σ_k (R_k − R_{k−1}) P_k over distinct thresholds. Each
 * positive adds 1/P of recall at the threshold equal to its own score, so
 * AP = (1/P) Σ over positives i of precision(score ≥ s_i).
 */
function bruteAp(scores: number[], labels: number[]): number | null {
  const positives = labels.filter((y) => y === 1).length;
  if (positives === 0) return null;
  let sum = 0;
  scores.forEach((s, i) => {
    if (labels[i] !== 1) return;
    const above = scores.map((t, j) => ({ t, y: labels[j] })).filter((e) => e.t >= s);
    sum += above.filter((e) => e.y === 1).length / above.length;
  });
  return sum / positives;
}

function bruteLogLoss(scores: number[], labels: number[]): number | null {
  if (scores.length === 0) return null;
  const clip = (p: number) => Math.min(Math.max(p, 1e-15), 1 - 1e-15);
  return scores.reduce((s, p, i) => s - (labels[i] === 1 ? Math.log(clip(p)) : Math.log(1 - clip(p))), 0) / scores.length;
}

const examples = fc.array(
  fc.tuple(
    // Few distinct scores, so ties are the rule; 0 and 1 exercise the clipping.
    fc.integer({ min: 0, max: 8 }).map((k) => k / 8),
    fc.constantFrom<0 | 1>(0, 1),
  ),
  { maxLength: 60 },
);

describe('metric functions', () => {
  it("match scikit-learn's documented examples", () => {
    const scores = [0.1, 0.4, 0.35, 0.8];
    const labels = [0, 0, 1, 1];
    expect(rocAuc(scores, labels)).toBeCloseTo(0.75, 12);
    expect(averagePrecision(scores, labels)).toBeCloseTo(0.8333333333, 9);
    expect(logLoss([0.9, 0.1, 0.2, 0.65], [1, 0, 0, 1])).toBeCloseTo(0.21616187, 8);
  });

  it('equal brute-force computations on random data with ties', () => {
    fc.assert(
      fc.property(examples, (es) => {
        const scores = es.map(([s]) => s);
        const labels = es.map(([, y]) => y);
        const close = (a: number | null, b: number | null) => (a === null ? b === null : b !== null && Math.abs(a - b) < 1e-12);
        expect(close(rocAuc(scores, labels), bruteAuc(scores, labels))).toBe(true);
        expect(close(averagePrecision(scores, labels), bruteAp(scores, labels))).toBe(true);
        expect(close(logLoss(scores, labels), bruteLogLoss(scores, labels))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('are undefined where they should be', () => {
    expect(rocAuc([0.2, 0.3], [0, 0])).toBeNull();
    expect(rocAuc([0.2, 0.3], [1, 1])).toBeNull();
    expect(averagePrecision([0.2, 0.3], [0, 0])).toBeNull();
    expect(averagePrecision([0.2, 0.3], [1, 1])).toBe(1);
    expect(logLoss([], [])).toBeNull();
    expect(rocAuc([0.5, 0.5], [0, 1])).toBe(0.5);
  });
});

describe('PrequentialMetrics', () => {
  const r = new Random(17);
  const stream = Array.from({ length: 1500 }, () => {
    const y: 0 | 1 = r.next() < 0.1 ? 1 : 0;
    return { score: Math.round(Math.min(1, Math.max(0, 0.3 * y + 0.35 + 0.25 * r.normal())) * 20) / 20, y };
  });

  it('covers exactly the most recent window', () => {
    const metrics = new PrequentialMetrics(200);
    stream.forEach((e, t) => {
      metrics.record(e.score, e.y);
      if (t % 97 !== 0 && t !== stream.length - 1) return;
      const recent = stream.slice(Math.max(0, t + 1 - 200), t + 1);
      const scores = recent.map((x) => x.score);
      const labels = recent.map((x) => x.y);
      const m = metrics.compute();
      expect(m.positives).toBe(labels.filter((y) => y === 1).length);
      expect(m.negatives).toBe(labels.filter((y) => y === 0).length);
      expect(m.window_size).toBe(200);
      expect(m.roc_auc).toBeCloseTo(bruteAuc(scores, labels) as number, 12);
      expect(m.average_precision).toBeCloseTo(bruteAp(scores, labels) as number, 12);
      expect(m.log_loss).toBeCloseTo(bruteLogLoss(scores, labels) as number, 12);
    });
  });

  it('round-trips through JSON to identical figures, before and after the window wraps', () => {
    for (const cut of [150, 1234]) {
      const metrics = new PrequentialMetrics(500);
      stream.slice(0, cut).forEach((e) => metrics.record(e.score, e.y));
      const restored = PrequentialMetrics.fromJSON(JSON.parse(JSON.stringify(metrics.toJSON())));
      expect(restored.compute()).toEqual(metrics.compute());
      stream.slice(cut, cut + 300).forEach((e) => {
        metrics.record(e.score, e.y);
        restored.record(e.score, e.y);
      });
      expect(restored.compute()).toEqual(metrics.compute());
      expect(restored.toJSON()).toEqual(metrics.toJSON());
    }
  });

  it('rejects scores outside [0, 1] and corrupt state', () => {
    const metrics = new PrequentialMetrics(10);
    expect(() => metrics.record(1.5, 1)).toThrow(expect.objectContaining({ code: 'invalid_score' }));
    expect(() => metrics.record(NaN, 1)).toThrow(expect.objectContaining({ code: 'invalid_score' }));
    expect(() => PrequentialMetrics.fromJSON({ window_size: 2, next: 0, scores: [0.1, 0.2, 0.3], labels: [0, 1, 0] })).toThrow(
      expect.objectContaining({ code: 'learner_state_invalid' }),
    );
  });
});
