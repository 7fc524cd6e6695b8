import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AlignmentBoard, createLogger, PartitionStore, type FeatureVector, type InputRecord, type Label, type ProcessingContext } from '@sluice/shared';
import { JoinStage, type JoinStageOptions } from '../src/join-stage.js';
import { LearnerMetrics } from '../src/learner-metrics.js';
import { EARLY_LABELS_STORE, JOIN_BUFFER_STORE, JOIN_CLOCKS_STORE, PENDING_STORE, type JoinInputs } from '../src/topology.js';

const TOPICS = { transactionsFeatures: 'transactions.features', labelsValid: 'labels.valid', learnerExamples: 'learner.examples' };
const TOPIC_OF = { features: TOPICS.transactionsFeatures, labels: TOPICS.labelsValid };
type JoinRecord = InputRecord<JoinInputs>;
const DAY_MS = 86_400_000;
const OPTIONS: JoinStageOptions = {
  ttlMs: 30 * DAY_MS,
  maxEntries: 1_000_000,
  maxEarlyLabels: 1_000,
  labelsWatermarks: 'upstream',
  labelsMaxDisorderMs: 0,
  labelsIdleMs: 1_000,
  flow: { maxBuffered: 10, maxAheadMs: 60_000 },
};

const vector = (i: number, time: number): FeatureVector => ({
  transaction_id: `t${i}`,
  customer_id: 'c',
  terminal_id: 'x',
  event_time: time,
  amount: 1,
  feature_set_version: 'v',
  feature_names: ['a'],
  feature_values: [i],
  ingested_at: 0,
});
const label = (i: number, txTime: number): Label => ({
  transaction_id: `t${i}`,
  customer_id: 'c',
  terminal_id: 'x',
  tx_event_time: txTime,
  is_fraud: i % 2 === 0,
  labeled_at: txTime + 7 * DAY_MS,
  ingested_at: 0,
});
const at = { partition: 0, offset: '0', timestamp: '0', key: null, rawValue: null, headers: {} };
const vectorRecord = (value: FeatureVector): JoinRecord => ({ ...at, input: 'features', topic: TOPICS.transactionsFeatures, value });
const labelRecord = (value: Label): JoinRecord => ({ ...at, input: 'labels', topic: TOPICS.labelsValid, value });
/** The one upstream source's mark on an input (a terminal task on transactions.features, an ingest task on labels.valid). */
const mark = (input: JoinRecord['input'], time: number): JoinRecord => ({ ...at, input, topic: TOPIC_OF[input], value: null, watermark: { source: 0, sources: 1, time, idle: false } });

/** One join task over in-memory stores, with the processor's flow control recorded. */
function harness(board?: AlignmentBoard) {
  const stores = new Map([PENDING_STORE, EARLY_LABELS_STORE, JOIN_BUFFER_STORE, JOIN_CLOCKS_STORE].map((name) => [name, new PartitionStore<unknown>({ name, changelogTopic: `${name}.changelog` }, 0)]));
  const paused = new Set<string>();
  const examples: string[] = [];
  const marks: { time: number; idle: boolean }[] = [];
  const task = { partition: 0, lagAtAssignment: new Map() };
  const store = <V>(name: string) => stores.get(name) as unknown as PartitionStore<V>;
  const logger = createLogger('test', 'silent');
  const stage = new JoinStage(TOPICS, OPTIONS, new LearnerMetrics(new Registry()), board);
  stage.onRestored({ partition: 0, task, logger, now: 0, store });
  const context = (): ProcessingContext => ({
    partition: 0,
    logger,
    now: 0,
    batch: undefined,
    task,
    store,
    send: (_topic, key, record) => examples.push(`${key}:${(record as { kind: string }).kind}`),
    sendBytes: () => undefined,
    sendWatermark: (_topic, mark) => marks.push(mark),
    pauseInput: (topic) => paused.add(topic),
    resumeInput: (topic) => paused.delete(topic),
    isInputPaused: (topic) => paused.has(topic),
    afterCommit: (effect) => effect(),
    deadLetter: () => {
      throw new Error('nothing should be dead-lettered');
    },
  });
  const batch = (messages: JoinRecord[]) => {
    const ctx = context();
    for (const message of messages) stage.process(message, ctx);
    stage.afterBatch(ctx);
  };
  // The events held (in memory only: their inputs keep them).
  const buffered = () => stage.bufferedEvents().total;
  return { batch, paused, examples, marks, buffered };
}

