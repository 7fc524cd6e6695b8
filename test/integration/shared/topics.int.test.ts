import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { ensureTopics } from '@sluice/shared';
import { uniquePrefix } from '../../support/kafka.js';
import { pipelineTopics } from '../../../tools/cli/src/pipeline-topology.js';

describe('ensureTopics against the real broker', () => {
  it('returns to each of four services creating the same topics at once only when every partition serves ListOffsets', async () => {
    const declarations = pipelineTopics({ SLUICE_TOPIC_PREFIX: uniquePrefix('topics'), TOPIC_PARTITIONS: 6 });
    // No client-side retries: the first ListOffsets after ensureTopics must succeed, as a service's first read does.
    const kafka = new Kafka({ clientId: 'sluice-topics-test', brokers: inject('kafkaBrokers').split(','), logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const services = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const admin = new Kafka({ clientId: 'sluice-topics-service', brokers: inject('kafkaBrokers').split(','), logLevel: logLevel.NOTHING }).admin();
        await admin.connect();
        try {
          const created = await ensureTopics(admin, declarations, 1);
          const reader = kafka.admin();
          await reader.connect();
          try {
            const offsets = await Promise.all(declarations.map((topic) => reader.fetchTopicOffsets(topic.name)));
            return { created, partitions: offsets.map((topic) => topic.length) };
          } finally {
            await reader.disconnect();
          }
        } finally {
          await admin.disconnect();
        }
      }),
    );
    const expectedPartitions = declarations.map((topic) => topic.partitions);
    for (const service of services) expect(service.partitions).toEqual(expectedPartitions);
    // What each reports as created it did create: no topic is claimed twice.
    const claimed = services.flatMap((service) => service.created);
    expect(new Set(claimed).size).toBe(claimed.length);
  });
});
