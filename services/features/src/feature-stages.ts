/**
 * The two stages of the features service, each a processor of one input's
 * partitions (see README "Features: two stages"):
 *
 * 1. Customer stage, on transactions.valid and labels.valid (keyed by
 *    customer_id): computes the transaction's own features and its customer's
 *    windows where the customer's state lives, and routes the transaction —
 *    with those values — and every label a terminal window counts to
 *    transactions.by-terminal, keyed by terminal_id. Without terminal
 *    features it writes the vector directly.
 * 2. Terminal stage, on transactions.by-terminal: applies labels to terminal
 *    risk windows, computes the terminal's windows for each transaction,
 *    assembles the full vector in spec order and re-keys it by customer_id on
 *    transactions.features.
 *
 * Entity states live in the partition's changelogged store, so the state,
 * the outputs and the input offsets commit in one transaction.
 */

// Values from shared's Kafka-free entry points only: topology.ts, which names these stores, is loaded by tools without Kafka.
import type { FeatureVector, InputRecord, KeyValueStore, Label, ProcessingContext, RestoredTask, RoutedEvent, TaskInfo, Transaction } from '@sluice/shared';
import { SluiceError } from '@sluice/shared/errors';
import {
  alignmentFlow,
  caughtUpAtAssignment,
  combineProgress,
  inputFlow,
  pausedAfter,
  setInputPaused,
  InputWatermark,
  OrderedBuffer,
  SegmentedBuffer,
  SourceClocks,
  WatermarkOutbox,
  type AlignmentBoard,
  type EventOrder,
  type FlowLimits,
  type InputWatermarkSettings,
  type PeerMarks,
  type Progress,
  type SourceClocksState,
} from '@sluice/shared/event-time';
import { LogThrottle } from '@sluice/shared/log-throttle';
import { ignoresLabel, type EntityState } from './entity-state.js';
import { EntityStore } from './entity-store.js';
import type { FeatureStageName, FeaturesMetrics } from './features-metrics.js';
import { CUSTOMER_KEY, TERMINAL_KEY, type EntityPlan, type FeaturePlan } from './plan.js';
import { TERMINAL_SEGMENTS } from './segmented-buffer.js';
import type { CustomerInputs, TerminalInputs } from './topology.js';
import { assembleVector, eventFeatures } from './vector.js';

export const CUSTOMERS_STORE = 'customers';
export const TERMINALS_STORE = 'terminals';
/** Routed events the terminal stage holds until every customer partition's watermark has passed them. */
export const TERMINAL_BUFFER_STORE = 'terminal-buffer';
/** The customer partitions' watermarks as the terminal stage last heard them (one entry). */
export const TERMINAL_CLOCKS_STORE = 'terminal-clocks';
const CLOCKS_KEY = 'clocks';

/** The customer stage's inputs' progress, as last heard (upstream mode), so a restored task resumes where it was. */
export const CUSTOMER_CLOCKS_STORE = 'customer-clocks';

/**
 * Where a routed event goes in the terminal stage's order: a transaction at
 * its event time, a label at the time it was established (labeled_at: a
 * transaction at t may only see labels known by t), a label before a
 * transaction at the same millisecond (the handbook's delayed window
 * (t − 7 − n days, t − 7 days] includes its end) unless it labels that very
 * transaction (it must find it in the window), then by transaction id.
 */
export function routedOrder(routed: RoutedEvent): EventOrder {
  if (routed.transaction !== null) return { time: routed.transaction.event_time, rank: 1, id: routed.transaction.transaction_id };
  const label = routed.label!;
  return { time: label.labeled_at, rank: label.labeled_at === label.tx_event_time ? 2 : 0, id: label.transaction_id };
}


export interface FeatureStageTopics {
  transactionsValid: string;
  labelsValid: string;
  transactionsByTerminal: string;
  transactionsFeatures: string;
}

