/**
 * CPU per restore of a model from its snapshot state, as the fraud service does for every snapshot on model.updates
 * (JSON.parse, validation, rebuild): each algorithm with 15 features, trained on a seeded random stream (the trees
 * fitted at least once), its state written and read back as JSON.
 * Usage: node --conditions=sluice-source --import tsx shared/bench/model-restore.ts [rounds]
 */
import { ALGORITHMS, restoreModel } from '../src/index.js';
import { trainedModel } from './trained-model.js';

const rounds = Number(process.argv[2] ?? 200);

for (const algorithm of ALGORITHMS) {
  const { model } = trainedModel(algorithm);
  const json = JSON.stringify(model.toState());
  for (let i = 0; i < 20; i++) restoreModel(algorithm, JSON.parse(json));
  const started = process.cpuUsage();
  for (let i = 0; i < rounds; i++) restoreModel(algorithm, JSON.parse(json));
  const { user, system } = process.cpuUsage(started);
  console.log(`${algorithm}: ${((user + system) / rounds).toFixed(0)} µs of CPU per restore (${json.length.toLocaleString('en')}-byte state, ${rounds} rounds)`);
}
