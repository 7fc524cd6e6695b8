import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaskInputs, countPausedInputs, resumeAllInputs, type FetchControl } from '../../src/runtime/input-pauses.js';

// kafkajs's own record of paused partitions (what its fetch loop consults): the tests drive the real one.
const require = createRequire(import.meta.url);
const SubscriptionState = require('kafkajs/src/consumer/subscriptionState.js') as new () => FetchControl & {
  assign(topicPartitions: { topic: string; partitions: number[] }[]): void;
  isPaused(topic: string, partition: number): boolean;
  paused(): { topic: string; partitions: number[] }[];
};

const inputs = new Set(['tx', 'labels']);

function setUp(partitions: number[]) {
  const state = new SubscriptionState();
  state.assign([...inputs].map((topic) => ({ topic, partitions })));
  const owners = new Map<number, TaskInputs>();
  const taskFor = (partition: number) => {
    const task: TaskInputs = new TaskInputs(partition, inputs, () => (owners.get(partition) === task ? state : undefined));
    owners.set(partition, task);
    return task;
  };
  return { state, owners, taskFor };
}

describe('TaskInputs', () => {
  it("pauses and resumes only its own partition of the input, in kafkajs's fetch state", () => {
    const { state, taskFor } = setUp([0, 1]);
    const zero = taskFor(0);
    taskFor(1);
    zero.pause('labels');
    expect(zero.isPaused('labels')).toBe(true);
    expect(zero.isPaused('tx')).toBe(false);
    expect(state.paused()).toEqual([{ topic: 'labels', partitions: [0] }]);
    zero.resume('labels');
    expect(zero.isPaused('labels')).toBe(false);
    expect(state.paused()).toEqual([]);
  });

  it('refuses a topic that is not an input, with a code', () => {
    const { taskFor } = setUp([0]);
    expect(() => taskFor(0).pause('elsewhere')).toThrow(expect.objectContaining({ code: 'UNKNOWN_INPUT' }));
  });

  it('a replaced task no longer pauses the partition under its successor', () => {
    const { state, taskFor } = setUp([0]);
    const old = taskFor(0);
    const successor = taskFor(0);
    old.pause('tx');
    expect(old.isPaused('tx')).toBe(true);
    expect(successor.isPaused('tx')).toBe(false);
    expect(state.isPaused('tx', 0)).toBe(false);
  });

  it('release resumes what the task paused, so the task that replaces it is fetched', () => {
    const { state, owners, taskFor } = setUp([0, 1]);
    const zero = taskFor(0);
    const one = taskFor(1);
    zero.pause('tx');
    zero.pause('labels');
    one.pause('tx');
    zero.release();
    owners.delete(0);
    expect(zero.pausedTopics.size).toBe(0);
    expect(state.paused()).toEqual([{ topic: 'tx', partitions: [1] }]);
  });

  it('pauses, resumes and releases through a consumer between a crash and its restart without throwing', () => {
    // A kafkajs consumer whose run has not started (or was stopped by a crash) has no group: its pause and resume throw.
    const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
    const consumer = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING }).consumer({ groupId: 'g' });
    expect(() => consumer.resume([{ topic: 'tx', partitions: [0] }])).toThrow('Consumer group was not initialized');
    const task = new TaskInputs(0, inputs, () => consumer);
    task.pause('tx');
    task.pause('labels');
    task.resume('labels');
    expect([...task.pausedTopics]).toEqual(['tx']);
    task.release();
    expect(task.pausedTopics.size).toBe(0);
  });

  it('still throws what else the consumer throws', () => {
    const failing: FetchControl = {
      pause: () => {
        throw new Error('Invalid topic');
      },
      resume: () => undefined,
    };
    expect(() => new TaskInputs(0, inputs, () => failing).pause('tx')).toThrow('Invalid topic');
  });
});

describe('resumeAllInputs', () => {
  it("clears pauses kafkajs would keep across a rejoin, including partitions assigned back to this member", () => {
    const { state, taskFor } = setUp([0, 1, 2]);
    taskFor(0).pause('tx');
    taskFor(2).pause('labels');
    // A rejoin: kafkajs replaces the assignment but keeps its paused set (partition 0 leaves, then comes back).
    state.assign([...inputs].map((topic) => ({ topic, partitions: [1, 2] })));
    state.assign([...inputs].map((topic) => ({ topic, partitions: [0, 1, 2] })));
    expect(state.paused()).toEqual([
      { topic: 'tx', partitions: [0] },
      { topic: 'labels', partitions: [2] },
    ]);
    resumeAllInputs(state, inputs);
    expect(state.paused()).toEqual([]);
    for (const partition of [0, 1, 2]) for (const topic of inputs) expect(state.isPaused(topic, partition)).toBe(false);
  });
});

describe('countPausedInputs', () => {
  it('counts each paused input of each task, 0 for an input none has paused', () => {
    const { taskFor } = setUp([0, 1]);
    const zero = taskFor(0);
    const one = taskFor(1);
    zero.pause('tx');
    one.pause('tx');
    expect(countPausedInputs(inputs, [zero, one])).toEqual(new Map([['tx', 2], ['labels', 0]]));
  });

  it("agrees with kafkajs's paused partitions after any sequence of pauses, resumes and releases (brute force)", () => {
    const step = fc.record({ kind: fc.constantFrom('pause', 'resume', 'release', 'replace'), partition: fc.integer({ min: 0, max: 2 }), topic: fc.constantFrom(...inputs) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const { state, owners, taskFor } = setUp([0, 1, 2]);
        for (const partition of [0, 1, 2]) taskFor(partition);
        for (const { kind, partition, topic } of steps) {
          const task = owners.get(partition)!;
          if (kind === 'pause') task.pause(topic);
          else if (kind === 'resume') task.resume(topic);
          else if (kind === 'release') task.release();
          else {
            // A discarded task: released, then replaced by a fresh one (as the processor does).
            task.release();
            taskFor(partition);
          }
        }
        const counts = countPausedInputs(inputs, owners.values());
        for (const topic of inputs) {
          const pausedInKafkajs = [0, 1, 2].filter((partition) => state.isPaused(topic, partition)).length;
          expect(counts.get(topic)).toBe(pausedInKafkajs);
          for (const [partition, task] of owners) expect(task.isPaused(topic)).toBe(state.isPaused(topic, partition));
        }
      }),
    );
  });
});
