/**
 * CPU per prediction, as the fraud service scores each vector (with a model restored from its snapshot) and the
 * learner scores each labelled example before learning it (test-then-train, with the model it trains): each
 * algorithm with 15 features, trained on a seeded random stream (the trees fitted at least once).
 * Usage: node --conditions=sluice-source --import tsx shared/bench/model-predict.ts [predictions]
 */
import { ALGORITHMS, restoreModel } from '../src/index.js';
import { trainedModel } from './trained-model.js';

const predictions = Number(process.argv[2] ?? 500_000);

for (const algorithm of ALGORITHMS) {
  const { model: trained, names, random } = trainedModel(algorithm);
  const restored = restoreModel(algorithm, JSON.parse(JSON.stringify(trained.toState())));
  const inputs = Array.from({ length: 1_000 }, () => names.map(() => random.next()));
  const figures = [['trained', trained], ['restored', restored]].map(([label, model]) => {
    const scorer = model as typeof trained;
    let sum = 0;
    for (let i = 0; i < 20_000; i++) sum += scorer.predict(inputs[i % inputs.length]!);
    const started = process.cpuUsage();
    for (let i = 0; i < predictions; i++) sum += scorer.predict(inputs[i % inputs.length]!);
    const { user, system } = process.cpuUsage(started);
    if (!Number.isFinite(sum)) throw new Error(`${algorithm} predicted a non-finite score`);
    return `${label} ${(((user + system) * 1_000) / predictions).toFixed(0)} ns`;
  });
  console.log(`${algorithm}: CPU per prediction, ${figures.join(', ')} (${predictions.toLocaleString('en')} predictions each)`);
}
