import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/errors.js';
import { LogisticRegression } from '../../src/models/logistic-regression.js';
import { Random } from '../../src/models/random.js';

const NAMES = ['f0', 'f1', 'f2', 'f3', 'f4'];

interface Example {
  x: number[];
  y: 0 | 1;
}

function logisticStream(seed: number, n: number, weights: number[], bias: number): Example[] {
  const r = new Random(seed);
  return Array.from({ length: n }, () => {
    const x = weights.map(() => r.normal());
    const z = x.reduce((s, v, i) => s + v * (weights[i] as number), bias);
    return { x, y: r.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0 };
  });
}

/** AUC by counting every positive/negative pair, ties as one half. */
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

describe('LogisticRegression', () => {
  it('converges to the weights of the generating model', () => {
    const wTrue = [1.5, -2, 0.5, 0, 1];
    const bTrue = -0.3;
    const data = logisticStream(11, 50_000, wTrue, bTrue);
    const model = new LogisticRegression(NAMES, { positiveWeight: 1, l2: 0 });
    data.forEach((e) => model.learn(e.x, e.y));

    // Map the standardised-space weights back to raw features with moments computed here, independently of the scaler.
    const n = data.length;
    const means = wTrue.map((_, i) => data.reduce((s, e) => s + (e.x[i] as number), 0) / n);
    const stds = means.map((m, i) => Math.sqrt(data.reduce((s, e) => s + ((e.x[i] as number) - m) ** 2, 0) / n));
    const coefficients = model.coefficients();
    const raw = coefficients.map((w, i) => w / (stds[i] as number));
    const rawBias = coefficients.reduce((b, w, i) => b - (w * (means[i] as number)) / (stds[i] as number), model.bias);

    // Tolerance 0.15 (7.5% of the largest |w*|): the maximum-likelihood fit
    // itself has a standard error of about 0.02 per weight at n = 50k, and
    // AdaGrad's last steps (0.1 / sqrt(accumulated squared gradients)) leave
    // a few hundredths of jitter; measured errors across seeds are 0.04–0.08.
    // A wrong gradient sign, a missing bias update or broken standardisation
    // misses by far more than that.
    raw.forEach((w, i) => expect(Math.abs(w - (wTrue[i] as number))).toBeLessThan(0.15));
    expect(Math.abs(rawBias - bTrue)).toBeLessThan(0.15);
  });

  it('with ~1% positives, class weighting keeps the ranking and makes recall non-degenerate', () => {
    const wTrue = [1, -1, 0.5, 0.8, 0];
    const aucGaps: number[] = [];
    for (const seed of [1, 2, 3]) {
      const data = logisticStream(seed, 20_000, wTrue, -6);
      const rate = data.filter((e) => e.y === 1).length / data.length;
      expect(rate).toBeGreaterThan(0.004);
      expect(rate).toBeLessThan(0.015);
      const results = [1, 'balanced' as const].map((positiveWeight) => {
        const model = new LogisticRegression(NAMES, { positiveWeight });
        const scores: number[] = [];
        const labels: number[] = [];
        data.forEach((e, t) => {
          const p = model.predict(e.x);
          // Prequential: score before learning; skip the warm-up.
          if (t >= 5000) {
            scores.push(p);
            labels.push(e.y);
          }
          model.learn(e.x, e.y);
        });
        const positives = labels.filter((y) => y === 1).length;
        const recall = scores.filter((s, i) => labels[i] === 1 && s > 0.5).length / positives;
        return { auc: pairwiseAuc(scores, labels), recall };
      });
      const [plain, weighted] = results as [{ auc: number; recall: number }, { auc: number; recall: number }];
      expect(plain.recall).toBeLessThan(0.1);
      expect(weighted.recall).toBeGreaterThan(0.5);
      // The generating model is logistic, so weighting cannot improve the
      // achievable ranking; it must not degrade it either.
      expect(weighted.auc).toBeGreaterThan(plain.auc - 0.01);
      expect(weighted.auc).toBeGreaterThan(0.8);
      aucGaps.push(weighted.auc - plain.auc);
    }
    expect(aucGaps.reduce((a, b) => a + b, 0) / aucGaps.length).toBeGreaterThan(-0.003);
  });

  it('balances on the observed class ratio', () => {
    const model = new LogisticRegression(['a'], { positiveWeight: 'balanced' });
    expect(model.positiveWeight).toBe(1);
    for (let i = 0; i < 99; i++) model.learn([i], 0);
    model.learn([100], 1);
    expect(model.positiveWeight).toBe(100 / 2);
  });

  it.each(['adam', 'sgd'] as const)('%s converges to the weights of the generating model', (optimizer) => {
    const wTrue = [1.5, -2, 0.5, 0, 1];
    const data = logisticStream(12, 50_000, wTrue, -0.3);
    const model = new LogisticRegression(NAMES, { optimizer, learningRate: optimizer === 'adam' ? 0.01 : 0.02, positiveWeight: 1, l2: 0 });
    data.forEach((e) => model.learn(e.x, e.y));
    // The scaler's std of a standard normal is ≈ 1, so standardised weights ≈ raw ones. Constant-step
    // optimisers keep jittering around the optimum (0.05–0.1 measured), hence the looser bound than AdaGrad's.
    model.coefficients().forEach((w, i) => expect(Math.abs(w - (wTrue[i] as number))).toBeLessThan(0.25));
  });

  it('restores states written before the optimiser was an option as AdaGrad', () => {
    const model = new LogisticRegression(NAMES);
    logisticStream(3, 500, [1, -1, 2, 0.3, -0.7], 0.4).forEach((e) => model.learn(e.x, e.y));
    const { first_moments: _m, first_moment_bias: _b, steps: _s, ...old } = model.toJSON();
    const { optimizer: _o, ...oldOptions } = old.options;
    const restored = LogisticRegression.fromJSON({ ...old, options: oldOptions });
    expect(restored.options.optimizer).toBe('adagrad');
    expect(restored.predict([1, 2, 3, 4, 5])).toBe(model.predict([1, 2, 3, 4, 5]));
  });

  it('explains the logit exactly: bias + contributions in feature order', () => {
    const data = logisticStream(5, 3000, [1, -1, 2, 0.3, -0.7], 0.4);
    const model = new LogisticRegression(NAMES);
    data.forEach((e) => model.learn(e.x, e.y));
    const n = data.length;
    for (const { x } of data.slice(0, 200)) {
      const contributions = model.explain(x);
      expect(contributions.map((c) => c.feature)).toEqual(NAMES);
      const sum = contributions.reduce((s, c) => s + c.contribution, model.bias);
      expect(sum).toBe(model.logit(x));
      expect(model.predict(x)).toBeCloseTo(1 / (1 + Math.exp(-sum)), 15);
      // contribution = weight × (x − mean) / std, with the moments computed here.
      contributions.forEach((c, i) => {
        const mean = data.reduce((s, e) => s + (e.x[i] as number), 0) / n;
        const std = Math.sqrt(data.reduce((s, e) => s + ((e.x[i] as number) - mean) ** 2, 0) / n);
        expect(c.contribution).toBeCloseTo(((model.coefficients()[i] as number) * ((x[i] as number) - mean)) / std, 9);
      });
    }
  });

  it.each(['adagrad', 'adam', 'sgd'] as const)('%s: round-trips through JSON to identical predictions, now and after more learning', (optimizer) => {
    const data = logisticStream(9, 4000, [1, -1, 2, 0.3, -0.7], 0.4);
    const model = new LogisticRegression(NAMES, { optimizer, positiveWeight: 'balanced', l2: 1e-3 });
    data.slice(0, 2000).forEach((e) => model.learn(e.x, e.y));
    const json = JSON.stringify(model.toJSON());
    const restored = LogisticRegression.fromJSON(JSON.parse(json));
    expect(JSON.stringify(restored.toJSON())).toBe(json);
    for (const e of data.slice(2000)) {
      expect(restored.predict(e.x)).toBe(model.predict(e.x));
      model.learn(e.x, e.y);
      restored.learn(e.x, e.y);
    }
    expect(restored.toJSON()).toEqual(model.toJSON());
  });

  it('shrinks its optimiser history (to nothing at 0), not its predictions, and takes larger steps afterwards', () => {
    const data = logisticStream(4, 1000, [1, -1, 2, 0.3, -0.7], 0.4);
    const trained = () => {
      const model = new LogisticRegression(NAMES);
      data.forEach((e) => model.learn(e.x, e.y));
      return model;
    };
    const model = trained();
    const before = data.map((e) => model.predict(e.x));
    const history = model.toJSON();
    model.shrinkLearningHistory(0.25);
    expect(data.map((e) => model.predict(e.x))).toEqual(before);
    const shrunk = model.toJSON();
    shrunk.squared_gradients.forEach((g2, i) => expect(g2).toBeCloseTo((history.squared_gradients[i] as number) * 0.25, 9));
    expect(shrunk.squared_gradient_bias).toBeCloseTo(history.squared_gradient_bias * 0.25, 9);

    // The same example moves the shrunk model's weights further than the untouched one's.
    const untouched = trained();
    const probe = data[0] as (typeof data)[number];
    untouched.learn(probe.x, probe.y);
    model.learn(probe.x, probe.y);
    const step = (m: LogisticRegression) => m.coefficients().reduce((sum, w, i) => sum + Math.abs(w - (history.weights[i] as number)), 0);
    expect(step(model)).toBeGreaterThan(1.5 * step(untouched));

    model.shrinkLearningHistory(0);
    expect(model.toJSON().squared_gradients).toEqual([0, 0, 0, 0, 0]);
    expect(model.toJSON().squared_gradient_bias).toBe(0);
    expect(() => model.shrinkLearningHistory(1)).toThrow(expect.objectContaining({ code: 'invalid_model_options' }));
    expect(() => model.shrinkLearningHistory(-0.1)).toThrow(SluiceError);
  });

  it('rejects vectors of the wrong length or with non-finite values, and corrupt state', () => {
    const model = new LogisticRegression(NAMES);
    expect(() => model.predict([1, 2])).toThrow(expect.objectContaining({ code: 'feature_count_mismatch' }));
    expect(() => model.learn([1, 2, NaN, 4, 5], 1)).toThrow(expect.objectContaining({ code: 'feature_not_finite' }));
    const state = model.toJSON();
    expect(() => LogisticRegression.fromJSON({ ...state, weights: [1] })).toThrow(SluiceError);
    expect(() => LogisticRegression.fromJSON({ ...state, bias: null })).toThrow(SluiceError);
    expect(() => new LogisticRegression(NAMES, { learningRate: -1 })).toThrow(SluiceError);
  });
});
