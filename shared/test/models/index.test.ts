import { describe, expect, it } from 'vitest';
import type { ModelSnapshot } from '../../src/records.js';
import {
  ALGORITHMS,
  createModel,
  parseAlgorithm,
  restoreModel,
  snapshotToModel,
  type OnlineModel,
} from '../../src/models/index.js';
import { Random } from '../../src/models/random.js';

const NAMES = ['a', 'b', 'c', 'd'];

function trained(model: OnlineModel, seed: number, n: number): number[][] {
  const r = new Random(seed);
  const xs = Array.from({ length: n }, () => NAMES.map(() => r.normal()));
  xs.forEach((x) => model.learn(x, (x[0] as number) + (x[1] as number) > 1 ? 1 : 0));
  return xs;
}

function envelope(model: OnlineModel, overrides: Partial<ModelSnapshot> = {}): ModelSnapshot {
  return {
    model_name: 'fraud',
    version: 3,
    algorithm: model.algorithm,
    feature_names: [...model.featureNames],
    feature_set_version: 'v1',
    state: JSON.stringify(model.toState()),
    trained_count: 600,
    metrics: { roc_auc: null, average_precision: null, log_loss: null, positives: 0, negatives: 0, window_size: 1 },
    created_at: 0,
    ...overrides,
  };
}

describe('model registry', () => {
  it('knows every algorithm and says so for unknown names', () => {
    expect([...ALGORITHMS].sort()).toEqual(['gradient_boosted_trees', 'half_space_trees', 'logistic_regression']);
    expect(() => parseAlgorithm('random_forest')).toThrow(expect.objectContaining({ code: 'unknown_algorithm' }));
  });

  it.each(ALGORITHMS)('%s: a snapshot restores a model that scores identically', (algorithm) => {
    const model = createModel(algorithm, NAMES);
    expect(model.algorithm).toBe(algorithm);
    trained(model, 1, 600);
    const fromSnapshot = snapshotToModel(envelope(model));
    const fromState = restoreModel(algorithm, JSON.parse(JSON.stringify(model.toState())));
    const probe = new Random(2);
    for (let i = 0; i < 100; i++) {
      const x = NAMES.map(() => 3 * probe.normal());
      const p = model.predict(x);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      expect(fromSnapshot.predict(x)).toBe(p);
      expect(fromState.predict(x)).toBe(p);
    }
    expect(fromSnapshot.explain?.(NAMES.map(() => 1))).toEqual(model.explain?.(NAMES.map(() => 1)));
  });

  it('passes options to the algorithm', () => {
    const model = createModel('half_space_trees', NAMES, { nTrees: 3, height: 2 });
    expect((model.toState() as { trees: unknown[] }).trees).toHaveLength(3);
  });

  it('refuses snapshots it cannot trust', () => {
    const model = createModel('logistic_regression', NAMES);
    expect(() => snapshotToModel(envelope(model, { state: '{not json' }))).toThrow(
      expect.objectContaining({ code: 'model_snapshot_invalid' }),
    );
    expect(() => snapshotToModel(envelope(model, { feature_names: ['a', 'b', 'c', 'x'] }))).toThrow(
      expect.objectContaining({ code: 'model_snapshot_invalid' }),
    );
    expect(() => snapshotToModel(envelope(model, { algorithm: 'half_space_trees' }))).toThrow(
      expect.objectContaining({ code: 'model_state_invalid' }),
    );
    expect(() => snapshotToModel(envelope(model, { algorithm: 'svm' }))).toThrow(
      expect.objectContaining({ code: 'unknown_algorithm' }),
    );
  });

  it('a snapshot of trained gradient-boosted trees restores a scorer with the same trees', () => {
    const model = createModel('gradient_boosted_trees', NAMES, { windowSize: 1_000, retrainEvery: 500, minExamples: 200, trees: 10 });
    trained(model, 3, 1_000);
    const fromSnapshot = snapshotToModel(envelope(model));
    const probe = new Random(4);
    const scores = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const x = NAMES.map(() => 2 * probe.normal());
      expect(fromSnapshot.predict(x)).toBe(model.predict(x));
      scores.add(model.predict(x));
    }
    // Trees, not the constant score of an untrained ensemble.
    expect(scores.size).toBeGreaterThan(5);
  });
});
