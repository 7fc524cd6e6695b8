/**
 * A small seeded transaction/label stream and an independent brute-force
 * implementation of the handbook's baseline features (Le Borgne et al.,
 * §3.3), with complete knowledge: for integration tests of the features
 * service that compare what comes out of Kafka with the definitions.
 */

import type { Label, Transaction } from '@sluice/shared';
import { prng } from '../../services/features/test/synthetic-stream.js';

export const DAY_MS = 86_400_000;
const START = Date.UTC(2024, 2, 1);

export interface HandbookStream {
  /** In event-time order. */
  transactions: Transaction[];
  /** In labeled_at order. */
  labels: Label[];
}

export function handbookStream(options: { seed: number; transactions: number; customers: number; terminals: number; days: number; fraudRate: number; labelDelayMs: number }): HandbookStream {
  const random = prng(options.seed);
  const transactions: Transaction[] = [];
  for (let i = 0; i < options.transactions; i++) {
    transactions.push({
      transaction_id: `tx-${i}`,
      customer_id: `C${Math.floor(random() * options.customers)}`,
      terminal_id: `T${Math.floor(random() * options.terminals)}`,
      amount: Math.round((5 + random() * 195) * 100) / 100,
      event_time: START + Math.floor(random() * options.days * DAY_MS),
      currency: 'EUR',
      ingested_at: Date.now(),
    });
  }
  transactions.sort((a, b) => a.event_time - b.event_time);
  const labels = transactions.map((tx) => ({
    transaction_id: tx.transaction_id,
    customer_id: tx.customer_id,
    terminal_id: tx.terminal_id,
    tx_event_time: tx.event_time,
    is_fraud: random() < options.fraudRate,
    labeled_at: tx.event_time + options.labelDelayMs,
    ingested_at: Date.now(),
  }));
  return { transactions, labels };
}

/**
 * The 15 handbook features of transactions[index]: customer windows over the
 * customer's transactions up to and including this one in stream order, in
 * (t − n days, t]; terminal windows over every transaction and every fraud
 * label of the terminal in (t − (7 + n) days, t − 7 days]; risk 0 when empty.
 */
export function bruteForceFeatures(stream: HandbookStream, index: number): number[] {
  const tx = stream.transactions[index]!;
  const t = tx.event_time;
  const date = new Date(t);
  const features = [tx.amount, date.getUTCDay() === 0 || date.getUTCDay() === 6 ? 1 : 0, date.getUTCHours() <= 6 ? 1 : 0];
  const customerSoFar = stream.transactions.slice(0, index + 1).filter((other) => other.customer_id === tx.customer_id);
  for (const days of [1, 7, 30]) {
    const inWindow = customerSoFar.filter((other) => other.event_time > t - days * DAY_MS && other.event_time <= t);
    features.push(inWindow.length, inWindow.reduce((sum, other) => sum + other.amount, 0) / inWindow.length);
  }
  for (const days of [1, 7, 30]) {
    const from = t - (7 + days) * DAY_MS;
    const to = t - 7 * DAY_MS;
    const count = stream.transactions.filter((other) => other.terminal_id === tx.terminal_id && other.event_time > from && other.event_time <= to).length;
    const frauds = stream.labels.filter((label) => label.is_fraud && label.terminal_id === tx.terminal_id && label.tx_event_time > from && label.tx_event_time <= to).length;
    features.push(count, count === 0 ? 0 : frauds / count);
  }
  return features;
}
