import { describe, it, expect } from 'vitest';
import {
  attachTerminals,
  generateCustomerDraws,
  generateTerminalProfiles,
  TerminalIndex,
} from '../../src/simulator/profiles.js';
import { Rng } from '../../src/simulator/random.js';

function meanOf(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function varianceOf(values: number[]): number {
  const mean = meanOf(values);
  return values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
}

describe('customer profiles', () => {
  const customers = generateCustomerDraws(5_000, new Rng(3, 'customers'));

  it('numbers customers 0 … n-1', () => {
    expect(customers.map((c) => c.id)).toEqual([...Array(5_000).keys()]);
  });

  // U(a, b): mean (a+b)/2, variance (b-a)²/12; 5 standard errors of tolerance.
  const uniform = (name: string, values: number[], a: number, b: number): void => {
    it(`draws ${name} from U(${a}, ${b})`, () => {
      expect(values.every((v) => v >= a && v < b)).toBe(true);
      const standardError = (b - a) / Math.sqrt(12 * values.length);
      expect(Math.abs(meanOf(values) - (a + b) / 2)).toBeLessThan(5 * standardError);
      expect(varianceOf(values) / ((b - a) ** 2 / 12)).toBeCloseTo(1, 1);
    });
  };
  uniform('x', customers.map((c) => c.x), 0, 100);
  uniform('y', customers.map((c) => c.y), 0, 100);
  uniform('mean_amount', customers.map((c) => c.meanAmount), 5, 100);
  uniform('mean_nb_tx_per_day', customers.map((c) => c.meanTxPerDay), 0, 4);

  it('sets std_amount to half the mean amount', () => {
    expect(customers.every((c) => c.stdAmount === c.meanAmount / 2)).toBe(true);
  });
});

describe('terminal profiles', () => {
  const terminals = generateTerminalProfiles(5_000, new Rng(3, 'terminals'));

  it('spreads terminals uniformly over the square', () => {
    for (const axis of ['x', 'y'] as const) {
      const values = terminals.map((t) => t[axis]);
      expect(values.every((v) => v >= 0 && v < 100)).toBe(true);
      expect(Math.abs(meanOf(values) - 50)).toBeLessThan(5 * (100 / Math.sqrt(12 * values.length)));
    }
    expect(terminals.map((t) => t.id)).toEqual([...Array(5_000).keys()]);
  });
});

describe('terminals within radius', () => {
  const terminals = generateTerminalProfiles(3_000, new Rng(5, 'terminals'));
  const customers = generateCustomerDraws(300, new Rng(5, 'customers'));

  const bruteForce = (x: number, y: number, radius: number): number[] =>
    terminals.filter((t) => Math.sqrt((t.x - x) ** 2 + (t.y - y) ** 2) < radius).map((t) => t.id);

  for (const radius of [0.7, 5, 13, 150]) {
    it(`finds exactly the terminals strictly closer than ${radius}, in id order`, () => {
      const withTerminals = attachTerminals(customers, new TerminalIndex(terminals, radius));
      for (const customer of withTerminals) {
        expect([...customer.terminals]).toEqual(bruteForce(customer.x, customer.y, radius));
      }
    });
  }

  it('excludes a terminal at exactly the radius', () => {
    const index = new TerminalIndex([{ id: 0, x: 10, y: 10 }, { id: 1, x: 13, y: 14 }, { id: 2, x: 12, y: 13 }], 5);
    expect([...index.within(10, 10)]).toEqual([0, 2]);
  });

  it('rejects a non-positive radius', () => {
    expect(() => new TerminalIndex(terminals, 0)).toThrow(RangeError);
  });
});
