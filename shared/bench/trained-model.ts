import { createModel, Random, type Algorithm } from '../src/index.js';

const FEATURES = 15;
const TRAINING_EXAMPLES = 50_000;

/**
 * What the model benches measure on: `algorithm` with 15 features, trained on 50,000 examples of a seeded random
 * stream (the trees fitted at least once), and that stream's generator, to draw more inputs from where training
 * stopped.
 */
export function trainedModel(algorithm: Algorithm) {
  const names = Array.from({ length: FEATURES }, (_, i) => `feature_${i}`);
  const model = createModel(algorithm, names);
  const random = new Random(7);
  for (let i = 0; i < TRAINING_EXAMPLES; i++) {
    const x = names.map(() => random.next());
    model.learn(x, random.next() < 0.2 + 0.5 * (x[0] as number) * (x[1] as number) ? 1 : 0);
  }
  return { model, names, random };
}
