import type { ModelMetrics } from '@sluice/shared';
import { SluiceError } from '@sluice/shared';

/**
 * Which model fraud should serve, decided by the learner at every snapshot
 * round from the models' rolling prequential metrics (issue 14, item 4).
 * Pure: the decision is a function of the current champion and the metrics,
 * which are themselves a function of the examples in event-time order, so a
 * replay and a restored learner decide the same.
 */
export const CHAMPION_METRICS = ['average_precision', 'roc_auc', 'log_loss'] as const;
export type ChampionMetric = (typeof CHAMPION_METRICS)[number];

export interface ChampionRule {
  /** Compared over each model's rolling window (the last LEARNER_METRICS_WINDOW labels); log loss: lower is better. */
  metric: ChampionMetric;
  /** How much better than the champion (absolute, in the metric's units) a challenger must be to replace it. */
  margin: number;
  /** Labels a challenger must have learned before it may replace the champion. */
  minLabels: number;
}

/** One model as the rule sees it at a round. */
export interface Contender {
  name: string;
  metrics: ModelMetrics;
  /** Labels it has learned. */
  labels: number;
}

export type ChampionDecision =
  | { kind: 'keep'; champion: string; reason: string }
  | { kind: 'switch'; champion: string; previous: string | null; reason: string };

const f4 = (value: number | null): string => (value === null ? 'n/a' : value.toFixed(4));

/** How much better `challenger` is than `incumbent` on the metric (positive: better); null when either has no figure. */
export function improvement(metric: ChampionMetric, challenger: ModelMetrics, incumbent: ModelMetrics): number | null {
  const c = challenger[metric];
  const i = incumbent[metric];
  if (c === null || i === null) return null;
  return metric === 'log_loss' ? i - c : c - i;
}

/**
 * The rule, with `contenders` in declared order (LEARNER_MODELS):
 * - with no champion yet, or one no longer trained, the first declared model
 *   is the incumbent (a switch);
 * - a challenger replaces the incumbent only when it has learned at least
 *   `minLabels` labels and beats the incumbent's metric by at least `margin`
 *   (and strictly); of several, the one that beats it most, the first
 *   declared on a tie;
 * - a model without a figure (no positive in its window for AP or AUC)
 *   neither wins nor loses: the incumbent stays.
 */
export function decideChampion(rule: ChampionRule, current: string | null, contenders: readonly Contender[]): ChampionDecision {
  const first = contenders[0];
  if (first === undefined) throw new SluiceError('champion_no_models', 'the champion rule needs at least one model');
  const held = contenders.find((c) => c.name === current);
  const incumbent = held ?? first;
  let best: { contender: Contender; by: number } | null = null;
  for (const contender of contenders) {
    if (contender === incumbent || contender.labels < rule.minLabels) continue;
    const by = improvement(rule.metric, contender.metrics, incumbent.metrics);
    if (by === null || !(by > 0 && by >= rule.margin)) continue;
    if (best === null || by > best.by) best = { contender, by };
  }
  const figure = (c: Contender) => `${rule.metric} ${f4(c.metrics[rule.metric])} over ${c.metrics.positives + c.metrics.negatives} labels`;
  if (best !== null) {
    const from = held === undefined ? `${current === null ? 'no champion yet' : `${current} is no longer trained`}; ` : '';
    return {
      kind: 'switch',
      champion: best.contender.name,
      previous: current,
      reason: `${from}${best.contender.name} ${figure(best.contender)} beats ${incumbent.name} ${figure(incumbent)} by ${f4(best.by)} (margin ${rule.margin}, ${best.contender.labels} labels learned, at least ${rule.minLabels})`,
    };
  }
  if (held === undefined) {
    return {
      kind: 'switch',
      champion: first.name,
      previous: current,
      reason: `${current === null ? 'no champion yet' : `${current} is no longer trained`}: ${first.name}, the first declared model (${figure(first)}); no challenger beats it by ${rule.margin} with ${rule.minLabels} labels`,
    };
  }
  return { kind: 'keep', champion: held.name, reason: `${held.name} ${figure(held)}; no challenger beats it by ${rule.margin} with at least ${rule.minLabels} labels learned` };
}