interface PartitionEntities {
  store: EntityStore;
  /** Newest event time on this partition: entities older than every window's reach from here are dropped. */
  watermark: number;
  /** Undefined until the task's first eviction, due at its first batch: the restored states may have expired meanwhile. */
  lastEvictionAt: number | undefined;
}

/**
 * One stage's entity stores, one per assigned partition, built on the
 * processor's changelogged store once it is restored, and forgotten with the
 * task.
 */
class StageEntities {
  private readonly tasks = new Map<TaskInfo, PartitionEntities>();
  private readonly bytesByPartition = new Map<number, number>();
  private readonly entitiesByPartition = new Map<number, number>();
  private newestEventTime = -Infinity;

  constructor(
    readonly stage: FeatureStageName,
    private readonly storeName: string,
    private readonly plan: EntityPlan,
    private readonly evictIntervalMs: number,
    private readonly metrics: FeaturesMetrics,
  ) {}

  onRestored(task: RestoredTask): void {
    const store = new EntityStore(this.plan, task.store<EntityState>(this.storeName));
    this.tasks.set(task.task, { store, watermark: store.watermark(), lastEvictionAt: undefined });
  }

  onRevoked(task: TaskInfo): void {
    this.tasks.delete(task);
  }

  private of(context: ProcessingContext): PartitionEntities {
    return this.tasks.get(context.task)!;
  }

  update(context: ProcessingContext, transaction: Transaction): number[] {
    const entities = this.of(context);
    const { outcome, values } = guard(() => entities.store.update(transaction));
    context.afterCommit(() => this.metrics.events.inc({ stage: this.stage, outcome }));
    if (transaction.event_time > entities.watermark) entities.watermark = transaction.event_time;
    if (transaction.event_time > this.newestEventTime) {
      this.newestEventTime = transaction.event_time;
      this.metrics.watermarkLag.set({ stage: this.stage }, (Date.now() - transaction.event_time) / 1000);
    }
    return values;
  }

  applyLabel(context: ProcessingContext, label: Label): void {
    const { outcome } = guard(() => this.of(context).store.applyLabel(label));
    context.afterCommit(() => this.metrics.labels.inc({ stage: this.stage, outcome }));
  }

  /** Drops the partition's expired entities (tombstones in the same transaction) at most once per interval. */
  maybeEvict(context: ProcessingContext): void {
    const entities = this.of(context);
    if (entities.lastEvictionAt !== undefined && context.now - entities.lastEvictionAt < this.evictIntervalMs) return;
    entities.lastEvictionAt = context.now;
    const evicted = entities.store.evictExpired(entities.watermark);
    if (evicted.length > 0) context.afterCommit(() => this.metrics.evicted.inc({ stage: this.stage }, evicted.length));
    this.entitiesByPartition.set(context.partition, entities.store.size);
    this.bytesByPartition.set(context.partition, entities.store.estimateBytes());
    this.metrics.entities.set({ stage: this.stage }, sum(this.entitiesByPartition.values()));
    this.metrics.stateBytes.set({ stage: this.stage }, sum(this.bytesByPartition.values()));
  }
}

function countVector(metrics: FeaturesMetrics, context: ProcessingContext, transaction: Transaction): void {
  context.afterCommit(() => {
    metrics.vectors.inc();
    metrics.outputLatency.observe(Math.max(0, context.now - transaction.ingested_at) / 1000);
  });
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** The engine rejects records it cannot place (no id, no integer time, no finite amount): dead-lettered with the reason. */
function guard<T>(compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw new SluiceError('FEATURE_INPUT_INVALID', error.message);
    throw error;
  }
}

function vectorOf(plan: FeaturePlan, transaction: Transaction, values: number[]): FeatureVector {
  return {
    transaction_id: transaction.transaction_id,
    customer_id: transaction.customer_id,
    terminal_id: transaction.terminal_id,
    event_time: transaction.event_time,
    amount: transaction.amount,
    feature_set_version: plan.version,
    feature_names: plan.names,
    feature_values: values,
    ingested_at: transaction.ingested_at,
  };
}

