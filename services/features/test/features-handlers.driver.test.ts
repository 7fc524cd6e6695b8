import { topicNames, type FeatureVector, type Label, type ProcessorDefinition, type StoreDefinition, type Transaction } from '@sluice/shared';
import { InMemoryTopics, TopologyTestDriver } from '@sluice/shared/testing';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CUSTOMER_KEY, TERMINAL_KEY } from '../src/config.js';
import { entityStateCodec } from '../src/entity-store.js';
import { CUSTOMER_CLOCKS_STORE, CUSTOMERS_STORE, CustomerStage, TERMINAL_BUFFER_STORE, TERMINAL_CLOCKS_STORE, TERMINALS_STORE, TerminalStage } from '../src/feature-stages.js';
import { FeaturesMetrics } from '../src/features-metrics.js';
import { handbookFeatureSpec } from '../src/handbook.js';
import { compileSpec } from '../src/plan.js';

const topics = topicNames('');
const plan = compileSpec(handbookFeatureSpec());
const changelog = (name: string) => `sluice.features.${name}.changelog`;
const storeFor = (name: string, entity: string) => ({ name, changelogTopic: changelog(name), ...entityStateCodec(plan.entities.get(entity)!) }) as StoreDefinition<unknown>;

/** The customer stage as main.ts wires it (without the in-process alignment board: no bounded-buffer flow control here). */
function customerStage(): ProcessorDefinition {
  const stage = new CustomerStage(plan, topics, 60_000, new FeaturesMetrics(new Registry()), { mode: 'upstream', disorderMs: 0, idleTimeoutMs: 10_000 });
  return {
    service: 'features',
    inputs: [
      { topic: topics.transactionsValid, format: 'avro', deadLetterTopic: topics.transactionsDlq, watermarks: true },
      { topic: topics.labelsValid, format: 'avro', deadLetterTopic: topics.labelsDlq, watermarks: true },
    ],
    stores: [storeFor(CUSTOMERS_STORE, CUSTOMER_KEY), { name: CUSTOMER_CLOCKS_STORE, changelogTopic: changelog(CUSTOMER_CLOCKS_STORE) }],
    process: (message, context) => stage.process(message, context),
    afterBatch: (context) => stage.afterBatch(context),
    watermarkOutputs: [stage.watermarkTopic],
    punctuate: { intervalMs: 1_000, run: (context) => stage.punctuate(context) },
  };
}

function terminalStage(): ProcessorDefinition {
  const stage = new TerminalStage(plan, topics, 60_000, new FeaturesMetrics(new Registry()));
  return {
    service: 'features',
    inputs: [{ topic: topics.transactionsByTerminal, format: 'avro', deadLetterTopic: topics.transactionsDlq, watermarks: true }],
    stores: [storeFor(TERMINALS_STORE, TERMINAL_KEY), ...[TERMINAL_BUFFER_STORE, TERMINAL_CLOCKS_STORE].map((name) => ({ name, changelogTopic: changelog(name) }))],
    watermarkOutputs: [topics.transactionsFeatures],
    process: (message, context) => stage.process(message, context),
    afterBatch: (context) => stage.afterBatch(context),
    punctuate: { intervalMs: 1_000, run: (context) => stage.punctuate(context) },
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
function ingest(driver: TopologyTestDriver, from: number, to: number): void {
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
  const customers = new TopologyTestDriver(customerStage, { topics: shared, maxBatchSize });
  const terminals = new TopologyTestDriver(terminalStage, { topics: shared, maxBatchSize });
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
});
