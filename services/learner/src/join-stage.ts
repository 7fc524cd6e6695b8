import {
  alignmentFlow,
  caughtUpAtAssignment,
  combineProgress,
  inputFlow,
  pausedAfter,
  ReleaseBudget,
  SegmentedBuffer,
  setInputPaused,
  type AlignmentBoard,
  type FlowLimits,
  InputWatermark,
  type InputWatermarkMode,
  SourceClocks,
  type FeatureVector,
  type InputRecord,
  type KeyValueStore,
  type Label,
  type LabelledExample,
  type ProcessingContext,
  type Progress,
  type RestoredTask,
  type SourceClocksState,
  SegmentedStore,
  type TaskInfo,
} from '@sluice/shared';
import { EventTimeJoin, joinOrder, type EventTimeJoinOptions, type JoinDecision, type JoinEvent } from './event-time-join.js';
import { bufferedEventsOf, type BufferedEvents, type LearnerMetrics } from './learner-metrics.js';
import { JOIN_EVENT_SEGMENTS, PENDING_SEGMENTS } from './vector-slots.js';
import { EARLY_LABELS_STORE, JOIN_BUFFER_STORE, JOIN_CLOCKS_STORE, PENDING_STORE, type JoinInputs } from './topology.js';

const CLOCKS_KEY = 'clocks';

/** The join's clocks as they live in the changelog, beside the buffer they release. */
export interface StoredJoinClocks {
  features: SourceClocksState;
  /** Newest labeled_at read on this labels partition (arrival mode; null: none yet). */
  labels_newest: number | null;
  /** Ingest's watermarks on this labels partition (upstream mode). */
  labels_clocks?: SourceClocksState;
  /** Frontier through which events have been applied (null: none yet). */
  released: number | null;
}

export interface JoinStageOptions extends EventTimeJoinOptions {
  /** Where labels.valid's progress comes from: ingest's watermarks (upstream) or arrival (producers writing it directly). */
  labelsWatermarks: InputWatermarkMode;
  /** Arrival mode: how much older than the newest label read a label may still arrive without being late. */
  labelsMaxDisorderMs: number;
  /** Arrival mode: a labels partition caught up and quiet this long (processing time) does not hold the join back. */
  labelsIdleMs: number;
  /** Bounded buffers: past `maxBuffered` events held, an input (or join task) more than `maxAheadMs` ahead is paused. */
  flow?: FlowLimits;
}

interface PartitionJoin {
  join: EventTimeJoin;
  /** The join's buffer store, sealed after each batch and punctuation. */
  buffer: SegmentedBuffer<JoinEvent>;
  /** Vectors waiting for their label, many to a changelog record; sealed with the buffer. */
  pending: SegmentedStore<FeatureVector>;
  features: SourceClocks;
  labels: InputWatermark;
  clocks: KeyValueStore<StoredJoinClocks>;
  /** What was last written to the clocks store and to learner.examples as this task's watermark. */
  savedClocks: string;
  sentMark: string;
  /** Inputs held back because they run ahead of the other one in this task's buffer (bounded buffers). */
  held: { features: boolean; labels: boolean };
  /** Both inputs held back because this task runs ahead of the slowest join task, as the training stage reads them. */
  aligned: boolean;
  /** What this task may still send past the training task's frontier (watermark alignment of its releases). */
  budget: ReleaseBudget;
  /** Both inputs held back because the budget stopped a release short of what the watermarks allow. */
  stopped: boolean;
}

/** The join's event for a vector or label record. */
function joinEventOf(record: InputRecord<JoinInputs> & { watermark?: undefined }): JoinEvent {
  return record.input === 'features' ? { kind: 'vector', vector: record.value } : { kind: 'label', label: record.value };
}

/**
 * Stage one of the learner, partition-local (vectors and labels are both keyed
 * by customer_id): joins each label with the vector its transaction was scored
 * on and sends the pair to learner.examples; every vector also goes on
 * unlabelled, for the label-free anomaly model. The decisions are made in
 * event time (event-time-join.ts): vectors and labels are buffered and applied
 * once the frontier has passed them, the minimum of
 * - the features service's watermarks on transactions.features (one per
 *   terminal-stage partition, merged by SourceClocks), and
 * - this labels partition's own clock (newest labeled_at read, less the
 *   allowed disorder; idle once caught up and quiet),
 * and after each release the stage writes its frontier as a watermark to
 * learner.examples, which the training stage merges over the join tasks.
 */
export class JoinStage {
  /** Each task's join and clocks, rebuilt from what the changelogs restored (onRestored). */
  private readonly joins = new Map<TaskInfo, PartitionJoin>();