interface CustomerPartitionClocks {
  transactions: InputWatermark;
  labels: InputWatermark;
  outbox: WatermarkOutbox;
  /** When data first arrived without any upstream watermark (upstream mode): worth a warning if it lasts. */
  unheardSince: number | undefined;
  /** Inputs this task holds back because they run ahead of its other input (bounded buffers). */
  held: { transactions: boolean; labels: boolean };
  /** Both inputs held back because this task runs ahead of the slowest customer task (watermark alignment). */
  aligned: boolean;
}

/**
 * How the customer stage bounds the terminal stage's buffer, which it fills: the limits, and the terminal tasks of
 * this instance, which publish their clocks and buffer on the board (alignment-board.ts).
 */
export interface CustomerFlow {
  limits: FlowLimits;
  terminals: AlignmentBoard;
  /** The customer tasks of this instance, each with its own watermark: the alignment while no terminal task is in view. */
  peers: PeerMarks;
}

/** Data without upstream watermarks for this long (upstream mode) is worth a warning: nothing can be released. */
const UNHEARD_WARNING_MS = 60_000;

/**
 * The customer stage passes event time on downstream: after each batch, and
 * on a wall-clock punctuation, each partition writes its watermark (the older
 * of its transactions' and labels' progress, unless one is idle) behind its
 * data to every partition of the topic it feeds. Its inputs' progress comes
 * from ingest's watermarks (upstream mode, the default), or from arrival for
 * topics producers write directly (FEATURES_INPUT_WATERMARKS=arrival).
 */
export class CustomerStage {
  private readonly customers: StageEntities | undefined;
  private readonly customerUsesLabels: boolean;
  private readonly routesToTerminals: boolean;
  private readonly routesLabels: boolean;
  private readonly terminalPlan: EntityPlan | undefined;
  private readonly clocks = new Map<TaskInfo, CustomerPartitionClocks>();
  private readonly throttle = new LogThrottle(UNHEARD_WARNING_MS);

  constructor(
    private readonly plan: FeaturePlan,
    private readonly topics: FeatureStageTopics,
    evictIntervalMs: number,
    private readonly metrics: FeaturesMetrics,
    private readonly watermarks: InputWatermarkSettings,
    private readonly flow?: CustomerFlow,
  ) {
    const customerPlan = plan.entities.get(CUSTOMER_KEY);
    this.customers = customerPlan && new StageEntities('customer', CUSTOMERS_STORE, customerPlan, evictIntervalMs, metrics);
    this.customerUsesLabels = customerPlan?.usesLabels ?? false;
    this.terminalPlan = plan.entities.get(TERMINAL_KEY);
    this.routesToTerminals = this.terminalPlan !== undefined;
    this.routesLabels = this.terminalPlan?.usesLabels ?? false;
  }

  /** The topic downstream readers order by this stage's watermarks. */
  get watermarkTopic(): string {
    return this.routesToTerminals ? this.topics.transactionsByTerminal : this.topics.transactionsFeatures;
  }

  /** The task's stores are restored: its entities, and its inputs' clocks (upstream clocks kept by topic). */
  onRestored(task: RestoredTask): void {
    this.customers?.onRestored(task);
    const stored = task.store<SourceClocksState>(CUSTOMER_CLOCKS_STORE);
    const input = (topic: string) => new InputWatermark(this.watermarks, task.now, caughtUpAtAssignment(task.task, topic), stored.get(topic));
    this.clocks.set(task.task, {
      transactions: input(this.topics.transactionsValid),
      labels: input(this.topics.labelsValid),
      outbox: new WatermarkOutbox(this.watermarkTopic),
      unheardSince: undefined,
      held: { transactions: false, labels: false },
      aligned: false,
    });
  }

  onRevoked(task: TaskInfo): void {
    this.customers?.onRevoked(task);
    this.clocks.delete(task);
  }

  private clocksOf(context: ProcessingContext): CustomerPartitionClocks {
    return this.clocks.get(context.task)!;
  }

