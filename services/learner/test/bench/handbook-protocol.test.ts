import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cardPrecisionAtK, evaluateFold, HANDBOOK_TRAIN_START_DAY, meanOfFolds, SECTION_3_4_SPLIT, SECTION_5_3_TEST_FOLDS, testSet, type Fold, type ProtocolTransactions } from '../../bench/handbook-protocol.js';

interface Tx extends ProtocolTransactions {
  day: number[];
  customer: number[];
  fraud: number[];
}

/** A small stream: days non-decreasing (stream order), few customers so that cards repeat and get removed. */
const streamArb = fc
  .array(fc.record({ day: fc.integer({ min: 0, max: 9 }), customer: fc.integer({ min: 0, max: 7 }), fraud: fc.integer({ min: 0, max: 4 }), score: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 120 })
  .map((rows) => {
    rows.sort((a, b) => a.day - b.day);
    return {
      tx: { day: rows.map((r) => r.day), customer: rows.map((r) => r.customer), fraud: rows.map((r) => (r.fraud === 0 ? 1 : 0)) } as Tx,
      // Integer scores make ties between cards common.
      scores: rows.map((r) => r.score / 3),
    };
  });
const foldArb = fc.record({ trainStartDay: fc.integer({ min: 0, max: 3 }), trainDays: fc.integer({ min: 1, max: 3 }), delayDays: fc.integer({ min: 0, max: 3 }), testDays: fc.integer({ min: 1, max: 4 }) });

/** Straight from the definition: a test-day transaction stays unless its card had a fraud from the training start up to test day − delay − 1. */
function bruteTestSet(tx: Tx, fold: Fold): number[] {
  const testStart = fold.trainStartDay + fold.trainDays + fold.delayDays;
  const kept: number[] = [];
  for (let i = 0; i < tx.day.length; i++) {
    const d = tx.day[i]!;
    if (d < testStart || d >= testStart + fold.testDays) continue;
    const lastKnownDay = Math.max(d - fold.delayDays - 1, fold.trainStartDay + fold.trainDays - 1);
    const known = tx.day.some((dj, j) => tx.customer[j] === tx.customer[i] && tx.fraud[j] === 1 && dj >= fold.trainStartDay && dj <= lastKnownDay);
    if (!known) kept.push(i);
  }
  return kept;
}

/** Card precision@k: each day, rank every card by its best score (ties: lower id first) with a full count, skipping cards caught on earlier days. */
function bruteCardPrecision(tx: Tx, indices: number[], scores: number[], k: number): number | null {
  const days = [...new Set(indices.map((i) => tx.day[i]!))].sort((a, b) => a - b);
  if (days.length === 0) return null;
  const caught = new Set<number>();
  let sum = 0;
  for (const d of days) {
    const todays = indices.filter((i) => tx.day[i] === d && !caught.has(tx.customer[i]!));
    const cards = [...new Set(todays.map((i) => tx.customer[i]!))];
    const best = (c: number): number => Math.max(...todays.filter((i) => tx.customer[i] === c).map((i) => scores[i]!));
    const frauded = (c: number): boolean => todays.some((i) => tx.customer[i] === c && tx.fraud[i] === 1);
    const newlyCaught = cards.filter((c) => {
      const rank = cards.filter((o) => best(o) > best(c) || (best(o) === best(c) && o < c)).length;
      return rank < k && frauded(c);
    });
    sum += newlyCaught.length / k;
    for (const c of newlyCaught) caught.add(c);
  }
  return sum / days.length;
}

function bruteAuc(scores: number[], labels: number[]): number | null {
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
  return pairs === 0 ? null : wins / pairs;
}

describe('handbook protocol', () => {
  it('folds are the handbook dates: §3.4 trains from 2018-07-25, §5.3 tests the four weeks 2018-08-08 .. 2018-09-04', () => {
    expect(HANDBOOK_TRAIN_START_DAY).toBe(115);
    expect(SECTION_3_4_SPLIT).toEqual({ trainStartDay: 115, trainDays: 7, delayDays: 7, testDays: 7 });
    const testStarts = SECTION_5_3_TEST_FOLDS.map((f) => f.trainStartDay + f.trainDays + f.delayDays).sort((a, b) => a - b);
    expect(testStarts).toEqual([129, 136, 143, 150]);
  });

  it('the test set removes exactly the cards known to be compromised', () => {
    fc.assert(
      fc.property(streamArb, foldArb, ({ tx }, fold) => {
        // The handbook's day arithmetic starts from the training week's first transaction.
        fc.pre(tx.day.includes(fold.trainStartDay));
        expect(testSet(tx, fold)).toEqual(bruteTestSet(tx, fold));
      }),
    );
  });

  it('card precision@k matches a full ranking per day with caught cards removed', () => {
    fc.assert(
      fc.property(streamArb, fc.integer({ min: 1, max: 5 }), ({ tx, scores }, k) => {
        const indices = tx.day.map((_, i) => i).filter((i) => i % 3 !== 1);
        expect(cardPrecisionAtK(tx, indices, scores, k)).toBeCloseTo(bruteCardPrecision(tx, indices, scores, k) ?? NaN, 12);
      }),
    );
  });

  it('a fold is scored on its test set only', () => {
    fc.assert(
      fc.property(streamArb, foldArb, ({ tx, scores }, fold) => {
        fc.pre(tx.day.includes(fold.trainStartDay));
        const indices = bruteTestSet(tx, fold);
        const result = evaluateFold(tx, fold, scores, 2);
        const auc = bruteAuc(indices.map((i) => scores[i]!), indices.map((i) => tx.fraud[i]!));
        if (auc === null) expect(result.rocAuc).toBeNull();
        else expect(result.rocAuc).toBeCloseTo(auc, 12);
        expect(result.transactions).toBe(indices.length);
        expect(result.frauds).toBe(indices.filter((i) => tx.fraud[i] === 1).length);
        const cp = bruteCardPrecision(tx, indices, scores, 2);
        if (cp === null) expect(result.cardPrecisionAtK).toBeNull();
        else expect(result.cardPrecisionAtK).toBeCloseTo(cp, 12);
      }),
    );
  });

  it('the mean over folds is undefined when a fold is', () => {
    const a = { rocAuc: 0.8, averagePrecision: 0.5, cardPrecisionAtK: 0.2, transactions: 10, frauds: 1 };
    const b = { rocAuc: 0.9, averagePrecision: null, cardPrecisionAtK: 0.4, transactions: 10, frauds: 0 };
    const mean = meanOfFolds([a, b]);
    expect(mean.rocAuc).toBeCloseTo(0.85, 12);
    expect(mean.averagePrecision).toBeNull();
    expect(mean.cardPrecisionAtK).toBeCloseTo(0.3, 12);
  });
});
