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

/** How a task's batches ended: which of them were processed and committed (a batch whose input was paused meanwhile is left to be fetched again). */
export type BatchesOutcome = { ok: true; processed: readonly Batch[] } | { ok: false; error: unknown; reason: string };

/**
 * Runs a task's batches in one transaction: each batch's messages through the handler and its after-batch step, in
 * the order given, then one commit with every batch's offset. A batch whose input the handler has paused by the
 * time its turn comes (`isPaused`: the batch was fetched before the pause) is skipped and left unresolved, as a
 * batch of its own would be.
 */
export async function runBatches(settings: TaskWorkSettings, task: Task, batches: readonly Batch[], isPaused: (topic: string) => boolean): Promise<BatchesOutcome> {
  const { definition, metrics } = settings;
  const processed: { batch: Batch; marks: number; outputs: QueuedOutput[]; effects: (() => void)[]; deadLettered: () => number }[] = [];
  for (const batch of batches) {
    if (isPaused(batch.topic)) continue;
    const input = settings.inputs.get(batch.topic)!;
    const opened = openTaskContext(settings, task, { input: input.role ?? batch.topic, topic: batch.topic, lag: batchLag(batch) }, input.deadLetterTopic);
    const { context } = opened;
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
    processed.push({ batch, marks, outputs: opened.outputs, effects: opened.effects, deadLettered: opened.deadLettered });
  }
  if (processed.length === 0) return { ok: true, processed: [] };
  // Not push(...outputs): a batch can queue more outputs than a call takes arguments.
  const outputs = processed.length === 1 ? processed[0]!.outputs : processed.flatMap((done) => done.outputs);
  const committed = await commit(
    settings,
    task,
    processed.map(({ batch }) => ({ topic: batch.topic, lastOffset: batch.lastOffset(), oldestHeld: definition.heldInputs?.oldestHeld(task.info, batch.topic) })),
    outputs,
  );
  if (!committed.ok) return committed;
  for (const done of processed) for (const effect of done.effects) effect();
  for (const { batch, marks, deadLettered } of processed) {
    metrics.consumed.inc({ topic: batch.topic, outcome: 'processed' }, batch.messages.length - deadLettered() - marks);
    if (marks > 0) metrics.watermarkRecords.inc({ topic: batch.topic, direction: 'read' }, marks);
    if (deadLettered() > 0) metrics.consumed.inc({ topic: batch.topic, outcome: 'dead_lettered' }, deadLettered());
  }
  return { ok: true, processed: processed.map(({ batch }) => batch) };
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
  const committed = await commit(settings, task, [], outputs);
  if (committed.ok) for (const effect of effects) effect();
  return committed;
}

function openTaskContext(settings: TaskWorkSettings, task: Task, batch: ProcessingContext['batch'], fallbackDeadLetterTopic: string) {
  return openContext(task, settings.environment, batch, fallbackDeadLetterTopic, Date.now());
}

/** Commits the outputs and state changes, with the input offsets of the batches (none for a punctuation), and counts what was written. */
async function commit(settings: TaskWorkSettings, task: Task, consumed: readonly { topic: string; lastOffset: string; oldestHeld?: string }[], outputs: QueuedOutput[]): Promise<WorkOutcome> {
  const { groupId, metrics } = settings;
  try {
    const written = await writeTransaction(task.producer, settings.serde, outputs, task.stores.values(), consumed.map((offset) => ({ groupId, partition: task.partition, ...offset })));
    metrics.transactions.inc({ group: groupId, outcome: 'committed' });
    for (const [topic, count] of written.records) metrics.produced.inc({ topic }, count);
    for (const [topic, count] of written.watermarks) metrics.watermarkRecords.inc({ topic, direction: 'written' }, count);
    return { ok: true, committed: true };
  } catch (error) {
    metrics.transactions.inc({ group: groupId, outcome: 'aborted' });
    return { ok: false, error, reason: 'transaction aborted: state will be restored and the batch retried' };
  }
}
