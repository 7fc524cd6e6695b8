/**
 * Training throughput of each model on the handbook stream's labels, in
 * labeled_at order, one example at a time through `learn` (retrains of the
 * windowed models included), on one core: wall time and the process's CPU
 * time (on a shared machine the CPU figure is the steadier one). Also the
 * size of the final snapshot's state and the scoring rate. Prints figures,
 * asserts nothing.
 *   node --conditions=sluice-source --import tsx services/learner/bench/train-throughput.ts [model filter] [labels]
 * With a label count, only the stream's first labels are learned (the
 * gradient-boosted trees' window is full after about 200,000).
 * Then the learner's own models (LEARNER_MODELS, default configuration) as
 * the train stage runs them, through `OnlineLearner.observe` (score, rolling
 * metrics, drift detector, learn): labels/s of CPU per model, so the
 * champion's figure is the one to hold to ≥ 20,000/s, and the size of each
 * model's snapshot (the whole Avro envelope's JSON state and metrics) and
 * changelog state.
 */
import type { FeatureVector } from '@sluice/shared';
import { learnerConfigSchema } from '../src/config.js';
import { createSupervisedModel } from '../src/model-declarations.js';
import { OnlineLearner } from '../src/online-learner.js';
import { loadHandbookStream } from './handbook-stream.js';
import { QUALITY_MODELS } from './quality-models.js';

const FILTER = (process.argv[2] ?? 'defaults').split(',').filter((s) => s !== '');
const LABELS = process.argv[3] === undefined ? Infinity : Number(process.argv[3]);

const stream = loadHandbookStream({ days: 183, customers: 5_000, terminals: 10_000, seed: 0 }, console.log);
const d = stream.featureNames.length;
const vectors = Array.from({ length: stream.count }, (_, i) => Array.from(stream.features.subarray(i * d, (i + 1) * d)));
const labelled = Array.from(stream.events.filter((e) => e < 0), (e) => ~e).slice(0, LABELS);

for (const spec of QUALITY_MODELS.filter((m) => FILTER.some((f) => m.name.includes(f)))) {
  const model = spec.create(stream.featureNames);
  const cpu = process.cpuUsage();
  const began = performance.now();
  const half = Math.floor(labelled.length / 2);
  let secondHalf = cpu;
  for (let k = 0; k < labelled.length; k++) {
    if (k === half) secondHalf = process.cpuUsage();
    const i = labelled[k]!;
    model.learn(vectors[i]!, stream.fraud[i] === 1 ? 1 : 0);
  }
  const wall = (performance.now() - began) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const usedSecondHalf = process.cpuUsage(secondHalf);
  // The windowed models' refits are cheaper until the window is full; the second half shows the steady state.
  const steady = Math.round((labelled.length - half) / ((usedSecondHalf.user + usedSecondHalf.system) / 1e6));
  const state = JSON.stringify(model.toState());
  const scoreBegan = performance.now();
  let sink = 0;
  for (let i = 0; i < stream.count; i += 10) sink += model.predict(vectors[i]!);
  const scoreRate = Math.ceil(stream.count / 10) / ((performance.now() - scoreBegan) / 1000);
  console.log(
    `${spec.name}: ${labelled.length.toLocaleString('en-US')} labels learned at ${Math.round(labelled.length / cpuSeconds).toLocaleString('en-US')} labels/s of CPU, ` +
      `${steady.toLocaleString('en-US')}/s over the second half (${Math.round(labelled.length / wall).toLocaleString('en-US')}/s wall); snapshot state ${(Buffer.byteLength(state) / 1024).toFixed(0)} KiB; ` +
      `scores ${Math.round(scoreRate).toLocaleString('en-US')} vectors/s${Number.isNaN(sink) ? ' (NaN score!)' : ''}`,
  );
}

const config = learnerConfigSchema.parse({});
const drift = config.LEARNER_DRIFT_DETECTOR === 'none' ? null : { kind: config.LEARNER_DRIFT_DETECTOR };
const vectorOf = (i: number): FeatureVector => ({
  transaction_id: String(i),
  customer_id: '',
  terminal_id: '',
  event_time: stream.timeMs[i]!,
  amount: vectors[i]![0]!,
  feature_set_version: stream.featureSetVersion,
  feature_names: stream.featureNames,
  feature_values: vectors[i]!,
  ingested_at: 0,
});
const examples = labelled.map(vectorOf);
for (const declaration of config.LEARNER_MODELS) {
  const learner = OnlineLearner.create(
    createSupervisedModel(declaration, stream.featureNames, { learningRate: config.LEARNER_LEARNING_RATE, l2: config.LEARNER_L2 }),
    stream.featureSetVersion,
    { metricsWindow: config.LEARNER_METRICS_WINDOW, drift, driftReaction: config.LEARNER_DRIFT_REACTION, shrinkKeep: config.LEARNER_DRIFT_SHRINK_KEEP },
  );
  const half = Math.floor(examples.length / 2);
  const cpu = process.cpuUsage();
  let secondHalf = cpu;
  let largestSnapshot = 0;
  let largestChangelog = 0;
  for (let k = 0; k < examples.length; k++) {
    if (k === half) secondHalf = process.cpuUsage();
    const i = labelled[k]!;
    learner.observe(examples[k]!, stream.fraud[i] === 1 ? 1 : 0);
    // Sizes at each snapshot round's cadence (outside the CPU figures would be cleaner; they are a small share).
    if ((k + 1) % (config.LEARNER_SNAPSHOT_EVERY_LABELS * 100) === 0) {
      largestSnapshot = Math.max(largestSnapshot, Buffer.byteLength(JSON.stringify(learner.snapshot(declaration.name, 1, 0))));
      largestChangelog = Math.max(largestChangelog, Buffer.byteLength(JSON.stringify(learner.toState())));
    }
  }
  const used = process.cpuUsage(cpu);
  const usedSecondHalf = process.cpuUsage(secondHalf);
  const rate = (n: number, u: NodeJS.CpuUsage) => Math.round(n / ((u.user + u.system) / 1e6)).toLocaleString('en-US');
  largestSnapshot = Math.max(largestSnapshot, Buffer.byteLength(JSON.stringify(learner.snapshot(declaration.name, 1, 0))));
  largestChangelog = Math.max(largestChangelog, Buffer.byteLength(JSON.stringify(learner.toState())));
  console.log(
    `learner ${declaration.name} (${declaration.algorithm}) through OnlineLearner.observe: ${examples.length.toLocaleString('en-US')} labels at ${rate(examples.length, used)} labels/s of CPU, ` +
      `${rate(examples.length - half, usedSecondHalf)}/s over the second half; largest snapshot envelope ${(largestSnapshot / 1024).toFixed(0)} KiB (limit 1,024 KiB), changelog state ${(largestChangelog / 1024).toFixed(0)} KiB`,
  );
}
