import { featureVectorSchema, topicNames, type ProcessorTopology, type Topology } from '@sluice/shared';
import { describe, expect, it } from 'vitest';
import { createEntityState, updateEntity } from '../src/entity-state.js';
import { handbookFeatureSpec } from '../src/handbook.js';
import { compileSpec, CUSTOMER_KEY, TERMINAL_KEY, type FeaturePlan } from '../src/plan.js';
import type { FeatureDef } from '../src/spec.js';
import { featuresTopology } from '../src/topology.js';

const config = { SLUICE_TOPIC_PREFIX: 'p.', TOPIC_PARTITIONS: 4 };
const topics = topicNames('p.');
const handbook = compileSpec(handbookFeatureSpec());

function planOver(...entities: string[]): FeaturePlan {
  const features: FeatureDef[] = entities.map((entity) => ({ kind: 'window', name: `n_${entity}`, entity, windowMs: 86_400_000, aggregation: 'count' }));
  return compileSpec({ version: 'v', features });
}

const changelogsOf = (processor: ProcessorTopology) => processor.stores.map((store) => store.changelogTopic);

/** Each topic of the topology with what the service does with it. */
function uses(topology: Topology) {
  const reads = new Set<string>();
  const writes = new Set<string>();
  for (const processor of Object.values(topology.processors)) {
    for (const input of Object.values(processor.inputs)) {
      reads.add(input.topic);
      writes.add(input.deadLetterTopic!);
    }
    for (const output of processor.outputs) writes.add(output.topic);
    for (const topic of changelogsOf(processor)) writes.add(topic);
  }
  return { reads, writes };
}

describe('the features topology', () => {
  const topology = featuresTopology(config);
  const customers = topology.processors['features-customers'];
  const terminals = topology.processors['features-terminals']!;

  it("keeps each stage's group and transactional ids", () => {
    expect(topology.service).toBe('features');
    expect([customers.groupId, customers.transactionalIdPrefix]).toEqual(['p.sluice-features-customers', 'p.sluice-features-customers']);
    expect([terminals.groupId, terminals.transactionalIdPrefix]).toEqual(['p.sluice-features-terminals', 'p.sluice-features-terminals']);
  });

  it('reads validated transactions and labels by customer, and the routed events by terminal, each with its marks and dead-letter topic', () => {
    expect(customers.inputs).toEqual({
      transactions: { topic: topics.transactionsValid, format: 'avro', deadLetterTopic: topics.transactionsDlq, watermarks: true },
      labels: { topic: topics.labelsValid, format: 'avro', deadLetterTopic: topics.labelsDlq, watermarks: true },
    });
    expect(terminals.inputs).toEqual({ routed: { topic: topics.transactionsByTerminal, format: 'avro', deadLetterTopic: topics.transactionsDlq, watermarks: true } });
  });

  it("keeps today's store and changelog names, the changelogs compacted with their stage's input partitions", () => {
    expect(changelogsOf(customers)).toEqual(['p.sluice.features.customers.changelog', 'p.sluice.features.customer-clocks.changelog']);
    expect(changelogsOf(terminals)).toEqual([
      'p.sluice.features.terminals.changelog',
      'p.sluice.features.terminal-buffer.changelog',
      'p.sluice.features.terminal-clocks.changelog',
    ]);
    for (const name of [...changelogsOf(customers), ...changelogsOf(terminals)]) {
      expect(topology.topics.find((topic) => topic.name === name)).toEqual({ name, partitions: 4, cleanupPolicy: 'compact' });
    }
  });

  it("writes the entity stores' states through the plan's codec", () => {
    for (const [processor, name, entity] of [
      [customers, 'customers', CUSTOMER_KEY],
      [terminals, 'terminals', TERMINAL_KEY],
    ] as const) {
      const store = processor.stores.find((candidate) => candidate.name === name)!;
      const plan = handbook.entities.get(entity)!;
      const state = createEntityState(plan);
      updateEntity(plan, state, { transaction_id: 't1', customer_id: 'c1', terminal_id: 'x1', amount: 12.5, event_time: Date.UTC(2018, 3, 1), currency: null, ingested_at: 0 });
      expect(store.deserialize!(store.serialize!(state))).toEqual(state);
    }
  });

  it('routes to the terminal stage, which writes the vectors; both mark what they write, and their schemas are registered', () => {
    // The vectors' schema is the feature set's: its names are the schema's fields.
    const vectors = featureVectorSchema(topics.transactionsFeatures, handbook.version, handbook.names);
    expect(customers.outputs).toEqual([{ topic: topics.transactionsByTerminal, schema: 'RoutedEvent', watermarks: true }]);
    expect(terminals.outputs).toEqual([{ topic: topics.transactionsFeatures, schema: vectors, watermarks: true }]);
    expect(topology.schemas).toEqual({ [topics.transactionsByTerminal]: 'RoutedEvent', [topics.transactionsFeatures]: vectors });
  });

  it('declares every topic it reads, writes or dead-letters to, and each one it declares is written by someone', () => {
    const { reads, writes } = uses(topology);
    const declared = new Set(topology.topics.map((topic) => topic.name));
    expect(declared).toEqual(new Set([...reads, ...writes]));
    // transactions.valid and labels.valid are ingest's outputs; the rest are written here.
    expect([...declared].filter((topic) => !writes.has(topic)).sort()).toEqual([topics.labelsValid, topics.transactionsValid]);
  });

  it('without terminal features: no terminal stage, no routing topic, and the customer stage writes the vectors', () => {
    const customerOnly = featuresTopology(config, planOver(CUSTOMER_KEY));
    expect(Object.keys(customerOnly.processors)).toEqual(['features-customers']);
    const vectors = featureVectorSchema(topics.transactionsFeatures, 'v', [`n_${CUSTOMER_KEY}`]);
    expect(customerOnly.processors['features-customers'].outputs).toEqual([{ topic: topics.transactionsFeatures, schema: vectors, watermarks: true }]);
    expect(customerOnly.schemas).toEqual({ [topics.transactionsFeatures]: vectors });
    expect(customerOnly.topics.map((topic) => topic.name)).not.toContain(topics.transactionsByTerminal);
  });

  it('without customer features: no customer store', () => {
    const terminalOnly = featuresTopology(config, planOver(TERMINAL_KEY));
    expect(terminalOnly.processors['features-customers'].stores.map((store) => store.name)).toEqual(['customer-clocks']);
    expect(terminalOnly.topics.map((topic) => topic.name)).not.toContain('p.sluice.features.customers.changelog');
  });
});
