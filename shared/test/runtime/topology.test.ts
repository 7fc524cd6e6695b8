import { describe, expect, it } from 'vitest';
import { bindHandler, bytesInput, defineTopology, input, output, store } from '../../src/runtime/topology.js';
import { contractTopics, topicNames } from '../../src/topics.js';

const CONFIG = { SLUICE_TOPIC_PREFIX: 'tenant-', TOPIC_PARTITIONS: 4 };
const topics = topicNames(CONFIG.SLUICE_TOPIC_PREFIX);

/** Two processors as a service would declare them: the second reads a one-partition contract topic. */
const declare = () =>
  defineTopology(
    CONFIG,
    'svc',
    {
      'svc-first': {
        inputs: { raw: bytesInput(topics.transactionsRaw, { deadLetter: topics.transactionsDlq }), labels: input<{ id: string }>(topics.labelsValid, { deadLetter: topics.labelsDlq, watermarks: true }) },
        stores: { seen: store<number>({ serialize: (value) => Buffer.from([value]), deserialize: (bytes) => bytes[0]! }) },
        outputs: [output(topics.transactionsValid, { schema: 'Transaction', watermarks: true })],
      },
      'svc-second': {
        inputs: { examples: input<{ id: string }>(topics.learnerExamples, { deadLetter: topics.modelDlq }) },
        stores: { model: store<object>() },
        outputs: [output(topics.modelUpdates, { schema: 'ModelSnapshot' })],
      },
    },
    { reads: [topics.fraudAlerts], internal: [{ name: 'tenant-svc.scratch', partitions: 2, cleanupPolicy: 'delete' }] },
  );

describe('defineTopology', () => {
  it('derives group and transactional ids, changelogs partitioned like the first input, and the schemas to register', () => {
    const topology = declare();
    expect(topology.processors['svc-first'].groupId).toBe('tenant-sluice-svc-first');
    expect(topology.processors['svc-first'].transactionalIdPrefix).toBe('tenant-sluice-svc-first');
    expect(topology.processors['svc-first'].stores.map((definition) => definition.changelogTopic)).toEqual(['tenant-sluice.svc.seen.changelog']);
    expect(topology.processors['svc-first'].stores[0]!.serialize!(7)).toEqual(Buffer.from([7]));
    const byName = new Map(topology.topics.map((topic) => [topic.name, topic]));
    expect(byName.get('tenant-sluice.svc.seen.changelog')).toEqual({ name: 'tenant-sluice.svc.seen.changelog', partitions: 4, cleanupPolicy: 'compact' });
    expect(byName.get('tenant-sluice.svc.model.changelog')).toEqual({ name: 'tenant-sluice.svc.model.changelog', partitions: 1, cleanupPolicy: 'compact' });
    expect(topology.schemas).toEqual({ [topics.transactionsValid]: 'Transaction', [topics.modelUpdates]: 'ModelSnapshot' });
  });

  it('declares exactly the topics the service touches, as the contract declares them', () => {
    const topology = declare();
    const contract = new Map(contractTopics(CONFIG).map((topic) => [topic.name, topic]));
    const touched = [topics.transactionsRaw, topics.transactionsDlq, topics.labelsValid, topics.labelsDlq, topics.transactionsValid, topics.learnerExamples, topics.modelDlq, topics.modelUpdates, topics.fraudAlerts];
    const nonChangelogs = topology.topics.filter((topic) => !topic.name.endsWith('.changelog'));
    expect(nonChangelogs.map((topic) => topic.name).sort()).toEqual([...touched].sort());
    for (const topic of nonChangelogs) expect(topic).toEqual(contract.get(topic.name));
    // An internal topic is only a topic the service may name, not one it touches.
    expect(topology.topics.some((topic) => topic.name === 'tenant-svc.scratch')).toBe(false);
  });

  it('refuses a topic that is neither in the contract nor internal, a processor without inputs, and a store declared twice', () => {
    expect(() => defineTopology(CONFIG, 'svc', { p: { inputs: { x: bytesInput('tenant-elsewhere', { deadLetter: topics.transactionsDlq }) } } })).toThrow(/names tenant-elsewhere/);
    expect(() => defineTopology(CONFIG, 'svc', { p: { inputs: {} } })).toThrow(/has no input/);
    const twice = { inputs: { raw: bytesInput(topics.transactionsRaw, { deadLetter: topics.transactionsDlq }) }, stores: { seen: store<number>() } };
    expect(() => defineTopology(CONFIG, 'svc', { a: twice, b: twice })).toThrow(/store seen twice/);
  });

  it("binds a handler to the runtime's definition: each input tagged with its role, watermark outputs from the declaration", () => {
    const definition = bindHandler(declare().processors['svc-first'], { process: () => undefined });
    expect(definition.service).toBe('svc');
    expect(definition.inputs.map((each) => [each.role, each.topic, each.format, each.deadLetterTopic, each.watermarks])).toEqual([
      ['raw', topics.transactionsRaw, 'bytes', topics.transactionsDlq, false],
      ['labels', topics.labelsValid, 'avro', topics.labelsDlq, true],
    ]);
    expect(definition.watermarkOutputs).toEqual([topics.transactionsValid]);
  });
});
