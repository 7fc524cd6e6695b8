import { AssignerProtocol, type Cluster } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { CoPartitionAssigner } from '../src/co-partition-assigner.js';

const cluster = { findTopicPartitionMetadata: () => Array.from({ length: 6 }, (_, partitionId) => ({ partitionId })) } as unknown as Cluster;

async function assign(memberCount: number): Promise<Map<string, Record<string, number[]>>> {
  const assigner = CoPartitionAssigner({ cluster, groupId: 'g', logger: undefined as never });
  const members = Array.from({ length: memberCount }, (_, i) => ({ memberId: `m${i}`, memberMetadata: Buffer.alloc(0) }));
  const result = await assigner.assign({ members, topics: ['transactions', 'labels'] });
  return new Map(result.map(({ memberId, memberAssignment }) => [memberId, AssignerProtocol.MemberAssignment.decode(memberAssignment)!.assignment]));
}

describe('co-partitioning assigner', () => {
  it.each([1, 2, 3, 4, 5, 6, 7])('gives partition p of every topic to one member, and every partition to someone, with %i members', async (members) => {
    const assignment = await assign(members);
    const owners = new Map<number, Set<string>>();
    for (const [memberId, topics] of assignment) {
      for (const partitions of Object.values(topics)) for (const p of partitions) owners.set(p, (owners.get(p) ?? new Set()).add(memberId));
      expect(Object.keys(topics).length === 0 || (topics.transactions ?? []).join() === (topics.labels ?? []).join()).toBe(true);
    }
    expect([...owners.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const memberIds of owners.values()) expect(memberIds.size).toBe(1);
    expect(new Set([...owners.values()].map((ids) => [...ids][0])).size).toBe(Math.min(members, 6));
  });
});
