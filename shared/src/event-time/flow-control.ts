import { Fifo } from '../fifo.js';
import type { ProcessingContext } from '../processor.js';

/**
 * Bounded event-time buffers: which inputs to stop reading, and when to read
 * them again. A reader holds what it reads until the slowest of its sources
 * has passed it, so a source that runs ahead fills the reader's buffer with
 * events it cannot release yet (in a replay: labels established 7 days after
 * their transactions, read as fast as the transactions that precede them; one
 * upstream task ahead of another). Instead of growing, the reader's side stops
 * fetching what runs ahead, as Flink's watermark alignment pauses the splits
 * that drift too far ahead of the group's minimum and Kafka Streams' task
 * idling stops taking records from a partition ahead of the others. Pausing
 * changes when a record is read, never which or in what order it is applied:
 * the outputs stay a function of the input.
 *
 * Two places, one rule (`flowDecision`):
 * - inside one task with two inputs meeting in a buffer (`inputFlow`): the
 *   learner's join (vectors vs labels), the features customer stage (its
 *   transactions vs labels, which meet in the terminal stage's buffer);
 * - across the tasks writing one topic a reader merges (`alignmentFlow`):
 *   each writer compares its own watermark with the slowest source's as the
 *   reader has read it, through an in-process view of the reader's clocks
 *   and load (alignment-board.ts).
 *
 * The rule: once the buffer holds more than `maxBuffered` events, an input
 * more than `maxAheadMs` of event time ahead of the slowest one is paused; a
 * paused input is read again when the buffer has drained to half its limit,
 * or the slowest has come within half the distance (the halves keep a paused
 * input from flapping at every batch). The input holding the minimum is never
 * paused, and an idle one is not waited for, so it neither counts nor is
 * paused: the frontier can always move, so pausing cannot deadlock.
 *
 * A writer that releases from a buffer of its own is also held to a budget
 * of what it may have sent past the reader's frontier (`ReleaseBudget`).
 */

export interface FlowLimits {
  /** Events held in the buffer past which inputs running ahead are paused. */
  maxBuffered: number;
  /** Event time (ms) an input may run ahead of the slowest before it is paused, once the buffer is past its limit. */
  maxAheadMs: number;
}

/** One input (or upstream source) as the decision sees it: its watermark, whether it is idle, whether it is paused now. */
export interface FlowInput {
  time: number;
  idle: boolean;
  paused: boolean;
}

/** What to do with an input: stop fetching it, fetch it again, or leave it as it is. */
export type FlowAction = 'pause' | 'resume' | 'keep';

/**
 * The decision for one input, given the slowest active input's time (`slowest`; Infinity when every other input
 * is idle) and the buffer's size. Pure; `inputFlow` and `alignmentFlow` apply it.
 */
export function flowDecision(input: FlowInput, slowest: number, buffered: number, limits: FlowLimits): FlowAction {
  const ahead = input.time - slowest;
  // Idle: not waited for, so nothing to align. Holding the minimum (ahead ≤ 0, NaN for -Infinity − -Infinity): the frontier waits for it.
  if (input.idle || !(ahead > 0)) return input.paused ? 'resume' : 'keep';
  if (input.paused) return buffered <= limits.maxBuffered / 2 || ahead <= limits.maxAheadMs / 2 ? 'resume' : 'keep';
  return buffered > limits.maxBuffered && ahead > limits.maxAheadMs ? 'pause' : 'keep';
}

/** The minimum over the inputs that are not idle (Infinity when all are). */
export function slowestTime(inputs: Iterable<{ time: number; idle: boolean }>): number {
  let slowest = Infinity;
  for (const input of inputs) if (!input.idle && input.time < slowest) slowest = input.time;
  return slowest;
}

/** The inputs of one task that meet in its buffer: one action per input, in order. */
export function inputFlow(inputs: readonly FlowInput[], buffered: number, limits: FlowLimits): FlowAction[] {
  const slowest = slowestTime(inputs);
  return inputs.map((input) => flowDecision(input, slowest, buffered, limits));
}