  process(record: InputRecord<CustomerInputs>, context: ProcessingContext): void {
    if (record.watermark !== undefined) {
      const clock = this.clocksOf(context)[record.input];
      if (clock.observeMark(record.watermark)) context.store<SourceClocksState>(CUSTOMER_CLOCKS_STORE).put(record.topic, clock.state()!);
      return;
    }
    if (record.input === 'labels') {
      this.processLabel(context, record.value);
      return;
    }
    this.processTransaction(context, record.value);
  }

  private processLabel(context: ProcessingContext, label: Label): void {
    if (Number.isSafeInteger(label.labeled_at)) this.clocksOf(context).labels.observeEvent(label.labeled_at, context.now);
    if (this.customerUsesLabels) this.customers!.applyLabel(context, label);
    if (!this.routesLabels) return;
    // A label no terminal window counts (the handbook counts fraud labels only) is counted as ignored here rather
    // than routed: each routed event cost a record on transactions.by-terminal and two on the terminal buffer's
    // changelog, a third of both in the 14-day bench:pipeline replay, where every transaction gets a label.
    if (Number.isSafeInteger(label.labeled_at) && ignoresLabel(this.terminalPlan!, label)) {
      context.afterCommit(() => this.metrics.labels.inc({ stage: 'terminal', outcome: 'ignored' }));
      return;
    }
    const routed: RoutedEvent = { feature_set_version: this.plan.version, transaction: null, label, event_values: [], customer_values: [] };
    context.send(this.topics.transactionsByTerminal, label.terminal_id, routed);
  }

  private processTransaction(context: ProcessingContext, transaction: Transaction): void {
    const eventValues = guard(() => eventFeatures(this.plan, transaction));
    this.clocksOf(context).transactions.observeEvent(transaction.event_time, context.now);
    const customerValues = this.customers ? this.customers.update(context, transaction) : [];
    if (this.routesToTerminals) {
      const routed: RoutedEvent = {
        feature_set_version: this.plan.version,
        transaction,
        label: null,
        event_values: eventValues,
        customer_values: customerValues,
      };
      context.send(this.topics.transactionsByTerminal, transaction.terminal_id, routed);
      return;
    }
    const values = assembleVector(this.plan, eventValues, this.customers ? { [CUSTOMER_KEY]: customerValues } : {});
    context.send(this.topics.transactionsFeatures, transaction.customer_id, vectorOf(this.plan, transaction, values));
    countVector(this.metrics, context, transaction);
  }

  afterBatch(context: ProcessingContext): void {
    const clocks = this.clocksOf(context);
    if (context.batch !== undefined) (context.batch.input === 'labels' ? clocks.labels : clocks.transactions).endOfBatch(context.batch.lag, context.now);
    this.sendWatermark(context);
    this.regulate(context);
    this.customers?.maybeEvict(context);
  }

  /** Wall-clock punctuation: an input that went quiet becomes idle here, and readers stop waiting for it. */
  punctuate(context: ProcessingContext): void {
    this.sendWatermark(context);
    this.regulate(context);
  }

  /** Each input's progress; a paused input is never idle (its unread records would be late downstream). */
  private progressOf(context: ProcessingContext, clocks: CustomerPartitionClocks) {
    return {
      transactions: clocks.transactions.progress(context.now, context.isInputPaused(this.topics.transactionsValid)),
      labels: clocks.labels.progress(context.now, context.isInputPaused(this.topics.labelsValid)),
    };
  }

  /** This task's watermark downstream: the older of its inputs' progress, unless one is idle. */
  private watermarkOf(context: ProcessingContext, clocks: CustomerPartitionClocks): Progress {
    const progress = this.progressOf(context, clocks);
    // Labels only matter downstream when they are routed there.
    return combineProgress(this.routesLabels ? [progress.transactions, progress.labels] : [progress.transactions]);
  }

  private sendWatermark(context: ProcessingContext): void {
    const clocks = this.clocksOf(context);
    clocks.outbox.send(context, this.watermarkOf(context, clocks));
    this.warnIfUnheard(context, clocks);
  }

