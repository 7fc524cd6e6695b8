import { describe, expect, it } from 'vitest';
import { createModel, Random, snapshotToModel, type FeatureVector } from '@sluice/shared';
import { OnlineLearner } from '../src/online-learner.js';
import { averagePrecision, logLoss, rocAuc } from '../src/prequential-metrics.js';

const NAMES = ['a', 'b', 'c', 'd'];

interface Labelled {
  vector: FeatureVector;
  label: 0 | 1;
}

/** A logistic concept whose weights flip at `flipAt`. */
function stream(seed: number, length: number, flipAt = Infinity): Labelled[] {
  const r = new Random(seed);
  return Array.from({ length }, (_, t) => {
    const w = t < flipAt ? [2, -1, 1, 0] : [-2, 1, 0, 1];
    const x = NAMES.map(() => r.normal());
    const z = x.reduce((s, v, i) => s + v * (w[i] as number), -1);
    return {
      vector: {
        transaction_id: `tx${t}`,
        customer_id: 'c',
        terminal_id: 't',
        event_time: 1_700_000_000_000 + t * 1000,
        amount: 10,
        feature_set_version: 'v1',
        feature_names: NAMES,
        feature_values: x,
        ingested_at: 0,
      },
      label: r.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0,
    };
  });
}

describe('OnlineLearner', () => {
  it('scores each example before learning it and measures exactly those scores', () => {
    const data = stream(1, 3000);
    const learner = OnlineLearner.create(createModel('logistic_regression', NAMES), 'v1', { metricsWindow: 1000 });
    const twin = createModel('logistic_regression', NAMES);
    const scores: number[] = [];
    for (const { vector, label } of data) {
      const expected = twin.predict(vector.feature_values);
      twin.learn(vector.feature_values, label);
      const o = learner.observe(vector, label);
      expect(o.score).toBe(expected);
      expect(o.error).toBe(Math.abs(label - expected));
      expect(o.learned).toBe(true);
      scores.push(o.score);
    }
    expect(learner.trainedCount).toBe(3000);
    expect(learner.model.toState()).toEqual(twin.toState());
    const s = scores.slice(-1000);
    const y = data.slice(-1000).map((e) => e.label);
    const m = learner.metrics();
    expect(m.roc_auc).toBeCloseTo(rocAuc(s, y) as number, 12);
    expect(m.average_precision).toBeCloseTo(averagePrecision(s, y) as number, 12);
    expect(m.log_loss).toBeCloseTo(logLoss(s, y) as number, 12);
    expect(m.positives + m.negatives).toBe(1000);
  });

  it("reacts to a concept flip: 'shrink' and 'reset' re-open the optimiser and recover, 'none' only reports", () => {
    const data = stream(2, 36_000, 30_000);
    const results = (['none', 'shrink', 'reset'] as const).map((driftReaction) => {
      const learner = OnlineLearner.create(createModel('logistic_regression', NAMES), 'v1', { driftReaction, shrinkKeep: 0.01 });
      const drifts: number[] = [];
      const after: { s: number; y: number }[] = [];
      data.forEach(({ vector, label }, t) => {
        const history = () => (learner.model.toState() as { squared_gradient_bias: number }).squared_gradient_bias;
        const before = history();
        const o = learner.observe(vector, label);
        if (o.drift !== null) {
          drifts.push(t);
          expect(o.drift).toMatchObject({ detector: 'adwin', reaction: driftReaction, event_time: vector.event_time });
          // The example is learned before the detector sees its error, so the history holds at most that one step on top.
          if (driftReaction === 'reset') expect(history()).toBeLessThan(10);
          if (driftReaction === 'shrink') expect(history()).toBeLessThan(before * 0.01 + 10);
          if (driftReaction === 'none') expect(history()).toBeGreaterThanOrEqual(before);
        }
        if (t >= 30_000 && t < 32_000) after.push({ s: o.score, y: label });
      });
      return { drifts, auc: rocAuc(after.map((a) => a.s), after.map((a) => a.y)) as number };
    });
    for (const { drifts } of results) {
      expect(drifts.filter((t) => t < 30_000)).toEqual([]);
      expect((drifts[0] as number) - 30_000).toBeLessThan(500);
    }
    const [none, shrink, reset] = results;
    // Without a reaction AdaGrad's steps have shrunk for 30k examples and the
    // model is still ranking by the old concept (AUC well below 0.5).
    expect(none?.auc).toBeLessThan(0.5);
    expect(shrink?.auc).toBeGreaterThan(0.7);
    expect(reset?.auc).toBeGreaterThan(0.7);
  });

  it('takes the configured drift reaction over the one stored in its state', () => {
    const stored = OnlineLearner.create(createModel('logistic_regression', NAMES), 'v1', { driftReaction: 'reset' }).toState();
    expect(OnlineLearner.fromState(stored).driftReaction).toBe('reset');
    const restored = OnlineLearner.fromState(stored, { driftReaction: 'shrink', shrinkKeep: 0.5 });
    expect([restored.driftReaction, restored.shrinkKeep]).toEqual(['shrink', 0.5]);
    // A state from before 'shrink' existed has no share: the default applies.
    const { shrink_keep: _dropped, ...older } = stored;
    expect(OnlineLearner.fromState(older).shrinkKeep).toBe(0.3);
    expect(() => OnlineLearner.create(createModel('logistic_regression', NAMES), 'v1', { shrinkKeep: 1 })).toThrow(expect.objectContaining({ code: 'invalid_learner_options' }));
  });

  it('trains label-free models on arrival and only measures them on labels', () => {
    const data = stream(3, 600);
    const learner = OnlineLearner.create(createModel('half_space_trees', NAMES, { windowSize: 100 }), 'v1');
    data.forEach(({ vector }) => expect(learner.observeUnlabelled(vector)).toBe(true));
    expect(learner.trainedCount).toBe(600);
    const before = JSON.stringify(learner.model.toState());
    const o = learner.observe(data[0]?.vector as FeatureVector, 1);
    expect(o.learned).toBe(false);
    expect(o.score).toBe(learner.model.predict(data[0]?.vector.feature_values as number[]));
    expect(JSON.stringify(learner.model.toState())).toBe(before);
    expect(learner.metrics()).toMatchObject({ positives: 1, negatives: 0 });

    const supervised = OnlineLearner.create(createModel('logistic_regression', NAMES), 'v1');
    expect(supervised.observeUnlabelled(data[0]?.vector as FeatureVector)).toBe(false);
    expect(supervised.trainedCount).toBe(0);
  });

  it('publishes a snapshot the fraud service can score with', () => {
    const learner = OnlineLearner.create(createModel('logistic_regression', NAMES), 'v1');
    stream(4, 500).forEach(({ vector, label }) => learner.observe(vector, label));
    const snapshot = learner.snapshot('fraud-lr', 7, 1_700_000_123_000);
    expect(snapshot).toMatchObject({
      model_name: 'fraud-lr',
      version: 7,
      algorithm: 'logistic_regression',
      feature_names: NAMES,
      feature_set_version: 'v1',
      trained_count: 500,
      created_at: 1_700_000_123_000,
    });
    expect(snapshot.metrics).toEqual(learner.metrics());
    const scorer = snapshotToModel(JSON.parse(JSON.stringify(snapshot)));
    for (const { vector } of stream(5, 50)) {
      expect(scorer.predict(vector.feature_values)).toBe(learner.model.predict(vector.feature_values));
    }
  });

  it('round-trips its whole state (model, metrics, drift detector, count) through JSON', () => {
    const data = stream(6, 8000, 5000);
    for (const drift of [{ kind: 'adwin' as const }, { kind: 'page_hinkley' as const }]) {
      const learner = OnlineLearner.create(createModel('logistic_regression', NAMES), 'v1', { drift, metricsWindow: 700 });
      data.slice(0, 4000).forEach(({ vector, label }) => learner.observe(vector, label));
      const restored = OnlineLearner.fromState(JSON.parse(JSON.stringify(learner.toState())));
      expect(restored.trainedCount).toBe(4000);
      for (const { vector, label } of data.slice(4000)) {
        expect(restored.observe(vector, label)).toEqual(learner.observe(vector, label));
      }
      expect(restored.toState()).toEqual(learner.toState());
    }
  });

  it('keeps the trees\' ensemble and window apart from its state, and restored from the three parts learns on identically', () => {
    const data = stream(7, 3000);
    const learner = OnlineLearner.create(createModel('gradient_boosted_trees', NAMES, { windowSize: 500, retrainEvery: 300, minExamples: 100, trees: 3 }), 'v1');
    data.slice(0, 1700).forEach(({ vector, label }) => learner.observe(vector, label));
    const { state, stable } = JSON.parse(JSON.stringify(learner.toStateApart())) as ReturnType<OnlineLearner['toStateApart']>;
    expect(stable?.revision).toBe(JSON.parse(JSON.stringify(learner.toState().model)).retrains);
    expect(Object.keys(state.model as object)).not.toContain('node_value');
    const chunks = new Map(JSON.parse(JSON.stringify(learner.takeWindowChanges().put)) as [number, unknown][]);
    const restored = OnlineLearner.fromState(state, {}, stable!);
    expect(restored.restoreWindow((k) => chunks.get(k))).toBe(true);
    for (const { vector, label } of data.slice(1700)) expect(restored.observe(vector, label)).toEqual(learner.observe(vector, label));
    expect(JSON.stringify(restored.toState())).toBe(JSON.stringify(learner.toState()));
    // Without the stable part the state is incomplete; models without one have none and no window.
    expect(() => OnlineLearner.fromState(state)).toThrow(expect.objectContaining({ code: 'model_state_invalid' }));
    const linear = OnlineLearner.create(createModel('logistic_regression', NAMES), 'v1');
    expect(linear.toStateApart()).toEqual({ state: linear.toState(), stable: null });
    expect(linear.takeWindowChanges()).toEqual({ put: [], drop: [] });
    expect(linear.restoreWindow(() => undefined)).toBe(true);
  });

  it('refuses vectors of another feature set', () => {
    const learner = OnlineLearner.create(createModel('logistic_regression', NAMES), 'v1', { drift: null });
    const { vector } = stream(7, 1)[0] as Labelled;
    expect(() => learner.observe({ ...vector, feature_set_version: 'v2' }, 0)).toThrow(
      expect.objectContaining({ code: 'feature_set_mismatch' }),
    );
    expect(() => learner.observe({ ...vector, feature_names: ['a', 'b', 'c', 'e'] }, 0)).toThrow(
      expect.objectContaining({ code: 'feature_set_mismatch' }),
    );
    expect(learner.observe(vector, 0).drift).toBeNull();
  });
});
