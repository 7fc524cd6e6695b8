/**
 * CPU per prediction, as the fraud service scores each vector (with a model restored from its snapshot) and the
 * learner scores each labelled example before learning it (test-then-train, with the model it trains): each
 * algorithm with 15 features, trained on a seeded random stream (the trees fitted at least once).
 * Usage: node --conditions=sluice-source --import tsx shared/bench/model-predict.ts [predictions]
 */
import { ALGORITHMS, createModel, Random, restoreModel } from '../src/index.js';

const FEATURES = 15;
const TRAINING_EXAMPLES = 50_000;
const predictions = Number(process.argv[2] ?? 500_000);
const names = Array.from({ length: FEATURES }, (_, i) => `feature_${i}`);

for (const algorithm of ALGORITHMS) {
  const trained = createModel(algorithm, names);
  const random = new Random(7);
  for (let i = 0; i < TRAINING_EXAMPLES; i++) {
    const x = names.map(() => random.next());
    trained.learn(x, random.next() < 0.2 + 0.5 * (x[0] as number) * (x[1] as number) ? 1 : 0);
  }
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
