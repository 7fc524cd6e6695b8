/**
 * Records as they travel between the services (Avro on the wire, schemas in
 * shared/schemas). Field names are snake_case so that the raw JSON users write,
 * the Avro records and these types all read the same.
 */

/** A validated transaction on `transactions.valid`, keyed by customer_id. */
export interface Transaction {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  amount: number;
  /** Event time, epoch milliseconds. */
  event_time: number;
  currency: string | null;
  /** When ingest first accepted it (epoch ms): carried through for end-to-end latency. */
  ingested_at: number;
}

/** A validated label on `labels.valid`, keyed by customer_id. */
export interface Label {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  /** Event time of the labelled transaction, epoch ms. */
  tx_event_time: number;
  is_fraud: boolean;
  /** When the label was established, epoch ms (event time of the label itself). */
  labeled_at: number;
  ingested_at: number;
}

/** One feature vector per valid transaction on `transactions.features`, keyed by customer_id. */
export interface FeatureVector {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  event_time: number;
  amount: number;
  feature_set_version: string;
  /** Feature names in the order of the feature set. */
  feature_names: string[];
  /** Values, aligned with feature_names. */
  feature_values: number[];
  ingested_at: number;
}

/**
 * The features service's repartition record on `transactions.by-terminal`,
 * keyed by terminal_id: exactly one of transaction and label is set.
 */
export interface RoutedEvent {
  feature_set_version: string;
  transaction: Transaction | null;
  label: Label | null;
  /** The transaction's own features (field, calendar), in spec order among themselves. */
  event_values: number[];
  /** The customer's window features, in spec order among themselves. */
  customer_values: number[];
}

/** The learner's join stage → training stage record on `learner.examples` (one partition: one global model). */
export interface LabelledExample {
  kind: 'labelled' | 'unlabelled';
  label_source: 'label' | 'label_horizon_passed' | 'none';
  is_fraud: boolean;
  labeled_at: number | null;
  /** Event time at which the join decided this example, its place in the training order; absent or null from older joins. */
  decided_at?: number | null;
  vector: FeatureVector;
}

export interface ModelMetrics {
  roc_auc: number | null;
  average_precision: number | null;
  log_loss: number | null;
  positives: number;
  negatives: number;
  window_size: number;
}

/**
 * A versioned model snapshot on the compacted `model.updates` topic, keyed by
 * model name. `state` is the algorithm's own serialised state (JSON): models
 * evolve their internals without a schema change of the envelope.
 */
export interface ModelSnapshot {
  model_name: string;
  version: number;
  algorithm: string;
  feature_names: string[];
  feature_set_version: string;
  state: string;
  trained_count: number;
  metrics: ModelMetrics;
  created_at: number;
  /** Event time through which the model learned: every label established at or before it, none after. Absent or null: unknown (older snapshots). */
  label_clock?: number | null;
  /** The model the learner's champion rule chose as of this label clock, the same in each model's snapshot of one round. Absent or null: no rule. */
  champion?: string | null;
  /** Why the rule chose it, for people. */
  champion_reason?: string | null;
}

/** How fraud chose the model that scored: the learner's champion rule, the operator's pin, or its configured default when the learner names no champion it can serve. */
export type ModelSelectionKind = 'champion' | 'pinned' | 'default';

export interface FiredRule {
  name: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  description: string;
}

export interface FeatureContribution {
  feature: string;
  contribution: number;
}

/** Every scored vector, on `fraud.scores`, for audit and offline evaluation. */
export interface Score {
  transaction_id: string;
  customer_id: string;
  score: number | null;
  threshold: number;
  model_version: number | null;
  rules_fired: string[];
  decision: 'alert' | 'suppressed' | 'pass';
  event_time: number;
  scored_at: number;
  /** The model that scored (null: rules alone). Absent in scores written before several models were served. */
  model_name?: string | null;
  model_selection?: ModelSelectionKind | null;
}

/** What users consume: an explained alert on `fraud.alerts`, keyed by customer_id. */
export interface Alert {
  alert_id: string;
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  amount: number;
  score: number | null;
  threshold: number;
  model_name: string | null;
  model_version: number | null;
  rules_fired: FiredRule[];
  top_features: FeatureContribution[];
  /** Transactions of this customer folded into this alert by the cool-down (1 when off). */
  transaction_count: number;
  event_time: number;
  ingested_at: number;
  alerted_at: number;
  /** How `model_name` was chosen. Absent in alerts written before several models were served. */
  model_selection?: ModelSelectionKind | null;
}
