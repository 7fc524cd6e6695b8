import { describe, it, expect } from 'vitest';
import { SluiceError } from '@sluice/shared';
import type { LabelEvent, SimulatedEvent, TransactionEvent } from '../../src/simulator/index.js';
import { DEFAULT_SIMULATOR_CONFIG, resolveSimulatorConfig, Simulation, simulate } from '../../src/simulator/index.js';

const DAY_MS = 86_400_000;
const small = { nCustomers: 150, nTerminals: 300, nbDays: 40, radius: 12, seed: 5 };

const events = [...simulate(small)];
const transactions = events.filter((e): e is TransactionEvent => e.kind === 'transaction');
const labels = events.filter((e): e is LabelEvent => e.kind === 'label');

describe('determinism', () => {
  it('replays the identical stream for the same seed', () => {
    expect([...simulate(small)]).toEqual(events);
    const simulation = new Simulation(small);
    expect([...simulation.events()]).toEqual([...simulation.events()]);
  });

  it('gives a different stream for a different seed', () => {
    const other = [...simulate({ ...small, seed: 6 })];
    expect(other.slice(0, 50)).not.toEqual(events.slice(0, 50));
  });

  it('leaves the transactions unchanged when only the label fraction changes', () => {
    const fewer = [...simulate({ ...small, labelGenuineFraction: 0.3 })].filter((e) => e.kind === 'transaction');
    expect(fewer).toEqual(transactions);
  });
});

describe('the merged stream', () => {
  it('is in non-decreasing event time', () => {
    for (let i = 1; i < events.length; i++) expect(events[i]!.at).toBeGreaterThanOrEqual(events[i - 1]!.at);
  });

  it('numbers transactions sequentially in time order, inside the simulated days', () => {
    transactions.forEach((t, i) => {
      expect(t.payload.transaction_id).toBe(String(i));
      expect(t.payload.timestamp).toBe(t.at);
      expect(t.at).toBeGreaterThan(DEFAULT_SIMULATOR_CONFIG.startMs);
      expect(t.at).toBeLessThan(DEFAULT_SIMULATOR_CONFIG.startMs + small.nbDays * DAY_MS);
      expect(Object.keys(t.payload).sort()).toEqual(['amount', 'customer_id', 'terminal_id', 'timestamp', 'transaction_id']);
    });
    expect(transactions.length).toBeGreaterThan(1000);
  });

  it('places each label at transaction time + 7 days, after its transaction, with its truth', () => {
    const byId = new Map(transactions.map((t) => [t.payload.transaction_id, t]));
    const position = new Map(events.map((e, i) => [e.kind + e.payload.transaction_id, i]));
    expect(labels).toHaveLength(transactions.length);
    for (const label of labels) {
      const t = byId.get(label.payload.transaction_id)!;
      expect(label.at).toBe(t.at + 7 * DAY_MS);
      expect(label.payload).toEqual({
        transaction_id: t.payload.transaction_id,
        customer_id: t.payload.customer_id,
        terminal_id: t.payload.terminal_id,
        tx_timestamp: t.at,
        is_fraud: t.truth.is_fraud,
        labeled_at: t.at + 7 * DAY_MS,
      });
      expect(position.get('label' + t.payload.transaction_id)!).toBeGreaterThan(position.get('transaction' + t.payload.transaction_id)!);
    }
    // Labels interleave with later transactions rather than all coming at the end.
    const firstLabel = events.findIndex((e) => e.kind === 'label');
    expect(events.slice(firstLabel).some((e) => e.kind === 'transaction')).toBe(true);
  });

  it('honours a custom delay and id prefix', () => {
    const stream = [...simulate({ ...small, nbDays: 5, labelDelayMs: 3_600_000, transactionIdPrefix: 'run7-' })];
    const txs = new Map(stream.filter((e) => e.kind === 'transaction').map((e) => [e.payload.transaction_id, e.at]));
    for (const e of stream) {
      expect(e.payload.transaction_id.startsWith('run7-')).toBe(true);
      if (e.kind === 'label') expect(e.at).toBe(txs.get(e.payload.transaction_id)! + 3_600_000);
    }
  });

  it('labels every fraud but only the requested share of genuine transactions', () => {
    const stream = [...simulate({ ...small, labelGenuineFraction: 0.25 })];
    const txs = stream.filter((e): e is TransactionEvent => e.kind === 'transaction');
    const labelled = new Set(stream.filter((e) => e.kind === 'label').map((e) => e.payload.transaction_id));
    const frauds = txs.filter((t) => t.truth.is_fraud);
    const genuine = txs.filter((t) => !t.truth.is_fraud);
    expect(frauds.length).toBeGreaterThan(0);
    expect(frauds.every((t) => labelled.has(t.payload.transaction_id))).toBe(true);
    const share = genuine.filter((t) => labelled.has(t.payload.transaction_id)).length / genuine.length;
    expect(Math.abs(share - 0.25)).toBeLessThan(5 * Math.sqrt(0.25 * 0.75 / genuine.length));
    const none = [...simulate({ ...small, labelGenuineFraction: 0 })].filter((e): e is LabelEvent => e.kind === 'label');
    expect(none.every((l) => l.payload.is_fraud)).toBe(true);
  });
});

