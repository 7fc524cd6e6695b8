import type { Batch } from 'kafkajs';
import type { AvroSerde } from '../serde.js';
import type { InputDefinition, ProcessingContext, ProcessorDefinition } from './contract.js';
import { decodeInput } from './input-decoder.js';
import { openContext, processOne, type ContextEnvironment, type QueuedOutput } from './processing-context.js';
import type { ProcessorMetrics } from './processor-metrics.js';
import type { Task } from './tasks.js';
import { writeTransaction } from './transaction-writer.js';

export interface TaskWorkSettings {
  definition: ProcessorDefinition;
  inputs: ReadonlyMap<string, InputDefinition>;
  serde: AvroSerde;
  groupId: string;
  metrics: ProcessorMetrics;
  environment: ContextEnvironment;
}

/**
 * How a task's work ended. Anything but `committed` leaves the task's
 * in-memory state holding changes that did not commit: the caller discards the
 * task, so that the next one restores its state from the changelog.
 */
export type WorkOutcome = { ok: true; committed: boolean } | { ok: false; error: unknown; reason: string };

/**
 * Messages left in the batch's partition after it. kafkajs counts a batch that is empty once transaction markers
 * and aborted records are filtered out as ending at the offset it was fetched from (kafkajs batch.js), so at the end
 * of a partition its `offsetLag()` can be -1 (the monitoring test read -1 in sluice_consumer_lag_messages,
 * 2026-12-02); nothing is unread then.
 */
export function batchLag(batch: Pick<Batch, 'offsetLag'>): number {
  return Math.max(0, Number(batch.offsetLag()));
}

/** Runs one batch of a task: its messages through the handler, the after-batch step, and its commit with the batch's offset. */
export async function runBatch(settings: TaskWorkSettings, task: Task, batch: Batch): Promise<WorkOutcome> {
  const { definition, metrics } = settings;
  const input = settings.inputs.get(batch.topic)!;
  const { context, outputs, effects, deadLettered } = openTaskContext(settings, task, { input: input.role ?? batch.topic, topic: batch.topic, lag: batchLag(batch) }, input.deadLetterTopic);
  let marks = 0;
  for (const message of batch.messages) {
    const decoded = await decodeInput(settings.serde, message, batch.topic, batch.partition, input, context);
    if (decoded?.watermark !== undefined) marks += 1;
    if (decoded === undefined || (decoded.watermark !== undefined && !input.watermarks)) continue;
    await processOne(definition.process, decoded, context);
  }
  try {
    await definition.afterBatch?.(context);
  } catch (error) {
    return { ok: false, error, reason: 'after-batch step failed: state will be restored and the batch retried' };
  }
  const committed = await commit(settings, task, { topic: batch.topic, lastOffset: batch.lastOffset() }, outputs);
  if (!committed.ok) return committed;
  for (const effect of effects) effect();
  metrics.consumed.inc({ topic: batch.topic, outcome: 'processed' }, batch.messages.length - deadLettered() - marks);
  if (marks > 0) metrics.watermarkRecords.inc({ topic: batch.topic, direction: 'read' }, marks);
  if (deadLettered() > 0) metrics.consumed.inc({ topic: batch.topic, outcome: 'dead_lettered' }, deadLettered());
  return committed;
}

/** Runs the task's punctuation, and commits what it sent and changed (nothing to commit: no transaction). */
export async function runPunctuation(settings: TaskWorkSettings, task: Task, run: (context: ProcessingContext) => void): Promise<WorkOutcome> {
  const { context, outputs, effects } = openTaskContext(settings, task, undefined, settings.definition.inputs[0]!.deadLetterTopic);
  try {
    run(context);
  } catch (error) {
    // A failing handler may have changed part of the state: left in place, the next batch would commit it.
    return { ok: false, error, reason: 'punctuation failed: state will be restored from the changelog' };
  }
  if (outputs.length === 0 && ![...task.stores.values()].some((store) => store.hasChanges)) {
    // Nothing to write: what it saw is already committed, so its effects stand (a prune after a quiet punctuation is one).
    for (const effect of effects) effect();
    return { ok: true, committed: false };
  }
  const committed = await commit(settings, task, undefined, outputs);
  if (committed.ok) for (const effect of effects) effect();
  return committed;
}

function openTaskContext(settings: TaskWorkSettings, task: Task, batch: ProcessingContext['batch'], fallbackDeadLetterTopic: string) {
  return openContext(task, settings.environment, batch, fallbackDeadLetterTopic, Date.now());
}

/** Commits the outputs and state changes, with the input offset of the batch (none for a punctuation), and counts what was written. */
async function commit(settings: TaskWorkSettings, task: Task, consumed: { topic: string; lastOffset: string } | undefined, outputs: QueuedOutput[]): Promise<WorkOutcome> {
  const { groupId, metrics } = settings;
  try {
    const written = await writeTransaction(task.producer, settings.serde, outputs, task.stores.values(), consumed && { groupId, partition: task.partition, ...consumed });
    metrics.transactions.inc({ group: groupId, outcome: 'committed' });
    for (const [topic, count] of written.records) metrics.produced.inc({ topic }, count);
    for (const [topic, count] of written.watermarks) metrics.watermarkRecords.inc({ topic, direction: 'written' }, count);
    return { ok: true, committed: true };
  } catch (error) {
    metrics.transactions.inc({ group: groupId, outcome: 'aborted' });
    return { ok: false, error, reason: 'transaction aborted: state will be restored and the batch retried' };
  }
}
