import { featuresTopology } from '@sluice/features/topology';
import { fraudTopology } from '@sluice/fraud/topology';
import { ingestTopology } from '@sluice/ingest/topology';
import { learnerTopology } from '@sluice/learner/topology';
import { SluiceError } from '@sluice/shared/errors';
import type { TopicDeclaration, Topology, TopicsConfig } from '@sluice/shared/topology';

/** The four services' topologies, as each declares its own (services/<name>/src/topology.ts). */
export function pipelineTopologies(config: TopicsConfig): Topology[] {
  return [ingestTopology(config), featuresTopology(config), learnerTopology(config), fraudTopology(config)];
}

/**
 * Every topic of the pipeline, the union of what the services declare: what
 * an administrator creates before services that may not create topics start
 * (deploy/README.md), and what the benches and integration tests create. Two
 * services that declare one topic differently are a contract error.
 */
export function pipelineTopics(config: TopicsConfig): TopicDeclaration[] {
  const byName = new Map<string, TopicDeclaration>();
  for (const topology of pipelineTopologies(config)) {
    for (const topic of topology.topics) {
      const known = byName.get(topic.name);
      if (known !== undefined && JSON.stringify(known) !== JSON.stringify(topic)) {
        throw new SluiceError('CONFIG_INVALID', `${topology.service} declares ${topic.name} as ${JSON.stringify(topic)}, another service as ${JSON.stringify(known)}`);
      }
      byName.set(topic.name, topic);
    }
  }
  return [...byName.values()];
}
