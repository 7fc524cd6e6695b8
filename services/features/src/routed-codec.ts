/**
 * Routed events held in the terminal stage's buffer, to and from changelog
 * bytes: JSON arrays in a fixed field order instead of JSON objects. Every
 * routed event goes through that buffer in a replay, so its changelog was the
 * service's largest output after the vectors (14-day bench:pipeline run,
 * 2026-12-02: 403,468 records, 70.5 MiB, 2.9 records per transaction) and the
 * kafkajs produce encoding that writes it its largest CPU item. Field names
 * made up half of each value; without them a buffered transaction takes
 * ~190 bytes instead of ~330. Numbers are JSON numbers as before, so the
 * values restored are the ones buffered.
 *
 * Layout: [feature_set_version, transaction | null, label | null, event_values, customer_values];
 * a transaction is [transaction_id, customer_id, terminal_id, amount, event_time, currency, ingested_at],
 * a label [transaction_id, customer_id, terminal_id, tx_event_time, is_fraud, labeled_at, ingested_at].
 */

import type { Label, RoutedEvent, Transaction } from '@sluice/shared/records';

type TransactionFields = [string, string, string, number, number, string | null, number];
type LabelFields = [string, string, string, number, boolean, number, number];
export type RoutedFields = [string, TransactionFields | null, LabelFields | null, number[], number[]];

function transactionFields(t: Transaction): TransactionFields {
  return [t.transaction_id, t.customer_id, t.terminal_id, t.amount, t.event_time, t.currency, t.ingested_at];
}

function labelFields(l: Label): LabelFields {
  return [l.transaction_id, l.customer_id, l.terminal_id, l.tx_event_time, l.is_fraud, l.labeled_at, l.ingested_at];
}

function transactionOf([transaction_id, customer_id, terminal_id, amount, event_time, currency, ingested_at]: TransactionFields): Transaction {
  return { transaction_id, customer_id, terminal_id, amount, event_time, currency, ingested_at };
}

function labelOf([transaction_id, customer_id, terminal_id, tx_event_time, is_fraud, labeled_at, ingested_at]: LabelFields): Label {
  return { transaction_id, customer_id, terminal_id, tx_event_time, is_fraud, labeled_at, ingested_at };
}

/** The event as its changelog JSON holds it. */
export function routedFields(routed: RoutedEvent): RoutedFields {
  return [
    routed.feature_set_version,
    routed.transaction && transactionFields(routed.transaction),
    routed.label && labelFields(routed.label),
    routed.event_values,
    routed.customer_values,
  ];
}

/** The event from its changelog JSON: fields, or the JSON object buffered before this codec (read as it is). */
export function routedOf(stored: RoutedFields | RoutedEvent): RoutedEvent {
  if (!Array.isArray(stored)) return stored;
  const [feature_set_version, transaction, label, event_values, customer_values] = stored;
  return {
    feature_set_version,
    transaction: transaction && transactionOf(transaction),
    label: label && labelOf(label),
    event_values,
    customer_values,
  };
}

export function serializeRoutedEvent(routed: RoutedEvent): Buffer {
  return Buffer.from(JSON.stringify(routedFields(routed)));
}

export function deserializeRoutedEvent(bytes: Buffer): RoutedEvent {
  return routedOf(JSON.parse(bytes.toString('utf8')) as RoutedFields | RoutedEvent);
}
