import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/errors.js';
import { Random } from '../../src/models/random.js';
import { StandardScaler } from '../../src/models/standard-scaler.js';

function column(rows: number[][], i: number): number[] {
  return rows.map((r) => r[i] as number);
}

function twoPassMoments(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { mean, std: Math.sqrt(variance) };
}

describe('StandardScaler', () => {
  const r = new Random(3);
  // Large offset on feature 0: the naive sum-of-squares formula loses precision here, Welford does not.
  const rows = Array.from({ length: 5000 }, () => [1e6 + 3 * r.normal(), r.uniform(-1, 1), 42]);

  it('matches a two-pass mean and population standard deviation', () => {
    const s = new StandardScaler(3);
    rows.forEach((x) => s.learn(x));
    for (let i = 0; i < 2; i++) {
      const { mean, std } = twoPassMoments(column(rows, i));
      expect(s.meanOf(i)).toBeCloseTo(mean, 6);
      expect(s.stdOf(i) / std).toBeCloseTo(1, 9);
    }
    const z = s.transform(rows[0] as number[]);
    const m0 = twoPassMoments(column(rows, 0));
    expect(z[0]).toBeCloseTo(((rows[0]?.[0] as number) - m0.mean) / m0.std, 6);
    expect(z[2]).toBe(0);
  });

  it('standardises to zero before it has seen any spread', () => {
    const s = new StandardScaler(2);
    expect(s.transform([5, 6])).toEqual([0, 0]);
    s.learn([5, 6]);
    expect(s.transform([7, 8])).toEqual([0, 0]);
  });

  it('round-trips through JSON to identical transforms', () => {
    const s = new StandardScaler(3);
    rows.slice(0, 1000).forEach((x) => s.learn(x));
    const restored = StandardScaler.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));
    for (const x of rows.slice(1000, 1100)) {
      expect(restored.transform(x)).toEqual(s.transform(x));
      s.learn(x);
      restored.learn(x);
    }
    expect(restored.toJSON()).toEqual(s.toJSON());
  });

  it('rejects corrupt state', () => {
    expect(() => StandardScaler.fromJSON({ count: 1, mean: [0, 1], m2: [0] })).toThrow(SluiceError);
    expect(() => StandardScaler.fromJSON({ count: 1, mean: [0], m2: [-1] })).toThrow(SluiceError);
  });
});
