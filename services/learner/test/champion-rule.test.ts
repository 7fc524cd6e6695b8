import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ModelMetrics } from '@sluice/shared';
import { CHAMPION_METRICS, decideChampion, improvement, type ChampionRule, type Contender } from '../src/champion-rule.js';

function metrics(ap: number | null, auc: number | null = ap, logLoss: number | null = 0.1): ModelMetrics {
  return { average_precision: ap, roc_auc: auc, log_loss: logLoss, positives: 10, negatives: 990, window_size: 1_000 };
}

const AP: ChampionRule = { metric: 'average_precision', margin: 0.02, minLabels: 1_000 };

describe('decideChampion', () => {
  it('starts with the first declared model, and lets a better challenger take over in the same round', () => {
    const lr = { name: 'lr', metrics: metrics(0.6), labels: 500 };
    const gbdt = { name: 'gbdt', metrics: metrics(0.7), labels: 500 };
    expect(decideChampion(AP, null, [lr, gbdt])).toMatchObject({ kind: 'switch', champion: 'lr', previous: null });
    expect(decideChampion(AP, null, [lr, { ...gbdt, labels: 1_000 }])).toMatchObject({ kind: 'switch', champion: 'gbdt', previous: null });
  });

  it('switches only on a margin and enough labels', () => {
    const champion = { name: 'lr', metrics: metrics(0.6), labels: 5_000 };
    expect(decideChampion(AP, 'lr', [champion, { name: 'gbdt', metrics: metrics(0.615), labels: 5_000 }]).kind).toBe('keep');
    expect(decideChampion(AP, 'lr', [champion, { name: 'gbdt', metrics: metrics(0.7), labels: 999 }]).kind).toBe('keep');
    const decision = decideChampion(AP, 'lr', [champion, { name: 'gbdt', metrics: metrics(0.7), labels: 1_000 }]);
    expect(decision).toMatchObject({ kind: 'switch', champion: 'gbdt', previous: 'lr' });
    expect(decision.reason).toContain('beats lr');
  });

  it('takes the challenger that beats the champion most, the first declared on a tie', () => {
    const c = (name: string, ap: number): Contender => ({ name, metrics: metrics(ap), labels: 5_000 });
    expect(decideChampion(AP, 'a', [c('a', 0.5), c('b', 0.6), c('c', 0.7)]).champion).toBe('c');
    expect(decideChampion(AP, 'a', [c('a', 0.5), c('b', 0.7), c('c', 0.7)]).champion).toBe('b');
  });

  it('reads log loss as lower is better', () => {
    const rule: ChampionRule = { metric: 'log_loss', margin: 0.01, minLabels: 0 };
    const a = { name: 'a', metrics: metrics(0.5, 0.9, 0.1), labels: 1 };
    expect(decideChampion(rule, 'a', [a, { name: 'b', metrics: metrics(0.9, 0.99, 0.095), labels: 1 }]).kind).toBe('keep');
    expect(decideChampion(rule, 'a', [a, { name: 'b', metrics: metrics(0.1, 0.5, 0.05), labels: 1 }]).champion).toBe('b');
  });

  it('keeps the champion when a figure is missing', () => {
    const decision = decideChampion(AP, 'a', [
      { name: 'a', metrics: metrics(null), labels: 5_000 },
      { name: 'b', metrics: metrics(0.9), labels: 5_000 },
    ]);
    expect(decision.kind).toBe('keep');
  });

  it('replaces a champion that is no longer trained by the first declared model', () => {
    const decision = decideChampion(AP, 'gone', [
      { name: 'a', metrics: metrics(0.5), labels: 5_000 },
      { name: 'b', metrics: metrics(0.51), labels: 5_000 },
    ]);
    expect(decision).toMatchObject({ kind: 'switch', champion: 'a', previous: 'gone' });
    expect(decision.reason).toContain('gone is no longer trained');
  });

  it('refuses an empty list', () => {
    expect(() => decideChampion(AP, null, [])).toThrow(/at least one model/);
  });

  const figure = fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null });
  const contenders = fc
    .uniqueArray(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 4 })
    .chain((names) =>
      fc.tuple(
        ...names.map((name) =>
          fc.record({ name: fc.constant(name), metrics: fc.tuple(figure, figure, figure).map(([ap, auc, ll]) => metrics(ap, auc, ll)), labels: fc.nat(3_000) }),
        ),
      ),
    );
  const rule = fc.record({ metric: fc.constantFrom(...CHAMPION_METRICS), margin: fc.double({ min: 0, max: 0.2, noNaN: true }), minLabels: fc.nat(3_000) });

  it('switches exactly when a challenger qualifies (property, against the rule restated)', () => {
    fc.assert(
      fc.property(rule, contenders, fc.constantFrom(null, 'a', 'b', 'gone'), (r, cs, current) => {
        const decision = decideChampion(r, current, cs);
        const held = cs.find((c) => c.name === current);
        const incumbent = held ?? cs[0]!;
        const qualifies = (c: Contender) => {
          const by = improvement(r.metric, c.metrics, incumbent.metrics);
          return c !== incumbent && c.labels >= r.minLabels && by !== null && by > 0 && by >= r.margin;
        };
        const qualified = cs.filter(qualifies);
        expect(cs.map((c) => c.name)).toContain(decision.champion);
        expect(decision.kind).toBe(held !== undefined && qualified.length === 0 ? 'keep' : 'switch');
        if (qualified.length === 0) expect(decision.champion).toBe(incumbent.name);
        else {
          const by = (c: Contender) => improvement(r.metric, c.metrics, incumbent.metrics)!;
          const most = Math.max(...qualified.map(by));
          expect(decision.champion).toBe(qualified.find((c) => by(c) === most)!.name);
        }
      }),
    );
  });

  it('decides the same after its state (the champion) is restored mid-sequence (property)', () => {
    fc.assert(
      fc.property(rule, fc.array(contenders, { minLength: 1, maxLength: 30 }), fc.nat(), (r, rounds, cut) => {
        const run = (from: number, state: string | null) => {
          let champion = state;
          const decisions = [];
          for (const round of rounds.slice(from)) {
            const decision = decideChampion(r, champion, round);
            champion = decision.champion;
            decisions.push(decision);
          }
          return decisions;
        };
        const original = run(0, null);
        const k = cut % rounds.length;
        // What the changelog carries: the champion after round k − 1, through JSON.
        const stored = JSON.parse(JSON.stringify({ champion: k === 0 ? null : original[k - 1]!.champion })) as { champion: string | null };
        expect(run(k, stored.champion)).toEqual(original.slice(k));
      }),
    );
  });
});
