import { SluiceError } from '../errors.js';

/** The part of a kafkajs consumer that starts and stops fetching (its `pause`/`resume` take the same arguments). */
export interface FetchControl {
  pause(topicPartitions: { topic: string; partitions?: number[] }[]): void;
  resume(topicPartitions: { topic: string; partitions?: number[] }[]): void;
}

/**
 * The inputs one task has paused (flow control: `ProcessingContext.pauseInput`).
 * A pause belongs to the task: it changes when the task's partition is
 * fetched, never what is read, since an unfetched record stays in the log at
 * the consumer's position. `fetcher` returns the consumer while this task owns
 * the partition, undefined once it has been replaced (a new assignment or a
 * discarded task): a late call from a replaced task's handler must not pause
 * the partition under its new task, which would not know to resume it.
 */
export class TaskInputs {
  private readonly paused = new Set<string>();

  constructor(
    readonly partition: number,
    private readonly inputs: ReadonlySet<string>,
    private readonly fetcher: () => FetchControl | undefined,
  ) {}

  pause(topic: string): void {
    this.check(topic);
    if (this.paused.has(topic)) return;
    this.paused.add(topic);
    whileRunning(this.fetcher(), (control) => control.pause([{ topic, partitions: [this.partition] }]));
  }

  resume(topic: string): void {
    this.check(topic);
    if (!this.paused.delete(topic)) return;
    whileRunning(this.fetcher(), (control) => control.resume([{ topic, partitions: [this.partition] }]));
  }

  isPaused(topic: string): boolean {
    this.check(topic);
    return this.paused.has(topic);
  }

  get pausedTopics(): ReadonlySet<string> {
    return this.paused;
  }

  /**
   * Resumes fetching what this task paused, before it is dropped: the task
   * that replaces it (created when the partition's next batch arrives) starts
   * with every input flowing, and a partition whose inputs were all paused would
   * otherwise never deliver that batch.
   */
  release(): void {
    const topics = [...this.paused];
    this.paused.clear();
    if (topics.length > 0) whileRunning(this.fetcher(), (control) => control.resume(topics.map((topic) => ({ topic, partitions: [this.partition] }))));
  }

  private check(topic: string): void {
    if (!this.inputs.has(topic)) throw new SluiceError('UNKNOWN_INPUT', `${topic} is not an input of this processor`);
  }
}

/**
 * Pauses or resumes through a consumer unless it is between a crash and
 * kafkajs's restart of it. Then it has no group, and kafkajs's pause/resume
 * throw "Consumer group was not initialized" (a features service died of it,
 * uncaught, in a task discarded while the broker was down: broker-restart
 * integration test, 2026-12-02). Nothing is lost by skipping: the restarted
 * consumer fetches with a new subscription state, nothing paused, and its
 * join replaces every task (`resumeAllInputs`).
 */
function whileRunning(control: FetchControl | undefined, change: (control: FetchControl) => void): void {
  if (control === undefined) return;
  try {
    change(control);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith(NOT_RUNNING))) throw error;
  }
}

const NOT_RUNNING = 'Consumer group was not initialized';

/**
 * Resumes every partition of the inputs: a new assignment starts new tasks,
 * none of which has paused anything. kafkajs keeps its pauses across a rejoin
 * (ConsumerGroup's SubscriptionState survives joinAndSync; only a new run,
 * after a crash, starts a new one), including pauses of partitions it has just
 * been assigned back: left in place they would never be resumed.
 */
export function resumeAllInputs(control: FetchControl, inputs: Iterable<string>): void {
  control.resume([...inputs].map((topic) => ({ topic })));
}

/** Paused task inputs by topic (0 for an input none has paused), for `sluice_paused_inputs`. */
export function countPausedInputs(inputs: Iterable<string>, tasks: Iterable<TaskInputs>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const topic of inputs) counts.set(topic, 0);
  for (const task of tasks) for (const topic of task.pausedTopics) counts.set(topic, (counts.get(topic) ?? 0) + 1);
  return counts;
}