  /**
   * Bounded buffers. This stage fills the terminal stage's buffer, so it is
   * where reading stops, in two ways, both decided on the terminal tasks'
   * view of this instance (none here: nothing is paused):
   * - within the task, its two inputs meet in that buffer: labels routed at
   *   the time they were established run ahead of the transactions they label
   *   by up to the label delay in a replay (7 days), and wait there for the
   *   transactions; past the limit, the input ahead of the other by more than
   *   the distance is paused (either way round);
   * - across tasks (watermark alignment): a task whose watermark runs ahead
   *   of the slowest customer task's, as the terminal tasks have read them,
   *   stops reading both inputs until the slowest has come closer. The
   *   pressure is what a terminal task holds plus what waits unread in its
   *   partition: in a replay the customer stage writes faster than the
   *   terminal stage reads, and what it has written lands in the buffer.
   *   While no terminal task is in view, the slowest customer task of this
   *   instance stands in for the terminal tasks' minimum (PeerMarks).
   * The input or task holding the minimum is never paused (flow-control.ts).
   */
  private regulate(context: ProcessingContext): void {
    if (this.flow === undefined || !this.routesToTerminals) return;
    const clocks = this.clocksOf(context);
    const view = this.flow.terminals.view(context.now);
    if (this.routesLabels) {
      // No terminal task in view (before the first one has read a batch, or none in this instance): the pressure is
      // unknown, so the distance alone decides. Safe: the input the task's watermark waits for is never paused. In
      // a replay the customer stage reads a fetch of labels per partition (~19,000) before the terminal stage has
      // finished its first batch.
      const buffered = view?.buffered ?? Infinity;
      const progress = this.progressOf(context, clocks);
      const [transactions, labels] = inputFlow(
        [
          { ...progress.transactions, paused: clocks.held.transactions },
          { ...progress.labels, paused: clocks.held.labels },
        ],
        buffered,
        this.flow.limits,
      );
      clocks.held = { transactions: pausedAfter(transactions!, clocks.held.transactions), labels: pausedAfter(labels!, clocks.held.labels) };
    }
    const own = this.watermarkOf(context, clocks);
    this.flow.peers.publish(context.partition, own, context.now);
    clocks.aligned = pausedAfter(alignmentFlow(view ?? this.flow.peers.view(context.now), context.partition, own, clocks.aligned, this.flow.limits), clocks.aligned);
    setInputPaused(context, this.topics.transactionsValid, clocks.aligned || clocks.held.transactions);
    setInputPaused(context, this.topics.labelsValid, clocks.aligned || clocks.held.labels);
  }

  /** Data keeps arriving but the writer of the topic never said how far it has got: nothing can be released downstream. */
  private warnIfUnheard(context: ProcessingContext, clocks: CustomerPartitionClocks): void {
    if (!clocks.transactions.unheard || context.batch === undefined) return;
    clocks.unheardSince ??= context.now;
    if (context.now - clocks.unheardSince < UNHEARD_WARNING_MS) return;
    const suppressed = this.throttle.allow('unheard', context.now);
    if (suppressed === undefined) return;
    context.logger.warn(
      { topic: this.topics.transactionsValid, partition: context.partition, similarSinceLastLine: suppressed },
      'no watermarks from the writer of this topic: vectors are held until it sends them. If producers write to it directly (not through ingest), set FEATURES_INPUT_WATERMARKS=arrival',
    );
  }
}

interface TerminalPartition {
  buffer: OrderedBuffer<RoutedEvent>;
  /** The buffer's store: one changelog record per batch of buffered events. */
  segments: SegmentedBuffer<RoutedEvent>;
  clocks: SourceClocks;
  clocksStore: KeyValueStore<SourceClocksState>;
  outbox: WatermarkOutbox;
  /** Records left unread in the partition after its last batch: they will be held too, unless released on arrival. */
  lag: number;
}

