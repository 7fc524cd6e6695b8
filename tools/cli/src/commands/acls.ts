import { aclMarkdown, aclRules, kafkaAcls, loadAclDefinition } from '../acl.js';
import { connect } from '../connection.js';
import { pipelineTopics } from '../pipeline-topology.js';

/**
 * deploy/acl/acls.json for this deployment (SLUICE_TOPIC_PREFIX): `apply`
 * creates the ACLs through the Admin API, as the configured principal (a
 * super user); `show` prints them; `markdown` prints deploy/README.md's table.
 */
export async function aclsCommand(action: string, options: { file?: string }): Promise<void> {
  const definition = loadAclDefinition(options.file);
  if (action === 'markdown') {
    process.stdout.write(`${aclMarkdown(definition)}\n`);
    return;
  }
  const connection = connect();
  const prefix = connection.config.SLUICE_TOPIC_PREFIX;
  const rules = aclRules(definition, prefix, pipelineTopics(connection.config).map((topic) => topic.name));
  if (action === 'show') {
    for (const rule of rules) process.stdout.write(`${rule.principal}\t${rule.resource}\t${rule.pattern}\t${rule.name}\t${rule.operations.join(',')}\n`);
    return;
  }
  const admin = connection.kafka.admin();
  await admin.connect();
  try {
    const acl = kafkaAcls(rules);
    await admin.createAcls({ acl });
    process.stderr.write(`${acl.length} ACLs created for ${Object.keys(definition.principals).length} principals (prefix "${prefix}")\n`);
  } finally {
    await admin.disconnect();
  }
}
