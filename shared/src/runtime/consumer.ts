import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { CoPartitionAssigner } from '../co-partition-assigner.js';

export interface ConsumerSettings {
  groupId: string;
  inputs: readonly string[];
  sessionTimeoutMs: number;
  partitionsConsumedConcurrently: number;
  /** Largest fetch per partition: a paused input still delivers what was fetched before the pause, up to this. */
  maxBytesPerPartition: number;
}

export interface ConsumerEvents {
  /** The group was joined with this assignment (first, again after a rebalance, or after a crash). */
  joined(consumer: Consumer, assignment: Record<string, number[]>): void;
  crashed(consumer: Consumer, error: Error, restart: boolean): void;
}

/**
 * The processor's consumer: read_committed, co-partitioned assignment
 * (partition p of every input to one member), offsets committed by the tasks'
 * transactions only (runConsumer).
 */
export function createConsumer(kafka: Kafka, settings: ConsumerSettings, events: ConsumerEvents): Consumer {
  const consumer = kafka.consumer({
    groupId: settings.groupId,
    readUncommitted: false,
    sessionTimeout: settings.sessionTimeoutMs,
    rebalanceTimeout: 60_000,
    maxBytesPerPartition: settings.maxBytesPerPartition,
    maxWaitTimeInMs: 100,
    partitionAssigners: [CoPartitionAssigner],
    retry: { retries: 8 },
  });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => events.joined(consumer, payload.memberAssignment));
  consumer.on(consumer.events.CRASH, ({ payload }) => events.crashed(consumer, payload.error, payload.restart));
  return consumer;
}

/** Connects, subscribes to the inputs and runs: each batch is resolved by its task (`eachBatch`), never automatically. */
export async function runConsumer(consumer: Consumer, settings: ConsumerSettings, eachBatch: (payload: EachBatchPayload) => Promise<void>): Promise<void> {
  await consumer.connect();
  await consumer.subscribe({ topics: [...settings.inputs], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: settings.partitionsConsumedConcurrently,
    eachBatch,
  });
}

export interface ReadinessState {
  running: boolean;
  crash: Error | undefined;
  joined: boolean;
  /** Partitions whose tasks are still being fenced and restored. */
  restoring: readonly number[];
  partitions: number;
  maxLag: number;
  readyMaxLag: number;
}

/** Whether the processor is ready, and why (or why not): a reason a person can read on /readyz. */
export function readiness(state: ReadinessState): { ready: boolean; reason: string } {
  if (!state.running) return { ready: false, reason: 'not running' };
  if (state.crash !== undefined) return { ready: false, reason: `consumer crashed, restarting: ${state.crash.message}` };
  if (!state.joined) return { ready: false, reason: 'waiting for a partition assignment' };
  if (state.restoring.length > 0) return { ready: false, reason: `restoring state of partitions ${state.restoring.join(',')}` };
  if (state.maxLag > state.readyMaxLag) return { ready: false, reason: `catching up: ${state.maxLag} messages behind (ready below ${state.readyMaxLag})` };
  return { ready: true, reason: `ready: ${state.partitions} partitions, max lag ${state.maxLag}` };
}
