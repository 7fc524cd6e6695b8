import { describe, expect, it } from 'vitest';
import { learnerTopology } from '../src/topology.js';

const topology = learnerTopology({ SLUICE_TOPIC_PREFIX: 'staging.', TOPIC_PARTITIONS: 6 });
const join = topology.processors['learner-join'];
const train = topology.processors['learner-train'];
const declared = new Map(topology.topics.map((topic) => [topic.name, topic]));
const changelog = (store: string) => `staging.sluice.learner.${store}.changelog`;

describe('learner topology', () => {
  it('keeps the group and transactional ids of both stages (a new id would start from no committed offsets)', () => {
    expect(Object.keys(topology.processors)).toEqual(['learner-join', 'learner-train']);
    expect([join.groupId, join.transactionalIdPrefix]).toEqual(['staging.sluice-learner-join', 'staging.sluice-learner-join']);
    expect([train.groupId, train.transactionalIdPrefix]).toEqual(['staging.sluice-learner-train', 'staging.sluice-learner-train']);
  });

  it('joins the feature vectors and the labels, each with its watermarks and its own dead-letter topic', () => {
    expect(join.inputs.features).toMatchObject({ topic: 'staging.transactions.features', format: 'avro', deadLetterTopic: 'staging.transactions.dlq', watermarks: true });
    expect(join.inputs.labels).toMatchObject({ topic: 'staging.labels.valid', format: 'avro', deadLetterTopic: 'staging.labels.dlq', watermarks: true });
  });

  it('trains on learner.examples with its watermarks, and dead-letters what it cannot take to model.dlq', () => {
    expect(train.inputs.examples).toMatchObject({ topic: 'staging.learner.examples', format: 'avro', deadLetterTopic: 'staging.model.dlq', watermarks: true });
  });

  it('keeps its stores in the changelogs they have always had, compacted, partitioned like each stage\'s input', () => {
    const joinStores = ['pending', 'early-labels', 'join-buffer', 'join-clocks'];
    const trainStores = ['model', 'train-buffer', 'train-clocks'];
    expect(join.stores.map((store) => [store.name, store.changelogTopic])).toEqual(joinStores.map((store) => [store, changelog(store)]));
    expect(train.stores.map((store) => [store.name, store.changelogTopic])).toEqual(trainStores.map((store) => [store, changelog(store)]));
    for (const store of joinStores) expect(declared.get(changelog(store))).toEqual({ name: changelog(store), partitions: 6, cleanupPolicy: 'compact' });
    // learner.examples has one partition (one instance trains the global models): so have the training stage's changelogs.
    for (const store of trainStores) expect(declared.get(changelog(store))).toEqual({ name: changelog(store), partitions: 1, cleanupPolicy: 'compact' });
  });

  it('registers the schemas of what it writes; only the join stage marks its output with watermarks', () => {
    // An example's schema is its feature set's (the vector's names in it), registered as the first one is written.
    expect(topology.schemas).toEqual({ 'staging.learner.examples': { record: 'LabelledExample', vectorField: 'vector' }, 'staging.model.updates': 'ModelSnapshot' });
    expect(join.outputs.map((out) => [out.topic, out.watermarks === true])).toEqual([['staging.learner.examples', true]]);
    // The training stage's progress goes to model.updates as a keyed record of its own, not as watermark records.
    expect(train.outputs.map((out) => [out.topic, out.watermarks === true])).toEqual([['staging.model.updates', false]]);
  });

  it('declares every topic it reads, writes, dead-letters to or keeps state in, and no other', () => {
    const expected = [
      'staging.transactions.features',
      'staging.labels.valid',
      'staging.transactions.dlq',
      'staging.labels.dlq',
      'staging.learner.examples',
      'staging.model.dlq',
      // Written by the training stage, and read whole with a plain consumer to resume a model without changelog state.
      'staging.model.updates',
      ...[...join.stores, ...train.stores].map((store) => store.changelogTopic),
    ];
    expect([...declared.keys()].sort()).toEqual(expected.sort());
    for (const processor of [join, train]) {
      for (const { topic } of processor.outputs) expect(declared.has(topic)).toBe(true);
      for (const { topic, deadLetterTopic } of Object.values(processor.inputs)) expect([topic, deadLetterTopic].every((name) => declared.has(name))).toBe(true);
    }
    // The join stage writes what the training stage reads: learner.examples is not left for anyone else to write.
    expect(join.outputs.map((out) => out.topic)).toContain(train.inputs.examples.topic);
  });
});
