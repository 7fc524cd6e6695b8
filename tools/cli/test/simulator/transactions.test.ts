import { describe, it, expect } from 'vitest';
import type { CustomerProfile } from '../../src/simulator/profiles.js';
import { Rng } from '../../src/simulator/random.js';
import { drawDayTransactions, SECONDS_PER_DAY, type DrawnTransaction } from '../../src/simulator/transactions.js';

function customer(id: number, meanAmount: number, stdAmount: number, meanTxPerDay: number, terminals: number[]): CustomerProfile {
  return { id, x: 0, y: 0, meanAmount, stdAmount, meanTxPerDay, terminals: Int32Array.from(terminals) };
}

/** ∫ f over [a, b] by Simpson's rule. */
function integrate(f: (x: number) => number, a: number, b: number, steps = 20_000): number {
  const h = (b - a) / steps;
  let sum = f(a) + f(b);
  for (let i = 1; i < steps; i++) sum += (i % 2 ? 4 : 2) * f(a + i * h);
  return (sum * h) / 3;
}

const density = (mean: number, std: number) => (x: number): number =>
  Math.exp(-(((x - mean) / std) ** 2) / 2) / (std * Math.sqrt(2 * Math.PI));

const DAYS = 2_000;
const customers = [
  customer(0, 50, 25, 3, [4, 9, 17]),
  customer(1, 40, 20, 2, []),
  customer(2, 30, 15, 0, [1]),
  customer(3, 10, 20, 2, [5]),
];
const rng = new Rng(11, 'transactions');
const days: DrawnTransaction[][] = [];
for (let day = 0; day < DAYS; day++) days.push(drawDayTransactions(customers, day, rng));
const all = days.flat();
const of = (id: number): DrawnTransaction[] => all.filter((tx) => tx.customerId === id);

describe('drawDayTransactions', () => {
  it('returns each day sorted by time, inside that day, on whole seconds', () => {
    days.forEach((txs, day) => {
      for (let i = 0; i < txs.length; i++) {
        const tx = txs[i]!;
        expect(tx.day).toBe(day);
        expect(Number.isInteger(tx.seconds)).toBe(true);
        expect(tx.seconds).toBeGreaterThan(day * SECONDS_PER_DAY);
        expect(tx.seconds).toBeLessThan((day + 1) * SECONDS_PER_DAY);
        if (i > 0) expect(tx.seconds).toBeGreaterThanOrEqual(txs[i - 1]!.seconds);
      }
    });
  });

  it('skips customers without terminals and customers with no expected transactions', () => {
    expect(of(1)).toHaveLength(0);
    expect(of(2)).toHaveLength(0);
  });

  it('draws Poisson counts, thinned by the times that fall outside the day', () => {
    // Times are trunc(N(43200, 20000)), kept when in 1 … 86399.
    const kept = integrate(density(43_200, 20_000), 1, SECONDS_PER_DAY);
    const expected = 3 * kept * DAYS;
    expect(Math.abs(of(0).length - expected)).toBeLessThan(5 * Math.sqrt(expected));
    const timeOfDay = of(0).map((tx) => tx.seconds % SECONDS_PER_DAY);
    const mean = timeOfDay.reduce((a, b) => a + b, 0) / timeOfDay.length;
    expect(Math.abs(mean - 43_200)).toBeLessThan(5 * (20_000 / Math.sqrt(timeOfDay.length)));
  });

  it('picks terminals uniformly among the customer’s own', () => {
    const counts = new Map<number, number>();
    for (const tx of of(0)) counts.set(tx.terminalId, (counts.get(tx.terminalId) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([4, 9, 17]);
    const share = of(0).length / 3;
    for (const count of counts.values()) expect(Math.abs(count - share)).toBeLessThan(5 * Math.sqrt(share));
    expect(of(3).every((tx) => tx.terminalId === 5)).toBe(true);
  });

  it('draws amounts from N(mean, std), redrawing negatives from U(0, 2·mean), in cents', () => {
    for (const [id, mean, std] of [
      [0, 50, 25],
      [3, 10, 20],
    ] as const) {
      const amounts = of(id).map((tx) => tx.amount);
      expect(amounts.every((a) => a >= 0 && Math.abs(a * 100 - Math.round(a * 100)) < 1e-6)).toBe(true);
      // E = E[X; X ≥ 0] + P(X < 0)·mean, since the redraw U(0, 2·mean) has mean `mean`.
      const f = density(mean, std);
      const expected = integrate((x) => x * f(x), 0, mean + 10 * std) + integrate(f, mean - 10 * std, 0) * mean;
      const observed = amounts.reduce((a, b) => a + b, 0) / amounts.length;
      expect(Math.abs(observed - expected)).toBeLessThan(5 * (std / Math.sqrt(amounts.length)));
      if (id === 3) expect(Math.abs(observed - mean)).toBeGreaterThan(1);
    }
  });
});
