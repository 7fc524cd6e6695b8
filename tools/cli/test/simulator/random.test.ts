import { describe, it, expect } from 'vitest';
import { logGamma, Rng } from '../../src/simulator/random.js';

function moments(values: number[]): { mean: number; variance: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return { mean, variance };
}

function draws(n: number, draw: () => number): number[] {
  return Array.from({ length: n }, draw);
}

describe('Rng', () => {
  it('replays the same stream for the same seed and stream name', () => {
    const a = new Rng(42, 'x');
    const b = new Rng(42, 'x');
    expect(draws(1000, () => a.nextUint32())).toEqual(draws(1000, () => b.nextUint32()));
  });

  it('gives different streams for different seeds or names', () => {
    const first = (rng: Rng): number[] => draws(100, () => rng.nextUint32());
    expect(first(new Rng(2, 'x'))).not.toEqual(first(new Rng(1, 'x')));
    expect(first(new Rng(1, 'y'))).not.toEqual(first(new Rng(1, 'x')));
    expect(first(new Rng(2 ** 40, 'x'))).not.toEqual(first(new Rng(0, 'x')));
  });

  it('rejects seeds that are not non-negative safe integers', () => {
    expect(() => new Rng(-1)).toThrow(RangeError);
    expect(() => new Rng(1.5)).toThrow(RangeError);
  });

  it('draws uniforms in [0, 1) with mean 1/2 and variance 1/12, evenly over deciles', () => {
    const rng = new Rng(7);
    const values = draws(200_000, () => rng.uniform());
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const { mean, variance } = moments(values);
    expect(mean).toBeCloseTo(0.5, 2);
    expect(variance).toBeCloseTo(1 / 12, 3);
    const deciles = new Array<number>(10).fill(0);
    for (const v of values) deciles[Math.floor(v * 10)]!++;
    for (const count of deciles) expect(Math.abs(count - 20_000)).toBeLessThan(600);
  });

  it('draws normals with the requested mean and standard deviation and Gaussian tails', () => {
    const rng = new Rng(8);
    const values = draws(200_000, () => rng.normal(43_200, 20_000));
    const { mean, variance } = moments(values);
    expect(Math.abs(mean - 43_200)).toBeLessThan(200);
    expect(Math.abs(Math.sqrt(variance) - 20_000)).toBeLessThan(200);
    // P(|Z| < 1) = 0.6827, P(|Z| < 2) = 0.9545
    const within = (k: number): number => values.filter((v) => Math.abs(v - 43_200) < k * 20_000).length / values.length;
    expect(within(1)).toBeCloseTo(0.6827, 2);
    expect(within(2)).toBeCloseTo(0.9545, 2);
  });

  it('samples k distinct integers below n, each equally often', () => {
    const rng = new Rng(9);
    const counts = new Array<number>(10).fill(0);
    let malformed = 0;
    for (let i = 0; i < 30_000; i++) {
      const sample = rng.sampleDistinct(10, 3);
      if (new Set(sample).size !== 3 || !sample.every((v) => Number.isInteger(v) && v >= 0 && v < 10)) malformed++;
      for (const v of sample) counts[v]!++;
    }
    expect(malformed).toBe(0);
    for (const count of counts) expect(Math.abs(count - 9_000)).toBeLessThan(400);
    expect(rng.sampleDistinct(2, 5).sort()).toEqual([0, 1]);
    expect(rng.sampleDistinct(0, 3)).toEqual([]);
  });
});

describe('logGamma', () => {
  it('matches log((x-1)!) on integers', () => {
    let logFactorial = 0;
    for (let x = 1; x <= 300; x++) {
      if (x > 1) logFactorial += Math.log(x - 1);
      expect(logGamma(x)).toBeCloseTo(logFactorial, 8);
    }
  });

  it('matches Γ(1/2) = √π', () => {
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 10);
  });
});

describe('Rng.poisson', () => {
  // Both algorithms: multiplication below λ = 10, PTRS from 10 up.
  for (const lambda of [0.3, 2, 3.9, 9.99, 10, 25, 180]) {
    it(`has mean and variance λ and the Poisson pmf for λ = ${lambda}`, () => {
      const rng = new Rng(Math.round(lambda * 100));
      const n = 100_000;
      const values = draws(n, () => rng.poisson(lambda));
      expect(values.every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
      const { mean, variance } = moments(values);
      const meanError = Math.sqrt(lambda / n);
      expect(Math.abs(mean - lambda)).toBeLessThan(5 * meanError);
      // Var of the sample variance ≈ (μ4 - σ⁴)/n with μ4 = λ(1 + 3λ) for a Poisson.
      expect(Math.abs(variance - lambda)).toBeLessThan(5 * Math.sqrt((lambda * (1 + 3 * lambda) - lambda ** 2) / n));

      // Chi-square against the exact pmf, built by p(k) = p(k-1)·λ/k, over bins expecting ≥ 20.
      const counts = new Map<number, number>();
      for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
      let chiSquare = 0;
      let bins = 0;
      let p = Math.exp(-lambda);
      for (let k = 0; k <= lambda + 20 * Math.sqrt(lambda) + 20; k++) {
        if (k > 0) p *= lambda / k;
        const expected = n * p;
        if (expected < 20) continue;
        chiSquare += ((counts.get(k) ?? 0) - expected) ** 2 / expected;
        bins++;
      }
      expect(bins).toBeGreaterThan(1);
      expect(chiSquare).toBeLessThan(bins + 5 * Math.sqrt(2 * bins));
    });
  }

  it('returns 0 for λ = 0 and rejects negative or non-finite means', () => {
    const rng = new Rng(1);
    expect(rng.poisson(0)).toBe(0);
    expect(() => rng.poisson(-1)).toThrow(RangeError);
    expect(() => rng.poisson(Number.NaN)).toThrow(RangeError);
    expect(() => rng.poisson(Infinity)).toThrow(RangeError);
  });
});
