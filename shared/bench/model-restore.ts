/**
 * CPU per restore of a model from its snapshot state, as the fraud service does for every snapshot on model.updates
 * (JSON.parse, validation, rebuild): each algorithm with 15 features, trained on a seeded random stream (the trees
 * fitted at least once), its state written and read back as JSON.
 * Usage: node --conditions=sluice-source --import tsx shared/bench/model-restore.ts [rounds]
 */
import { ALGORITHMS, createModel, Random, restoreModel } from '../src/index.js';

const FEATURES = 15;
const TRAINING_EXAMPLES = 50_000;
const rounds = Number(process.argv[2] ?? 200);
const names = Array.from({ length: FEATURES }, (_, i) => `feature_${i}`);

for (const algorithm of ALGORITHMS) {
  const model = createModel(algorithm, names);
  const random = new Random(7);
  for (let i = 0; i < TRAINING_EXAMPLES; i++) {
    const x = names.map(() => random.next());
    model.learn(x, random.next() < 0.2 + 0.5 * (x[0] as number) * (x[1] as number) ? 1 : 0);
  }
  const json = JSON.stringify(model.toState());
  for (let i = 0; i < 20; i++) restoreModel(algorithm, JSON.parse(json));
  const started = process.cpuUsage();
  for (let i = 0; i < rounds; i++) restoreModel(algorithm, JSON.parse(json));
  const { user, system } = process.cpuUsage(started);
  console.log(`${algorithm}: ${((user + system) / rounds).toFixed(0)} µs of CPU per restore (${json.length.toLocaleString('en')}-byte state, ${rounds} rounds)`);
}
