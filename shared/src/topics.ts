import type { Admin, ITopicConfig } from 'kafkajs';
import type { CommonConfig } from './config.js';
import { SluiceError } from './errors.js';
import { retrying } from './retry.js';

const DAY_MS = 86_400_000;

/** The logical topics of the pipeline, with their default names (design.md). */
export const topicDefaults = {
  transactionsRaw: 'transactions.raw',
  labelsRaw: 'labels.raw',
  transactionsValid: 'transactions.valid',
  labelsValid: 'labels.valid',
  transactionsDlq: 'transactions.dlq',
  labelsDlq: 'labels.dlq',
  transactionsByTerminal: 'transactions.by-terminal',
  transactionsFeatures: 'transactions.features',
  learnerExamples: 'learner.examples',
  modelUpdates: 'model.updates',
  modelDlq: 'model.dlq',
  fraudScores: 'fraud.scores',
  fraudAlerts: 'fraud.alerts',
} as const;

export type TopicRole = keyof typeof topicDefaults;
export type TopicNames = Record<TopicRole, string>;

export interface TopicDeclaration {
  name: string;
  partitions: number;
  cleanupPolicy: 'delete' | 'compact';
  retentionMs?: number;
}

/** Topic names with the deployment's prefix applied (SLUICE_TOPIC_PREFIX isolates tenants and test runs). */
export function topicNames(prefix: string): TopicNames {
  const names = {} as TopicNames;
  for (const [role, name] of Object.entries(topicDefaults) as [TopicRole, string][]) names[role] = `${prefix}${name}`;
  return names;
}

/** A service's state changelog: compacted, partitioned like the input it shadows (runtime/topology.ts declares them). */
export function changelogTopic(prefix: string, service: string, store: string): string {
  return `${prefix}sluice.${service}.${store}.changelog`;
}

export type TopicsConfig = Pick<CommonConfig, 'SLUICE_TOPIC_PREFIX' | 'TOPIC_PARTITIONS'>;

/**
 * The topics services exchange records on, declared once: partitions,
 * clean-up and retention. A service's own state topics are not here: its
 * topology (runtime/topology.ts) derives them.
 */
export function contractTopics(config: TopicsConfig): TopicDeclaration[] {
  const names = topicNames(config.SLUICE_TOPIC_PREFIX);
  const partitions = config.TOPIC_PARTITIONS;
  const stream = (name: string, retentionDays: number): TopicDeclaration => ({
    name,
    partitions,
    cleanupPolicy: 'delete',
    retentionMs: retentionDays * DAY_MS,
  });
  return [
    stream(names.transactionsRaw, 7),
    stream(names.labelsRaw, 7),
    stream(names.transactionsValid, 30),
    stream(names.labelsValid, 30),
    stream(names.transactionsDlq, 30),
    stream(names.labelsDlq, 30),
    // Examples the training stage cannot decode or learn from (the learner's dead letters of learner.examples).
    stream(names.modelDlq, 30),
    stream(names.transactionsByTerminal, 7),
    stream(names.transactionsFeatures, 30),
    // One partition: the learner's models are trained by whichever instance owns partition 0.
    { name: names.learnerExamples, partitions: 1, cleanupPolicy: 'delete', retentionMs: 30 * DAY_MS },
    // The model history is a single ordered log every fraud instance reads whole.
    { name: names.modelUpdates, partitions: 1, cleanupPolicy: 'compact' },
    stream(names.fraudScores, 30),
    stream(names.fraudAlerts, 30),
  ];
}

/**
 * Creates the missing topics (existing ones are left as they are) and returns
 * once every partition of every declared topic answers ListOffsets from its
 * leader. Safe to call from every service at start-up: when several create
 * the same topics at once, some requests fail with "already exists" while the
 * broker's metadata still lags, so the whole check is repeated before giving up.
 */
export async function ensureTopics(admin: Admin, declarations: TopicDeclaration[], replicationFactor: number, attempts = 10): Promise<string[]> {
  // Topics this call created, also in an attempt that failed later (the retry then finds them existing).
  const created: string[] = [];
  await retrying(
    async () => {
      const existing = new Set(await admin.listTopics());
      const missing: ITopicConfig[] = declarations
        .filter((topic) => !existing.has(topic.name))
        .map((topic) => ({
          topic: topic.name,
          numPartitions: topic.partitions,
          replicationFactor,
          configEntries: [
            { name: 'cleanup.policy', value: topic.cleanupPolicy },
            ...(topic.retentionMs === undefined ? [] : [{ name: 'retention.ms', value: String(topic.retentionMs) }]),
          ],
        }));
      if (missing.length > 0) {
        // False when another service created some of them first: then none is claimed.
        if (await admin.createTopics({ topics: missing, waitForLeaders: true })) created.push(...missing.map((topic) => topic.topic));
      }
      // Topics another service has just created may have no leader yet, and in KRaft the metadata names a leader a
      // moment before that broker serves the partition (a fraud instance reading model.updates met NOT_LEADER_OR_FOLLOWER
      // with a leader in the metadata). ListOffsets is what readers do first, so it is the check.
      await Promise.all(
        declarations.map((topic) =>
          admin.fetchTopicOffsets(topic.name).catch((error: unknown) => {
            throw new SluiceError('TOPICS_NOT_READY', `${topic.name} does not answer ListOffsets yet: ${error instanceof Error ? error.message : String(error)}`);
          }),
        ),
      );
    },
    { attempts, delayMs: (attempt) => 300 * attempt },
  );
  return created;
}