  constructor(
    private readonly topics: { transactionsFeatures: string; labelsValid: string; learnerExamples: string },
    private readonly options: JoinStageOptions,
    private readonly metrics: LearnerMetrics,
    /** Where the training task, when this instance has it, shows how far it has got (watermark alignment). */
    private readonly training?: AlignmentBoard,
  ) {}

  /** Vectors waiting for their label over the tasks this instance holds (the pending store also keeps its feature names). */
  pendingVectors(): number {
    let total = 0;
    for (const { join } of this.joins.values()) total += join.pendingVectors;
    return total;
  }

  /** Events the join tasks of this instance hold until the watermarks pass them. */
  bufferedEvents(): BufferedEvents {
    return bufferedEventsOf([...this.joins.values()].map(({ join }) => join.buffered));
  }

  /** A new assignment, or a task started afresh: the join and its clocks from what the changelogs restored. */
  onRestored(task: RestoredTask): void {
    const clocks = task.store<StoredJoinClocks>(JOIN_CLOCKS_STORE);
    const stored = clocks.get(CLOCKS_KEY);
    // A quiet labels partition's spell starts when its task is restored (arrival mode).
    const now = task.now;
    const labels = new InputWatermark(
      { mode: this.options.labelsWatermarks, disorderMs: this.options.labelsMaxDisorderMs, idleTimeoutMs: this.options.labelsIdleMs },
      now,
      caughtUpAtAssignment(task.task, this.topics.labelsValid),
      stored?.labels_clocks,
    );
    if (stored?.labels_newest != null) labels.observeEvent(stored.labels_newest, now);
    const released = stored?.released ?? -Infinity;
    const buffer = new SegmentedBuffer(task.store<unknown>(JOIN_BUFFER_STORE), JOIN_EVENT_SEGMENTS, released, (event) => joinOrder(event).time);
    const pending = new SegmentedStore(task.store<unknown>(PENDING_STORE), PENDING_SEGMENTS);
    this.joins.set(task.task, {
      join: new EventTimeJoin(
        this.options,
        {
          buffer,
          pending,
          early: task.store<Label>(EARLY_LABELS_STORE),
        },
        released,
      ),
      buffer,
      pending,
      features: stored ? SourceClocks.restore(stored.features) : new SourceClocks(),
      labels,
      clocks,
      savedClocks: stored ? JSON.stringify(stored) : '',
      sentMark: '',
      held: { features: false, labels: false },
      aligned: false,
      budget: new ReleaseBudget(),
      stopped: false,
    });
  }

  onRevoked(task: TaskInfo): void {
    this.joins.delete(task);
  }

  process(record: InputRecord<JoinInputs>, context: ProcessingContext): void {
    const partition = this.joinOf(context);
    if (record.watermark !== undefined) {
      if (record.input === 'labels') partition.labels.observeMark(record.watermark);
      else partition.features.observe(record.watermark);
      return;
    }
    if (record.input === 'labels') partition.labels.observeEvent(record.value.labeled_at, context.now);
    this.emit(context, partition.join.add(joinEventOf(record), { topic: record.topic, offset: record.offset }));
  }

  /**
   * Buffered vectors and labels live in memory only (the buffer keeps their records' origins): their inputs keep
   * them, and after an assignment the processor hands back those read since the committed offsets
   * (ProcessorHandler.heldInputs). The labels clock needs none of them: the clocks store holds what they told it.
   */
  readonly heldInputs = {
    oldestHeld: (task: TaskInfo, topic: string): string | undefined => this.joins.get(task)?.buffer.oldestHeld(topic),
    replay: (record: InputRecord<JoinInputs>, task: TaskInfo): void => {
      if (record.watermark === undefined) this.joins.get(task)?.join.holdAgain(joinEventOf(record), { topic: record.topic, offset: record.offset });
    },
  };

  /** After a batch: note whether the labels partition is caught up, then release what the frontier allows. */
  afterBatch(context: ProcessingContext): void {
    const partition = this.joinOf(context);
    if (context.batch?.input === 'labels') partition.labels.endOfBatch(context.batch.lag, context.now);
    this.advance(context, partition);
  }

  /** Periodically, input or not: a labels partition that went idle lets the frontier move on. */
  punctuate(context: ProcessingContext): void {
    this.advance(context, this.joinOf(context));
  }

