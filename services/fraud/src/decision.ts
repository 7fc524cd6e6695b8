import type { FiredRule } from '@sluice/shared';
import { severityRank, type Severity } from './rules.js';

export const DEFAULT_MIN_ALERT_SEVERITY: Severity = 'high';

export interface DecisionInput {
  /** The model's score, or null before any model exists (or when it could not score this vector). */
  score: number | null;
  threshold: number;
  firedRules: readonly FiredRule[];
  /** Fired rules below this severity are reported with an alert but do not raise one. */
  minSeverity: Severity;
}

export interface Decision {
  decision: 'alert' | 'pass';
  /** Why it alerts, one line per cause; empty on a pass. */
  reasons: string[];
}

/** Alert when the score reaches the threshold or a rule of at least the minimum severity fired. */
export function decide({ score, threshold, firedRules, minSeverity }: DecisionInput): Decision {
  const reasons: string[] = [];
  // A non-finite score is treated as no score: rules alone decide, as before the first model.
  if (score !== null && Number.isFinite(score) && score >= threshold) {
    reasons.push(`score ${score} >= threshold ${threshold}`);
  }
  const minRank = severityRank(minSeverity);
  for (const rule of firedRules) {
    if (severityRank(rule.severity) >= minRank) reasons.push(`rule ${rule.name} (${rule.severity}): ${rule.description}`);
  }
  return { decision: reasons.length > 0 ? 'alert' : 'pass', reasons };
}
