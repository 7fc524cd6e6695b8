import { topicNames, type FeatureVector, type Label, type Transaction, type TypedHandler } from '@sluice/shared';
import { InMemoryTopics, TopologyTestDriver } from '@sluice/shared/testing';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CustomerStage, TerminalStage } from '../src/feature-stages.js';
import { FeaturesMetrics } from '../src/features-metrics.js';
import { handbookFeatureSpec } from '../src/handbook.js';
import { compileSpec } from '../src/plan.js';
import { featuresTopology, type CustomerInputs, type TerminalInputs } from '../src/topology.js';

const topics = topicNames('');
const plan = compileSpec(handbookFeatureSpec());
const topology = featuresTopology({ SLUICE_TOPIC_PREFIX: '', TOPIC_PARTITIONS: 3 }, plan);

/** The customer stage's handlers as main.ts wires them (without the in-process alignment board: no bounded-buffer flow control here). */
function customerStage(): TypedHandler<CustomerInputs> {
  const stage = new CustomerStage(plan, topics, 60_000, new FeaturesMetrics(new Registry()), { mode: 'upstream', disorderMs: 0, idleTimeoutMs: 10_000 });
  return {
    process: (record, context) => stage.process(record, context),
    afterBatch: (context) => stage.afterBatch(context),
    punctuate: { intervalMs: 1_000, run: (context) => stage.punctuate(context) },
    onRestored: (task) => stage.onRestored(task),
    onRevoked: (task) => stage.onRevoked(task),
  };
}

function terminalStage(): TypedHandler<TerminalInputs> {
  const stage = new TerminalStage(plan, topics, 60_000, new FeaturesMetrics(new Registry()));
  return {
    process: (record, context) => stage.process(record, context),
    afterBatch: (context) => stage.afterBatch(context),
    punctuate: { intervalMs: 1_000, run: (context) => stage.punctuate(context) },
    onRestored: (task) => stage.onRestored(task),
    onRevoked: (task) => stage.onRevoked(task),
  };
}

const HOUR = 3_600_000;
const START = Date.UTC(2018, 3, 1);
const PARTITIONS = 3;

function transaction(n: number): Transaction {
  return { transaction_id: `tx-${String(n).padStart(4, '0')}`, customer_id: `c${n % 7}`, terminal_id: `t${n % 5}`, amount: 5 + ((n * 13) % 90), event_time: START + n * HOUR, currency: null, ingested_at: 0 };
}

function label(n: number): Label {
  const tx = transaction(n);
  return { transaction_id: tx.transaction_id, customer_id: tx.customer_id, terminal_id: tx.terminal_id, tx_event_time: tx.event_time, is_fraud: n % 6 === 0, labeled_at: tx.event_time + 2 * HOUR, ingested_at: 0 };
}

/** Ingest's part: transactions n in [from, to) and their labels, then every ingest task's (one per partition) marks on every partition. */
function ingest(driver: TopologyTestDriver<CustomerInputs>, from: number, to: number): void {
  for (let n = from; n < to; n++) {
    driver.pipe(topics.transactionsValid, [{ key: transaction(n).customer_id, value: transaction(n) }]);
    driver.pipe(topics.labelsValid, [{ key: label(n).customer_id, value: label(n) }]);
  }
  const time = transaction(to).event_time - 1;
  for (const topic of [topics.transactionsValid, topics.labelsValid]) {
    for (let partition = 0; partition < PARTITIONS; partition++) {
      for (let source = 0; source < PARTITIONS; source++) driver.pipeWatermark(topic, partition, { source, sources: PARTITIONS, time, idle: false });
    }
  }
}

/** Both stages over one set of topics, run until neither has anything left to read. */
function pipeline(maxBatchSize?: number) {
  const shared = new InMemoryTopics({ [topics.transactionsByTerminal]: PARTITIONS, [topics.transactionsFeatures]: PARTITIONS }, PARTITIONS);
  const customers = new TopologyTestDriver(topology.processors['features-customers'], customerStage, { topics: shared, maxBatchSize });
  const terminals = new TopologyTestDriver(topology.processors['features-terminals']!, terminalStage, { topics: shared, maxBatchSize });
  const run = async () => {
    while ((await customers.run()) + (await terminals.run()) > 0);
  };
  return { customers, terminals, run, vectors: () => terminals.outputs(topics.transactionsFeatures).map((record) => record.value as FeatureVector) };
}

const byId = (vectors: FeatureVector[]) => [...vectors].sort((a, b) => a.transaction_id.localeCompare(b.transaction_id));

describe('features handlers through the test driver', () => {
  it('turns each transaction into one feature vector of the plan once the watermarks have passed it, by customer', async () => {
    const { customers, run, vectors } = pipeline();
    ingest(customers, 0, 60);
    await run();
    const out = byId(vectors());
    expect(out.map((vector) => vector.transaction_id)).toEqual(Array.from({ length: 60 }, (_, n) => transaction(n).transaction_id));
    for (const vector of out) {
      expect(vector.feature_names).toEqual(plan.names);
      expect(vector.feature_values).toHaveLength(plan.names.length);
      expect(vector.feature_values.every(Number.isFinite)).toBe(true);
    }
  });

  it('computes the same vectors when both stages crash midway (entity windows, buffers and clocks restored from the changelogs)', async () => {
    const reference = pipeline();
    ingest(reference.customers, 0, 40);
    ingest(reference.customers, 40, 60);
    ingest(reference.customers, 60, 80);
    await reference.run();

    const crashing = pipeline(5);
    ingest(crashing.customers, 0, 40);
    await crashing.run();
    // The customer stage has routed the next transactions, the terminal stage has not read them yet.
    ingest(crashing.customers, 40, 60);
    await crashing.customers.run();
    crashing.customers.crash();
    crashing.terminals.crash();
    ingest(crashing.customers, 60, 80);
    await crashing.run();

    expect(byId(crashing.vectors())).toEqual(byId(reference.vectors()));
    expect(crashing.vectors()).toHaveLength(80);
  });

  it("computes the same vectors when transactions abort (each stage's tasks start afresh on their restored stores)", async () => {
    const reference = pipeline();
    ingest(reference.customers, 0, 60);
    await reference.run();

    const aborting = pipeline(5);
    ingest(aborting.customers, 0, 30);
    aborting.customers.failNextCommits(3);
    await aborting.customers.run();
    aborting.terminals.failNextCommits(3);
    await aborting.run();
    ingest(aborting.customers, 30, 60);
    aborting.customers.failNextCommits(2);
    aborting.terminals.failNextCommits(2);
    await aborting.run();

    expect(byId(aborting.vectors())).toEqual(byId(reference.vectors()));
    expect(aborting.vectors()).toHaveLength(60);
  });
});
