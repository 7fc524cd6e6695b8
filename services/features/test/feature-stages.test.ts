import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AlignmentBoard, createLogger, PeerMarks, PartitionStore, type InputRecord, type Label, type ProcessingContext, type RoutedEvent, type Transaction } from '@sluice/shared';
import { CUSTOMER_CLOCKS_STORE, CUSTOMERS_STORE, CustomerStage } from '../src/feature-stages.js';
import { FeaturesMetrics } from '../src/features-metrics.js';
import { handbookFeatureSpec } from '../src/handbook.js';
import { compileSpec } from '../src/plan.js';
import type { CustomerInputs } from '../src/topology.js';

const TOPICS = { transactionsValid: 'transactions.valid', labelsValid: 'labels.valid', transactionsByTerminal: 'transactions.by-terminal', transactionsFeatures: 'transactions.features' };
const DAY_MS = 86_400_000;
const T0 = Date.UTC(2018, 3, 1);
const LIMITS = { maxBuffered: 100, maxAheadMs: 60_000 };

const transaction = (i: number, time: number): Transaction => ({
  transaction_id: `t${i}`,
  customer_id: 'c',
  terminal_id: 'x',
  amount: 10,
  event_time: time,
  currency: 'EUR',
  ingested_at: 0,
});
const label = (i: number, txTime: number): Label => ({
  transaction_id: `t${i}`,
  customer_id: 'c',
  terminal_id: 'x',
  tx_event_time: txTime,
  is_fraud: false,
  labeled_at: txTime + 7 * DAY_MS,
  ingested_at: 0,
});
type CustomerRecord = InputRecord<CustomerInputs>;
const at = { partition: 0, offset: '0', timestamp: '0', key: null, rawValue: null, headers: {} };
const transactionRecord = (value: Transaction): CustomerRecord => ({ ...at, input: 'transactions', topic: TOPICS.transactionsValid, value });
const labelRecord = (value: Label): CustomerRecord => ({ ...at, input: 'labels', topic: TOPICS.labelsValid, value });
const TOPIC_OF = { transactions: TOPICS.transactionsValid, labels: TOPICS.labelsValid };
/** Ingest's mark (one ingest task) on an input. */
const mark = (input: keyof CustomerInputs, time: number): CustomerRecord => ({ ...at, input, topic: TOPIC_OF[input], value: null, watermark: { source: 0, sources: 1, time, idle: false } });

/** Customer task 0 of 2 over in-memory stores, beside a terminal task whose view is set by hand on the board. */
function harness() {
  const board = new AlignmentBoard(30_000);
  const peers = new PeerMarks(30_000);
  const terminal = { clocks: { expected: 2, bySource: new Map<number, { time: number; idle: boolean }>() }, buffered: 0 };
  board.publish(0, terminal, 0);
  const plan = compileSpec(handbookFeatureSpec());
  const stage = new CustomerStage(plan, TOPICS, 60_000, new FeaturesMetrics(new Registry()), { mode: 'upstream', disorderMs: 0, idleTimeoutMs: 10_000 }, { limits: LIMITS, terminals: board, peers });
  const stores = new Map([CUSTOMERS_STORE, CUSTOMER_CLOCKS_STORE].map((name) => [name, new PartitionStore<unknown>({ name, changelogTopic: `${name}.changelog` }, 0)]));
  const paused = new Set<string>();
  const marks: number[] = [];
  const routed: RoutedEvent[] = [];
  const task = { partition: 0, lagAtAssignment: new Map() };
  const logger = createLogger('test', 'silent');
  const store = <V>(name: string) => stores.get(name) as unknown as PartitionStore<V>;
  stage.onRestored({ partition: 0, task, logger, store, now: 0 });
  const context = (): ProcessingContext => ({
    partition: 0,
    logger,
    now: 0,
    batch: undefined,
    task,
    store,
    send: (_topic, _key, value) => routed.push(value as RoutedEvent),
    sendBytes: () => undefined,
    sendWatermark: (_topic, { time }) => marks.push(time),
    pauseInput: (topic) => paused.add(topic),
    resumeInput: (topic) => paused.delete(topic),
    isInputPaused: (topic) => paused.has(topic),
    afterCommit: (effect) => effect(),
    deadLetter: () => {
      throw new Error('nothing should be dead-lettered');
    },
  });
  const batch = (messages: CustomerRecord[]) => {
    const ctx = context();
    for (const message of messages) stage.process(message, ctx);
    stage.afterBatch(ctx);
  };
  return { batch, paused, marks, routed, terminal, peers, board };
}