  private advance(context: ProcessingContext, partition: PartitionJoin): void {
    // Marks are inclusive (everything at or before them has been sent); when every source is idle, what is held is released.
    const features = { time: partition.features.frontier, idle: partition.features.allIdle };
    const labels = partition.labels.progress(context.now, context.isInputPaused(this.topics.labelsValid));
    const progress = combineProgress([features, labels]);
    const room = this.options.flow === undefined ? Infinity : partition.budget.room(this.training?.view(context.now), this.options.flow, this.joins.size);
    if (progress.time > partition.join.frontier) this.emit(context, partition.join.releaseThrough(progress.time, room), partition.budget);
    partition.stopped = partition.join.frontier < progress.time;

    const labelsState = partition.labels.state();
    const stored: StoredJoinClocks = {
      features: partition.features.toState(),
      labels_newest: labelsState === undefined && Number.isFinite(partition.labels.newest) ? partition.labels.newest : null,
      ...(labelsState === undefined ? {} : { labels_clocks: labelsState }),
      released: Number.isFinite(partition.join.frontier) ? partition.join.frontier : null,
    };
    const saved = JSON.stringify(stored);
    if (saved !== partition.savedClocks) {
      partition.clocks.put(CLOCKS_KEY, stored);
      partition.savedClocks = saved;
    }
    // Idle only once everything is released: a task holding events back (its budget) is still waited for.
    const mark = { time: partition.join.frontier, idle: progress.idle && !partition.stopped };
    const sent = JSON.stringify([Number.isFinite(mark.time) ? mark.time : null, mark.idle]);
    if (sent !== partition.sentMark && (Number.isFinite(mark.time) || mark.idle)) {
      context.sendWatermark(this.topics.learnerExamples, mark);
      partition.sentMark = sent;
    }
    this.regulate(context, partition, features, labels);
    partition.buffer.seal();
    partition.pending.seal();
  }

  /**
   * Bounded buffers (flow-control.ts), after the release:
   * - within the task: vectors and labels meet in this buffer; in a replay
   *   ingest passes labels on faster than the features service its vectors, so
   *   labels run days of event time ahead and wait here; past the limit, the
   *   input ahead of the other by more than the distance is paused (either way);
   * - across tasks (watermark alignment): a task whose watermark runs ahead
   *   of the slowest join task's, as the training task has read them, stops
   *   reading both inputs while the training task holds (buffered, or unread
   *   in learner.examples) more than the limit.
   *   Only the instance that trains has that view; the others are not aligned;
   * - what the task releases (ReleaseBudget): its share of the training task's
   *   limit past that task's frontier; a release stopped short of what the
   *   watermarks allow stops both inputs too, until the rest is out.
   * The input or task holding the minimum is never paused by the first two; a
   * task stopped by its budget releases more at each punctuation as the
   * training task's frontier moves, and that frontier always can: the training
   * task reads on, and once it has read all that was sent, the task it waits
   * for has sent nothing past it, so has its whole share to release.
   */
  private regulate(context: ProcessingContext, partition: PartitionJoin, features: Progress, labels: Progress): void {
    const limits = this.options.flow;
    if (limits === undefined) return;
    const [onFeatures, onLabels] = inputFlow(
      [
        { ...features, paused: partition.held.features },
        { ...labels, paused: partition.held.labels },
      ],
      partition.join.buffered,
      limits,
    );
    partition.held = { features: pausedAfter(onFeatures!, partition.held.features), labels: pausedAfter(onLabels!, partition.held.labels) };
    const own = { time: partition.join.frontier, idle: combineProgress([features, labels]).idle };
    partition.aligned = pausedAfter(alignmentFlow(this.training?.view(context.now), context.partition, own, partition.aligned, limits), partition.aligned);
    const hold = partition.aligned || partition.stopped;
    setInputPaused(context, this.topics.transactionsFeatures, hold || partition.held.features);
    setInputPaused(context, this.topics.labelsValid, hold || partition.held.labels);
  }

  private emit(context: ProcessingContext, decision: JoinDecision, budget?: ReleaseBudget): void {
    for (const example of decision.examples) {
      this.send(context, example);
      budget?.record(example.decided_at ?? example.vector.event_time);
    }
    if (decision.outcomes.length === 0) return;
    const counts = new Map<string, number>();
    for (const outcome of decision.outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    context.afterCommit(() => {
      for (const [outcome, count] of counts) this.metrics.labels.inc({ outcome }, count);
    });
  }

  private send(context: ProcessingContext, example: LabelledExample): void {
    context.send(this.topics.learnerExamples, example.vector.transaction_id, example);
  }

  private joinOf(context: ProcessingContext): PartitionJoin {
    return this.joins.get(context.task)!;
  }
}
