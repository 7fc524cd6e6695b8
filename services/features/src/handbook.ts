/**
 * The default feature set: the baseline features of the Fraud Detection
 * Handbook (Le Borgne et al., §3.3), in the order of its `input_features`
 * (per window size: count, then mean amount / risk).
 * - Customer windows of 1, 7, 30 days over (t − n days, t], the current
 *   transaction included: transaction count and mean amount.
 * - Terminal windows of 1, 7, 30 days delayed by 7 days, (t − (7 + n) days,
 *   t − 7 days]: transaction count, and risk = fraud labels whose transaction
 *   falls in the window / transactions in the window (0 without transactions).
 * - TX_DURING_WEEKEND (Saturday/Sunday), TX_DURING_NIGHT (hour ≤ 6), UTC
 *   unless the spec sets a time zone.
 */

import type { FeatureDef, FeatureSpec } from './spec.js';

export const DAY_MS = 86_400_000;

const HANDBOOK_WINDOW_DAYS = [1, 7, 30];
const HANDBOOK_DELAY_DAYS = 7;

function customerFeatures(days: number): FeatureDef[] {
  const window = { kind: 'window', entity: 'customer_id', windowMs: days * DAY_MS } as const;
  return [
    { ...window, name: `CUSTOMER_ID_NB_TX_${days}DAY_WINDOW`, aggregation: 'count' },
    { ...window, name: `CUSTOMER_ID_AVG_AMOUNT_${days}DAY_WINDOW`, aggregation: 'mean', field: 'amount' },
  ];
}

function terminalFeatures(days: number): FeatureDef[] {
  const window = {
    kind: 'window',
    entity: 'terminal_id',
    windowMs: days * DAY_MS,
    delayMs: HANDBOOK_DELAY_DAYS * DAY_MS,
  } as const;
  return [
    { ...window, name: `TERMINAL_ID_NB_TX_${days}DAY_WINDOW`, aggregation: 'count' },
    {
      ...window,
      name: `TERMINAL_ID_RISK_${days}DAY_WINDOW`,
      aggregation: 'ratio',
      numerator: { source: 'labels', filter: [{ field: 'is_fraud', op: 'eq', value: true }] },
    },
  ];
}

/** The handbook feature set; pass `timeZone` for local calendar features. */
export function handbookFeatureSpec(options: { timeZone?: string } = {}): FeatureSpec {
  return {
    version: 'handbook-v1',
    ...(options.timeZone === undefined ? {} : { timeZone: options.timeZone }),
    features: [
      { kind: 'field', name: 'TX_AMOUNT', field: 'amount' },
      { kind: 'calendar', name: 'TX_DURING_WEEKEND', part: 'weekend' },
      { kind: 'calendar', name: 'TX_DURING_NIGHT', part: 'night' },
      ...HANDBOOK_WINDOW_DAYS.flatMap(customerFeatures),
      ...HANDBOOK_WINDOW_DAYS.flatMap(terminalFeatures),
    ],
  };
}
