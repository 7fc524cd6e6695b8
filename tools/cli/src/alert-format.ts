import type { Alert } from '@sluice/shared';

/** One alert as a person reads it in a terminal. */
export function formatAlert(alert: Alert): string {
  const score = alert.score === null ? 'no model' : `score ${alert.score.toFixed(3)} ≥ ${alert.threshold}`;
  const model = alert.model_version === null ? 'rules only' : `${alert.model_name ?? 'model'} v${alert.model_version}`;
  const rules = alert.rules_fired.length > 0 ? ` rules: ${alert.rules_fired.map((rule) => `${rule.name}(${rule.severity})`).join(', ')}` : '';
  const features = alert.top_features.length > 0 ? ` top: ${alert.top_features.slice(0, 3).map((item) => `${item.feature} ${item.contribution >= 0 ? '+' : ''}${item.contribution.toFixed(2)}`).join(', ')}` : '';
  const burst = alert.transaction_count > 1 ? ` (+${alert.transaction_count - 1} more in burst)` : '';
  return `${new Date(alert.event_time).toISOString()} ALERT tx ${alert.transaction_id} customer ${alert.customer_id} terminal ${alert.terminal_id} amount ${alert.amount.toFixed(2)} · ${score} · ${model}${burst}${rules}${features}`;
}
