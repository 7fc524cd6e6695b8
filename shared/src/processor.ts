import { setTimeout as sleep } from 'node:timers/promises';
import {
  Partitioners,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type Message,
  type Producer,
} from 'kafkajs';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CoPartitionAssigner } from './co-partition-assigner.js';
import { SluiceError } from './errors.js';
import { ConsumerRecovery, exitingRecovery, type RecoveryPolicy } from './recovery.js';
import { retrying } from './retry.js';
import type { Logger } from './logger.js';
import type { AvroSerde } from './serde.js';
import { WATERMARK_HEADER } from './event-time/watermark.js';
import { PartitionStore, restoreChangelogs, type ChangelogRecord } from './state-store.js';
import { TaskInputs, countPausedInputs, resumeAllInputs } from './runtime/input-pauses.js';
import type { InputDefinition, InputMessage, ProcessingContext, ProcessorDefinition } from './runtime/contract.js';
import { openContext, processOne, readWatermark, type ContextEnvironment, type QueuedOutput } from './runtime/processing-context.js';

export type { InputDefinition, InputMessage, OutputOptions, ProcessingContext, ProcessorDefinition, ProcessorHandler, TaskInfo } from './runtime/contract.js';
export { headerValue } from './runtime/contract.js';

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
  /** How long a crashed consumer may take to come back, and how the service ends if it does not (ServiceRuntime.recovery). */
  recovery?: RecoveryPolicy;
}

interface Task {
  partition: number;
  info: { partition: number; lagAtAssignment: Map<string, number> };
  producer: Producer;
  stores: Map<string, PartitionStore<unknown>>;
  /** The inputs this task has paused. */
  inputs: TaskInputs;
  ready: Promise<void>;
  isReady: boolean;
  /** Settles when the batch in flight on this task has committed or aborted. */
  turn: Promise<void>;
}

class ProcessorMetrics {
  readonly consumed: Counter<'topic' | 'outcome'>;
  readonly produced: Counter<'topic'>;
  readonly deadLetters: Counter<'topic' | 'code'>;
  readonly batchSeconds: Histogram<'topic'>;
  readonly transactions: Counter<'group' | 'outcome'>;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly restoreSeconds: Histogram<'group'>;
  readonly restoredRecords: Counter<'group'>;
  readonly stateEntries: Gauge<'store'>;
  readonly rebalances: Counter<'group'>;
  readonly assignedPartitions: Gauge<'group'>;
  readonly watermarkRecords: Counter<'topic' | 'direction'>;
  readonly pausedInputs: Gauge<'topic'>;

  private static readonly byRegistry = new WeakMap<Registry, ProcessorMetrics>();

  /** One set per registry: a service may run several processors (e.g. two stages), each labelling by its own topics and group. */
  static of(registry: Registry): ProcessorMetrics {
    let metrics = ProcessorMetrics.byRegistry.get(registry);
    if (metrics === undefined) {
      metrics = new ProcessorMetrics(registry);
      ProcessorMetrics.byRegistry.set(registry, metrics);
    }
    return metrics;
  }

