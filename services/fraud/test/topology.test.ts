import { describe, expect, it } from 'vitest';
import { fraudTopology } from '../src/topology.js';

const topology = fraudTopology({ SLUICE_TOPIC_PREFIX: 'staging.', TOPIC_PARTITIONS: 6 });
const fraud = topology.processors.fraud;
const declared = new Map(topology.topics.map((topic) => [topic.name, topic]));

describe('fraud topology', () => {
  it('keeps the group and transactional ids fraud has always had (a new id would start from no committed offsets)', () => {
    expect(Object.keys(topology.processors)).toEqual(['fraud']);
    expect(fraud.groupId).toBe('staging.sluice-fraud');
    expect(fraud.transactionalIdPrefix).toBe('staging.sluice-fraud');
  });

  it('reads the feature vectors with their watermarks, refusals to transactions.dlq', () => {
    expect(fraud.inputs.features).toMatchObject({ topic: 'staging.transactions.features', format: 'avro', deadLetterTopic: 'staging.transactions.dlq', watermarks: true });
  });

  it('keeps its stores in the changelogs it has always had, compacted, partitioned like transactions.features', () => {
    const changelogs = ['cooldown', 'buffer', 'clocks'].map((store) => `staging.sluice.fraud.${store}.changelog`);
    expect(fraud.stores.map((store) => [store.name, store.changelogTopic])).toEqual([
      ['cooldown', changelogs[0]],
      ['buffer', changelogs[1]],
      ['clocks', changelogs[2]],
    ]);
    for (const name of changelogs) expect(declared.get(name)).toEqual({ name, partitions: 6, cleanupPolicy: 'compact' });
  });

  it('registers the Score and Alert schemas for what it writes, and marks neither with watermarks', () => {
    expect(topology.schemas).toEqual({ 'staging.fraud.scores': 'Score', 'staging.fraud.alerts': 'Alert' });
    expect(fraud.outputs.filter((out) => out.watermarks === true)).toEqual([]);
  });

  it('declares every topic it reads, writes, dead-letters to or keeps state in, and no other', () => {
    const expected = [
      'staging.transactions.features',
      'staging.transactions.dlq',
      'staging.fraud.scores',
      'staging.fraud.alerts',
      // Read whole on every instance by the model follower, a plain consumer.
      'staging.model.updates',
      ...fraud.stores.map((store) => store.changelogTopic),
    ];
    expect([...declared.keys()].sort()).toEqual(expected.sort());
    for (const { topic } of fraud.outputs) expect(declared.has(topic)).toBe(true);
    for (const { topic, deadLetterTopic } of Object.values(fraud.inputs)) expect([topic, deadLetterTopic].every((name) => declared.has(name))).toBe(true);
    // The model history is one ordered log, as the contract declares it: the topology takes it as it is.
    expect(declared.get('staging.model.updates')).toMatchObject({ partitions: 1, cleanupPolicy: 'compact' });
  });
});
