import { describe, it, expect } from 'vitest';
import type { FiredRule } from '@sluice/shared';
import { DEFAULT_MIN_ALERT_SEVERITY, decide } from '../src/decision.js';
import { SEVERITIES, type Severity } from '../src/rules.js';

const RANK: Record<Severity, number> = { low: 1, medium: 2, high: 3, critical: 4 };
const fired = (severity: Severity): FiredRule => ({ name: `${severity}-rule`, severity, description: `a ${severity} rule` });

const scores = [null, 0, 0.49, 0.5, 0.51, 1, Number.NaN, Number.POSITIVE_INFINITY];
const ruleSets: FiredRule[][] = [[], ...SEVERITIES.map((s) => [fired(s)]), [fired('low'), fired('critical')], [fired('medium'), fired('high')]];

describe('decide', () => {
  const cases = scores.flatMap((score) => ruleSets.flatMap((rules) => SEVERITIES.map((min) => [score, rules, min] as const)));

  it.each(cases)('score %s, rules %j, minimum %s', (score, rules, minSeverity) => {
    const scoreAlerts = score !== null && Number.isFinite(score) && score >= 0.5;
    const alertingRules = rules.filter((r) => RANK[r.severity] >= RANK[minSeverity]);
    const result = decide({ score, threshold: 0.5, firedRules: rules, minSeverity });
    expect(result.decision).toBe(scoreAlerts || alertingRules.length > 0 ? 'alert' : 'pass');
    expect(result.reasons).toHaveLength((scoreAlerts ? 1 : 0) + alertingRules.length);
    for (const rule of alertingRules) expect(result.reasons.some((r) => r.includes(rule.name) && r.includes(rule.description))).toBe(true);
    if (scoreAlerts) expect(result.reasons[0]).toContain(`score ${score} >= threshold 0.5`);
  });

  it('runs on rules alone before any model, with the classic rule alerting by default', () => {
    expect(decide({ score: null, threshold: 0.5, firedRules: [fired('high')], minSeverity: DEFAULT_MIN_ALERT_SEVERITY }).decision).toBe('alert');
    expect(decide({ score: null, threshold: 0.5, firedRules: [fired('medium')], minSeverity: DEFAULT_MIN_ALERT_SEVERITY }).decision).toBe('pass');
  });
});
