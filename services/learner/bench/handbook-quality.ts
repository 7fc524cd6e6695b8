/**
 * Model quality on the Fraud Detection Handbook stream, in process: prints
 * figures, asserts nothing. The stream (handbook-stream.ts: the simulator
 * with the handbook's parameters, the handbook features computed in event
 * order, labels 7 days late) is replayed once per model, as the pipeline
 * runs it:
 * - a label is scored by the current model, recorded, then learned
 *   (test-then-train, in labeled_at order), through the learner's
 *   OnlineLearner with its drift detector and reaction;
 * - every 500 labels the model is copied through its serialised state, as a
 *   published snapshot; each transaction is scored, when it happens, by the
 *   latest copy, as the fraud service scores it.
 * Figures per model:
 * - the handbook protocol (handbook-protocol.ts) on the served scores: §3.4
 *   split, each §5.3 test fold, and their mean (ROC AUC, AP, CP@100);
 * - all labels: prequential AUC / AP of the test-then-train scores over the
 *   whole run (what the learner's rolling metrics measure);
 * - the alerts a fixed threshold of 0.9 (fraud's default) raises on the
 *   served scores over the whole run, with their precision and recall;
 * - training throughput (OnlineLearner.observe calls only, wall time) and the
 *   size of the final snapshot's state (train-throughput.ts measures CPU time).
 *   node --conditions=sluice-source --import tsx services/learner/bench/handbook-quality.ts [model filter] [days] [customers]
 * The model filter is a comma-separated list of substrings of the names
 * below ('' for all); `npm run bench:quality` runs the lot. Then, with no
 * filter or one that names `champion`, the learner's default models trained
 * together and the served champion (champion-quality.ts).
 */
import { restoreModel, type FeatureVector, type OnlineModel } from '@sluice/shared';
import { OnlineLearner, type OnlineLearnerOptions } from '../src/online-learner.js';
import { averagePrecision, rocAuc } from '../src/prequential-metrics.js';
import { evaluateFold, indicesByDay, meanOfFolds, SECTION_3_4_SPLIT, SECTION_5_3_TEST_FOLDS, type FoldResult } from './handbook-protocol.js';
import { printChampionSection } from './champion-quality.js';
import { loadHandbookStream, type HandbookStreamData } from './handbook-stream.js';
import { QUALITY_MODELS, type QualityModel } from './quality-models.js';

const FILTER = (process.argv[2] ?? '').split(',').filter((s) => s !== '');
const DAYS = Number(process.argv[3] ?? 183);
const CUSTOMERS = Number(process.argv[4] ?? 5_000);
const SNAPSHOT_EVERY_LABELS = 500;
/** The fraud service's default FRAUD_THRESHOLD. */
const THRESHOLD = 0.9;

interface ModelRun {
  name: string;
  /** Each transaction's score by the latest snapshot when it happened (0 before the first). */
  served: Float64Array;
  prequentialAuc: number | null;
  prequentialAp: number | null;
  trainSeconds: number;
  labels: number;
  snapshotBytes: number;
  drifts: number;
}

function vectorOf(stream: HandbookStreamData, i: number): FeatureVector {
  const d = stream.featureNames.length;
  return {
    transaction_id: String(i),
    customer_id: String(stream.customer[i]),
    terminal_id: '',
    event_time: stream.timeMs[i]!,
    amount: stream.features[i * d]!,
    feature_set_version: stream.featureSetVersion,
    feature_names: stream.featureNames,
    feature_values: Array.from(stream.features.subarray(i * d, (i + 1) * d)),
    ingested_at: 0,
  };
}