describe('fraud truth on the stream', () => {
  const simulation = new Simulation(small);
  const terminalsOf = new Map(simulation.customers.map((c) => [String(c.id), new Set([...c.terminals].map(String))]));

  it('uses only terminals within reach of the customer', () => {
    for (const t of transactions) expect(terminalsOf.get(t.payload.customer_id)!.has(t.payload.terminal_id)).toBe(true);
  });

  it('marks scenario 1 exactly on amounts above 220 where scenario 3 did not touch the amount', () => {
    for (const { payload, truth } of transactions) {
      if (!truth.scenarios.includes(3)) expect(truth.scenarios.includes(1)).toBe(payload.amount > 220);
      expect(truth.is_fraud).toBe(truth.scenarios.length > 0);
      expect(truth.scenario).toBe(truth.scenarios.at(-1) ?? 0);
    }
  });

  it('marks every transaction of a terminal on a day it is compromised', () => {
    const key = (t: TransactionEvent): string => `${t.payload.terminal_id}@${Math.floor((t.at - DEFAULT_SIMULATOR_CONFIG.startMs) / DAY_MS)}`;
    const compromised = new Set(transactions.filter((t) => t.truth.scenarios.includes(2)).map(key));
    expect(compromised.size).toBeGreaterThan(0);
    for (const t of transactions) expect(t.truth.scenarios.includes(2)).toBe(compromised.has(key(t)));
  });
});

describe('configuration', () => {
  it('defaults to the handbook parameters', () => {
    expect(resolveSimulatorConfig()).toMatchObject({
      nCustomers: 5_000,
      nTerminals: 10_000,
      nbDays: 183,
      radius: 5,
      startMs: Date.parse('2018-04-01T00:00:00Z'),
      labelDelayMs: 7 * DAY_MS,
      labelGenuineFraction: 1,
    });
  });

  it('rejects impossible values', () => {
    const bad: Parameters<typeof resolveSimulatorConfig>[0][] = [
      { nCustomers: -1 },
      { nbDays: 1.5 },
      { radius: 0 },
      { labelDelayMs: -1 },
      { labelGenuineFraction: 1.2 },
      { seed: -3 },
      { fraud: { terminalWindowDays: 0 } },
      { fraud: { customerFraudShare: Number.NaN } },
    ];
    for (const options of bad) expect(() => resolveSimulatorConfig(options)).toThrow(SluiceError);
  });

  it('produces nothing for zero days', () => {
    expect([...simulate({ ...small, nbDays: 0 })]).toEqual([] as SimulatedEvent[]);
  });
});