describe('JoinStage bounded buffer', () => {
  it('pauses labels running a week ahead of the vectors once past the limit, and reads them again once the vectors catch up', () => {
    const join = harness();
    // The vectors' input has reached day 0; labels of days 0-1 arrive, established a week later.
    join.batch([vectorRecord(vector(0, 0)), mark('features', 0)]);
    const labels = Array.from({ length: 12 }, (_, i) => label(i, i * 3_600_000));
    join.batch([...labels.map(labelRecord), mark('labels', labels.at(-1)!.labeled_at)]);
    expect(join.buffered()).toBe(12);
    expect([...join.paused]).toEqual([TOPICS.labelsValid]);

    // The vectors come within half the distance of the labels: what was held is released, labels flow again.
    const vectors = Array.from({ length: 12 }, (_, i) => vector(i, i * 3_600_000));
    join.batch([...vectors.slice(1).map(vectorRecord), mark('features', labels.at(-1)!.labeled_at)]);
    expect(join.buffered()).toBe(0);
    expect([...join.paused]).toEqual([]);
    expect(join.examples.filter((e) => e.endsWith(':labelled'))).toHaveLength(12);
  });

  it('never pauses the input the frontier waits for', () => {
    const join = harness();
    // Vectors run ahead of labels this time: the vectors wait, and it is their input that stops.
    join.batch([mark('labels', 0)]);
    join.batch([...Array.from({ length: 12 }, (_, i) => vectorRecord(vector(i, DAY_MS + i))), mark('features', DAY_MS + 11)]);
    expect(join.buffered()).toBe(12);
    expect([...join.paused]).toEqual([TOPICS.transactionsFeatures]);
  });

  it('stops both inputs when the training task, past its limit, has this task ahead of the slowest join task', () => {
    const board = new AlignmentBoard(30_000);
    const training = { clocks: { expected: 2, bySource: new Map([[0, { time: DAY_MS, idle: false }], [1, { time: 0, idle: false }]]) }, buffered: 11 };
    board.publish(0, training, 0);
    const join = harness(board);
    join.batch([mark('labels', 2 * DAY_MS), vectorRecord(vector(0, 2 * DAY_MS)), mark('features', 2 * DAY_MS)]);
    expect(join.paused).toEqual(new Set([TOPICS.transactionsFeatures, TOPICS.labelsValid]));
    // The slowest join task catches up: this one reads again.
    training.clocks.bySource.set(1, { time: 2 * DAY_MS, idle: false });
    join.batch([]);
    expect([...join.paused]).toEqual([]);
  });

  it('sends no more than its share of the training task\'s limit past that task\'s frontier, and stops reading until the rest is out', () => {
    const board = new AlignmentBoard(30_000);
    // Two join tasks: a share of 5 each (limit 10). The training task has heard this one and task 1 at -1.
    const training = { clocks: { expected: 2, bySource: new Map([[0, { time: -1, idle: false }], [1, { time: -1, idle: false }]]) }, buffered: 0 };
    board.publish(0, training, 0);
    const join = harness(board);
    const vectors = Array.from({ length: 8 }, (_, i) => vector(i, i * 1_000));
    join.batch([mark('labels', DAY_MS), ...vectors.map(vectorRecord), mark('features', DAY_MS)]);
    expect(join.examples).toEqual(['t0:unlabelled', 't1:unlabelled', 't2:unlabelled', 't3:unlabelled', 't4:unlabelled']);
    // Its watermark says how far it got, not how far the features service has: the training task waits for the rest.
    expect(join.marks.at(-1)).toEqual({ time: 4_000, idle: false });
    expect(join.paused).toEqual(new Set([TOPICS.transactionsFeatures, TOPICS.labelsValid]));

    // The training task's frontier passes 2,000: three of the five are released there, three more may go.
    training.clocks.bySource.set(0, { time: 4_000, idle: false });
    training.clocks.bySource.set(1, { time: 2_000, idle: false });
    join.batch([]);
    expect(join.examples).toHaveLength(8);
    expect(join.marks.at(-1)).toEqual({ time: DAY_MS, idle: false });
    expect([...join.paused]).toEqual([]);
  });

  it('is not held back without a training task in view (another instance trains)', () => {
    const join = harness(new AlignmentBoard(30_000));
    join.batch([mark('labels', DAY_MS), ...Array.from({ length: 12 }, (_, i) => vectorRecord(vector(i, i * 1_000))), mark('features', DAY_MS)]);
    expect(join.examples).toHaveLength(12);
  });
});
