import type { RoutedEvent } from '@sluice/shared/records';
import { describe, expect, it } from 'vitest';
import { deserializeRoutedEvent, serializeRoutedEvent } from '../src/routed-codec.js';

const transaction: RoutedEvent = {
  feature_set_version: 'handbook-v1',
  transaction: {
    transaction_id: 'tx-1',
    customer_id: 'C1',
    terminal_id: 'T1',
    amount: 0.1 + 0.2,
    event_time: 1_704_067_200_123,
    currency: 'EUR',
    ingested_at: 1_764_636_000_123,
  },
  label: null,
  event_values: [0.30000000000000004, 0, 1],
  customer_values: [1, 2.5, 1 / 3, 4, 55.12345678901234, 6],
};

const label: RoutedEvent = {
  feature_set_version: 'handbook-v1',
  transaction: null,
  label: { transaction_id: 'tx-1', customer_id: 'C1', terminal_id: 'T1', tx_event_time: 1_704_067_200_123, is_fraud: true, labeled_at: 1_704_672_000_123, ingested_at: 0 },
  event_values: [],
  customer_values: [],
};

describe('routed event changelog codec', () => {
  it('restores transactions and labels exactly, doubles and nulls included', () => {
    for (const routed of [transaction, label, { ...transaction, transaction: { ...transaction.transaction!, currency: null } }]) {
      expect(deserializeRoutedEvent(serializeRoutedEvent(routed))).toStrictEqual(routed);
    }
  });

  it('reads the JSON objects buffered before it', () => {
    for (const routed of [transaction, label]) expect(deserializeRoutedEvent(Buffer.from(JSON.stringify(routed)))).toStrictEqual(routed);
  });

  it('writes a buffered transaction in well under the bytes of its JSON object', () => {
    expect(serializeRoutedEvent(transaction).length).toBeLessThan(0.65 * JSON.stringify(transaction).length);
  });
});