/** What a writer can see of the reader it feeds: every source's watermark as the reader has read it, and its load. */
export interface SourcesView {
  /** How many sources the reader expects (the writing stage's partition count, from their marks). */
  expected: number;
  clocks: ReadonlyMap<number, { time: number; idle: boolean }>;
  /**
   * What the reader holds plus what waits for it unread in its input (its lag): a writer ahead of a slower reader
   * has already written into the topic what the buffer will hold, so the buffer alone shows the pressure too late.
   */
  buffered: number;
}

/**
 * Watermark alignment for the writer `source`, whose own watermark is `own`: the same rule, with the slowest
 * source's watermark as the reader has read it and this source's own (what it has written since, still unread
 * by the reader, is ahead too). The source the reader waits for (its clock there is the slowest) is never paused,
 * whatever it has written since: the reader reads it, so the reader's minimum always moves. No view (no reader in
 * this process, or none heard from lately), or a reader that has not heard this source yet: nothing is paused. A
 * source the reader expects but has not heard from holds the minimum (-Infinity: the reader releases nothing yet).
 */
export function alignmentFlow(view: SourcesView | undefined, source: number, own: { time: number; idle: boolean }, paused: boolean, limits: FlowLimits): FlowAction {
  const heard = view?.clocks.get(source);
  if (view === undefined || heard === undefined) return paused ? 'resume' : 'keep';
  const slowest = readerFrontier(view);
  if (heard.idle || !(heard.time > slowest)) return paused ? 'resume' : 'keep';
  return flowDecision({ time: Math.max(own.time, heard.time), idle: own.idle, paused }, slowest, view.buffered, limits);
}

/**
 * Watermark alignment for a writer that releases from a buffer of its own (the learner's join). Pausing its inputs
 * does not bound what it releases: every join task gets the same watermarks from the features service, so in a
 * replay all of them release the same step of event time (two days, one ingest batch) at once, and the reader
 * holds every task's share of it until the last task's mark arrives (a 14-day replay: 53,103-87,866 examples
 * against a limit of 10,000). So each of the reader's sources may have sent at most its share of the limit past
 * the reader's frontier. The reader's frontier is the slowest source as it has read them (-Infinity until it has
 * heard them all); what a source has sent but the reader not yet read counts too, so the bound holds over the
 * reader's buffer and its lag together.
 */
export class ReleaseBudget {
  /** Event times of what this writer sent past the reader's frontier, in order. */
  private sent = new Fifo<number>();
  private tracking = false;

  /**
   * How many more events this writer may send now; Infinity without a view (nothing is tracked then). `writers`:
   * how many sources the reader has at least, for before it has heard any (this writer and its local peers).
   */
  room(view: SourcesView | undefined, limits: FlowLimits, writers: number): number {
    this.tracking = view !== undefined;
    if (view === undefined) {
      this.sent = new Fifo();
      return Infinity;
    }
    const frontier = readerFrontier(view);
    for (let time = this.sent.peek(); time !== undefined && time <= frontier; time = this.sent.peek()) this.sent.shift();
    return Math.max(0, Math.ceil(limits.maxBuffered / Math.max(1, view.expected, writers)) - this.sent.length);
  }

  /** An event sent, at its event time in the reader's order (sends come in that order). */
  record(time: number): void {
    if (this.tracking) this.sent.push(time);
  }
}

/**
 * How far the reader has released: its slowest source as it has read them, -Infinity until it has heard every one
 * it expects (and before it has heard any, where slowestTime would say Infinity: all idle).
 */
function readerFrontier(view: SourcesView): number {
  return view.clocks.size === 0 || view.clocks.size < view.expected ? -Infinity : slowestTime(view.clocks.values());
}

/** The paused state after an action. */
export function pausedAfter(action: FlowAction, paused: boolean): boolean {
  return action === 'pause' ? true : action === 'resume' ? false : paused;
}

/** Brings the task's input to the paused state decided (a no-op when it is there already). */
export function setInputPaused(context: ProcessingContext, topic: string, paused: boolean): void {
  if (paused === context.isInputPaused(topic)) return;
  if (paused) context.pauseInput(topic);
  else context.resumeInput(topic);
  context.logger.debug({ topic, partition: context.partition, paused }, paused ? 'input paused: it runs ahead of what the buffer can release' : 'input resumed');
}