/**
 * The terminal stage reads transactions.by-terminal, where the six customer
 * partitions' events interleave in whatever order they were written. It holds
 * each routed event in a changelogged buffer and applies it to the windows
 * only once every customer partition's watermark has passed it, in
 * (time, rank, id) order: the windows see the same sequence at any speed,
 * after any crash, with any number of instances. A source that is idle is not
 * waited for; an event older than the frontier already passed (a source back
 * from idle) is applied at once, as late data under the grace rules, and
 * counted. Its own watermark (the frontier, or idle when every source is)
 * follows its vectors to transactions.features, for the readers there.
 */
export class TerminalStage {
  private readonly terminals: StageEntities;

  private readonly tasks = new Map<TaskInfo, TerminalPartition>();
  private readonly bufferedByPartition = new Map<number, number>();

  constructor(
    private readonly plan: FeaturePlan,
    private readonly topics: FeatureStageTopics,
    evictIntervalMs: number,
    private readonly metrics: FeaturesMetrics,
    /** Where this stage's tasks show the customer tasks of this instance how far they have got (bounded buffers). */
    private readonly board?: AlignmentBoard,
  ) {
    const terminalPlan = plan.entities.get(TERMINAL_KEY);
    if (terminalPlan === undefined) throw new SluiceError('NO_TERMINAL_FEATURES', 'the terminal stage needs terminal features in the spec');
    this.terminals = new StageEntities('terminal', TERMINALS_STORE, terminalPlan, evictIntervalMs, metrics);
  }

  /** The task's stores are restored: its entities, and its buffer and clocks over their stores. */
  onRestored(task: RestoredTask): void {
    this.terminals.onRestored(task);
    const clocksStore = task.store<SourceClocksState>(TERMINAL_CLOCKS_STORE);
    const saved = clocksStore.get(CLOCKS_KEY);
    const clocks = saved ? SourceClocks.restore(saved) : new SourceClocks();
    // The frontier was stored in the transaction of every release through it: what a segment holds at or before it is gone.
    const segments = new SegmentedBuffer(task.store<unknown>(TERMINAL_BUFFER_STORE), TERMINAL_SEGMENTS, clocks.frontier, (routed) => routedOrder(routed).time);
    this.tasks.set(task.task, {
      buffer: new OrderedBuffer(segments, routedOrder),
      segments,
      clocks,
      clocksStore,
      outbox: new WatermarkOutbox(this.topics.transactionsFeatures),
      lag: 0,
    });
  }

  onRevoked(task: TaskInfo): void {
    this.terminals.onRevoked(task);
    this.tasks.delete(task);
    this.bufferedByPartition.delete(task.partition);
    this.publishBuffered();
  }

  private publishBuffered(): void {
    this.metrics.buffered.set({ stage: 'terminal' }, sum(this.bufferedByPartition.values()));
    this.metrics.largestTaskBuffered.set({ stage: 'terminal' }, Math.max(0, ...this.bufferedByPartition.values()));
  }

  private partitionOf(context: ProcessingContext): TerminalPartition {
    return this.tasks.get(context.task)!;
  }

  process(record: InputRecord<TerminalInputs>, context: ProcessingContext): void {
    const partition = this.partitionOf(context);
    if (record.watermark !== undefined) {
      if (partition.clocks.observe(record.watermark)) {
        // Released at once, so that an event after this mark in the same batch and behind it counts as late.
        for (const routed of partition.buffer.releaseThrough(partition.clocks.frontier)) this.apply(context, routed);
      }
      partition.clocksStore.put(CLOCKS_KEY, partition.clocks.toState());
      return;
    }
    const routed = this.checked(record.value);
    if (routedOrder(routed).time <= partition.clocks.frontier) {
      context.afterCommit(() => this.metrics.behindWatermark.inc({ stage: 'terminal' }));
      this.apply(context, routed);
    } else {
      partition.buffer.add(routed, { topic: record.topic, offset: record.offset });
    }
  }

