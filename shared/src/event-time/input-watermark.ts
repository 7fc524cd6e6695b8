import type { TaskInfo } from '../processor.js';
import { InputClock } from './input-clock.js';
import { SourceClocks, type SourceClocksState } from './source-clocks.js';
import type { WatermarkMark } from './watermark.js';

/**
 * Where a task's view of an input's event-time progress comes from:
 * - `upstream`: the watermark records the tasks writing the topic put behind
 *   their data (ingest does, for transactions.valid and labels.valid). Only
 *   the writer knows whether its own input has a backlog, so only it can say
 *   "idle" safely: a reader started before its writer, or a writer restarted
 *   mid-replay, is then waited for, never taken as idle.
 * - `arrival`: for a topic producers write directly, the newest event time
 *   read less the allowed disorder, idle when caught up and quiet (InputClock).
 */
export type InputWatermarkMode = 'upstream' | 'arrival';

export interface Progress {
  time: number;
  idle: boolean;
}

export interface InputWatermarkSettings {
  mode: InputWatermarkMode;
  disorderMs: number;
  idleTimeoutMs: number;
}

/** Whether the task's partition of `topic` had nothing left to read when assigned (unknown: taken as caught up). */
export function caughtUpAtAssignment(task: TaskInfo, topic: string): boolean {
  return (task.lagAtAssignment.get(topic) ?? 0) === 0;
}

export class InputWatermark {
  private readonly clock: InputClock | undefined;
  private readonly clocks: SourceClocks | undefined;

  /** `caughtUp`: the partition's lag at assignment was 0 (arrival mode); `restored`: upstream clocks from the task's store. */
  constructor(settings: InputWatermarkSettings, now: number, caughtUp: boolean, restored?: SourceClocksState) {
    if (settings.mode === 'arrival') this.clock = new InputClock(settings.disorderMs, settings.idleTimeoutMs, now, caughtUp);
    else this.clocks = restored ? SourceClocks.restore(restored) : new SourceClocks();
  }

  observeEvent(time: number, now: number): void {
    this.clock?.observe(time, now);
  }

  /** Takes an upstream mark; true when it changed this input's progress (ignored in arrival mode). */
  observeMark(mark: WatermarkMark): boolean {
    return this.clocks?.observe(mark) ?? false;
  }

  endOfBatch(lag: number, now: number): void {
    this.clock?.endOfBatch(lag, now);
  }

  /**
   * `paused`: the task has stopped fetching this input (flow control). A paused partition is never idle in arrival
   * mode, however quiet: records may wait in the log unread, and a reader that stopped waiting for them would take
   * them as late. (In upstream mode the clocks stand still while paused: the marks behind the unread records are unread too.)
   */
  progress(now: number, paused = false): Progress {
    if (this.clock) {
      const idle = !paused && this.clock.idle(now);
      return { time: idle ? this.clock.newestTime : this.clock.time, idle };
    }
    return { time: this.clocks!.frontier, idle: this.clocks!.allIdle };
  }

  /** Arrival mode: the newest event time read (-Infinity in upstream mode or before any). */
  get newest(): number {
    return this.clock?.newestTime ?? -Infinity;
  }

  /** Upstream clocks to store beside the task's state (undefined in arrival mode). */
  state(): SourceClocksState | undefined {
    return this.clocks?.toState();
  }

  /** True in upstream mode until any upstream task has reported (for a warning when none ever does). */
  get unheard(): boolean {
    return this.clocks !== undefined && this.clocks.census().reported === 0;
  }
}

/**
 * A task's watermark over its inputs: the minimum over the inputs that are not
 * idle; idle when all are, at the newest time any reached (a reader that later
 * sees this source active again knows where it stood).
 */
export function combineProgress(inputs: readonly Progress[]): Progress {
  let time = Infinity;
  let newest = -Infinity;
  for (const input of inputs) {
    if (!input.idle && input.time < time) time = input.time;
    if (input.time > newest) newest = input.time;
  }
  return time === Infinity ? { time: newest, idle: true } : { time, idle: false };
}
