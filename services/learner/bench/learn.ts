/**
 * Learn + predict throughput of the online models on the 15 handbook features,
 * and the size of the snapshots they publish. Prints figures, asserts nothing.
 * Run: npx tsx services/learner/bench/learn.ts
 */
import { performance } from 'node:perf_hooks';
import { createModel, Random, type FeatureVector, type OnlineModel } from '@sluice/shared';
import { OnlineLearner } from '../src/online-learner.js';
import { PrequentialMetrics } from '../src/prequential-metrics.js';

const FEATURES = [
  'TX_AMOUNT',
  'TX_DURING_WEEKEND',
  'TX_DURING_NIGHT',
  ...[1, 7, 30].flatMap((d) => [`CUSTOMER_ID_NB_TX_${d}DAY_WINDOW`, `CUSTOMER_ID_AVG_AMOUNT_${d}DAY_WINDOW`]),
  ...[1, 7, 30].flatMap((d) => [`TERMINAL_ID_NB_TX_${d}DAY_WINDOW`, `TERMINAL_ID_RISK_${d}DAY_WINDOW`]),
];

const N = 200_000;
const WARMUP = 20_000;

/** Handbook-like marginals (log-normal amounts, Poisson-ish counts, small risks) and a ~1% fraud rate. */
function makeStream(n: number): { vectors: FeatureVector[]; labels: (0 | 1)[] } {
  const r = new Random(2024);
  const vectors: FeatureVector[] = [];
  const labels: (0 | 1)[] = [];
  for (let t = 0; t < n; t++) {
    const amount = Math.exp(3.5 + 0.9 * r.normal());
    const customerMean = Math.exp(3.5 + 0.5 * r.normal());
    const risk = Math.max(0, 0.01 + 0.02 * r.normal());
    const values = [
      amount,
      r.next() < 2 / 7 ? 1 : 0,
      r.next() < 0.1 ? 1 : 0,
      Math.round(3 * r.next()),
      customerMean * (1 + 0.2 * r.normal()),
      Math.round(20 * r.next()),
      customerMean,
      Math.round(80 * r.next()),
      customerMean,
      Math.round(10 * r.next()),
      risk,
      Math.round(70 * r.next()),
      risk,
      Math.round(300 * r.next()),
      risk,
    ];
    const z = -6.4 + 1.5 * Math.log(amount / customerMean) + 40 * risk;
    labels.push(r.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
    vectors.push({
      transaction_id: `tx${t}`,
      customer_id: `c${t % 5000}`,
      terminal_id: `t${t % 10000}`,
      event_time: 1_700_000_000_000 + t * 100,
      amount,
      feature_set_version: 'handbook-v1',
      feature_names: FEATURES,
      feature_values: values,
      ingested_at: 0,
    });
  }
  return { vectors, labels };
}

function perSecond(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en-US')} examples/s`;
}

function benchModel(model: OnlineModel, vectors: FeatureVector[], labels: (0 | 1)[]): number {
  for (let i = 0; i < WARMUP; i++) {
    model.predict((vectors[i] as FeatureVector).feature_values);
    model.learn((vectors[i] as FeatureVector).feature_values, labels[i] as 0 | 1);
  }
  let sink = 0;
  const start = performance.now();
  for (let i = WARMUP; i < vectors.length; i++) {
    sink += model.predict((vectors[i] as FeatureVector).feature_values);
    model.learn((vectors[i] as FeatureVector).feature_values, labels[i] as 0 | 1);
  }
  const ms = performance.now() - start;
  if (Number.isNaN(sink)) throw new Error('unreachable: keeps the loop from being optimised away');
  return ms;
}

const { vectors, labels } = makeStream(N);
const fraudRate = labels.filter((y) => y === 1).length / N;
console.log(`stream: ${N.toLocaleString('en-US')} vectors, ${FEATURES.length} features, fraud rate ${(fraudRate * 100).toFixed(2)}%`);
console.log(`measured over the last ${(N - WARMUP).toLocaleString('en-US')} after a ${WARMUP.toLocaleString('en-US')}-example warm-up\n`);

for (const algorithm of ['logistic_regression', 'half_space_trees'] as const) {
  const ms = benchModel(createModel(algorithm, FEATURES), vectors, labels);
  console.log(`${algorithm.padEnd(20)} predict+learn: ${perSecond(N - WARMUP, ms)}`);
}

for (const algorithm of ['logistic_regression', 'half_space_trees'] as const) {
  const learner = OnlineLearner.create(createModel(algorithm, FEATURES), 'handbook-v1');
  const start = performance.now();
  vectors.forEach((v, i) => {
    learner.observeUnlabelled(v);
    learner.observe(v, labels[i] as 0 | 1);
  });
  const ms = performance.now() - start;
  const snapshot = learner.snapshot(`fraud-${algorithm}`, 1, 0);
  const metrics = snapshot.metrics;
  console.log(
    `${algorithm.padEnd(20)} OnlineLearner.observe (metrics + ADWIN + learn): ${perSecond(N, ms)}; ` +
      `prequential AUC ${metrics.roc_auc?.toFixed(3)}, AP ${metrics.average_precision?.toFixed(3)} over the last ${metrics.window_size}`,
  );
  const envelope = Buffer.byteLength(JSON.stringify(snapshot));
  const state = Buffer.byteLength(snapshot.state);
  const learnerState = Buffer.byteLength(JSON.stringify(learner.toState()));
  console.log(
    `${algorithm.padEnd(20)} snapshot: state ${state.toLocaleString('en-US')} B, whole envelope as JSON ${envelope.toLocaleString('en-US')} B; ` +
      `learner changelog state ${learnerState.toLocaleString('en-US')} B`,
  );
}

const metrics = new PrequentialMetrics(10_000);
const r = new Random(1);
for (let i = 0; i < 10_000; i++) metrics.record(r.next(), r.next() < 0.01 ? 1 : 0);
const start = performance.now();
for (let i = 0; i < 20; i++) metrics.compute();
console.log(`\nPrequentialMetrics.compute over a 10,000-example window: ${((performance.now() - start) / 20).toFixed(2)} ms`);
