import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Gives partition p of every subscribed topic to the same member
 * (sorted members, p mod n). A processor's inputs are co-partitioned
 * (transactions and labels of the same customer share partition p) and
 * partition p has one task: one store, one transactional id. kafkajs's
 * round-robin assigner deals out all topic-partitions in turn, which keeps
 * p of both topics together only when the member count divides the
 * partition count; with 4 instances on 6 partitions two members would own
 * p and fence each other.
 */
export const CoPartitionAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'SluiceCoPartitionAssigner',
  version: 0,
  async assign({ members, topics }) {
    const sortedMembers = members.map(({ memberId }) => memberId).sort();
    const assignment = new Map<string, Record<string, number[]>>(sortedMembers.map((memberId) => [memberId, {}]));
    for (const topic of topics) {
      for (const { partitionId } of cluster.findTopicPartitionMetadata(topic)) {
        const owned = assignment.get(sortedMembers[partitionId % sortedMembers.length]!)!;
        (owned[topic] ??= []).push(partitionId);
      }
    }
    return [...assignment].map(([memberId, owned]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: owned, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: 'SluiceCoPartitionAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
