import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/errors.js';
import { GradientBoostedTrees, windowChunkSize } from '../../src/models/gradient-boosted-trees.js';
import { LogisticRegression } from '../../src/models/logistic-regression.js';
import { Random } from '../../src/models/random.js';

const NAMES = ['a', 'b', 'c'];

/** y = 1 mostly when a and b have the same sign (XOR), which no linear score can rank. */
function xorStream(seed: number, n: number): { x: number[]; y: 0 | 1; p: number }[] {
  const r = new Random(seed);
  return Array.from({ length: n }, () => {
    const x = [r.normal(), r.normal(), r.next()];
    const p = 1 / (1 + Math.exp(-(3 * Math.sign(x[0]! * x[1]!) + (x[2]! > 0.7 ? 1 : 0) - 4)));
    return { x, y: r.next() < p ? 1 : 0, p };
  });
}

function auc(scores: number[], labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((sp, i) => {
    if (labels[i] !== 1) return;
    scores.forEach((sn, j) => {
      if (labels[j] !== 0) return;
      pairs++;
      wins += sp > sn ? 1 : sp === sn ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe('GradientBoostedTrees', () => {
  it('ranks a non-linear concept a linear model cannot', () => {
    const data = xorStream(1, 14_000);
    const trees = new GradientBoostedTrees(NAMES, { windowSize: 10_000, retrainEvery: 4_000, minExamples: 1_000, negativeSampleRate: 0.5, trees: 30 });
    const linear = new LogisticRegression(NAMES);
    for (const e of data.slice(0, 10_000)) {
      trees.learn(e.x, e.y);
      linear.learn(e.x, e.y);
    }
    expect(trees.retrains).toBe(2);
    const test = data.slice(10_000, 12_000);
    const labels = test.map((e) => e.y);
    // The generating probability is the best possible ranking.
    const best = auc(test.map((e) => e.p), labels);
    expect(auc(test.map((e) => trees.predict(e.x)), labels)).toBeGreaterThan(best - 0.02);
    expect(auc(test.map((e) => linear.predict(e.x)), labels)).toBeLessThan(0.65);
  });

  it('a depth-1, one-tree ensemble splits where an exhaustive search over thresholds finds the largest gain', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000 }), (seed) => {
        const r = new Random(seed);
        const n = 200;
        const xs = Array.from({ length: n }, () => [Math.round(r.uniform(0, 20)), Math.round(r.uniform(0, 20)), Math.round(r.uniform(0, 20))]);
        const ys = xs.map((x) => (r.next() < (x[1]! > 12 ? 0.6 : 0.1) ? 1 : 0) as 0 | 1);
        fc.pre(ys.some((y) => y === 1));
        const l2 = 1;
        const model = new GradientBoostedTrees(NAMES, { windowSize: n, retrainEvery: n, minExamples: n, negativeSampleRate: 1, trees: 1, maxDepth: 1, bins: 64, minChildWeight: 0, l2, learningRate: 1 });
        xs.forEach((x, i) => model.learn(x, ys[i]!));
        const state = model.toJSON();
        // Brute force: at the base score p = mean(y), every example has g = p − y and h = p(1 − p).
        const p = ys.reduce<number>((s, y) => s + y, 0) / n;
        const score = (members: number[]): number => {
          const G = members.reduce((s, i) => s + p - ys[i]!, 0);
          return (G * G) / (members.length * p * (1 - p) + l2);
        };
        const all = xs.map((_, i) => i);
        let best = { gain: 0, feature: -1, threshold: NaN };
        for (let f = 0; f < 3; f++) {
          for (const t of [...new Set(xs.map((x) => x[f]!))].sort((a, b) => a - b).slice(0, -1)) {
            const gain = score(all.filter((i) => xs[i]![f]! <= t)) + score(all.filter((i) => xs[i]![f]! > t)) - score(all);
            if (gain > best.gain + 1e-9) best = { gain, feature: f, threshold: t };
          }
        }
        expect(state.node_feature[state.roots[0]!]).toBe(best.feature);
        if (best.feature >= 0) expect(state.node_value[state.roots[0]!]).toBe(best.threshold);
      }),
      { numRuns: 30 },
    );
  });

  it('a restored model predicts identically', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 64 }), (seed, maxDepth, bins) => {
        const model = new GradientBoostedTrees(NAMES, { windowSize: 1_000, retrainEvery: 500, minExamples: 200, trees: 5, maxDepth, bins, seed });
        const data = xorStream(seed, 1_200);
        data.forEach((e) => model.learn(e.x, e.y));
        const restored = GradientBoostedTrees.fromJSON(JSON.parse(JSON.stringify(model.toState())));
        const probe = new Random(seed + 1);
        for (let i = 0; i < 50; i++) {
          const x = [3 * probe.normal(), 3 * probe.normal(), probe.next()];
          expect(restored.predict(x)).toBe(model.predict(x));
        }
        // As JSON: a leaf of value −0 comes back as 0, which scores the same. Without its window chunks the
        // restored model starts a new window (kept 0, half a window before its next refit); the rest is the same.
        const withoutWindow = (state: ReturnType<GradientBoostedTrees['toJSON']>) => ({ ...state, kept: undefined, refit_floor: undefined });
        expect(JSON.stringify(withoutWindow(restored.toJSON()))).toBe(JSON.stringify(withoutWindow(model.toJSON())));
      }),
      { numRuns: 25 },
    );
  });

  /** A changelog of the model in batches: its state, and its window chunks as `takeWindowChanges` puts and drops them. */
  class Changelog {
    state: unknown = null;
    readonly chunks = new Map<number, unknown>();
    write(model: GradientBoostedTrees): void {
      this.state = JSON.parse(JSON.stringify(model.toState()));
      const changes = model.takeWindowChanges();
      for (const k of changes.drop) this.chunks.delete(k);
      for (const [k, chunk] of changes.put) this.chunks.set(k, JSON.parse(JSON.stringify(chunk)));
    }
    copy(): Changelog {
      const copy = new Changelog();
      copy.state = this.state;
      for (const [k, chunk] of this.chunks) copy.chunks.set(k, chunk);
      return copy;
    }
  }

  it('restored from its state and window chunks after any batch, makes the same refits and predictions as the model that never stopped', () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 0, max: 10_000 }),
          windowSize: fc.integer({ min: 100, max: 450 }),
          retrainEvery: fc.integer({ min: 40, max: 120 }),
          negativeSampleRate: fc.double({ min: 0.3, max: 1, noNaN: true }),
          batches: fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 30, maxLength: 30 }),
          cut: fc.integer({ min: 0, max: 29 }),
        }),
        ({ seed, windowSize, retrainEvery, negativeSampleRate, batches, cut }) => {
          const options = { windowSize, retrainEvery, minExamples: 30, negativeSampleRate, trees: 3, maxDepth: 3, seed };
          const original = new GradientBoostedTrees(NAMES, options);
          const data = xorStream(seed, batches.reduce((a, b) => a + b, 0) + 4 * retrainEvery);
          // The last batch carries the rest: at least four refit periods after any cut.
          const bounds = [...batches.map((_, i) => batches.slice(0, i + 1).reduce((a, b) => a + b, 0)), data.length];
          const log = new Changelog();
          let restored: GradientBoostedTrees | null = null;
          let restoredLog: Changelog | null = null;
          let retrainsAtCut = 0;
          const probe = new Random(seed + 1);
          const probes = Array.from({ length: 20 }, () => [3 * probe.normal(), 3 * probe.normal(), probe.next()]);
          bounds.forEach((end, i) => {
            const batch = data.slice(i === 0 ? 0 : bounds[i - 1]!, end);
            for (const e of batch) {
              original.learn(e.x, e.y);
              restored?.learn(e.x, e.y);
            }
            log.write(original);
            if (restored !== null) {
              restoredLog!.write(restored);
              expect(JSON.stringify(restored.toJSON())).toBe(JSON.stringify(original.toJSON()));
              for (const x of probes) expect(restored.predict(x)).toBe(original.predict(x));
              expect(restoredLog!.chunks).toEqual(log.chunks);
            }
            if (i === cut) {
              restoredLog = log.copy();
              restored = GradientBoostedTrees.fromJSON(restoredLog.state);
              expect(restored.restoreWindow((k) => restoredLog!.chunks.get(k))).toBe(true);
              retrainsAtCut = original.retrains;
            }
          });
          expect(original.retrains - retrainsAtCut).toBeGreaterThanOrEqual(2);
          // Only the chunks that still hold part of the window stay in the changelog.
          expect(log.chunks.size).toBeLessThanOrEqual(Math.ceil(windowSize / windowChunkSize(windowSize)) + 1);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('without its window (a chunk lost, or a state without one) a restored model starts a new window, as restored from a snapshot', () => {
    const options = { windowSize: 400, retrainEvery: 100, minExamples: 50, negativeSampleRate: 0.5, trees: 3 };
    const model = new GradientBoostedTrees(NAMES, options);
    const log = new Changelog();
    xorStream(3, 1_000).forEach((e, i) => {
      model.learn(e.x, e.y);
      if (i % 37 === 0) log.write(model);
    });
    log.write(model);
    const lost = [...log.chunks.keys()][1]!;
    const partial = GradientBoostedTrees.fromJSON(log.state);
    expect(partial.restoreWindow((k) => (k === lost ? undefined : log.chunks.get(k)))).toBe(false);
    const stateOnly = GradientBoostedTrees.fromJSON(log.state);
    for (const restored of [partial, stateOnly]) {
      expect((restored as unknown as { size: number }).size).toBe(0);
      expect(restored.toJSON().kept).toBe(0);
      // The new window is written from its first chunk on.
      restored.learn([1, 1, 1], 1);
      expect(restored.takeWindowChanges().put.map(([k]) => k)).toEqual([0]);
    }
    expect(stateOnly.restoreWindow(() => undefined)).toBe(false);
  });

  it('keeps every positive, a sample of the negatives, and no more than its window; the ensemble stays bounded', () => {
    const model = new GradientBoostedTrees(NAMES, { windowSize: 2_000, retrainEvery: 1_000, minExamples: 500, negativeSampleRate: 0.2, trees: 10, maxDepth: 3 });
    const data = xorStream(4, 20_000);
    data.forEach((e) => model.learn(e.x, e.y));
    const internal = model as unknown as { size: number; window: Float64Array; windowLabels: Uint8Array };
    expect(internal.size).toBe(2_000);
    expect(internal.window.length).toBe(2_000 * NAMES.length);
    const recent = data.slice(-6_000);
    const positives = recent.filter((e) => e.y === 1).length;
    // The window's last 2,000 kept examples span about 2000 / (0.2 + 0.8 · share of positives) labels.
    expect(internal.windowLabels.reduce((s, y) => s + y, 0)).toBeGreaterThan(0.5 * positives * (2_000 / (0.2 * 6_000 + 0.8 * positives)));
    const state = model.toJSON();
    expect(state.roots).toHaveLength(10);
    expect(state.node_feature.length).toBeLessThanOrEqual(10 * (2 ** 4 - 1));
  });

  it('scores 0.5 until its first retrain, then calibrated probabilities despite the sampled negatives', () => {
    const model = new GradientBoostedTrees(NAMES, { windowSize: 20_000, retrainEvery: 20_000, minExamples: 100, negativeSampleRate: 0.2, trees: 30 });
    const data = xorStream(7, 40_000);
    data.slice(0, 19_999).forEach((e) => model.learn(e.x, e.y));
    expect(model.predict([0, 0, 0])).toBe(0.5);
    model.learn(data[19_999]!.x, data[19_999]!.y);
    // Unseen draws: the mean score matches the mean generating probability (sampling at 0.2 without the
    // ln 0.2 correction would put it about 4 times higher), and so does each half of the scores.
    const test = data.slice(20_000);
    const scores = test.map((e) => model.predict(e.x));
    const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.abs(mean(scores) / mean(test.map((e) => e.p)) - 1)).toBeLessThan(0.1);
    const high = test.filter((_, i) => scores[i]! > 0.3);
    expect(mean(high.map((e) => model.predict(e.x)))).toBeCloseTo(mean(high.map((e) => e.p)), 1);
  });

  it('a restored model keeps its trees until its new window is half full', () => {
    const options = { windowSize: 4_000, retrainEvery: 1_000, minExamples: 500, negativeSampleRate: 1, trees: 5 };
    const model = new GradientBoostedTrees(NAMES, options);
    const data = xorStream(8, 10_000);
    data.slice(0, 4_000).forEach((e) => model.learn(e.x, e.y));
    const restored = GradientBoostedTrees.fromJSON(JSON.parse(JSON.stringify(model.toState())));
    const retrains = restored.retrains;
    data.slice(4_000, 5_999).forEach((e) => restored.learn(e.x, e.y));
    expect(restored.retrains).toBe(retrains);
    restored.learn(data[5_999]!.x, data[5_999]!.y);
    expect(restored.retrains).toBe(retrains + 1);
    // Back to the usual floor: the next refit comes retrainEvery labels later.
    data.slice(6_000, 6_999).forEach((e) => restored.learn(e.x, e.y));
    expect(restored.retrains).toBe(retrains + 1);
    restored.learn(data[6_999]!.x, data[6_999]!.y);
    expect(restored.retrains).toBe(retrains + 2);
  });

  it('rejects wrong vectors, bad options and corrupt state', () => {
    const model = new GradientBoostedTrees(NAMES, { windowSize: 1_000, retrainEvery: 500, minExamples: 200, trees: 3 });
    xorStream(2, 1_000).forEach((e) => model.learn(e.x, e.y));
    expect(() => model.predict([1, 2])).toThrow(expect.objectContaining({ code: 'feature_count_mismatch' }));
    expect(() => model.learn([1, NaN, 3], 0)).toThrow(expect.objectContaining({ code: 'feature_not_finite' }));
    expect(() => new GradientBoostedTrees(NAMES, { bins: 300 })).toThrow(SluiceError);
    const state = model.toJSON();
    const internal = state.node_feature.findIndex((f) => f >= 0);
    expect(() => GradientBoostedTrees.fromJSON({ ...state, node_left: state.node_left.map((c, i) => (i === internal ? state.node_feature.length : c)) })).toThrow(expect.objectContaining({ code: 'model_state_invalid' }));
    expect(() => GradientBoostedTrees.fromJSON({ ...state, node_feature: state.node_feature.map((f) => (f >= 0 ? 7 : f)) })).toThrow(SluiceError);
  });
});
