/** What the simulator emits: the raw JSON users produce (design.md, "Events"), stamped with event time. */
import type { FraudTruth } from './frauds.js';

/** A raw transaction for `transactions.raw`. */
export interface RawTransaction {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  amount: number;
  /** Event time, epoch milliseconds. */
  timestamp: number;
}

/** A raw label for `labels.raw`. */
export interface RawLabel {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  /** Event time of the labelled transaction, epoch milliseconds. */
  tx_timestamp: number;
  is_fraud: boolean;
  /** Event time of the label itself, epoch milliseconds. */
  labeled_at: number;
}

export interface TransactionEvent {
  kind: 'transaction';
  /** Event time, epoch milliseconds (equals payload.timestamp). */
  at: number;
  payload: RawTransaction;
  /** Ground truth, kept out of the payload so a demo can check alerts against it. */
  truth: FraudTruth;
}

export interface LabelEvent {
  kind: 'label';
  /** Event time, epoch milliseconds (equals payload.labeled_at). */
  at: number;
  payload: RawLabel;
}

export type SimulatedEvent = TransactionEvent | LabelEvent;
