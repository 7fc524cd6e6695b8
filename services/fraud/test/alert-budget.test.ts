import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AlertBudget, budgetShare, type AlertBudgetOptions, type AlertBudgetState, type BudgetDecision } from '../src/alert-budget.js';

const DAY = 100;
const options = (cardsPerDay: number): AlertBudgetOptions => ({ cardsPerDay, dayMs: DAY, fallbackThreshold: 0.9 });

interface Scored {
  time: number;
  card: string;
  score: number | null;
}

/**
 * Brute force over the whole stream (in event-time order): every card's
 * maximum of every day, the k-th highest of the last earlier day with
 * vectors, or the fallback when there is none or it had fewer than k cards.
 */
function oracle(stream: readonly Scored[], k: number, fallback: number): { threshold: number; fromDay: number | null }[] {
  const maxima = new Map<number, Map<string, number>>();
  for (const { time, card, score } of stream) {
    const day = Math.floor(time / DAY);
    const cards = maxima.get(day) ?? new Map<string, number>();
    maxima.set(day, cards);
    if (score !== null) cards.set(card, Math.max(cards.get(card) ?? -Infinity, score));
  }
  return stream.map(({ time }) => {
    const day = Math.floor(time / DAY);
    const earlier = [...maxima.keys()].filter((d) => d < day);
    if (earlier.length === 0) return { threshold: fallback, fromDay: null };
    const previous = Math.max(...earlier);
    const sorted = [...maxima.get(previous)!.values()].sort((a, b) => b - a);
    return sorted.length >= k ? { threshold: sorted[k - 1]!, fromDay: previous } : { threshold: fallback, fromDay: null };
  });
}

const streamArb = fc
  .array(
    fc.record({
      time: fc.integer({ min: 0, max: 6 * DAY - 1 }),
      card: fc.integer({ min: 0, max: 12 }).map((c) => `c${c}`),
      // Few distinct values: ties between cards and with the threshold.
      score: fc.option(fc.integer({ min: 0, max: 20 }).map((s) => s / 20), { freq: 8 }),
    }),
    { maxLength: 120 },
  )
  .map((stream) => [...stream].sort((a, b) => a.time - b.time));

function run(budget: AlertBudget, stream: readonly Scored[]): BudgetDecision[] {
  return stream.map(({ time, card, score }) => budget.decide(time, card, score));
}

describe('AlertBudget', () => {
  it('alerts on day d at the score of the k-th card of day d − 1, by each card\'s maximum', () => {
    const budget = new AlertBudget(options(2));
    // Day 0: card a's maximum 0.8, b 0.6 (twice), c 0.3: the 2nd card is b at 0.6.
    for (const [card, score] of [['a', 0.2], ['b', 0.6], ['a', 0.8], ['c', 0.3], ['b', 0.5]] as const) {
      expect(budget.decide(10, card, score)).toEqual({ threshold: 0.9, basis: { kind: 'fallback', reason: 'no earlier day' }, late: false });
    }
    expect(budget.decide(150, 'x', 0.1)).toEqual({ threshold: 0.6, basis: { kind: 'budget', fromDay: 0 }, late: false });
    // Day 1 has one scored card: day 2 falls back.
    expect(budget.decide(250, 'x', null)).toEqual({ threshold: 0.9, basis: { kind: 'fallback', reason: 'too few cards' }, late: false });
    // A vector of a day already over: the current threshold, and day 2's cards stay as they were.
    expect(budget.decide(50, 'y', 0.99)).toEqual({ threshold: 0.9, basis: { kind: 'fallback', reason: 'too few cards' }, late: true });
    expect(budget.toState().top).toEqual([]);
  });

  it('decides as the brute-force oracle over every card of every day, for any k (property)', () => {
    fc.assert(
      fc.property(streamArb, fc.integer({ min: 1, max: 5 }), (stream, k) => {
        const decisions = run(new AlertBudget(options(k)), stream);
        const expected = oracle(stream, k, 0.9);
        expect(decisions.map((d) => d.threshold)).toEqual(expected.map((e) => e.threshold));
        expect(decisions.map((d) => (d.basis.kind === 'budget' ? d.basis.fromDay : null))).toEqual(expected.map((e) => e.fromDay));
      }),
    );
  });

  it('restored from its state at any point, decides the rest as an uninterrupted run (property)', () => {
    fc.assert(
      fc.property(streamArb, fc.integer({ min: 1, max: 5 }), fc.nat(), (stream, k, cut) => {
        const at = stream.length === 0 ? 0 : cut % (stream.length + 1);
        const whole = run(new AlertBudget(options(k)), stream);
        const first = new AlertBudget(options(k));
        const head = run(first, stream.slice(0, at));
        const state = JSON.parse(JSON.stringify(first.toState())) as AlertBudgetState;
        const tail = run(new AlertBudget(options(k), state), stream.slice(at));
        expect([...head, ...tail]).toEqual(whole);
        // Bounded: never more than k cards kept.
        expect(state.top.length).toBeLessThanOrEqual(k);
      }),
    );
  });

  it('splits the budget across partitions so that the shares add up to it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 1_000 }), (partitions, extra) => {
        const k = partitions + extra;
        const shares = Array.from({ length: partitions }, (_, p) => budgetShare(k, partitions, p));
        expect(shares.reduce((a, b) => a + b, 0)).toBe(k);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }),
    );
    expect(() => budgetShare(3, 6, 0)).toThrow(/cannot be split across 6 partitions/);
    expect(() => budgetShare(10, 6, 6)).toThrow(RangeError);
  });
});
