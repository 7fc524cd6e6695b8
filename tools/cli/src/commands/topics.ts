import { ensureTopics } from '@sluice/shared';
import { connect } from '../connection.js';
import { pipelineTopics } from '../pipeline-topology.js';

/**
 * The pipeline's topics with partitions and end offsets, and every consumer
 * group's lag on them. `create`: first creates the missing ones, as the
 * services would (for clusters where they may not create topics).
 */
export async function topicsCommand(options: { json: boolean; create: boolean }): Promise<void> {
  const connection = connect();
  const admin = connection.kafka.admin();
  await admin.connect();
  try {
    if (options.create) {
      const created = await ensureTopics(admin, pipelineTopics(connection.config), connection.config.TOPIC_REPLICATION_FACTOR);
      process.stderr.write(`${created.length} topics created${created.length > 0 ? `: ${created.join(', ')}` : ''}\n`);
    }
    const prefix = connection.config.SLUICE_TOPIC_PREFIX;
    const names = (await admin.listTopics()).filter((name) => !name.startsWith('__') && name.startsWith(prefix)).sort();
    const rows: { topic: string; partitions: number; messages: number; lag: Record<string, number> }[] = [];
    const groups = (await admin.listGroups()).groups.map((group) => group.groupId).filter((id) => id.startsWith(`${prefix}sluice-`));
    const groupOffsets = new Map<string, Awaited<ReturnType<typeof admin.fetchOffsets>>>();
    for (const groupId of groups) groupOffsets.set(groupId, await admin.fetchOffsets({ groupId, topics: names }));
    for (const topic of names) {
      const offsets = await admin.fetchTopicOffsets(topic);
      const ends = new Map(offsets.map((offset) => [offset.partition, Number(offset.high)]));
      const lag: Record<string, number> = {};
      for (const [groupId, topicsOffsets] of groupOffsets) {
        const committed = topicsOffsets.find((entry) => entry.topic === topic);
        if (!committed || committed.partitions.every((partition) => partition.offset === '-1')) continue;
        lag[groupId] = committed.partitions.reduce((sum, partition) => sum + Math.max(0, (ends.get(partition.partition) ?? 0) - Math.max(0, Number(partition.offset))), 0);
      }
      rows.push({ topic, partitions: offsets.length, messages: offsets.reduce((sum, offset) => sum + Number(offset.high) - Number(offset.low), 0), lag });
    }
    if (options.json) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return;
    }
    const width = Math.max(5, ...rows.map((row) => row.topic.length));
    process.stdout.write(`${'TOPIC'.padEnd(width)}  PARTITIONS  MESSAGES  LAG (consumer group)\n`);
    for (const row of rows) {
      const lag = Object.entries(row.lag).map(([group, value]) => `${value} (${group})`).join(', ');
      process.stdout.write(`${row.topic.padEnd(width)}  ${String(row.partitions).padStart(10)}  ${String(row.messages).padStart(8)}  ${lag}\n`);
    }
  } finally {
    await admin.disconnect();
  }
}
