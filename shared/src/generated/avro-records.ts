// Generated from shared/schemas/*.avsc by `npm run generate:records`; do not edit.
// shared/test/records-match-avro.test.ts checks that it is current and that records.ts agrees with it.

export type AvroSeverity = 'low' | 'medium' | 'high' | 'critical';

export interface AvroFiredRule {
  name: string;
  severity: AvroSeverity;
  description: string;
}

export interface AvroFiredRuleInput {
  name: string;
  severity: AvroSeverity;
  description: string;
}

export interface AvroFeatureContribution {
  feature: string;
  contribution: number;
}

export interface AvroFeatureContributionInput {
  feature: string;
  contribution: number;
}

export type AvroModelSelection = 'champion' | 'pinned' | 'default';

export interface AvroAlert {
  alert_id: string;
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  amount: number;
  score: null | number;
  threshold: number;
  model_name: null | string;
  model_version: null | number;
  rules_fired: Array<AvroFiredRule>;
  top_features: Array<AvroFeatureContribution>;
  transaction_count: number;
  event_time: number;
  ingested_at: number;
  alerted_at: number;
  model_selection: null | AvroModelSelection;
}

export interface AvroAlertInput {
  alert_id: string;
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  amount: number;
  score?: null | number;
  threshold: number;
  model_name?: null | string;
  model_version?: null | number;
  rules_fired: Array<AvroFiredRuleInput>;
  top_features: Array<AvroFeatureContributionInput>;
  transaction_count?: number;
  event_time: number;
  ingested_at: number;
  alerted_at: number;
  model_selection?: null | AvroModelSelection;
}

export interface AvroFeatureVector {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  event_time: number;
  amount: number;
  feature_set_version: string;
  feature_names: Array<string>;
  feature_values: Array<number>;
  ingested_at: number;
}

export interface AvroFeatureVectorInput {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  event_time: number;
  amount: number;
  feature_set_version: string;
  feature_names: Array<string>;
  feature_values: Array<number>;
  ingested_at: number;
}

export interface AvroLabel {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  tx_event_time: number;
  is_fraud: boolean;
  labeled_at: number;
  ingested_at: number;
}

export interface AvroLabelInput {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  tx_event_time: number;
  is_fraud: boolean;
  labeled_at: number;
  ingested_at: number;
}

export type AvroExampleKind = 'labelled' | 'unlabelled';

export type AvroLabelSource = 'label' | 'label_horizon_passed' | 'none';

export interface AvroExampleVector {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  event_time: number;
  amount: number;
  feature_set_version: string;
  feature_names: Array<string>;
  feature_values: Array<number>;
  ingested_at: number;
}

export interface AvroExampleVectorInput {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  event_time: number;
  amount: number;
  feature_set_version: string;
  feature_names: Array<string>;
  feature_values: Array<number>;
  ingested_at: number;
}

export interface AvroLabelledExample {
  kind: AvroExampleKind;
  label_source: AvroLabelSource;
  is_fraud: boolean;
  labeled_at: null | number;
  decided_at: null | number;
  vector: AvroExampleVector;
}

export interface AvroLabelledExampleInput {
  kind: AvroExampleKind;
  label_source: AvroLabelSource;
  is_fraud: boolean;
  labeled_at?: null | number;
  decided_at?: null | number;
  vector: AvroExampleVectorInput;
}

export interface AvroModelMetrics {
  roc_auc: null | number;
  average_precision: null | number;
  log_loss: null | number;
  positives: number;
  negatives: number;
  window_size: number;
}

export interface AvroModelMetricsInput {
  roc_auc?: null | number;
  average_precision?: null | number;
  log_loss?: null | number;
  positives: number;
  negatives: number;
  window_size: number;
}

export interface AvroModelSnapshot {
  model_name: string;
  version: number;
  algorithm: string;
  feature_names: Array<string>;
  feature_set_version: string;
  state: string;
  trained_count: number;
  metrics: AvroModelMetrics;
  created_at: number;
  label_clock: null | number;
  champion: null | string;
  champion_reason: null | string;
}

export interface AvroModelSnapshotInput {
  model_name: string;
  version: number;
  algorithm: string;
  feature_names: Array<string>;
  feature_set_version: string;
  state: string;
  trained_count: number;
  metrics: AvroModelMetricsInput;
  created_at: number;
  label_clock?: null | number;
  champion?: null | string;
  champion_reason?: null | string;
}

export interface AvroTransaction {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  amount: number;
  event_time: number;
  currency: null | string;
  ingested_at: number;
}

export interface AvroTransactionInput {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  amount: number;
  event_time: number;
  currency?: null | string;
  ingested_at: number;
}

export interface AvroRoutedEvent {
  feature_set_version: string;
  transaction: null | AvroTransaction;
  label: null | AvroLabel;
  event_values: Array<number>;
  customer_values: Array<number>;
}

export interface AvroRoutedEventInput {
  feature_set_version: string;
  transaction?: null | AvroTransactionInput;
  label?: null | AvroLabelInput;
  event_values?: Array<number>;
  customer_values?: Array<number>;
}

export type AvroDecision = 'alert' | 'suppressed' | 'pass';

export interface AvroScore {
  transaction_id: string;
  customer_id: string;
  score: null | number;
  threshold: number;
  model_version: null | number;
  rules_fired: Array<string>;
  decision: AvroDecision;
  event_time: number;
  scored_at: number;
  model_name: null | string;
  model_selection: null | AvroModelSelection;
}

export interface AvroScoreInput {
  transaction_id: string;
  customer_id: string;
  score?: null | number;
  threshold: number;
  model_version?: null | number;
  rules_fired: Array<string>;
  decision: AvroDecision;
  event_time: number;
  scored_at: number;
  model_name?: null | string;
  model_selection?: null | AvroModelSelection;
}
