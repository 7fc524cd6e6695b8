import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { changelogTopic, topicDefaults } from '@sluice/shared';
import { aclMarkdown, aclRules, kafkaAcls, loadAclDefinition } from '../src/acl.js';
import { pipelineTopics, pipelineTopologies } from '../src/pipeline-topology.js';

const definition = loadAclDefinition();
const readme = readFileSync(new URL('../../../deploy/README.md', import.meta.url), 'utf8');

describe('deploy/acl/acls.json', () => {
  it('is what deploy/README.md shows (regenerate with ./sluice cli acls markdown)', () => {
    const section = /<!-- acls:begin[^>]*-->\n([\s\S]*?)\n<!-- acls:end -->/.exec(readme)?.[1];
    expect(section, 'deploy/README.md has no acls:begin/acls:end section').toBeDefined();
    expect(section).toBe(aclMarkdown(definition));
  });

  it('names only pipeline topics, and every topic a service writes or keeps state in has exactly one owner', () => {
    const known = new Set<string>(Object.values(topicDefaults));
    const writers = new Map<string, string[]>();
    for (const [principal, grants] of Object.entries(definition.principals)) {
      for (const topic of [...grants.reads, ...grants.writes]) expect(known, `${principal}: ${topic}`).toContain(topic);
      for (const topic of grants.writes) if (!topic.endsWith('.dlq')) writers.set(topic, [...(writers.get(topic) ?? []), principal]);
    }
    for (const [topic, owners] of writers) expect(owners, topic).toHaveLength(1);
    // Each changelog (its service's topology.ts) falls under the state prefix of the service it is named for, and only that one.
    for (const { name } of pipelineTopics({ SLUICE_TOPIC_PREFIX: '', TOPIC_PARTITIONS: 1 })) {
      if (!name.endsWith('.changelog')) continue;
      const owners = Object.entries(definition.principals).filter(([, grants]) => grants.state.some((prefix) => name.startsWith(prefix)));
      expect(owners.map(([principal]) => principal), name).toEqual([name.split('.')[1]]);
    }
    expect(changelogTopic('', 'fraud', 'cooldown').startsWith(definition.principals.fraud!.state[0]!)).toBe(true);
  });

  it('gives each service Describe on its own topics only (the start-up check) and nothing on another service’s state', () => {
    const prefix = 'tenant-a.';
    const config = { SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: 1 };
    const rules = aclRules(definition, prefix, pipelineTopics(config).map((topic) => topic.name));
    for (const topology of pipelineTopologies(config)) {
      const service = topology.service;
      const mine = rules.filter((rule) => rule.principal === `User:${service}` && rule.resource === 'topic');
      const own = new Set(topology.topics.map((topic) => topic.name));
      for (const topic of pipelineTopics(config).map((each) => each.name)) {
        const covering = mine.filter((rule) => (rule.pattern === 'literal' ? rule.name === topic : topic.startsWith(rule.name)));
        expect(covering.some((rule) => rule.operations.includes('Describe')), `${service} describing ${topic}`).toBe(own.has(topic));
        const writes = covering.some((rule) => rule.operations.includes('Write'));
        if (topic.endsWith('.changelog')) expect(writes, `${service} writing ${topic}`).toBe(topic.startsWith(`${prefix}sluice.${service}.`));
      }
    }
    expect(rules.every((rule) => rule.name.startsWith(prefix) || rule.name.startsWith('sluice-restore-') || rule.name.startsWith('sluice-cli-'))).toBe(true);
    expect(kafkaAcls(rules).length).toBe(rules.reduce((sum, rule) => sum + rule.operations.length, 0));
  });
  it("grants each service exactly the topics, groups and transactional ids its topology declares", () => {
    const prefix = '';
    const sorted = (names: Iterable<string>) => [...new Set(names)].sort();
    for (const topology of pipelineTopologies({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: 1 })) {
      const grants = definition.principals[topology.service];
      expect(grants, `acls.json has no principal ${topology.service}`).toBeDefined();
      const processors = Object.values(topology.processors);
      const inputs = processors.flatMap((processor) => Object.values(processor.inputs));
      const changelogs = processors.flatMap((processor) => processor.stores.map((store) => store.changelogTopic));
      expect(sorted(grants!.reads), `${topology.service} reads`).toEqual(sorted([...inputs.map((each) => each.topic), ...topology.reads]));
      expect(sorted(grants!.writes), `${topology.service} writes`).toEqual(sorted([...processors.flatMap((processor) => processor.outputs.map((out) => out.topic)), ...inputs.map((each) => each.deadLetterTopic)]));
      for (const changelog of changelogs) expect(grants!.state.some((state) => changelog.startsWith(state)), changelog).toBe(true);
      for (const processor of processors) {
        expect(grants!.groups.some((group) => processor.groupId === group || processor.groupId.startsWith(group)), processor.groupId).toBe(true);
        expect(grants!.transactionalIds.some((id) => `${processor.transactionalIdPrefix}-0`.startsWith(id)), processor.transactionalIdPrefix).toBe(true);
      }
    }
  });
});
