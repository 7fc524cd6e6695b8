import { createHash } from 'node:crypto';
import type { Alert, FeatureContribution, FeatureVector, FiredRule, ModelSnapshot } from '@sluice/shared';
import type { Scorer } from './model-selection.js';

export const DEFAULT_TOP_K = 3;

/**
 * The k largest contributions by absolute value, largest first; ties keep
 * feature order. Zero and non-finite contributions explain nothing and are
 * left out, so fewer than k may come back.
 */
export function topContributions(contributions: readonly FeatureContribution[], k: number): FeatureContribution[] {
  return contributions
    .filter((c) => Number.isFinite(c.contribution) && c.contribution !== 0)
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
    .slice(0, Math.max(0, k));
}

/** Top-k contributions from the scorer, or none when it cannot explain (an explanation never blocks an alert). */
export function explainTop(scorer: Scorer, x: readonly number[], k: number): FeatureContribution[] {
  if (scorer.explain === undefined) return [];
  try {
    return topContributions(scorer.explain(x), k);
  } catch {
    return [];
  }
}

// A fixed namespace for name-based (version 5) UUIDs of alerts.
const ALERT_NAMESPACE = Buffer.from('ed62ca47298f4c85b920776b417fbe42', 'hex');

/**
 * A UUID (RFC 9562 version 5) derived from the transaction id: a replay or a
 * re-scoring of the same transaction produces the same alert id, so consumers
 * can de-duplicate on it.
 */
export function alertIdFor(transactionId: string): string {
  return uuidV5(ALERT_NAMESPACE, transactionId);
}

export function uuidV5(namespace: Buffer, name: string): string {
  const hash = createHash('sha1').update(namespace).update(name, 'utf8').digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface AlertInput {
  vector: Pick<FeatureVector, 'transaction_id' | 'customer_id' | 'terminal_id' | 'amount' | 'event_time' | 'ingested_at'>;
  score: number | null;
  threshold: number;
  /** The snapshot that produced the score; null when rules alone decided. */
  model: Pick<ModelSnapshot, 'model_name' | 'version'> | null;
  /** Every rule that fired, including those below the alerting severity. */
  firedRules: readonly FiredRule[];
  topFeatures: readonly FeatureContribution[];
  /** 1, plus the transactions the cool-down folded into this alert. */
  transactionCount: number;
  alertedAt: number;
}

export function buildAlert(input: AlertInput): Alert {
  const { vector, model } = input;
  return {
    alert_id: alertIdFor(vector.transaction_id),
    transaction_id: vector.transaction_id,
    customer_id: vector.customer_id,
    terminal_id: vector.terminal_id,
    amount: vector.amount,
    score: input.score,
    threshold: input.threshold,
    model_name: model?.model_name ?? null,
    model_version: model?.version ?? null,
    rules_fired: input.firedRules.map((rule) => ({ ...rule })),
    top_features: input.topFeatures.map((c) => ({ ...c })),
    transaction_count: input.transactionCount,
    event_time: vector.event_time,
    ingested_at: vector.ingested_at,
    alerted_at: input.alertedAt,
  };
}
