import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// kafkajs 2.2.4 kept a send's responses per broker across retries and sent again only to brokers without one. With
// a broker killed, the partitions it led moved to brokers that had answered the first attempt, and the retry skipped
// them: send() resolved without writing their messages, and a transaction committed without them (issue 15: 48 and
// 54 of 4,183 transactions never scored on a three-node cluster). It also retried while the other brokers' requests
// were in flight, sending their partitions again under new sequence numbers. patches/kafkajs+2.2.4.patch (applied on
// install) keeps what was delivered per partition and lets every request settle first; both tests fail without it.
const require = createRequire(import.meta.url);
const createSendMessages = require('kafkajs/src/producer/sendMessages.js') as (options: object) => (request: object) => Promise<{ topicName: string; partition: number }[]>;
const createRetry = require('kafkajs/src/retry/index.js') as (options: object) => object;

interface Message {
  value: string;
  partition: number;
}

/** One broker's behaviour in one attempt of the send: answer after `delayMs`, or fail with a connection error. */
interface Reply {
  fails: boolean;
  delayMs: number;
}

const TOPIC = 't';
const PARTITIONS = 6;

/**
 * A cluster of `nodes` brokers that keep a log per partition and drop a batch whose first sequence they have
 * already written (as a Kafka leader does for an idempotent producer, the producer state being replicated).
 * Each attempt, brokers answer as `replies` says; after a failed attempt (metadata refreshed), leadership moves
 * as `moves` says, the way the controller moves a dead broker's partitions to the surviving replicas.
 */
function simulatedCluster(nodes: number, replies: Reply[][], moves: number[][]) {
  const leaders = Array.from({ length: PARTITIONS }, (_, partition) => 1 + (partition % nodes));
  const logs = Array.from({ length: PARTITIONS }, () => [] as string[]);
  const sequences = new Map<number, number>();
  let attempt = 0;
  let refreshes = 0;
  const broker = (nodeId: number) => ({
    nodeId,
    async produce({ topicData }: { topicData: { topic: string; partitions: { partition: number; firstSequence: number; messages: Message[] }[] }[] }) {
      const reply = replies[Math.min(attempt, replies.length - 1)]![nodeId - 1]!;
      await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      if (reply.fails) throw Object.assign(new Error(`Connection error: connect ECONNREFUSED node ${nodeId}`), { name: 'KafkaJSConnectionError', retriable: true });
      for (const { partitions } of topicData) {
        for (const { partition, firstSequence, messages } of partitions) {
          if (leaders[partition] !== nodeId) throw new Error(`node ${nodeId} does not lead partition ${partition}`);
          if (firstSequence < logs[partition]!.length) continue; // a duplicate of a batch already written
          if (firstSequence > logs[partition]!.length) throw new Error(`out of order sequence on ${partition}`);
          logs[partition]!.push(...messages.map((message) => message.value));
        }
      }
      return { topics: topicData.map(({ topic, partitions }) => ({ topicName: topic, partitions: partitions.map(({ partition }) => ({ partition, errorCode: 0, baseOffset: '0' })) })) };
    },
  });
  const brokers = Array.from({ length: nodes }, (_, index) => broker(index + 1));
  const cluster = {
    targetTopics: new Set<string>(),
    async refreshMetadataIfNecessary() {},
    async refreshMetadata() {
      const move = moves[refreshes++] ?? [];
      move.forEach((leader, partition) => (leaders[partition] = leader));
      attempt += 1;
    },
    async addMultipleTargetTopics() {},
    async connect() {},
    isConnected: () => true,
    removeBroker() {},
    findTopicPartitionMetadata: () => leaders.map((leader, partitionId) => ({ partitionId, leader })),
    findLeaderForPartitions(_topic: string, partitions: string[]) {
      const result: Record<number, number[]> = {};
      for (const id of partitions) (result[leaders[Number(id)]!] ??= []).push(Number(id));
      return result;
    },
    findBroker: async ({ nodeId }: { nodeId: string }) => brokers[Number(nodeId) - 1]!,
  };
  const eosManager = {
    isTransactional: () => false,
    getProducerId: () => 1,
    getProducerEpoch: () => 0,
    getSequence: (_topic: string, partition: number) => sequences.get(partition) ?? 0,
    updateSequence: (_topic: string, partition: number, increment: number) => sequences.set(partition, (sequences.get(partition) ?? 0) + increment),
    async acquireBrokerLock() {},
    async releaseBrokerLock() {},
  };
  const silent = { debug() {}, error() {} };
  const send = createSendMessages({
    logger: silent,
    cluster,
    partitioner: ({ message }: { message: Message }) => message.partition,
    eosManager,
    retrier: createRetry({ initialRetryTime: 1, maxRetryTime: 5, retries: 20, factor: 0 }),
  });
  return { send: (messages: Message[]) => send({ acks: -1, timeout: 1000, topicMessages: [{ topic: TOPIC, messages }] }), logs };
}

const messagesOver = (count: number): Message[] => Array.from({ length: count }, (_, index) => ({ value: `m${index}`, partition: index % PARTITIONS }));
const ok: Reply = { fails: false, delayMs: 0 };

describe('kafkajs send retried while a broker dies and its partitions move (patched)', () => {
  it('writes the dead broker’s partitions to their new leaders, which had answered the first attempt', async () => {
    // Node 2 leads partitions 1 and 4 and is down; after the failure, they move to nodes 1 and 3.
    const cluster = simulatedCluster(3, [[ok, { fails: true, delayMs: 0 }, ok], [ok, ok, ok]], [[1, 1, 3, 1, 3, 3]]);
    const messages = messagesOver(60);
    const acknowledged = await cluster.send(messages);
    expect(cluster.logs.flat().sort()).toEqual(messages.map((message) => message.value).sort());
    expect(new Set(acknowledged.map(({ partition }) => partition))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
  });

  it('writes every message exactly once, whichever brokers fail, however slowly the others answer and wherever leaders move', async () => {
    const reply = fc.record({ fails: fc.boolean(), delayMs: fc.integer({ min: 0, max: 3 }) });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(reply, reply, reply), { minLength: 1, maxLength: 4 }),
        fc.array(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: PARTITIONS, maxLength: PARTITIONS }), { maxLength: 4 }),
        fc.integer({ min: 1, max: 40 }),
        async (attempts, moves, count) => {
          // The last attempt succeeds everywhere, so the send must complete.
          const cluster = simulatedCluster(3, [...attempts, [ok, ok, ok]], moves);
          const messages = messagesOver(count);
          await cluster.send(messages);
          for (let partition = 0; partition < PARTITIONS; partition++) {
            expect(cluster.logs[partition]).toEqual(messages.filter((message) => message.partition === partition).map((message) => message.value));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
