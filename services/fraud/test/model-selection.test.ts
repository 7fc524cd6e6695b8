import { describe, it, expect } from 'vitest';
import type { ModelSnapshot } from '@sluice/shared';
import fc from 'fast-check';
import { ModelSelection, chooseServed, describeFeatureMismatch, labelClockOf, type ActiveModel, type Scorer, type ServedChoice, type ServingPolicy } from '../src/model-selection.js';

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
const DEFAULT: ServingPolicy = { defaultModel: 'fraud-lr', pin: null };

/** A choice without its scorer (a closure, different in every table): what was chosen and why. */
function view(choice: ServedChoice) {
  if (choice.status === 'none') return choice;
  const { model, selection, reason } = choice.served;
  return { model: model.snapshot.model_name, version: model.snapshot.version, clock: model.clock, selection, reason };
}

describe('ModelSelection', () => {
  it('starts without a model and scores nothing', () => {
    const selection = new ModelSelection(DEFAULT, linearScorer, OPTIONS);
    expect(selection.newest).toBeNull();
    expect(selection.score(100, FEATURES, [1, 2, 3])).toEqual({ score: null, served: null, reason: 'no model yet' });
  });

  it('scores each vector with the newest snapshot whose label clock is at or before its time less E', () => {
    const selection = new ModelSelection(DEFAULT, linearScorer, { delayMs: 10, maxSnapshots: 100 });
    expect(selection.offer(snapshot(1, { label_clock: 100 }, [1, 0, 0]))).toEqual({ status: 'accepted', newestVersion: 1, evicted: 0 });
    expect(selection.offer(snapshot(2, { label_clock: 200 }, [0, 1, 0]))).toEqual({ status: 'accepted', newestVersion: 2, evicted: 0 });
    expect(selection.score(109, FEATURES, [5, 7, 11])).toMatchObject({ score: null, served: null, reason: 'no model learned only from labels at or before 99' });
    expect(selection.score(110, FEATURES, [5, 7, 11]).score).toBe(5);
    expect(selection.score(209, FEATURES, [5, 7, 11]).score).toBe(5);
    expect(selection.score(210, FEATURES, [5, 7, 11]).score).toBe(7);
    // A snapshot read later, but older in event time, still serves the vectors of its time.
    expect(selection.offer(snapshot(3, { label_clock: 150 }, [0, 0, 1])).status).toBe('accepted');
    expect(selection.score(170, FEATURES, [5, 7, 11]).score).toBe(11);
    expect(selection.newest?.snapshot.version).toBe(2);
    expect(selection.offer(snapshot(3, { label_clock: 150 }))).toMatchObject({ status: 'ignored-known-version' });
  });

  it('takes the publication time as the clock of a snapshot without one', () => {
    const selection = new ModelSelection(DEFAULT, linearScorer, OPTIONS);
    selection.offer(snapshot(1, { created_at: 500, label_clock: null }, [1, 0, 0]));
    expect(labelClockOf(snapshot(1, { created_at: 500 }))).toBe(500);
    expect(selection.score(499, FEATURES, [5, 7, 11]).score).toBeNull();
    expect(selection.score(500, FEATURES, [5, 7, 11]).score).toBe(5);
  });

  it('holds every supervised model, and a label-free one only when configured by name', () => {
    const labelFree = (s: ModelSnapshot): Scorer => ({ ...linearScorer(s), supervised: s.model_name !== 'fraud-hst' });
    const selection = new ModelSelection(DEFAULT, labelFree, OPTIONS);
    expect(selection.offer(snapshot(9, { model_name: 'fraud-hst' })).status).toBe('ignored-unsupervised');
    expect(selection.offer(snapshot(3, { model_name: 'fraud-gbdt' })).status).toBe('accepted');
    expect(selection.snapshotsOf('fraud-gbdt').map((m) => m.snapshot.version)).toEqual([3]);
    const pinned = new ModelSelection({ defaultModel: 'fraud-lr', pin: 'fraud-hst' }, labelFree, OPTIONS);
    expect(pinned.offer(snapshot(9, { model_name: 'fraud-hst' })).status).toBe('accepted');
    expect(new ModelSelection({ defaultModel: 'fraud-hst', pin: null }, labelFree, OPTIONS).offer(snapshot(9, { model_name: 'fraud-hst' })).status).toBe('accepted');
  });

  it('refuses a model trained on other features and keeps the one before it', () => {
    const selection = new ModelSelection(DEFAULT, linearScorer, OPTIONS);
    expect(selection.expectFeatures(FEATURES)).toEqual([]);
    selection.offer(snapshot(1, {}, [2, 0, 0]));
    const result = selection.offer(snapshot(2, { feature_names: ['amount', 'tx_count_7d', 'is_night'] }));
    expect(result.status).toBe('refused-feature-mismatch');
    expect(result.status !== 'accepted' && result.reason).toMatch(/fraud-lr v2 .*missing tx_count_1d; unexpected tx_count_7d/);
    expect(selection.newest?.snapshot.version).toBe(1);
    expect(selection.score(10, FEATURES, [5, 7, 11]).score).toBe(10);
    // A later, matching version is still welcome.
    expect(selection.offer(snapshot(3, {}, [0, 0, 1])).status).toBe('accepted');
  });

  it('drops held snapshots of other features once the first vector tells which features there are', () => {
    const selection = new ModelSelection(DEFAULT, linearScorer, OPTIONS);
    selection.offer(snapshot(1, {}, [2, 0, 0]));
    selection.offer(snapshot(2, { feature_names: ['amount', 'tx_count_7d', 'is_night'] }));
    const refusals = selection.expectFeatures(FEATURES);
    expect(refusals.map((refusal) => refusal.status)).toEqual(['refused-feature-mismatch']);
    expect(selection.newest?.snapshot.version).toBe(1);
  });

  it('refuses a snapshot the factory cannot build and keeps the one before it', () => {
    const selection = new ModelSelection(DEFAULT, linearScorer, OPTIONS);
    selection.offer(snapshot(1));
    const result = selection.offer(snapshot(2, { state: '{"weights": "lost"}' }));
    expect(result).toEqual({ status: 'refused-invalid', reason: 'fraud-lr v2: state has no usable weights' });
    expect(selection.newest?.snapshot.version).toBe(1);
  });

  it('does not score a vector whose features are not the model\'s', () => {
    const selection = new ModelSelection(DEFAULT, linearScorer, OPTIONS);
    selection.offer(snapshot(1));
    const result = selection.score(10, ['amount', 'is_night', 'tx_count_1d'], [1, 2, 3]);
    expect(result.score).toBeNull();
    expect(result.score === null && result.reason).toMatch(/same names in another order/);
    expect(result.served?.model.snapshot.version).toBe(1);
  });

  it('turns a failing or non-finite prediction into no score', () => {
    const failing = new ModelSelection(DEFAULT, () => ({ predict: () => { throw new Error('boom'); } }), OPTIONS);
    failing.offer(snapshot(1));
    expect(failing.score(10, FEATURES, [1, 2, 3])).toMatchObject({ score: null, reason: 'model failed: boom' });
    const nan = new ModelSelection(DEFAULT, () => ({ predict: () => Number.NaN }), OPTIONS);
    nan.offer(snapshot(1));
    expect(nan.score(10, FEATURES, [1, 2, 3])).toMatchObject({ score: null, reason: 'model returned NaN' });
  });

  const clocks = fc.array(fc.record({ clock: fc.integer({ min: 0, max: 50 }), version: fc.integer({ min: 1, max: 40 }) }), { maxLength: 30 });

  it('chooses the newest snapshot whose clock is at or before t − E, in any offer order, as brute force over all offered does (property)', () => {
    fc.assert(
      fc.property(clocks, fc.integer({ min: 0, max: 10 }), fc.array(fc.integer({ min: -5, max: 70 }), { minLength: 1, maxLength: 10 }), (offered, delayMs, times) => {
        const selection = new ModelSelection(DEFAULT, linearScorer, { delayMs, maxSnapshots: 100 });
        const kept = new Map<number, number>();
        for (const { clock, version } of offered) {
          selection.offer(snapshot(version, { label_clock: clock }));
          if (!kept.has(version)) kept.set(version, clock);
        }
        for (const t of times) {
          const eligible = [...kept].filter(([, clock]) => clock <= t - delayMs);
          const best = eligible.reduce<[number, number] | null>((a, b) => (a === null || b[1] > a[1] || (b[1] === a[1] && b[0] > a[0]) ? b : a), null);
          const choice = selection.choose(t);
          const chosen = choice.status === 'model' ? choice.served.model : null;
          expect(chosen?.snapshot.version ?? null).toBe(best?.[0] ?? null);
          if (chosen) expect(chosen.clock).toBeLessThanOrEqual(t - delayMs);
        }
      }),
    );
  });

  it('after prune(t) chooses as before for every time at or after t, and stays within its bound (property)', () => {
    fc.assert(
      fc.property(clocks, fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 8 }), (offered, oldest, maxSnapshots) => {
        const full = new ModelSelection(DEFAULT, linearScorer, { delayMs: 3, maxSnapshots: 100 });
        const pruned = new ModelSelection(DEFAULT, linearScorer, { delayMs: 3, maxSnapshots: 100 });
        const bounded = new ModelSelection(DEFAULT, linearScorer, { delayMs: 3, maxSnapshots });
        for (const { clock, version } of offered) for (const s of [full, pruned, bounded]) s.offer(snapshot(version, { label_clock: clock }));
        pruned.prune(oldest);
        for (let t = oldest; t <= 70; t++) expect(view(pruned.choose(t))).toEqual(view(full.choose(t)));
        expect(pruned.size).toBeLessThanOrEqual(full.size);
        // Nothing older than the snapshot a vector at `oldest` uses is left.
        const usedChoice = full.choose(oldest);
        const used = usedChoice.status === 'model' ? usedChoice.served.model : null;
        if (used !== null) {
          const newer = new Map(offered.map(({ clock, version }): [number, number] => [version, clock]).reverse());
          const atOrAfter = [...newer].filter(([version, clock]) => clock > used.clock || (clock === used.clock && version >= used.snapshot.version));
          expect(pruned.size).toBe(atOrAfter.length);
        }
        expect(bounded.size).toBeLessThanOrEqual(maxSnapshots);
        // The bound never makes a vector use a model from its future: it only loses the oldest.
        for (let t = 0; t <= 70; t++) {
          const chosen = bounded.choose(t);
          if (chosen.status === 'model') expect(chosen.served.model.clock).toBeLessThanOrEqual(t - 3);
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

describe('serving the champion', () => {
  const round = (model: string, version: number, clock: number, champion: string | null, weights = [1, 0, 0]) =>
    snapshot(version, { model_name: model, label_clock: clock, champion, champion_reason: champion === null ? null : `${champion} leads round ${clock}` }, weights);

  it('serves the champion the newest eligible round names, with that model\'s newest eligible snapshot', () => {
    const selection = new ModelSelection(DEFAULT, linearScorer, { delayMs: 10, maxSnapshots: 100 });
    for (const s of [round('a', 1, 100, 'a', [1, 0, 0]), round('b', 1, 100, 'a', [0, 1, 0]), round('a', 2, 200, 'b', [2, 0, 0]), round('b', 2, 200, 'b', [0, 2, 0])]) selection.offer(s);
    expect(selection.score(150, FEATURES, [1, 1, 1])).toEqual({ score: 1, served: { model: expect.objectContaining({ clock: 100 }), selection: 'champion', reason: 'a leads round 100' } });
    const after = selection.score(210, FEATURES, [1, 1, 1]);
    expect(after.served).toMatchObject({ selection: 'champion', reason: 'b leads round 200', model: { snapshot: { model_name: 'b', version: 2 } } });
    expect(after.score).toBe(2);
  });

  it('falls back to the configured default when the round names no champion or one it cannot serve, and lets a pin win', () => {
    const models = (list: ModelSnapshot[]) => {
      const map = new Map<string, ActiveModel[]>();
      for (const s of list) map.set(s.model_name, [...(map.get(s.model_name) ?? []), { snapshot: s, scorer: linearScorer(s), clock: labelClockOf(s) }]);
      return map;
    };
    const old = models([round('fraud-lr', 1, 100, null), round('b', 1, 100, null)]);
    expect(chooseServed(old, 150, DEFAULT)).toMatchObject({ status: 'model', served: { selection: 'default', model: { snapshot: { model_name: 'fraud-lr' } } } });
    const unknown = models([round('fraud-lr', 1, 100, 'gone'), round('b', 1, 100, 'gone')]);
    const fallback = chooseServed(unknown, 150, DEFAULT);
    expect(fallback).toMatchObject({ status: 'model', served: { selection: 'default', model: { snapshot: { model_name: 'fraud-lr' } } } });
    expect(fallback.status === 'model' && fallback.served.reason).toMatch(/champion gone .* has no usable snapshot/);
    const named = models([round('fraud-lr', 1, 100, 'b'), round('b', 1, 100, 'b')]);
    expect(chooseServed(named, 150, { defaultModel: 'fraud-lr', pin: 'fraud-lr' })).toMatchObject({ status: 'model', served: { selection: 'pinned', model: { snapshot: { model_name: 'fraud-lr' } } } });
    expect(chooseServed(named, 150, { defaultModel: 'fraud-lr', pin: 'c' })).toMatchObject({ status: 'none', selection: 'pinned' });
    expect(chooseServed(named, 99, DEFAULT)).toMatchObject({ status: 'none', selection: 'default' });
  });

  const NAMES = ['a', 'b', 'c'];
  const offered = fc.uniqueArray(
    fc.record({
      model: fc.constantFrom(...NAMES),
      version: fc.integer({ min: 1, max: 8 }),
      clock: fc.integer({ min: 0, max: 30 }),
      champion: fc.constantFrom<string | null>(null, 'a', 'b', 'c', 'gone'),
    }),
    { selector: (s) => `${s.model}/${s.version}`, maxLength: 24 },
  );

  /** The rule over the plain list of snapshots, without the table. */
  function oracle(list: readonly { model: string; version: number; clock: number; champion: string | null }[], cutoff: number, policy: ServingPolicy): { model: string; version: number; selection: string } | null {
    const eligible = list.filter((s) => s.clock <= cutoff);
    const newestOf = (name: string) => eligible.filter((s) => s.model === name).sort((x, y) => y.clock - x.clock || y.version - x.version)[0];
    const serve = (name: string, selection: string) => {
      const s = newestOf(name);
      return s === undefined ? undefined : { model: s.model, version: s.version, selection };
    };
    if (policy.pin !== null) return serve(policy.pin, 'pinned') ?? null;
    // The newest round: the greatest clock of the models' newest eligible snapshots.
    const newest = NAMES.map(newestOf).filter((s) => s !== undefined);
    const roundClock = Math.max(...newest.map((s) => s.clock));
    const namer = newest.filter((s) => s.clock === roundClock && s.champion !== null).sort((x, y) => y.version - x.version || (y.model > x.model ? 1 : -1))[0];
    return (namer ? serve(namer.champion!, 'champion') : undefined) ?? serve(policy.defaultModel, 'default') ?? null;
  }

  it('chooses as the rule over the plain list of snapshots, whatever order they arrived in, pinned or not, and after pruning (property)', () => {
    fc.assert(
      fc.property(offered, fc.array(fc.nat(), { minLength: 24, maxLength: 24 }), fc.constantFrom<string | null>(null, 'b'), fc.integer({ min: 0, max: 5 }), (list, keys, pin, delayMs) => {
        const policy = { defaultModel: 'a', pin };
        const inOrder = new ModelSelection(policy, linearScorer, { delayMs, maxSnapshots: 100 });
        const shuffled = new ModelSelection(policy, linearScorer, { delayMs, maxSnapshots: 100 });
        const toSnapshot = (s: (typeof list)[number]) => round(s.model, s.version, s.clock, s.champion);
        for (const s of list) inOrder.offer(toSnapshot(s));
        const permuted = list.map((s, i) => ({ s, key: keys[i]! })).sort((x, y) => x.key - y.key).map(({ s }) => s);
        for (const s of permuted) shuffled.offer(toSnapshot(s));
        // Pruned for vectors from `oldest` on: the same choices from there, with fewer snapshots.
        const oldest = keys[0]! % 37;
        const pruned = new ModelSelection(policy, linearScorer, { delayMs, maxSnapshots: 100 });
        for (const s of list) pruned.offer(toSnapshot(s));
        pruned.prune(oldest);
        for (let t = oldest; t <= 36; t++) expect(view(pruned.choose(t))).toEqual(view(inOrder.choose(t)));
        for (let t = -1; t <= 36; t++) {
          const choice = inOrder.choose(t);
          expect(view(shuffled.choose(t))).toEqual(view(choice));
          const got = choice.status === 'model' ? { model: choice.served.model.snapshot.model_name, version: choice.served.model.snapshot.version, selection: choice.served.selection } : null;
          expect(got).toEqual(oracle(list, t - delayMs, policy));
        }
      }),
    );
  });
});
