import { readFileSync } from 'node:fs';
import kafkajs, { type AclEntry } from 'kafkajs';
import { z } from 'zod';
import { SluiceError } from '@sluice/shared';

/** The one definition of Sluice's Kafka ACLs: deploy/acl/acls.json. */
export const ACL_DEFINITION_FILE = new URL('../../../deploy/acl/acls.json', import.meta.url);

const names = z.array(z.string().min(1));
const principalSchema = z.object({
  service: z.boolean().default(false),
  reads: names,
  writes: names,
  /** Topic-name prefixes the principal reads and writes (its state changelogs). */
  state: names,
  /** Consumer-group prefixes: join, read offsets, delete the throw-away ones. */
  groups: names,
  unprefixedGroups: names.default([]),
  /** Group prefixes it may only describe (lag). */
  describesGroups: names.default([]),
  /** Transactional-id prefixes (`<group>-<partition>`). */
  transactionalIds: names,
  /** Describe on every pipeline topic (`sluice cli topics`); a service's own grants cover its topology's topics. */
  describesPipeline: z.boolean(),
});

const definitionSchema = z.object({
  principals: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), principalSchema),
  everyService: z.object({ unprefixedGroups: names }),
});

export type AclDefinition = z.infer<typeof definitionSchema>;

export function parseAclDefinition(text: string): AclDefinition {
  const parsed = definitionSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new SluiceError('ACL_DEFINITION_INVALID', parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
  return parsed.data;
}

export function loadAclDefinition(file: string | URL = ACL_DEFINITION_FILE): AclDefinition {
  return parseAclDefinition(readFileSync(file, 'utf8'));
}

export type Operation = 'Read' | 'Write' | 'Describe' | 'Delete';

/** One line of the ACL table: a principal's operations on one resource pattern. */
export interface AclRule {
  principal: string;
  resource: 'topic' | 'group' | 'transactional-id';
  pattern: 'literal' | 'prefixed';
  name: string;
  operations: Operation[];
}

/**
 * The rules for one deployment: names get the topic prefix (except the
 * unprefixed groups); `pipelineTopics` are the full names Describe covers.
 */
export function aclRules(definition: AclDefinition, prefix: string, pipelineTopics: readonly string[]): AclRule[] {
  const rules: AclRule[] = [];
  for (const [name, grants] of Object.entries(definition.principals)) {
    const principal = `User:${name}`;
    const add = (resource: AclRule['resource'], pattern: AclRule['pattern'], resourceName: string, operations: Operation[]) =>
      rules.push({ principal, resource, pattern, name: resourceName, operations });
    const readAndWrite = new Set(grants.reads.filter((topic) => grants.writes.includes(topic)));
    for (const topic of grants.reads) add('topic', 'literal', prefix + topic, readAndWrite.has(topic) ? ['Read', 'Write', 'Describe'] : ['Read', 'Describe']);
    for (const topic of grants.writes) if (!readAndWrite.has(topic)) add('topic', 'literal', prefix + topic, ['Write', 'Describe']);
    for (const state of grants.state) add('topic', 'prefixed', prefix + state, ['Read', 'Write', 'Describe']);
    if (grants.describesPipeline) {
      const covered = new Set(rules.filter((rule) => rule.principal === principal && rule.resource === 'topic' && rule.pattern === 'literal').map((rule) => rule.name));
      for (const topic of pipelineTopics) {
        const ownState = grants.state.some((state) => topic.startsWith(prefix + state));
        if (!covered.has(topic) && !ownState) add('topic', 'literal', topic, ['Describe']);
      }
    }
    for (const group of grants.groups) add('group', 'prefixed', prefix + group, ['Read', 'Describe', 'Delete']);
    const unprefixed = [...grants.unprefixedGroups, ...(grants.service ? definition.everyService.unprefixedGroups : [])];
    for (const group of unprefixed) add('group', 'prefixed', group, ['Read', 'Describe', 'Delete']);
    for (const group of grants.describesGroups) add('group', 'prefixed', prefix + group, ['Describe']);
    for (const id of grants.transactionalIds) add('transactional-id', 'prefixed', prefix + id, ['Write', 'Describe']);
  }
  return rules;
}

// kafkajs is CommonJS and Node's ESM import does not find these enums as named exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;
const RESOURCE = { topic: AclResourceTypes.TOPIC, group: AclResourceTypes.GROUP, 'transactional-id': AclResourceTypes.TRANSACTIONAL_ID } as const;
const PATTERN = { literal: ResourcePatternTypes.LITERAL, prefixed: ResourcePatternTypes.PREFIXED } as const;
const OPERATION = { Read: AclOperationTypes.READ, Write: AclOperationTypes.WRITE, Describe: AclOperationTypes.DESCRIBE, Delete: AclOperationTypes.DELETE } as const;

/** The Admin API's entries: one ALLOW per operation, from any host. */
export function kafkaAcls(rules: readonly AclRule[]): AclEntry[] {
  return rules.flatMap((rule) =>
    rule.operations.map((operation) => ({
      principal: rule.principal,
      host: '*',
      permissionType: AclPermissionTypes.ALLOW,
      operation: OPERATION[operation],
      resourceType: RESOURCE[rule.resource],
      resourceName: rule.name,
      resourcePatternType: PATTERN[rule.pattern],
    })),
  );
}

/**
 * The table deploy/README.md shows, for a prefix `P`. Describe-only grants
 * on pipeline topics are summarised in one line per principal.
 */
export function aclMarkdown(definition: AclDefinition): string {
  const rows = aclRules(definition, 'P', []).map((rule) => `| \`${rule.principal}\` | ${rule.resource} | ${rule.pattern} | \`${rule.name}\` | ${rule.operations.join(', ')} |`);
  const describing = Object.entries(definition.principals)
    .filter(([, grants]) => grants.describesPipeline)
    .map(([name]) => `\`User:${name}\``);
  return [
    '| principal | resource | pattern | name | operations |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    `${describing.join(', ')} also get${describing.length === 1 ? 's' : ''} Describe on every other pipeline topic (the union of the services' topologies, \`tools/cli/src/pipeline-topology.ts\`), literal. A service needs Describe only on its own topology's topics, which its grants cover: it checks at start-up that each one answers ListOffsets. No principal may create topics; an administrator creates them first.`,
  ].join('\n');
}
