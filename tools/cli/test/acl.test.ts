import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { changelogTopic, pipelineTopics, topicDefaults } from '@sluice/shared';
import { aclMarkdown, aclRules, kafkaAcls, loadAclDefinition } from '../src/acl.js';

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
    // Each changelog (shared/src/topics.ts) falls under the state prefix of the service it is named for, and only that one.
    for (const { name } of pipelineTopics({ SLUICE_TOPIC_PREFIX: '', TOPIC_PARTITIONS: 1 })) {
      if (!name.endsWith('.changelog')) continue;
      const owners = Object.entries(definition.principals).filter(([, grants]) => grants.state.some((prefix) => name.startsWith(prefix)));
      expect(owners.map(([principal]) => principal), name).toEqual([name.split('.')[1]]);
    }
    expect(changelogTopic('', 'fraud', 'cooldown').startsWith(definition.principals.fraud!.state[0]!)).toBe(true);
  });

  it('gives each service Describe on every pipeline topic and nothing on another service’s state', () => {
    const prefix = 'tenant-a.';
    const topics = pipelineTopics({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: 1 }).map((topic) => topic.name);
    const rules = aclRules(definition, prefix, topics);
    for (const service of ['ingest', 'features', 'learner', 'fraud']) {
      const mine = rules.filter((rule) => rule.principal === `User:${service}` && rule.resource === 'topic');
      for (const topic of topics) {
        const covering = mine.filter((rule) => (rule.pattern === 'literal' ? rule.name === topic : topic.startsWith(rule.name)));
        expect(covering.length, `${service} on ${topic}`).toBeGreaterThan(0);
        const writes = covering.some((rule) => rule.operations.includes('Write'));
        if (topic.endsWith('.changelog')) expect(writes, `${service} writing ${topic}`).toBe(topic.startsWith(`${prefix}sluice.${service}.`));
      }
    }
    expect(rules.every((rule) => rule.name.startsWith(prefix) || rule.name.startsWith('sluice-restore-') || rule.name.startsWith('sluice-cli-'))).toBe(true);
    expect(kafkaAcls(rules).length).toBe(rules.reduce((sum, rule) => sum + rule.operations.length, 0));
  });
});