  /**
   * Buffered events live in memory only (the buffer keeps their records' origins): transactions.by-terminal keeps
   * them, and after an assignment the processor hands back those read since the committed offset
   * (ProcessorHandler.heldInputs). One `checked` refuses now was refused (dead-lettered) when first read.
   */
  readonly heldInputs = {
    oldestHeld: (task: TaskInfo, topic: string): string | undefined => this.tasks.get(task)?.segments.oldestHeld(topic),
    replay: (record: InputRecord<TerminalInputs>, task: TaskInfo): void => {
      const partition = this.tasks.get(task);
      if (partition === undefined || record.watermark !== undefined) return;
      const routed = this.checked(record.value);
      if (routedOrder(routed).time > partition.clocks.frontier) partition.buffer.add(routed, { topic: record.topic, offset: record.offset });
    },
  };

  /** Refuses what could not be applied, before it is buffered: a failure at release could not name its input any more. */
  private checked(routed: RoutedEvent): RoutedEvent {
    if (routed.feature_set_version !== this.plan.version) {
      // During a rolling change of the spec, old-stage values cannot be mixed with new-stage ones.
      throw new SluiceError(
        'FEATURE_SET_MISMATCH',
        `routed by feature set ${routed.feature_set_version}, this instance computes ${this.plan.version}: replay it after the rollout`,
      );
    }
    const event = routed.transaction ?? routed.label;
    if (event === null) throw new SluiceError('ROUTED_EVENT_EMPTY', 'a routed event carries neither a transaction nor a label');
    const time = routed.transaction !== null ? routed.transaction.event_time : routed.label!.labeled_at;
    if (!Number.isSafeInteger(time)) throw new SluiceError('FEATURE_INPUT_INVALID', `event time must be integer epoch milliseconds, got ${String(time)}`);
    if (typeof event.terminal_id !== 'string' || event.terminal_id === '') throw new SluiceError('FEATURE_INPUT_INVALID', `${TERMINAL_KEY} must be a non-empty string`);
    return routed;
  }

  private apply(context: ProcessingContext, routed: RoutedEvent): void {
    if (routed.label !== null) {
      this.terminals.applyLabel(context, routed.label);
      return;
    }
    const transaction = routed.transaction!;
    const terminalValues = this.terminals.update(context, transaction);
    const parts: Record<string, readonly number[]> = { [TERMINAL_KEY]: terminalValues };
    if (this.plan.entities.has(CUSTOMER_KEY)) parts[CUSTOMER_KEY] = routed.customer_values;
    const values = guard(() => assembleVector(this.plan, routed.event_values, parts));
    context.send(this.topics.transactionsFeatures, transaction.customer_id, vectorOf(this.plan, transaction, values));
    countVector(this.metrics, context, transaction);
  }

  afterBatch(context: ProcessingContext): void {
    const partition = this.partitionOf(context);
    if (context.batch !== undefined) partition.lag = context.batch.lag;
    partition.segments.seal();
    this.publish(context, partition);
    partition.outbox.send(context, { time: partition.clocks.frontier, idle: partition.clocks.allIdle });
    this.terminals.maybeEvict(context);
    this.bufferedByPartition.set(context.partition, partition.buffer.size);
    this.publishBuffered();
    const census = partition.clocks.census();
    this.metrics.sources.set({ stage: 'terminal', state: 'active' }, census.reported - census.idle);
    this.metrics.sources.set({ stage: 'terminal', state: 'idle' }, census.idle);
    this.metrics.sources.set({ stage: 'terminal', state: 'missing' }, census.expected - census.reported);
  }

  /** Wall-clock punctuation: keeps this task on the board while no batch comes (every customer task ahead paused). */
  punctuate(context: ProcessingContext): void {
    this.publish(context, this.partitionOf(context));
  }

  /** The customer tasks of this instance see this task's clocks, and what it holds plus what waits unread for it. */
  private publish(context: ProcessingContext, partition: TerminalPartition): void {
    const { buffer, clocks } = partition;
    this.board?.publish(context.partition, { clocks, get buffered() { return buffer.size + partition.lag; } }, context.now);
  }
}
