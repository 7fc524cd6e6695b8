/**
 * The handbook protocol (handbook-protocol.ts) on served scores computed
 * elsewhere (river_baseline.py): one score per line, one line per
 * transaction of the quality bench's stream, in stream order.
 *   node --conditions=sluice-source --import tsx services/learner/bench/evaluate-scores.ts <scores file> [days] [customers]
 */
import { readFileSync } from 'node:fs';
import { evaluateFold, indicesByDay, meanOfFolds, SECTION_3_4_SPLIT, SECTION_5_3_TEST_FOLDS, type FoldResult } from './handbook-protocol.js';
import { loadHandbookStream } from './handbook-stream.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: evaluate-scores.ts <scores file> [days] [customers]');
const days = Number(process.argv[3] ?? 183);
const customers = Number(process.argv[4] ?? 5_000);
const stream = loadHandbookStream({ days, customers, terminals: customers * 2, seed: 0 }, console.log);
const scores = Float64Array.from(readFileSync(file, 'utf8').trim().split('\n'), Number);
if (scores.length !== stream.count) throw new Error(`${file} has ${scores.length} scores for ${stream.count} transactions`);
const byDay = indicesByDay(stream.day);
const f3 = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(3));
const figures = (r: Pick<FoldResult, 'rocAuc' | 'averagePrecision' | 'cardPrecisionAtK'>): string => `AUC ${f3(r.rocAuc)} AP ${f3(r.averagePrecision)} CP@100 ${f3(r.cardPrecisionAtK)}`;
const folds = [...SECTION_5_3_TEST_FOLDS].sort((a, b) => a.trainStartDay - b.trainStartDay).map((fold) => evaluateFold(stream, fold, scores, 100, byDay));
console.log(`${file}: §5.3 mean ${figures(meanOfFolds(folds))}; §3.4 split ${figures(evaluateFold(stream, SECTION_3_4_SPLIT, scores, 100, byDay))}; folds: ${folds.map(figures).join(' | ')}`);
