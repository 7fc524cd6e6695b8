import { describe, expect, it } from 'vitest';
import { EntityStore } from '../src/entity-store.js';
import { handbookFeatureSpec } from '../src/handbook.js';
import { compileSpec } from '../src/plan.js';
import { assembleVector, eventFeatures } from '../src/vector.js';
import { DAY, generateStream, type Lb, type Tx } from './synthetic-stream.js';

const HANDBOOK_NAMES = [
  'TX_AMOUNT',
  'TX_DURING_WEEKEND',
  'TX_DURING_NIGHT',
  'CUSTOMER_ID_NB_TX_1DAY_WINDOW',
  'CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW',
  'CUSTOMER_ID_NB_TX_7DAY_WINDOW',
  'CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW',
  'CUSTOMER_ID_NB_TX_30DAY_WINDOW',
  'CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW',
  'TERMINAL_ID_NB_TX_1DAY_WINDOW',
  'TERMINAL_ID_RISK_1DAY_WINDOW',
  'TERMINAL_ID_NB_TX_7DAY_WINDOW',
  'TERMINAL_ID_RISK_7DAY_WINDOW',
  'TERMINAL_ID_NB_TX_30DAY_WINDOW',
  'TERMINAL_ID_RISK_30DAY_WINDOW',
];

/**
 * The handbook definitions, by scanning every transaction and label:
 * `earlier` = the transactions processed up to and including this one,
 * `known` = the labels processed before it.
 */
function bruteForce(tx: Tx, earlier: readonly Tx[], known: readonly Lb[]): number[] {
  const t = tx.event_time;
  const date = new Date(t);
  const vector = [tx.amount, date.getUTCDay() === 0 || date.getUTCDay() === 6 ? 1 : 0, date.getUTCHours() <= 6 ? 1 : 0];
  for (const days of [1, 7, 30]) {
    const inWindow = earlier.filter((o) => o.customer_id === tx.customer_id && o.event_time > t - days * DAY && o.event_time <= t);
    vector.push(inWindow.length, inWindow.reduce((sum, o) => sum + o.amount, 0) / inWindow.length);
  }
  for (const days of [1, 7, 30]) {
    const from = t - (7 + days) * DAY;
    const to = t - 7 * DAY;
    const count = earlier.filter((o) => o.terminal_id === tx.terminal_id && o.event_time > from && o.event_time <= to).length;
    const frauds = known.filter(
      (l) => l.is_fraud && l.terminal_id === tx.terminal_id && l.tx_event_time > from && l.tx_event_time <= to,
    ).length;
    vector.push(count, count === 0 ? 0 : frauds / count);
  }
  return vector;
}

describe('handbook feature set', () => {
  const plan = compileSpec(handbookFeatureSpec());

  it('names the handbook features in its order, with a version', () => {
    expect(plan.names).toEqual(HANDBOOK_NAMES);
    expect(plan.version).toBe('handbook-v1');
  });

  it('equals a brute-force scan of the handbook definitions on every feature of every vector', () => {
    const { stream, txs } = generateStream({ seed: 7, transactions: 3000, customers: 50, terminals: 30, days: 60 });
    const customers = new EntityStore(plan.entities.get('customer_id')!);
    const terminals = new EntityStore(plan.entities.get('terminal_id')!);
    const earlier: Tx[] = [];
    const known: Lb[] = [];
    let compared = 0;
    let nonZeroRisk = 0;
    let multiTxWindows = 0;
    for (const item of stream) {
      if (item.kind === 'label') {
        terminals.applyLabel(item);
        known.push(item);
        continue;
      }
      earlier.push(item);
      // Stage 1 where the customer lives, stage 2 where the terminal lives.
      const event = eventFeatures(plan, item);
      const customer = customers.update(item);
      const terminal = terminals.update(item);
      expect(customer.outcome).toBe('in_order');
      expect(terminal.outcome).toBe('in_order');
      const vector = assembleVector(plan, event, { customer_id: customer.values, terminal_id: terminal.values });
      const expected = bruteForce(item, earlier, known);
      expect(vector).toHaveLength(expected.length);
      vector.forEach((value, k) => {
        if (Math.abs(value - expected[k]!) > 1e-9 * Math.max(1, Math.abs(expected[k]!))) {
          expect.fail(`${item.transaction_id} ${HANDBOOK_NAMES[k]}: engine ${value}, brute force ${expected[k]}`);
        }
      });
      compared++;
      if (expected[14]! > 0) nonZeroRisk++;
      if (expected[3]! > 1) multiTxWindows++;
    }
    expect(compared).toBe(txs.length);
    // The data exercise what is compared.
    expect(nonZeroRisk).toBeGreaterThan(100);
    expect(multiTxWindows).toBeGreaterThan(100);
  });

  it('counts a transaction exactly n days old out and one at the same millisecond in', () => {
    const customers = new EntityStore(plan.entities.get('customer_id')!);
    const t0 = Date.UTC(2024, 2, 1, 12);
    const tx = (id: string, time: number, amount: number) => ({
      transaction_id: id,
      customer_id: 'c',
      terminal_id: 't',
      amount,
      event_time: time,
    });
    customers.update(tx('a', t0, 10));
    const names = plan.entities.get('customer_id')!.names;
    const read = (values: number[], name: string) => values[names.indexOf(name)];
    const atEdge = customers.update(tx('b', t0 + DAY, 20)).values;
    expect(read(atEdge, 'CUSTOMER_ID_NB_TX_1DAY_WINDOW')).toBe(1);
    expect(read(atEdge, 'CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW')).toBe(20);
    expect(read(atEdge, 'CUSTOMER_ID_NB_TX_7DAY_WINDOW')).toBe(2);
    const sameMs = customers.update(tx('c', t0 + DAY, 30)).values;
    expect(read(sameMs, 'CUSTOMER_ID_NB_TX_1DAY_WINDOW')).toBe(2);
    expect(read(sameMs, 'CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW')).toBe(25);
  });
});
