import { describe, it, expect } from 'vitest';
import type { ModelSnapshot } from '@sluice/shared';
import fc from 'fast-check';
import { ModelSelection, describeFeatureMismatch, labelClockOf, type Scorer } from '../src/model-selection.js';

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

const OPTIONS = { delayMs: 0, maxSnapshots: 100 };

describe('ModelSelection', () => {
  it('starts without a model and scores nothing', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer, OPTIONS);
    expect(selection.current).toBeNull();
    expect(selection.score(100, FEATURES, [1, 2, 3])).toEqual({ score: null, model: null, reason: 'no model yet' });
  });

  it('scores each vector with the newest snapshot whose label clock is at or before its time less E', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer, { delayMs: 10, maxSnapshots: 100 });
    expect(selection.offer(snapshot(1, { label_clock: 100 }, [1, 0, 0]))).toEqual({ status: 'accepted', newestVersion: 1, evicted: 0 });
    expect(selection.offer(snapshot(2, { label_clock: 200 }, [0, 1, 0]))).toEqual({ status: 'accepted', newestVersion: 2, evicted: 0 });
    expect(selection.score(109, FEATURES, [5, 7, 11])).toMatchObject({ score: null, model: null, reason: 'no model learned only from labels before 99' });
    expect(selection.score(110, FEATURES, [5, 7, 11]).score).toBe(5);
    expect(selection.score(209, FEATURES, [5, 7, 11]).score).toBe(5);
    expect(selection.score(210, FEATURES, [5, 7, 11]).score).toBe(7);
    // A snapshot read later, but older in event time, still serves the vectors of its time.
    expect(selection.offer(snapshot(3, { label_clock: 150 }, [0, 0, 1])).status).toBe('accepted');
    expect(selection.score(170, FEATURES, [5, 7, 11]).score).toBe(11);
    expect(selection.current?.snapshot.version).toBe(2);
    expect(selection.offer(snapshot(3, { label_clock: 150 }))).toMatchObject({ status: 'ignored-known-version' });
  });

  it('takes the publication time as the clock of a snapshot without one', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer, OPTIONS);
    selection.offer(snapshot(1, { created_at: 500, label_clock: null }, [1, 0, 0]));
    expect(labelClockOf(snapshot(1, { created_at: 500 }))).toBe(500);
    expect(selection.score(499, FEATURES, [5, 7, 11]).score).toBeNull();
    expect(selection.score(500, FEATURES, [5, 7, 11]).score).toBe(5);
  });

  it('ignores snapshots of other models', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer, OPTIONS);
    expect(selection.offer(snapshot(9, { model_name: 'fraud-hst' })).status).toBe('ignored-other-model');
    expect(selection.current).toBeNull();
  });

  it('refuses a model trained on other features and keeps the one before it', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer, OPTIONS);
    expect(selection.expectFeatures(FEATURES)).toEqual([]);
    selection.offer(snapshot(1, {}, [2, 0, 0]));
    const result = selection.offer(snapshot(2, { feature_names: ['amount', 'tx_count_7d', 'is_night'] }));
    expect(result.status).toBe('refused-feature-mismatch');
    expect(result.status !== 'accepted' && result.reason).toMatch(/fraud-lr v2 .*missing tx_count_1d; unexpected tx_count_7d/);
    expect(selection.current?.snapshot.version).toBe(1);
    expect(selection.score(10, FEATURES, [5, 7, 11]).score).toBe(10);
    // A later, matching version is still welcome.
    expect(selection.offer(snapshot(3, {}, [0, 0, 1])).status).toBe('accepted');
  });

  it('drops held snapshots of other features once the first vector tells which features there are', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer, OPTIONS);
    selection.offer(snapshot(1, {}, [2, 0, 0]));
    selection.offer(snapshot(2, { feature_names: ['amount', 'tx_count_7d', 'is_night'] }));
    const refusals = selection.expectFeatures(FEATURES);
    expect(refusals.map((refusal) => refusal.status)).toEqual(['refused-feature-mismatch']);
    expect(selection.current?.snapshot.version).toBe(1);
  });

  it('refuses a snapshot the factory cannot build and keeps the one before it', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer, OPTIONS);
    selection.offer(snapshot(1));
    const result = selection.offer(snapshot(2, { state: '{"weights": "lost"}' }));
    expect(result).toEqual({ status: 'refused-invalid', reason: 'fraud-lr v2: state has no usable weights' });
    expect(selection.current?.snapshot.version).toBe(1);
  });

  it('does not score a vector whose features are not the model\'s', () => {
    const selection = new ModelSelection('fraud-lr', linearScorer, OPTIONS);
    selection.offer(snapshot(1));
    const result = selection.score(10, ['amount', 'is_night', 'tx_count_1d'], [1, 2, 3]);
    expect(result.score).toBeNull();
    expect(result.score === null && result.reason).toMatch(/same names in another order/);
    expect(result.model?.snapshot.version).toBe(1);
  });

  it('turns a failing or non-finite prediction into no score', () => {
    const failing = new ModelSelection('fraud-lr', () => ({ predict: () => { throw new Error('boom'); } }), OPTIONS);
    failing.offer(snapshot(1));
    expect(failing.score(10, FEATURES, [1, 2, 3])).toMatchObject({ score: null, reason: 'model failed: boom' });
    const nan = new ModelSelection('fraud-lr', () => ({ predict: () => Number.NaN }), OPTIONS);
    nan.offer(snapshot(1));
    expect(nan.score(10, FEATURES, [1, 2, 3])).toMatchObject({ score: null, reason: 'model returned NaN' });
  });

  const clocks = fc.array(fc.record({ clock: fc.integer({ min: 0, max: 50 }), version: fc.integer({ min: 1, max: 40 }) }), { maxLength: 30 });

  it('chooses the newest snapshot whose clock is at or before t − E, in any offer order, as brute force over all offered does (property)', () => {
    fc.assert(
      fc.property(clocks, fc.integer({ min: 0, max: 10 }), fc.array(fc.integer({ min: -5, max: 70 }), { minLength: 1, maxLength: 10 }), (offered, delayMs, times) => {
        const selection = new ModelSelection('fraud-lr', linearScorer, { delayMs, maxSnapshots: 100 });
        const kept = new Map<number, number>();
        for (const { clock, version } of offered) {
          selection.offer(snapshot(version, { label_clock: clock }));
          if (!kept.has(version)) kept.set(version, clock);
        }
        for (const t of times) {
          const eligible = [...kept].filter(([, clock]) => clock <= t - delayMs);
          const best = eligible.reduce<[number, number] | null>((a, b) => (a === null || b[1] > a[1] || (b[1] === a[1] && b[0] > a[0]) ? b : a), null);
          const chosen = selection.choose(t);
          expect(chosen?.snapshot.version ?? null).toBe(best?.[0] ?? null);
          if (chosen) expect(chosen.clock).toBeLessThanOrEqual(t - delayMs);
        }
      }),
    );
  });

  it('after prune(t) chooses as before for every time at or after t, and stays within its bound (property)', () => {
    fc.assert(
      fc.property(clocks, fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 8 }), (offered, oldest, maxSnapshots) => {
        const full = new ModelSelection('fraud-lr', linearScorer, { delayMs: 3, maxSnapshots: 100 });
        const pruned = new ModelSelection('fraud-lr', linearScorer, { delayMs: 3, maxSnapshots: 100 });
        const bounded = new ModelSelection('fraud-lr', linearScorer, { delayMs: 3, maxSnapshots });
        for (const { clock, version } of offered) for (const s of [full, pruned, bounded]) s.offer(snapshot(version, { label_clock: clock }));
        pruned.prune(oldest);
        for (let t = oldest; t <= 70; t++) expect(pruned.choose(t)?.snapshot.version).toBe(full.choose(t)?.snapshot.version);
        expect(pruned.size).toBeLessThanOrEqual(full.size);
        // Nothing older than the snapshot a vector at `oldest` uses is left.
        const used = full.choose(oldest);
        if (used !== null) {
          const newer = new Map(offered.map(({ clock, version }): [number, number] => [version, clock]).reverse());
          const atOrAfter = [...newer].filter(([version, clock]) => clock > used.clock || (clock === used.clock && version >= used.snapshot.version));
          expect(pruned.size).toBe(atOrAfter.length);
        }
        expect(bounded.size).toBeLessThanOrEqual(maxSnapshots);
        // The bound never makes a vector use a model from its future: it only loses the oldest.
        for (let t = 0; t <= 70; t++) {
          const chosen = bounded.choose(t);
          if (chosen) expect(chosen.clock).toBeLessThanOrEqual(t - 3);
        }
      }),
    );
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
