import { setImmediate as nextTurnOfLoop, setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { ConsumerRecovery, exitingRecovery, type RecoveryPolicy } from './recovery.js';
import type { AvroSerde } from './serde.js';
import { createConsumer, readiness, runConsumer } from './runtime/consumer.js';
import type { InputDefinition, ProcessorDefinition } from './runtime/contract.js';
import { countPausedInputs, resumeAllInputs } from './runtime/input-pauses.js';
import { restoredTask, type ContextEnvironment } from './runtime/processing-context.js';
import { ProcessorMetrics, publishShare } from './runtime/processor-metrics.js';
import { batchLag, runBatches, runPunctuation, type TaskWorkSettings } from './runtime/task-work.js';
import { heldRanges, replayHeldRecords } from './runtime/held-replay.js';
import { createTask, inTurn, prepareTasks, type Task, type TaskSettings } from './runtime/tasks.js';

export type { InputDefinition, InputMessage, OutputOptions, ProcessingContext, ProcessorDefinition, ProcessorHandler, TaskInfo } from './runtime/contract.js';
export type { RestoredTask } from './runtime/contract.js';
export { headerValue } from './runtime/contract.js';
export { processedPosition } from './runtime/held-positions.js';
export * from './runtime/topology.js';

/**
 * Batches handled at once (kafkajs `partitionsConsumedConcurrently`): every task of a usual assignment (6 partitions
 * of two co-partitioned inputs). Each task has its own producer and a batch's time is mostly its transaction's round
 * trips, so tasks taking turns two at a time made a fetch round as long as six transactions in series, and each
 * event-time hop waits for a round of every upstream task (issue 13; bench:latency at 1,000 tx/s, steady state, with
 * the 20 ms back-off of tasks.ts: produce → score p50 / p99 1,598 / 2,666 → 1,215 / 2,251 ms; a 14-day replay, which
 * is CPU-bound, showed no clear change). A task's own batches still take turns (inTurn).
 */
const ALL_TASKS_AT_ONCE = 12;

/** A processor's definition (runtime/contract.ts) and how it runs on Kafka. */
export interface StreamProcessorOptions extends ProcessorDefinition {
  kafka: Kafka;
  serde: AvroSerde;
  logger: Logger;
  metrics: Registry;
  groupId: string;
  /** Transactional ids are `<prefix>-<partition>`: one producer per input partition, so a new owner fences a zombie. */
  transactionalIdPrefix: string;
  partitionsConsumedConcurrently?: number;
  /** Below this lag (messages) on every partition, the processor reports ready. */
  readyMaxLag?: number;
  sessionTimeoutMs?: number;
  /**
   * Largest fetch per input partition (default 1 MiB). A processor that pauses inputs to bound a buffer sets it
   * lower: a pause takes effect after what was already fetched, so the fetch is the overshoot.
   */
  maxBytesPerPartition?: number;
  /** How long a crashed consumer may take to come back, and how the service ends if it does not (ServiceRuntime.recovery). */
  recovery?: RecoveryPolicy;
}

/**
 * Exactly-once consume-transform-produce. Each input partition is a task with
 * its own transactional producer (`<prefix>-<partition>`), as in Kafka Streams'
 * first exactly-once mode: kafkajs's consumer cannot fence by group generation
 * (KIP-447), so the transactional id follows the partition and whoever owns the
 * partition next fences the previous owner when it initialises the producer.
 * A batch's outputs, its state changes (changelog) and its consumer offsets are
 * committed in one transaction; consumers read committed data only.
 *
 * This class runs the consumer, the assignment and the tasks' turns; the
 * parts are in runtime/: tasks (creation, fence, restore, committed
 * positions), task work (a batch or a punctuation, to its commit), the
 * processing context, the input decoder, the transaction writer, flow control
 * (input-pauses) and the metrics.
 */
export class StreamProcessor {
  private consumer?: Consumer;
  private admin?: Admin;
  private readonly tasks = new Map<number, Task>();
  /** Batches of a task handed over by kafkajs in this turn of the loop, to run in one transaction (handleBatch). */
  private readonly gathering = new Map<Task, { payloads: EachBatchPayload[]; done: Promise<void> }>();
  private readonly metrics: ProcessorMetrics;
  private readonly inputs: Map<string, InputDefinition>;
  private readonly lagByPartition = new Map<string, number>();
  private joined = false;
  private readonly partitionCounts = new Map<string, number>();
  private punctuationTimer: NodeJS.Timeout | undefined;
  private punctuating = false;
  /** A round of `wake` is in flight; another was asked for meanwhile, over these tasks. */
  private waking = false;
  private wakeAgain: 'all' | 'paused' | undefined;
  private readonly recovery: ConsumerRecovery;
  private running = false;
  /** This processor's share of sluice_paused_inputs, by topic: several processors of a service may count the same registry. */
  private readonly publishedPauses = new Map<string, number>();
  private readonly taskSettings: TaskSettings;
  private readonly taskWork: TaskWorkSettings;

  constructor(private readonly options: StreamProcessorOptions) {
    this.metrics = ProcessorMetrics.of(options.metrics);
    this.inputs = new Map(options.inputs.map((input) => [input.topic, input]));
    const environment: ContextEnvironment = {
      service: options.service,
      logger: options.logger,
      deadLetterTopicOf: (topic) => this.inputs.get(topic)?.deadLetterTopic,
      partitionCount: (topic) => this.partitionCounts.get(topic),
      sourcesTopic: options.inputs[0]!.topic,
      pausesChanged: () => this.updatePausedGauge(),
      deadLettered: (topic, code) => this.metrics.deadLetters.inc({ topic, code }),
    };
    this.taskWork = { definition: options, inputs: this.inputs, serde: options.serde, groupId: options.groupId, metrics: this.metrics, environment };
    this.taskSettings = { kafka: options.kafka, transactionalIdPrefix: options.transactionalIdPrefix, inputs: new Set(this.inputs.keys()), stores: options.stores ?? [] };
    this.recovery = new ConsumerRecovery({
      name: options.groupId,
      logger: options.logger,
      policy: options.recovery ?? exitingRecovery(options.logger),
      restart: () => this.restartConsumer(),
    });
  }

  async start(): Promise<void> {
    const { kafka, groupId, logger } = this.options;
    this.admin = kafka.admin();
    await this.admin.connect();
    this.running = true;
    await this.startConsumer();
    logger.info({ groupId, inputs: this.options.inputs.map((input) => input.topic) }, 'processor started');
  }

  private async startConsumer(): Promise<void> {
    const { kafka, groupId } = this.options;
    const settings = {
      groupId,
      inputs: [...this.inputs.keys()],
      sessionTimeoutMs: this.options.sessionTimeoutMs ?? 30_000,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? ALL_TASKS_AT_ONCE,
      maxBytesPerPartition: this.options.maxBytesPerPartition ?? 1024 * 1024,
    };
    // Events of a consumer already replaced by a restart are stale.
    const consumer = createConsumer(kafka, settings, {
      joined: (joined, assignment) => {
        if (this.consumer !== joined) return;
        // Joining again after a crash (restarted by kafkajs or by restartConsumer) means it recovered.
        this.recovery.joined();
        this.onAssignment(assignment);
      },
      crashed: (crashed, error, restart) => {
        if (this.consumer !== crashed || !this.running) return;
        this.joined = false;
        this.recovery.crashed(error, restart);
      },
    });
    this.consumer = consumer;
    await runConsumer(consumer, settings, (payload) => this.handleBatch(payload));
  }

  /**
   * A consumer kafkajs will not restart is replaced by a new one. Its tasks
   * are discarded first: their state may hold a batch that never committed,
   * so the next assignment restores it from the changelog, fencing as usual.
   */
  private async restartConsumer(): Promise<void> {
    if (!this.running) return;
    await this.consumer?.disconnect().catch(() => undefined);
    const previous = [...this.tasks.values()];
    this.tasks.clear();
    // The new consumer fetches every partition: kafkajs's pauses live in the consumer being replaced.
    this.updatePausedGauge();
    this.lagByPartition.clear();
    this.joined = false;
    await Promise.all(previous.map((task) => this.closeTask(task)));
    if (!this.running) return;
    this.options.logger.info({ groupId: this.options.groupId }, 'starting a new consumer');
    await this.startConsumer();
  }

  /** Leaves the group after the batch in flight has committed or aborted, then closes the producers. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.punctuationTimer);
    this.recovery.stop();
    await this.consumer?.disconnect();
    await Promise.all([...this.tasks.values()].map((task) => this.closeTask(task)));
    this.tasks.clear();
    this.updatePausedGauge();
    await this.admin?.disconnect();
  }

  /**
   * A consumer being restarted after a crash is still healthy: restarting the
   * process would not bring the broker back sooner. Past the recovery deadline
   * the service exits non-zero instead (RecoveryPolicy.giveUp).
   */
  healthy(): boolean {
    return this.running && !this.recovery.gaveUp;
  }

  readiness(): { ready: boolean; reason: string } {
    return readiness({
      running: this.running,
      crash: this.recovery.crash,
      joined: this.joined,
      restoring: [...this.tasks.values()].filter((task) => !task.isReady).map((task) => task.partition),
      partitions: this.tasks.size,
      maxLag: Math.max(0, ...this.lagByPartition.values()),
      readyMaxLag: this.options.readyMaxLag ?? 10_000,
    });
  }

  /** Read-only view of the state this instance holds (for metrics and tests). */
  storeEntries(name: string): number {
    let total = 0;
    for (const task of this.tasks.values()) total += task.stores.get(name)?.size ?? 0;
    return total;
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    const partitions = new Set<number>();
    for (const [topic, assigned] of Object.entries(assignment)) {
      if (this.inputs.has(topic)) for (const partition of assigned) partitions.add(partition);
    }
    this.joined = true;
    this.startPunctuation();
    this.metrics.rebalances.inc({ group: this.options.groupId });
    this.metrics.assignedPartitions.set({ group: this.options.groupId }, partitions.size);
    this.lagByPartition.clear();
    this.options.logger.info({ partitions: [...partitions].sort((a, b) => a - b) }, 'partitions assigned');
    // Another instance may have owned any of these partitions since we last did: start them afresh.
    const previous = [...this.tasks.values()];
    this.tasks.clear();
    const closed = Promise.all(previous.map((task) => this.closeTask(task)));
    const fresh = [...partitions].map((partition) => this.createTask(partition));
    for (const task of fresh) this.tasks.set(task.partition, task);
    // Called from the consumer's GROUP_JOIN, before it fetches for the new assignment.
    if (this.consumer !== undefined) resumeAllInputs(this.consumer, this.inputs.keys());
    this.updatePausedGauge();
    const prepared = closed.then(() => this.prepareTasks(fresh));
    for (const task of fresh) {
      task.ready = prepared.then(() => this.restored(task));
      task.ready.catch(() => undefined);
    }
  }

  /** The task's stores are restored and its held records read again: its first work may run. */
  private restored(task: Task): void {
    task.isReady = true;
  }

  /** The handler hears once that the task is gone (ProcessorHandler.onRevoked), if it heard that it was restored. */
  private revoked(task: Task): void {
    if (!task.heard || task.revoked) return;
    task.revoked = true;
    this.options.onRevoked?.(task.info);
  }

  private createTask(partition: number): Task {
    // The task's pauses reach the consumer while it owns the partition (TaskInputs).
    return createTask(this.taskSettings, partition, (task) => (this.tasks.get(partition) === task ? this.consumer : undefined));
  }

  /** Fences the previous owners, restores the stores, and seeks to the positions committed by then. */
  private async prepareTasks(tasks: Task[]): Promise<void> {
    if (tasks.length === 0) return;
    const { groupId, logger } = this.options;
    await this.loadPartitionCounts();
    const { restored, seconds, positions } = await prepareTasks(this.taskSettings, this.admin!, groupId, tasks, logger);
    if (this.taskSettings.stores.length > 0) {
      this.metrics.restoredRecords.inc({ group: groupId }, restored);
      this.metrics.restoreSeconds.observe({ group: groupId }, seconds);
      logger.info({ partitions: tasks.map((task) => task.partition), records: restored, seconds }, 'state restored');
      this.updateStateGauges();
    }
    // The handler hears of the restored stores before the task's first work (ProcessorHandler.onRestored), and is
    // handed the records it held in memory only before that (ProcessorHandler.heldInputs).
    for (const task of tasks) {
      this.options.onRestored?.(restoredTask(task, logger, Date.now()));
      task.heard = true;
    }
    const held = this.options.heldInputs;
    const ranges = held === undefined ? [] : heldRanges(positions);
    if (held !== undefined && ranges.length > 0) {
      const started = performance.now();
      const infos = new Map(tasks.map((task) => [task.partition, task.info]));
      const replayed = await replayHeldRecords(this.options.kafka, this.admin!, this.options.serde, this.inputs, ranges, infos, held, logger);
      logger.info({ partitions: tasks.map((task) => task.partition), records: replayed, seconds: (performance.now() - started) / 1000 }, 'held records read again');
    }
    for (const { topic, partition, processed } of positions) if (processed !== undefined) this.consumer?.seek({ topic, partition, offset: processed });
  }

  /** The in-memory state may hold a batch that did not commit: drop the task, so the batch is retried on state rebuilt from the changelog. */
  private async discardTask(task: Task, error: unknown, message: string): Promise<void> {
    if (this.tasks.get(task.partition) === task) {
      task.inputs.release();
      this.tasks.delete(task.partition);
      this.updatePausedGauge();
    }
    // Called in the task's turn, by the work that failed: nothing else of it is in flight.
    this.revoked(task);
    await this.closeTask(task);
    this.options.logger.warn({ err: error, partition: task.partition }, message);
  }

  private async closeTask(task: Task): Promise<void> {
    await task.ready.catch(() => undefined);
    // After the work in flight (unless discardTask, in the task's turn, has already told the handler).
    if (!task.revoked) await inTurn(task, async () => this.revoked(task));
    await task.producer.disconnect().catch(() => undefined);
  }

  private taskFor(partition: number): Task {
    let task = this.tasks.get(partition);
    if (!task) {
      // A batch can arrive before its assignment event has been handled.
      task = this.createTask(partition);
      this.tasks.set(partition, task);
      const created = task;
      task.ready = this.prepareTasks([task]).then(() => this.restored(created));
    }
    return task;
  }

  /**
   * kafkajs hands over the batches of one fetch together, a task's partition of each input among them (a
   * co-partitioned task: ingest's raw transactions and labels, the customer stage's, the learner join's). They are
   * gathered until the loop's next turn, when every batch of the fetch has arrived (kafkajs starts them all in one
   * go), and run in one transaction: one commit per task per fetch, not one per batch. The batches of a task took
   * turns, each with its own transaction, so a fetch round lasted two transactions in series and every record waited
   * for that round at each of those hops (issue 13, *Latency*).
   */
  private handleBatch(payload: EachBatchPayload): Promise<void> {
    const task = this.taskFor(payload.batch.partition);
    let gathering = this.gathering.get(task);
    if (gathering === undefined) {
      const payloads: EachBatchPayload[] = [];
      const done = (async () => {
        await nextTurnOfLoop();
        this.gathering.delete(task);
        await inTurn(task, () => this.processBatches(task, payloads));
      })();
      gathering = { payloads, done };
      this.gathering.set(task, gathering);
    }
    gathering.payloads.push(payload);
    return gathering.done;
  }

  private async processBatches(task: Task, payloads: readonly EachBatchPayload[]): Promise<void> {
    const [first] = payloads;
    if (first === undefined) return;
    // Restoring can outlast the session timeout: keep the membership alive while waiting.
    let restored = false;
    const ready = task.ready.then(() => (restored = true));
    while (!restored) {
      await Promise.race([ready, sleep(3_000)]);
      if (!restored) await first.heartbeat();
    }
    const current = payloads.filter(({ batch, isRunning, isStale }) => isRunning() && !isStale() && this.tasks.get(batch.partition) === task);
    if (current.length === 0) return;

    const timers = new Map(current.map(({ batch }) => [batch, this.metrics.batchSeconds.startTimer({ topic: batch.topic })]));
    // Fetched before the handler paused its input (before this fetch, or by a batch before it here): left unresolved,
    // kafkajs fetches it again from there once resumed.
    const outcome = await runBatches(
      this.taskWork,
      task,
      current.map(({ batch }) => batch),
      (topic) => task.inputs.isPaused(topic),
    );
    if (!outcome.ok) {
      await this.discardTask(task, outcome.error, outcome.reason);
      throw outcome.error;
    }
    for (const { batch, resolveOffset } of current) {
      if (!outcome.processed.includes(batch)) continue;
      timers.get(batch)!();
      resolveOffset(batch.lastOffset());
      const lag = batchLag(batch);
      this.lagByPartition.set(`${batch.topic}/${batch.partition}`, lag);
      this.metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, lag);
    }
    this.updateStateGauges();
    await first.heartbeat();
  }

  /** Partition counts of the inputs and watermark outputs, read once: watermarks go to every partition, from a source of known count. */
  private async loadPartitionCounts(): Promise<void> {
    const topics = [...this.inputs.keys(), ...(this.options.watermarkOutputs ?? [])].filter((topic) => !this.partitionCounts.has(topic));
    if (topics.length === 0) return;
    const metadata = await this.admin!.fetchTopicMetadata({ topics });
    for (const topic of metadata.topics) this.partitionCounts.set(topic.name, topic.partitions.length);
  }

  private startPunctuation(): void {
    const punctuate = this.options.punctuate;
    if (punctuate === undefined || this.punctuationTimer !== undefined) return;
    this.punctuationTimer = setInterval(() => {
      if (this.punctuating || !this.running) return;
      this.punctuating = true;
      const ready = [...this.tasks.values()].filter((task) => task.isReady);
      void Promise.all(ready.map((task) => this.punctuateTask(task, punctuate))).finally(() => (this.punctuating = false));
    }, punctuate.intervalMs);
    this.punctuationTimer.unref();
  }

  /**
   * Runs the punctuation now, on every ready task (`all`) or on those that have paused an input (`paused`): something
   * they wait for has moved outside their input (a reader's progress on an alignment board, the learner's progress
   * for fraud). Without it they would see it only at their next batch or punctuation. A paused task gets no batch,
   * and one that has become the slowest holds back the frontier every other task waits for: in a replay the whole
   * stage stood still until the next tick (features, 1 s: ingest + features replayed 92 days at 8,189 tx/s with
   * its inputs paused and the process half idle; 16,662 tx/s woken, issue 13). Rounds do not overlap: calls during
   * one run one more round after it (over all tasks if any call asked for all), so a burst costs at most two rounds.
   */
  wake(tasks: 'all' | 'paused'): void {
    const punctuate = this.options.punctuate;
    if (punctuate === undefined || !this.running) return;
    if (this.waking) {
      this.wakeAgain = this.wakeAgain === 'all' || tasks === 'all' ? 'all' : 'paused';
      return;
    }
    this.waking = true;
    void (async () => {
      try {
        for (let scope: 'all' | 'paused' | undefined = tasks; scope !== undefined && this.running; scope = this.wakeAgain) {
          this.wakeAgain = undefined;
          const woken = [...this.tasks.values()].filter((task) => task.isReady && (scope === 'all' || task.inputs.pausedTopics.size > 0));
          await Promise.all(woken.map((task) => this.punctuateTask(task, punctuate)));
        }
      } finally {
        this.waking = false;
      }
    })();
  }

  private punctuateTask(task: Task, punctuate: NonNullable<StreamProcessorOptions['punctuate']>): Promise<void> {
    return inTurn(task, async () => {
      if (!this.running || this.tasks.get(task.partition) !== task || !task.isReady) return;
      const outcome = await runPunctuation(this.taskWork, task, (context) => punctuate.run(context));
      // A fenced zombie lands here too; its task is discarded like any other whose work did not commit.
      if (!outcome.ok) await this.discardTask(task, outcome.error, outcome.reason);
    });
  }

  private updatePausedGauge(): void {
    publishShare(this.metrics.pausedInputs, this.publishedPauses, countPausedInputs(this.inputs.keys(), [...this.tasks.values()].map((task) => task.inputs)));
  }

  private updateStateGauges(): void {
    for (const definition of this.options.stores ?? []) this.metrics.stateEntries.set({ store: definition.name }, this.storeEntries(definition.name));
  }
}