describe('CustomerStage bounded terminal buffer', () => {
  it('pauses labels a week ahead of its transactions once the terminal buffer is past its limit, never the transactions', () => {
    const customer = harness();
    customer.batch([transactionRecord(transaction(0, T0)), mark('transactions', T0)]);
    customer.batch([labelRecord(label(0, T0)), mark('labels', T0 + 7 * DAY_MS)]);
    expect([...customer.paused]).toEqual([]);
    // The terminal task holds (or has unread) more than the limit: the labels, a week ahead, stop.
    customer.terminal.buffered = 101;
    customer.batch([]);
    expect([...customer.paused]).toEqual([TOPICS.labelsValid]);
    // A paused input's progress stands still, and this task's watermark follows the transactions.
    expect(customer.marks.at(-1)).toBe(T0);
    // Drained to half: read again.
    customer.terminal.buffered = 50;
    customer.batch([]);
    expect([...customer.paused]).toEqual([]);
  });

  it('stops both inputs while its watermark runs ahead of the slowest customer task as the terminal tasks read them', () => {
    const customer = harness();
    customer.terminal.clocks.bySource.set(0, { time: T0, idle: false });
    customer.terminal.clocks.bySource.set(1, { time: T0 - DAY_MS, idle: false });
    customer.terminal.buffered = 101;
    customer.batch([mark('labels', T0 + DAY_MS), transactionRecord(transaction(0, T0 + DAY_MS)), mark('transactions', T0 + DAY_MS)]);
    expect(customer.paused).toEqual(new Set([TOPICS.transactionsValid, TOPICS.labelsValid]));
    // Customer task 1 becomes the reader's slowest at T0 + 2 days: task 0 now holds the minimum and reads again.
    customer.terminal.clocks.bySource.set(1, { time: T0 + 2 * DAY_MS, idle: false });
    customer.batch([]);
    expect([...customer.paused]).toEqual([]);
  });

  it('with no terminal task in view, aligns on the slowest customer task of this instance', () => {
    const customer = harness();
    // The terminal task has not been heard from for 30 s: only the peers remain.
    customer.board.publish(0, customer.terminal, -60_000);
    customer.peers.publish(1, { time: T0 - DAY_MS, idle: false }, 0);
    customer.batch([mark('labels', T0 + DAY_MS), transactionRecord(transaction(0, T0 + DAY_MS)), mark('transactions', T0 + DAY_MS)]);
    expect(customer.paused).toEqual(new Set([TOPICS.transactionsValid, TOPICS.labelsValid]));
    // The other task goes idle: this one is the slowest left, and reads again.
    customer.peers.publish(1, { time: T0 - DAY_MS, idle: true }, 0);
    customer.batch([]);
    expect([...customer.paused]).toEqual([]);
  });
});

describe('CustomerStage routing', () => {
  it('routes the labels a terminal window counts, and well-formed labels none counts not at all', () => {
    const customer = harness();
    const fraud = { ...label(1, T0), is_fraud: true };
    const withoutTerminal = { ...label(2, T0), terminal_id: '' };
    customer.batch([transactionRecord(transaction(0, T0)), labelRecord(label(0, T0)), labelRecord(fraud), labelRecord(withoutTerminal)]);
    // The genuine label is left out; one the terminal stage must refuse (dead-letter) still goes there.
    expect(customer.routed.map((event) => event.transaction?.transaction_id ?? event.label?.transaction_id)).toEqual(['t0', 't1', 't2']);
  });
});
