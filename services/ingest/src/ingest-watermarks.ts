import type { ProcessingContext, TaskInfo, TopicNames } from '@sluice/shared';
import { caughtUpAtAssignment, InputWatermark, WatermarkOutbox, type InputWatermarkSettings } from '@sluice/shared/event-time';
import type { RecordKind } from './ingest-metrics.js';

interface KindClock {
  input: InputWatermark;
  outbox: WatermarkOutbox;
}

/**
 * Ingest is where event time enters the pipeline, so it is where a source's
 * idleness can be judged: each task follows its raw partitions' progress
 * (newest event time read less the allowed disorder; idle only when it was
 * caught up and has been quiet for the idle timeout, never while a backlog
 * waits) and writes it, behind the records it validated, to every partition
 * of transactions.valid and labels.valid. The features and learner services
 * order by these marks, so a reader that starts before ingest, or an ingest
 * restarted mid-replay, is waited for instead of being taken as idle.
 */
export class IngestWatermarks {
  private readonly tasks = new WeakMap<TaskInfo, Record<RecordKind, KindClock>>();

  constructor(
    private readonly topics: TopicNames,
    private readonly settings: Omit<InputWatermarkSettings, 'mode'>,
  ) {}

  /** A validated record's event time (a transaction's time, a label's labeled_at). */
  observe(context: ProcessingContext, kind: RecordKind, eventTime: number): void {
    this.clocksOf(context)[kind].input.observeEvent(eventTime, context.now);
  }

  afterBatch(context: ProcessingContext): void {
    const clocks = this.clocksOf(context);
    if (context.batch !== undefined) clocks[context.batch.topic === this.topics.labelsRaw ? 'label' : 'transaction'].input.endOfBatch(context.batch.lag, context.now);
    this.send(context);
  }

  /** Wall-clock punctuation: a raw partition that went quiet becomes idle, and readers stop waiting for it. */
  send(context: ProcessingContext): void {
    for (const clock of Object.values(this.clocksOf(context))) clock.outbox.send(context, clock.input.progress(context.now));
  }

  private clocksOf(context: ProcessingContext): Record<RecordKind, KindClock> {
    let clocks = this.tasks.get(context.task);
    if (clocks === undefined) {
      const clock = (raw: string, valid: string): KindClock => ({
        input: new InputWatermark({ mode: 'arrival', ...this.settings }, context.now, caughtUpAtAssignment(context.task, raw)),
        outbox: new WatermarkOutbox(valid),
      });
      clocks = { transaction: clock(this.topics.transactionsRaw, this.topics.transactionsValid), label: clock(this.topics.labelsRaw, this.topics.labelsValid) };
      this.tasks.set(context.task, clocks);
    }
    return clocks;
  }
}