function runModel(stream: HandbookStreamData, name: string, model: OnlineModel, options: Partial<OnlineLearnerOptions>): ModelRun {
  const learner = OnlineLearner.create(model, stream.featureSetVersion, { metricsWindow: 1_000, ...options });
  const served = new Float64Array(stream.count);
  const prequentialScores: number[] = [];
  const prequentialLabels: number[] = [];
  let snapshot: OnlineModel | null = null;
  let lastState = '';
  let labelsSince = 0;
  let trainMs = 0;
  let drifts = 0;
  for (const e of stream.events) {
    if (e >= 0) {
      const vector = vectorOf(stream, e);
      learner.observeUnlabelled(vector);
      served[e] = snapshot === null ? 0 : snapshot.predict(vector.feature_values);
      continue;
    }
    const i = ~e;
    const y = stream.fraud[i] === 1 ? 1 : 0;
    const vector = vectorOf(stream, i);
    const began = performance.now();
    const observation = learner.observe(vector, y);
    trainMs += performance.now() - began;
    prequentialScores.push(observation.score);
    prequentialLabels.push(y);
    if (observation.drift !== null) drifts++;
    if (++labelsSince >= SNAPSHOT_EVERY_LABELS) {
      labelsSince = 0;
      const state = JSON.stringify(learner.model.toState());
      // A windowed model's state changes only when it retrains: restoring the same state again would give the same scorer.
      if (state !== lastState) snapshot = restoreModel(learner.model.algorithm, JSON.parse(state));
      lastState = state;
    }
  }
  return {
    name,
    served,
    prequentialAuc: rocAuc(prequentialScores, prequentialLabels),
    prequentialAp: averagePrecision(prequentialScores, prequentialLabels),
    trainSeconds: trainMs / 1000,
    labels: prequentialLabels.length,
    snapshotBytes: Buffer.byteLength(JSON.stringify(learner.model.toState())),
    drifts,
  };
}

const f3 = (v: number | null): string => (v === null ? '  n/a' : v.toFixed(3));
const figures = (r: Pick<FoldResult, 'rocAuc' | 'averagePrecision' | 'cardPrecisionAtK'>): string => `${f3(r.rocAuc)} ${f3(r.averagePrecision)} ${f3(r.cardPrecisionAtK)}`;

function main(): void {
  const stream = loadHandbookStream({ days: DAYS, customers: CUSTOMERS, terminals: CUSTOMERS * 2, seed: 0 }, console.log);
  const byDay = indicesByDay(stream.day);
  const models: QualityModel[] = QUALITY_MODELS.filter((m) => FILTER.length === 0 || FILTER.some((f) => m.name.includes(f)));
  let frauds = 0;
  for (const f of stream.fraud) frauds += f;
  console.log(
    `handbook stream: ${DAYS} days, ${CUSTOMERS} customers, ${stream.count.toLocaleString('en-US')} transactions (${frauds.toLocaleString('en-US')} frauds), ` +
      `labels 7 days late; served scores = latest snapshot every ${SNAPSHOT_EVERY_LABELS} labels`,
  );
  const folds = [...SECTION_5_3_TEST_FOLDS].sort((a, b) => a.trainStartDay - b.trainStartDay);
  const header =
    `${'model'.padEnd(58)} | §5.3 mean AUC AP CP@100 | §3.4 split        | ${folds.map((_, k) => `fold ${k + 1}`.padEnd(17)).join(' | ')} | all labels AUC AP | ` +
    `alerts@${THRESHOLD} precision recall | train labels/s | snapshot`;
  console.log(header);
  for (const spec of models) {
    const run = runModel(stream, spec.name, spec.create(stream.featureNames), spec.learner ?? {});
    const perFold = folds.map((fold) => evaluateFold(stream, fold, run.served, 100, byDay));
    const split = evaluateFold(stream, SECTION_3_4_SPLIT, run.served, 100, byDay);
    let alerts = 0;
    let hits = 0;
    for (let i = 0; i < stream.count; i++) {
      if (run.served[i]! < THRESHOLD) continue;
      alerts++;
      hits += stream.fraud[i]!;
    }
    const alerting = `${alerts.toLocaleString('en-US').padStart(9)} ${alerts === 0 ? '  n/a' : `${((100 * hits) / alerts).toFixed(1)}%`} ${((100 * hits) / frauds).toFixed(1)}%`;
    console.log(
      `${spec.name.padEnd(58)} | ${figures(meanOfFolds(perFold)).padEnd(23)} | ${figures(split)} | ${perFold.map(figures).join(' | ')} | ` +
        `${f3(run.prequentialAuc)} ${f3(run.prequentialAp)}       | ${alerting.padEnd(30)} | ${Math.round(run.labels / run.trainSeconds).toLocaleString('en-US').padStart(14)} | ${(run.snapshotBytes / 1024).toFixed(0)} KiB`,
    );
  }
  console.log('(test weeks from 2018-08-08; each fold: test-week transactions of cards not known to be compromised, see handbook-protocol.ts; throughput on a shared machine)');
  if (FILTER.length === 0 || FILTER.includes('champion')) printChampionSection(stream, byDay);
}

main();
