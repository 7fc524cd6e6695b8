/**
 * The Fraud Detection Handbook's evaluation protocol (Le Borgne et al.,
 * "Reproducible Machine Learning for Credit Card Fraud Detection"), as pure
 * functions over transactions and their scores, so that an online model can
 * be judged on exactly the figures the handbook publishes:
 * - §3.4 `get_train_test_set`: a training week, a 7-day delay (labels not
 *   known yet), a test week; on each test day the cards already known to be
 *   compromised are removed — those with a fraud in the training week or in
 *   the delay days up to the test day − delay − 1.
 * - §4.2 `card_precision_top_k`: per test day, each card's highest score and
 *   whether it had a fraud; the share of frauded cards among the k highest;
 *   cards detected on an earlier day are removed; the daily figures averaged.
 * - §5.3 test folds (`prequentialSplit` from `start_date_training_for_test`
 *   = 2018-07-25 + 21 days): four training weeks a week apart, hence four
 *   consecutive test weeks, 2018-08-08 to 2018-09-04; the figures are the mean
 *   over the folds. The §3.4 split is the earliest of them.
 * ROC AUC and average precision are scikit-learn's (`roc_auc_score`,
 * `average_precision_score`) over a fold's whole test set.
 */
import { averagePrecision, rocAuc } from '../src/prequential-metrics.js';

export interface Fold {
  /** Day index (whole days since the stream's first midnight) of the first training day. */
  trainStartDay: number;
  trainDays: number;
  delayDays: number;
  testDays: number;
}

export interface ProtocolTransactions {
  /** Day index of each transaction (the handbook's TX_TIME_DAYS). */
  day: ArrayLike<number>;
  customer: ArrayLike<number>;
  fraud: ArrayLike<number>;
}

export interface FoldResult {
  rocAuc: number | null;
  averagePrecision: number | null;
  cardPrecisionAtK: number | null;
  transactions: number;
  frauds: number;
}

const DAY_MS = 86_400_000;
/** The handbook simulation starts on 2018-04-01; its §3.4 training week on 2018-07-25. */
export const HANDBOOK_TRAIN_START_DAY = (Date.UTC(2018, 6, 25) - Date.UTC(2018, 3, 1)) / DAY_MS;

function week(trainStartDay: number): Fold {
  return { trainStartDay, trainDays: 7, delayDays: 7, testDays: 7 };
}

export const SECTION_3_4_SPLIT: Fold = week(HANDBOOK_TRAIN_START_DAY);

/** Fold 0 is the latest, as in `prequentialSplit`: training starts `fold × 7` days before 2018-08-15. */
export const SECTION_5_3_TEST_FOLDS: readonly Fold[] = [0, 1, 2, 3].map((fold) => week(HANDBOOK_TRAIN_START_DAY + 21 - 7 * fold));

/** Transaction indices per day index, each list in stream order. */
export function indicesByDay(day: ArrayLike<number>): Map<number, number[]> {
  const byDay = new Map<number, number[]>();
  for (let i = 0; i < day.length; i++) {
    const d = day[i] as number;
    let list = byDay.get(d);
    if (list === undefined) byDay.set(d, (list = []));
    list.push(i);
  }
  return byDay;
}

/** The fold's test transactions (indices, by day then stream order) once known-compromised cards are removed. */
export function testSet(tx: ProtocolTransactions, fold: Fold, byDay: Map<number, number[]> = indicesByDay(tx.day)): number[] {
  const known = new Set<number>();
  const addFrauds = (d: number): void => {
    for (const i of byDay.get(d) ?? []) if (tx.fraud[i] === 1) known.add(tx.customer[i] as number);
  };
  for (let d = fold.trainStartDay; d < fold.trainStartDay + fold.trainDays; d++) addFrauds(d);
  const test: number[] = [];
  for (let d = 0; d < fold.testDays; d++) {
    // The handbook adds day (training start + trainDays + d − 1): for d = 0 the training week's last day again.
    addFrauds(fold.trainStartDay + fold.trainDays + d - 1);
    for (const i of byDay.get(fold.trainStartDay + fold.trainDays + fold.delayDays + d) ?? []) {
      if (!known.has(tx.customer[i] as number)) test.push(i);
    }
  }
  return test;
}

/**
 * The handbook's card precision@k over `indices` (a test set), averaged over
 * its days. Ties between cards' scores go to the lower customer id (pandas
 * groups by customer id, then sorts by score); null on no transactions.
 */
export function cardPrecisionAtK(tx: ProtocolTransactions, indices: readonly number[], scores: ArrayLike<number>, k: number): number | null {
  const days = [...new Set(indices.map((i) => tx.day[i] as number))].sort((a, b) => a - b);
  if (days.length === 0) return null;
  const detected = new Set<number>();
  let sum = 0;
  for (const d of days) {
    const cards = new Map<number, { score: number; fraud: number }>();
    for (const i of indices) {
      if (tx.day[i] !== d) continue;
      const c = tx.customer[i] as number;
      if (detected.has(c)) continue;
      const card = cards.get(c);
      const score = scores[i] as number;
      const fraud = tx.fraud[i] as number;
      if (card === undefined) cards.set(c, { score, fraud });
      else {
        card.score = Math.max(card.score, score);
        card.fraud = Math.max(card.fraud, fraud);
      }
    }
    const ranked = [...cards].sort(([ca, a], [cb, b]) => b.score - a.score || ca - cb).slice(0, k);
    let hits = 0;
    for (const [c, card] of ranked) {
      if (card.fraud === 1) {
        hits++;
        detected.add(c);
      }
    }
    sum += hits / k;
  }
  return sum / days.length;
}

export function evaluateFold(tx: ProtocolTransactions, fold: Fold, scores: ArrayLike<number>, k = 100, byDay?: Map<number, number[]>): FoldResult {
  const indices = testSet(tx, fold, byDay);
  const s = Float64Array.from(indices, (i) => scores[i] as number);
  const y = Uint8Array.from(indices, (i) => tx.fraud[i] as number);
  return {
    rocAuc: rocAuc(s, y),
    averagePrecision: averagePrecision(s, y),
    cardPrecisionAtK: cardPrecisionAtK(tx, indices, scores, k),
    transactions: indices.length,
    frauds: y.reduce((a, b) => a + b, 0),
  };
}

/** Mean of each figure over the folds; null if any fold's figure is undefined. */
export function meanOfFolds(results: readonly FoldResult[]): Pick<FoldResult, 'rocAuc' | 'averagePrecision' | 'cardPrecisionAtK'> {
  const mean = (pick: (r: FoldResult) => number | null): number | null => {
    const values = results.map(pick);
    return values.some((v) => v === null) || values.length === 0 ? null : (values as number[]).reduce((a, b) => a + b, 0) / values.length;
  };
  return { rocAuc: mean((r) => r.rocAuc), averagePrecision: mean((r) => r.averagePrecision), cardPrecisionAtK: mean((r) => r.cardPrecisionAtK) };
}
