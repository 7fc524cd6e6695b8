import { describe, it, expect } from 'vitest';
import type { ModelSnapshot } from '@sluice/shared';
import { ModelSelection, describeFeatureMismatch, type Scorer } from '../src/model-selection.js';

const FEATURES = ['amount', 'tx_count_1d', 'is_night'];

function snapshot(version: number, overrides: Partial<ModelSnapshot> = {}, weights: number[] = [1, 1, 1]): ModelSnapshot {
  return {
    model_name: 'fraud-lr',
    version,
    algorithm: 'linear-test',
    feature_names: FEATURES,
    feature_set_version: 'v1',
    state: JSON.stringify({ weights }),
    trained_count: version * 10,
    metrics: { roc_auc: null, average_precision: null, log_loss: null, positives: 0, negatives: 0, window_size: 0 },
    created_at: version,
    ...overrides,
  };
}

/** A stand-in for snapshotToModel: a linear scorer from the state's weights; throws on a state it cannot read. */
function linearScorer(s: ModelSnapshot): Scorer {
  const { weights } = JSON.parse(s.state) as { weights: number[] };
  if (!Array.isArray(weights) || weights.length !== s.feature_names.length) throw new Error('state has no usable weights');
  return { predict: (x) => x.reduce((sum, v, i) => sum + v * (weights[i] ?? 0), 0) };
}

describe('ModelSelection', () => {
  it('starts without a model and scores nothing', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer);
    expect(selection.current).toBeNull();
    expect(selection.score(FEATURES, [1, 2, 3])).toEqual({ score: null, model: null, reason: 'no model yet' });
  });

  it('swaps to each newer version and ignores older or equal ones', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer);
    expect(selection.offer(snapshot(1, {}, [1, 0, 0]), FEATURES)).toEqual({ status: 'accepted', previousVersion: null });
    expect(selection.score(FEATURES, [5, 7, 11]).score).toBe(5);
    expect(selection.offer(snapshot(3, {}, [0, 1, 0]), FEATURES)).toEqual({ status: 'accepted', previousVersion: 1 });
    expect(selection.score(FEATURES, [5, 7, 11]).score).toBe(7);
    for (const version of [2, 3]) {
      expect(selection.offer(snapshot(version, {}, [0, 0, 1]), FEATURES)).toMatchObject({ status: 'ignored-older-version', reason: expect.stringContaining('v3 is already in use') });
    }
    expect(selection.current?.snapshot.version).toBe(3);
    expect(selection.score(FEATURES, [5, 7, 11]).score).toBe(7);
  });

  it('ignores snapshots of other models', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer);
    expect(selection.offer(snapshot(9, { model_name: 'fraud-hst' }), FEATURES).status).toBe('ignored-other-model');
    expect(selection.current).toBeNull();
  });

  it('refuses a model trained on other features and keeps the previous one', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer);
    selection.offer(snapshot(1, {}, [2, 0, 0]), FEATURES);
    const result = selection.offer(snapshot(2, { feature_names: ['amount', 'tx_count_7d', 'is_night'] }), FEATURES);
    expect(result.status).toBe('refused-feature-mismatch');
    expect(result.status !== 'accepted' && result.reason).toMatch(/fraud-lr v2 .*missing tx_count_1d; unexpected tx_count_7d/);
    expect(selection.current?.snapshot.version).toBe(1);
    expect(selection.score(FEATURES, [5, 7, 11]).score).toBe(10);
    // A later, matching version is still welcome.
    expect(selection.offer(snapshot(3, {}, [0, 0, 1]), FEATURES).status).toBe('accepted');
  });

  it('refuses a snapshot the factory cannot build and keeps the previous one', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer);
    selection.offer(snapshot(1), FEATURES);
    const result = selection.offer(snapshot(2, { state: '{"weights": "lost"}' }), FEATURES);
    expect(result).toEqual({ status: 'refused-invalid', reason: 'fraud-lr v2: state has no usable weights' });
    expect(selection.current?.snapshot.version).toBe(1);
  });

  it('does not score a vector whose features are not the model\'s', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer);
    selection.offer(snapshot(1), FEATURES);
    const result = selection.score(['amount', 'is_night', 'tx_count_1d'], [1, 2, 3]);
    expect(result.score).toBeNull();
    expect(result.score === null && result.reason).toMatch(/same names in another order/);
    expect(result.model?.snapshot.version).toBe(1);
  });

  it('turns a failing or non-finite prediction into no score', () => {
    const failing = new ModelSelection('fraud-lr', () => ({ predict: () => { throw new Error('boom'); } }));
    failing.offer(snapshot(1), FEATURES);
    expect(failing.score(FEATURES, [1, 2, 3])).toMatchObject({ score: null, reason: 'model failed: boom' });
    const nan = new ModelSelection('fraud-lr', () => ({ predict: () => Number.NaN }));
    nan.offer(snapshot(1), FEATURES);
    expect(nan.score(FEATURES, [1, 2, 3])).toMatchObject({ score: null, reason: 'model returned NaN' });
  });
});

describe('describeFeatureMismatch', () => {
  it('is null for identical lists only', () => {
    expect(describeFeatureMismatch(FEATURES, [...FEATURES])).toBeNull();
    expect(describeFeatureMismatch([], [])).toBeNull();
    expect(describeFeatureMismatch(FEATURES, FEATURES.slice(0, 2))).toMatch(/missing is_night$/);
    expect(describeFeatureMismatch(FEATURES, [...FEATURES, 'extra'])).toMatch(/unexpected extra$/);
    expect(describeFeatureMismatch(['a', 'b'], ['b', 'a'])).toMatch(/same names in another order \(a, b\)$/);
    expect(describeFeatureMismatch(['a', 'b'], ['a', 'b', 'b'])).toMatch(/duplicated names$/);
  });
});