  private constructor(registry: Registry) {
    const registers = [registry];
    this.consumed = new Counter({ name: 'sluice_messages_consumed_total', help: 'Input messages handled, by topic and outcome.', labelNames: ['topic', 'outcome'], registers });
    this.produced = new Counter({ name: 'sluice_messages_produced_total', help: 'Output messages committed, by topic.', labelNames: ['topic'], registers });
    this.deadLetters = new Counter({ name: 'sluice_dead_letters_total', help: 'Messages sent to a dead-letter topic, by source topic and error code.', labelNames: ['topic', 'code'], registers });
    this.batchSeconds = new Histogram({
      name: 'sluice_batch_processing_seconds',
      help: 'Time to process and commit one batch of one partition.',
      labelNames: ['topic'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.transactions = new Counter({ name: 'sluice_kafka_transactions_total', help: 'Kafka transactions, by consumer group and outcome.', labelNames: ['group', 'outcome'], registers });
    this.lag = new Gauge({ name: 'sluice_consumer_lag_messages', help: 'Messages behind the end of each input partition, as of the last batch.', labelNames: ['topic', 'partition'], registers });
    this.restoreSeconds = new Histogram({ name: 'sluice_state_restore_seconds', help: 'Time to restore state from changelogs after an assignment, by consumer group.', labelNames: ['group'], buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers });
    this.restoredRecords = new Counter({ name: 'sluice_state_restored_records_total', help: 'Changelog records read while restoring state, by consumer group.', labelNames: ['group'], registers });
    this.stateEntries = new Gauge({ name: 'sluice_state_entries', help: 'Entries held in memory, by store.', labelNames: ['store'], registers });
    this.rebalances = new Counter({ name: 'sluice_rebalances_total', help: 'Consumer group assignments received, by consumer group.', labelNames: ['group'], registers });
    this.assignedPartitions = new Gauge({ name: 'sluice_assigned_partitions', help: 'Input partitions this instance owns, by consumer group.', labelNames: ['group'], registers });
    this.watermarkRecords = new Counter({
      name: 'sluice_watermark_records_total',
      help: 'Watermark records (event-time progress, no data) written and read, by topic and direction; not in the message counters.',
      labelNames: ['topic', 'direction'],
      registers,
    });
    this.pausedInputs = new Gauge({ name: 'sluice_paused_inputs', help: 'Task inputs paused by their handler (flow control), by topic.', labelNames: ['topic'], registers });
  }
}

/**
 * Exactly-once consume-transform-produce. Each input partition is a task with
 * its own transactional producer (`<prefix>-<partition>`), as in Kafka Streams'
 * first exactly-once mode: kafkajs's consumer cannot fence by group generation
 * (KIP-447), so the transactional id follows the partition and whoever owns the
 * partition next fences the previous owner when it initialises the producer.
 * A batch's outputs, its state changes (changelog) and its consumer offsets are
 * committed in one transaction; consumers read committed data only.
 */
export class StreamProcessor {
  private consumer?: Consumer;
  private admin?: Admin;
  private readonly tasks = new Map<number, Task>();
  private readonly metrics: ProcessorMetrics;
  private readonly inputs: Map<string, InputDefinition>;
  private readonly lagByPartition = new Map<string, number>();
  private joined = false;
  private readonly partitionCounts = new Map<string, number>();
  private punctuationTimer: NodeJS.Timeout | undefined;
  private punctuating = false;
  private readonly recovery: ConsumerRecovery;
  private running = false;
  /** This processor's share of sluice_paused_inputs, by topic: several processors of a service may count the same registry. */
  private readonly publishedPauses = new Map<string, number>();
  private readonly contextEnvironment: ContextEnvironment;

  constructor(private readonly options: StreamProcessorOptions) {
    this.metrics = ProcessorMetrics.of(options.metrics);
    this.inputs = new Map(options.inputs.map((input) => [input.topic, input]));
    this.contextEnvironment = {
      service: options.service,
      logger: options.logger,
      deadLetterTopicOf: (topic) => this.inputs.get(topic)?.deadLetterTopic,
      partitionCount: (topic) => this.partitionCounts.get(topic),
      sourcesTopic: options.inputs[0]!.topic,
      pausesChanged: () => this.updatePausedGauge(),
      deadLettered: (topic, code) => this.metrics.deadLetters.inc({ topic, code }),
    };
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
    const consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      rebalanceTimeout: 60_000,
      maxBytesPerPartition: 1024 * 1024,
      maxWaitTimeInMs: 100,
      partitionAssigners: [CoPartitionAssigner],
      retry: { retries: 8 },
    });
    this.consumer = consumer;
    // Events of a consumer already replaced by a restart are stale.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (this.consumer !== consumer) return;
      // Joining again after a crash (restarted by kafkajs or by restartConsumer) means it recovered.
      this.recovery.joined();
      this.onAssignment(payload.memberAssignment);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.consumer !== consumer || !this.running) return;
      this.joined = false;
      this.recovery.crashed(payload.error, payload.restart);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.options.inputs.map((input) => input.topic), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 2,
      eachBatch: (payload) => this.handleBatch(payload),
    });
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
    if (!this.running) return { ready: false, reason: 'not running' };
    const crash = this.recovery.crash;
    if (crash !== undefined) return { ready: false, reason: `consumer crashed, restarting: ${crash.message}` };
    if (!this.joined) return { ready: false, reason: 'waiting for a partition assignment' };
    const restoring = [...this.tasks.values()].filter((task) => !task.isReady).map((task) => task.partition);
    if (restoring.length > 0) return { ready: false, reason: `restoring state of partitions ${restoring.join(',')}` };
    const maxLag = Math.max(0, ...this.lagByPartition.values());
    const bound = this.options.readyMaxLag ?? 10_000;
    if (maxLag > bound) return { ready: false, reason: `catching up: ${maxLag} messages behind (ready below ${bound})` };
    return { ready: true, reason: `ready: ${this.tasks.size} partitions, max lag ${maxLag}` };
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
      task.ready = prepared;
      prepared.then(
        () => (task.isReady = true),
        () => undefined,
      );
    }
  }

  private createTask(partition: number): Task {
    const producer = this.options.kafka.producer({
      transactionalId: `${this.options.transactionalIdPrefix}-${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const stores = new Map<string, PartitionStore<unknown>>();
    for (const definition of this.options.stores ?? []) stores.set(definition.name, new PartitionStore(definition, partition));
    const task: Task = {
      partition,
      info: { partition, lagAtAssignment: new Map() },
      producer,
      stores,
      inputs: new TaskInputs(partition, new Set(this.inputs.keys()), () => (this.tasks.get(partition) === task ? this.consumer : undefined)),
      ready: Promise.resolve(),
      isReady: false,
      turn: Promise.resolve(),
    };
    return task;
  }

  private async prepareTasks(tasks: Task[]): Promise<void> {
    if (tasks.length === 0) return;
    const started = performance.now();
    await this.loadPartitionCounts();
    // kafkajs initialises a transactional producer id only when a first transaction begins: begin and abort one
    // now, so the previous owner is fenced and its open transaction aborted before the changelog is read.
    await Promise.all(
      tasks.map(async (task) => {
        await task.producer.connect();
        await (await task.producer.transaction()).abort();
      }),
    );
    const definitions = this.options.stores ?? [];
    if (definitions.length > 0) {
      const byTopic = new Map(definitions.map((definition) => [definition.changelogTopic, definition.name]));
      const taskByPartition = new Map(tasks.map((task) => [task.partition, task]));
      const restored = await restoreChangelogs(
        this.options.kafka,
        this.admin!,
        definitions.map((definition) => ({ topic: definition.changelogTopic, partitions: tasks.map((task) => task.partition) })),
        (record: ChangelogRecord) => taskByPartition.get(record.partition)?.stores.get(byTopic.get(record.topic)!)?.restore(record.key, record.value),
        this.options.logger,
      );
      this.metrics.restoredRecords.inc({ group: this.options.groupId }, restored);
      const seconds = (performance.now() - started) / 1000;
      this.metrics.restoreSeconds.observe({ group: this.options.groupId }, seconds);
      this.options.logger.info({ partitions: tasks.map((task) => task.partition), records: restored, seconds }, 'state restored');
      this.updateStateGauges();
    }
    await this.seekToCommitted(tasks);
  }

  /**
   * kafkajs read the committed offsets when the partitions were assigned, a
   * moment before the fence: a previous owner that was only paused could have
   * committed in between, and its batch is already in the state just restored.
   * Reading the offsets again after the fence and seeking there makes any batch
   * fetched from the older position stale, so it is dropped, not applied twice.
   */
  private async seekToCommitted(tasks: Task[]): Promise<void> {
    const byPartition = new Map(tasks.map((task) => [task.partition, task]));
    const committed = await this.admin!.fetchOffsets({ groupId: this.options.groupId, topics: this.options.inputs.map((input) => input.topic) });
    for (const { topic, partitions: offsets } of committed) {
      const ends = new Map((await this.admin!.fetchTopicOffsets(topic)).map((end) => [end.partition, end]));
      for (const { partition, offset } of offsets) {
        const task = byPartition.get(partition);
        if (task === undefined) continue;
        if (BigInt(offset) >= 0n) this.consumer?.seek({ topic, partition, offset });
        const end = ends.get(partition);
        if (end !== undefined) task.info.lagAtAssignment.set(topic, Number(BigInt(end.high) - (BigInt(offset) >= 0n ? BigInt(offset) : BigInt(end.low))));
      }
    }
  }

  /** The in-memory state may hold a batch that did not commit: drop the task, so the batch is retried on state rebuilt from the changelog. */
  private async discardTask(task: Task, error: unknown, message: string): Promise<void> {
    if (this.tasks.get(task.partition) === task) {
      task.inputs.release();
      this.tasks.delete(task.partition);
      this.updatePausedGauge();
    }
    await this.closeTask(task);
    this.options.logger.warn({ err: error, partition: task.partition }, message);
  }

  private async closeTask(task: Task): Promise<void> {
    await task.ready.catch(() => undefined);
    await task.producer.disconnect().catch(() => undefined);
  }

  private taskFor(partition: number): Task {
    let task = this.tasks.get(partition);
    if (!task) {
      // A batch can arrive before its assignment event has been handled.
      task = this.createTask(partition);
      this.tasks.set(partition, task);
      const prepared = this.prepareTasks([task]);
      const created = task;
      task.ready = prepared.then(() => {
        created.isReady = true;
      });
    }
    return task;
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const task = this.taskFor(payload.batch.partition);
    await this.inTurn(task, () => this.processBatch(task, payload));
  }

  /**
   * Runs `work` once the task's previous work has settled. Co-partitioned inputs (transactions and labels of the
   * same customers) share partition p's task, its stores and its transactional producer: their batches, which
   * kafkajs may hand over concurrently, and the task's punctuations take turns.
   */
  private async inTurn(task: Task, work: () => Promise<void>): Promise<void> {
    const previous = task.turn;
    let release!: () => void;
    task.turn = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      await work();
    } finally {
      release();
    }
  }

  private async processBatch(task: Task, { batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // Restoring can outlast the session timeout: keep the membership alive while waiting.
    let restored = false;
    const ready = task.ready.then(() => (restored = true));
    while (!restored) {
      await Promise.race([ready, sleep(3_000)]);
      if (!restored) await heartbeat();
    }
    if (!isRunning() || isStale() || this.tasks.get(batch.partition) !== task) return;
    // Fetched before the handler paused this input: left unresolved, kafkajs fetches it again from here once resumed.
    if (task.inputs.isPaused(batch.topic)) return;

    const input = this.inputs.get(batch.topic)!;
    const timer = this.metrics.batchSeconds.startTimer({ topic: batch.topic });
    const { context, outputs, effects, deadLettered } = this.openContext(task, { topic: batch.topic, lag: Number(batch.offsetLag()) }, input.deadLetterTopic);

    let marks = 0;
    for (const message of batch.messages) {
      const decoded = await this.decode(message, batch.topic, batch.partition, input, context);
      if (decoded?.watermark !== undefined) marks += 1;
      if (decoded === undefined || (decoded.watermark !== undefined && !input.watermarks)) continue;
      await processOne(this.options.process, decoded, context);
    }
    try {
      await this.options.afterBatch?.(context);
    } catch (error) {
      await this.discardTask(task, error, 'after-batch step failed: state will be restored and the batch retried');
      throw error;
    }

    const lastOffset = batch.lastOffset();
    await this.commit(task, { topic: batch.topic, lastOffset }, outputs);
    resolveOffset(lastOffset);
    for (const effect of effects) effect();
    this.metrics.consumed.inc({ topic: batch.topic, outcome: 'processed' }, batch.messages.length - deadLettered() - marks);
    if (marks > 0) this.metrics.watermarkRecords.inc({ topic: batch.topic, direction: 'read' }, marks);
    if (deadLettered() > 0) this.metrics.consumed.inc({ topic: batch.topic, outcome: 'dead_lettered' }, deadLettered());
    const lag = Number(batch.offsetLag());
    this.lagByPartition.set(`${batch.topic}/${batch.partition}`, lag);
    this.metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, lag);
    this.updateStateGauges();
    timer();
    await heartbeat();
  }

  private openContext(task: Task, batch: ProcessingContext['batch'], fallbackDeadLetterTopic: string) {
    return openContext(task, this.contextEnvironment, batch, fallbackDeadLetterTopic, Date.now());
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

  private punctuateTask(task: Task, punctuate: NonNullable<StreamProcessorOptions['punctuate']>): Promise<void> {
    return this.inTurn(task, async () => {
      try {
        if (!this.running || this.tasks.get(task.partition) !== task || !task.isReady) return;
        const { context, outputs, effects } = this.openContext(task, undefined, this.options.inputs[0]!.deadLetterTopic);
        punctuate.run(context);
        if (outputs.length === 0 && ![...task.stores.values()].some((store) => store.hasChanges)) return;
        await this.commit(task, undefined, outputs);
        for (const effect of effects) effect();
      } catch (error) {
        // commit() has already discarded the task (its state is restored on the next batch); a fenced zombie lands here too.
        this.options.logger.debug({ err: error, partition: task.partition }, 'punctuation did not commit');
      }
    });
  }

  private async decode(
    message: EachBatchPayload['batch']['messages'][number],
    topic: string,
    partition: number,
    input: InputDefinition,
    context: ProcessingContext,
  ): Promise<InputMessage | undefined> {
    const base: InputMessage = {
      topic,
      partition,
      offset: message.offset,
      timestamp: message.timestamp,
      key: message.key ?? null,
      value: message.value,
      rawValue: message.value ?? null,
      headers: message.headers ?? {},
    };
    const marked = readWatermark(base, context);
    if (marked !== 'data') return marked;
    if (input.format === 'bytes') return base;
    try {
      return { ...base, value: await this.options.serde.decode(message.value ?? null) };
    } catch (error) {
      const reason = error instanceof SluiceError ? error.reason : String(error);
      context.deadLetter(base, 'UNDECODABLE_AVRO', reason);
      return undefined;
    }
  }

  /** Commits the outputs and state changes, with the input offset of the batch (none for a punctuation). */
  private async commit(task: Task, consumed: { topic: string; lastOffset: string } | undefined, outputs: QueuedOutput[]): Promise<void> {
    const transaction = await task.producer.transaction();
    const outgoing: OutgoingMessage[] = [];
    try {
      for (const output of outputs) {
        const value = output.record ? await this.options.serde.encode(output.topic, output.record) : (output.bytes ?? null);
        outgoing.push({ topic: output.topic, message: { key: output.key, value, headers: output.options?.headers, partition: output.options?.partition } });
      }
      for (const store of task.stores.values()) {
        for (const record of store.drainChanges()) outgoing.push({ topic: record.topic, message: { key: record.key, value: record.value, partition: record.partition } });
      }
      for (const topicMessages of requestsUnder(outgoing, MAX_REQUEST_BYTES)) {
        await whileTransactionSettles(() => transaction.sendBatch({ topicMessages }));
      }
      if (consumed !== undefined) {
        await whileTransactionSettles(() =>
          transaction.sendOffsets({
            consumerGroupId: this.options.groupId,
            topics: [{ topic: consumed.topic, partitions: [{ partition: task.partition, offset: (BigInt(consumed.lastOffset) + 1n).toString() }] }],
          }),
        );
      }
      await transaction.commit();
    } catch (error) {
      this.metrics.transactions.inc({ group: this.options.groupId, outcome: 'aborted' });
      await transaction.abort().catch(() => undefined);
      await this.discardTask(task, error, 'transaction aborted: state will be restored and the batch retried');
      throw error;
    }
    this.metrics.transactions.inc({ group: this.options.groupId, outcome: 'committed' });
    const producedByTopic = new Map<string, number>();
    const marksByTopic = new Map<string, number>();
    for (const { topic: target, message } of outgoing) {
      const counts = message.headers?.[WATERMARK_HEADER] === undefined ? producedByTopic : marksByTopic;
      counts.set(target, (counts.get(target) ?? 0) + 1);
    }
    for (const [target, count] of producedByTopic) this.metrics.produced.inc({ topic: target }, count);
    for (const [target, count] of marksByTopic) this.metrics.watermarkRecords.inc({ topic: target, direction: 'written' }, count);
  }

  private updatePausedGauge(): void {
    const counts = countPausedInputs(this.inputs.keys(), [...this.tasks.values()].map((task) => task.inputs));
    for (const [topic, count] of counts) {
      const published = this.publishedPauses.get(topic);
      if (published === count) continue;
      this.metrics.pausedInputs.inc({ topic }, count - (published ?? 0));
      this.publishedPauses.set(topic, count);
    }
  }

  private updateStateGauges(): void {
    for (const definition of this.options.stores ?? []) this.metrics.stateEntries.set({ store: definition.name }, this.storeEntries(definition.name));
  }
}

/**
 * Half the broker's default message.max.bytes (1 MiB): kafkajs sends one
 * record batch per partition per request, and the broker refuses a batch
 * larger than that limit, so a big batch of outputs and changelog records
 * (many entity states after a 1 MB input batch) goes in several requests of
 * the same transaction.
 */
const MAX_REQUEST_BYTES = 512 * 1024;

function messageBytes(message: Message): number {
  let bytes = 64 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
  for (const [name, value] of Object.entries(message.headers ?? {})) bytes += name.length + String(value ?? '').length;
  return bytes;
}

interface OutgoingMessage {
  topic: string;
  message: Message;
}

/** The messages in order, grouped by topic into requests of at most `maxBytes` (one oversized message goes alone). */
function* requestsUnder(outgoing: readonly OutgoingMessage[], maxBytes: number): Generator<{ topic: string; messages: Message[] }[]> {
  let request = new Map<string, Message[]>();
  let bytes = 0;
  for (const { topic, message } of outgoing) {
    const size = messageBytes(message);
    if (bytes > 0 && bytes + size > maxBytes) {
      yield [...request].map(([target, messages]) => ({ topic: target, messages }));
      request = new Map();
      bytes = 0;
    }
    const messages = request.get(topic);
    if (messages) messages.push(message);
    else request.set(topic, [message]);
    bytes += size;
  }
  if (bytes > 0) yield [...request].map(([target, messages]) => ({ topic: target, messages }));
}

/**
 * Retries a transactional request the coordinator refused with
 * CONCURRENT_TRANSACTIONS: the previous transaction's commit markers are still
 * being written, so the request had no effect and can be sent again (as the
 * Java producer does). kafkajs does not retry AddOffsetsToTxn itself.
 */
function whileTransactionSettles<T>(request: () => Promise<T>): Promise<T> {
  return retrying(request, {
    attempts: 9,
    delayMs: (attempt) => 20 * 2 ** (attempt - 1),
    retriable: (error) => error instanceof Error && (error as { type?: string }).type === 'CONCURRENT_TRANSACTIONS',
  });
}
