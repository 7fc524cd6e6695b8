import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/errors.js';
import { HalfSpaceTrees, type HalfSpaceTreesState } from '../../src/models/half-space-trees.js';
import { Random } from '../../src/models/random.js';

const NAMES = ['amount', 'count', 'risk'];

/** Two tight clusters in raw units far from [0, 1], so the learned ranges matter. */
function normalPoint(r: Random): number[] {
  const c = r.next() < 0.5 ? [100, 5, 0.1] : [300, 20, 0.2];
  return [(c[0] as number) + 10 * r.normal(), (c[1] as number) + r.normal(), (c[2] as number) + 0.01 * r.normal()];
}

/** Uniform over the bounding box of the normal data: mostly in the empty space between and around the clusters. */
function anomaly(r: Random): number[] {
  return [r.uniform(70, 330), r.uniform(2, 23), r.uniform(0.07, 0.23)];
}

function pairwiseAuc(scores: number[], labels: number[]): number {
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
  return wins / pairs;
}

describe('HalfSpaceTrees', () => {
  it('scores injected anomalies above normal points (AUC > 0.9)', () => {
    const r = new Random(21);
    const model = new HalfSpaceTrees(NAMES, { seed: 5 });
    for (let i = 0; i < 2000; i++) model.learn(normalPoint(r));
    const scores: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const isAnomaly = r.next() < 0.05;
      const x = isAnomaly ? anomaly(r) : normalPoint(r);
      const s = model.predict(x);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
      scores.push(s);
      labels.push(isAnomaly ? 1 : 0);
      model.learn(x);
    }
    expect(pairwiseAuc(scores, labels)).toBeGreaterThan(0.9);
  });

  it('scores 0 until its first window is complete, then from the reference window', () => {
    const r = new Random(1);
    const model = new HalfSpaceTrees(NAMES, { windowSize: 50 });
    for (let i = 0; i < 49; i++) {
      model.learn(normalPoint(r));
      expect(model.predict(anomaly(r))).toBe(0);
    }
    model.learn(normalPoint(r));
    expect(model.predict([1e6, 1e6, 1e6])).toBeGreaterThan(0);
  });

  it('counts each window exactly: every root holds the window, every node the sum of its children', () => {
    const r = new Random(2);
    const windowSize = 100;
    const model = new HalfSpaceTrees(NAMES, { windowSize, nTrees: 4, height: 5 });
    for (let i = 0; i < 3 * windowSize + 37; i++) model.learn(normalPoint(r));
    const state = model.toJSON();
    expect(state.counter).toBe(37);
    for (const t of state.trees) {
      expect(t.r_mass[0]).toBe(windowSize);
      expect(t.l_mass[0]).toBe(37);
      for (let n = 0; n < t.feature.length; n++) {
        expect(t.r_mass[n]).toBe((t.r_mass[2 * n + 1] as number) + (t.r_mass[2 * n + 2] as number));
        expect(t.l_mass[n]).toBe((t.l_mass[2 * n + 1] as number) + (t.l_mass[2 * n + 2] as number));
      }
    }
  });

  it('learns ranges from the first window and splits cells inside their padded middle', () => {
    const r = new Random(3);
    const model = new HalfSpaceTrees(NAMES, { windowSize: 200 });
    const first = Array.from({ length: 200 }, () => normalPoint(r));
    first.forEach((x) => model.learn(x));
    const state = model.toJSON();
    expect(state.warmup).toEqual([]);
    expect(state.limits).toEqual(
      NAMES.map((_, i) => [Math.min(...first.map((x) => x[i] as number)), Math.max(...first.map((x) => x[i] as number))]),
    );
    // Every split lies in the middle 70% of its node's cell along the split feature.
    for (const t of state.trees) {
      const check = (node: number, lows: number[], highs: number[]): void => {
        if (node >= t.feature.length) return;
        const f = t.feature[node] as number;
        const at = t.threshold[node] as number;
        const lo = lows[f] as number;
        const hi = highs[f] as number;
        expect(at).toBeGreaterThanOrEqual(lo + 0.15 * (hi - lo) - 1e-12);
        expect(at).toBeLessThanOrEqual(hi - 0.15 * (hi - lo) + 1e-12);
        check(2 * node + 1, lows, highs.map((h, i) => (i === f ? at : h)));
        check(2 * node + 2, lows.map((l, i) => (i === f ? at : l)), highs);
      };
      check(0, [0, 0, 0], [1, 1, 1]);
    }
  });

  it('uses configured limits from the first point, without buffering', () => {
    const model = new HalfSpaceTrees(['a'], { windowSize: 10, limits: [[0, 10]] });
    for (let i = 0; i < 5; i++) model.learn([i]);
    const state = model.toJSON();
    expect(state.warmup).toEqual([]);
    expect(state.limits).toEqual([[0, 10]]);
    expect(state.trees.every((t) => t.l_mass[0] === 5)).toBe(true);
  });

  it('builds the same trees from the same seed and different ones from another', () => {
    const trees = (seed: number) => new HalfSpaceTrees(NAMES, { seed }).toJSON().trees;
    expect(trees(9)).toEqual(trees(9));
    expect(trees(9)).not.toEqual(trees(10));
  });

  it('round-trips through JSON to identical scores, during warm-up and after', () => {
    for (const cut of [120, 777]) {
      const r = new Random(4);
      const model = new HalfSpaceTrees(NAMES, { windowSize: 250 });
      for (let i = 0; i < cut; i++) model.learn(normalPoint(r));
      const json = JSON.stringify(model.toJSON());
      const restored = HalfSpaceTrees.fromJSON(JSON.parse(json) as HalfSpaceTreesState);
      expect(JSON.stringify(restored.toJSON())).toBe(json);
      for (let i = 0; i < 600; i++) {
        const x = r.next() < 0.1 ? anomaly(r) : normalPoint(r);
        expect(restored.predict(x)).toBe(model.predict(x));
        model.learn(x);
        restored.learn(x);
      }
    }
  });

  it('rejects bad options, vectors and state', () => {
    expect(() => new HalfSpaceTrees(NAMES, { limits: [[0, 1]] })).toThrow(SluiceError);
    expect(() => new HalfSpaceTrees(['a'], { limits: [[1, 1]] })).toThrow(SluiceError);
    expect(() => new HalfSpaceTrees(NAMES, { height: 0 })).toThrow(SluiceError);
    const model = new HalfSpaceTrees(NAMES, { nTrees: 2, height: 3 });
    expect(() => model.learn([1, 2])).toThrow(expect.objectContaining({ code: 'feature_count_mismatch' }));
    const state = model.toJSON();
    const broken = { ...state, trees: state.trees.map((t) => ({ ...t, feature: t.feature.map(() => 7) })) };
    expect(() => HalfSpaceTrees.fromJSON(broken)).toThrow(expect.objectContaining({ code: 'model_state_invalid' }));
    expect(() => HalfSpaceTrees.fromJSON({ ...state, trees: state.trees.slice(1) })).toThrow(SluiceError);
  });
});
