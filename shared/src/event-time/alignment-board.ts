import type { SourcesView } from './flow-control.js';

/** The part of a reader task's state the board reads, live: its upstream clocks and the size of its buffer. */
export interface ReaderState {
  readonly clocks: { readonly expected: number; readonly bySource: ReadonlyMap<number, { time: number; idle: boolean }> };
  readonly buffered: number;
}

/**
 * Watermark alignment needs each writer to know the slowest source its reader
 * waits for. Sluice needs no coordinator for that (Flink's alignment has one):
 * every writer task puts its marks on every partition of the topic, so every
 * reader task, whichever its partition, reads every source's watermark, and
 * any one of them knows the minimum. The writer and the reader of a
 * repartition are two processors of the same service, so an in-process board
 * is enough: each reader task publishes its live state here after each batch
 * and punctuation, and each writer task reads the view of the local reader
 * that is furthest along (the most recent minimum), with the largest buffer
 * among them (any reader past its limit is pressure). With at most as many
 * instances as partitions every instance owns a reader task (the assignor
 * deals p mod n); the learner's training stage has one partition, so only the
 * join tasks of the instance that trains are aligned.
 * A reader not heard from for `staleMs` (revoked, its processor restarting)
 * is left out; with none left there is no view and nothing is paused: the
 * bound is lost, never the progress.
 * A writer task that paused its input reads the board again only when it is
 * punctuated; a publish tells the listeners (the writers' processor wakes
 * its paused tasks: StreamProcessor.wake), so a reader's progress lets
 * them read again at once.
 */
export class AlignmentBoard {
  private readonly readers = new Map<number, { state: ReaderState; seenAt: number }>();
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly staleMs: number) {}

  /** Reader task `partition` is alive with this state (a new assignment's state replaces the old one). */
  publish(partition: number, state: ReaderState, now: number): void {
    this.readers.set(partition, { state, seenAt: now });
    for (const listener of this.listeners) listener();
  }

  /** `listener` is called after every publish: a reader has moved, or is still there. */
  onPublish(listener: () => void): void {
    this.listeners.push(listener);
  }

  view(now: number): SourcesView | undefined {
    let best: ReaderState | undefined;
    let bestSlowest = -Infinity;
    let buffered = 0;
    for (const [partition, reader] of this.readers) {
      if (now - reader.seenAt > this.staleMs) {
        this.readers.delete(partition);
        continue;
      }
      const slowest = slowestOf(reader.state);
      if (best === undefined || slowest > bestSlowest) {
        best = reader.state;
        bestSlowest = slowest;
      }
      buffered = Math.max(buffered, reader.state.buffered);
    }
    return best && { expected: best.clocks.expected, clocks: best.clocks.bySource, buffered };
  }
}

function slowestOf(state: ReaderState): number {
  const { expected, bySource: clocks } = state.clocks;
  if (clocks.size < expected) return -Infinity;
  let slowest = Infinity;
  for (const clock of clocks.values()) if (!clock.idle && clock.time < slowest) slowest = clock.time;
  return slowest;
}

/**
 * The writers' side of watermark alignment, for when no reader task is in view (before the first has finished a
 * batch: in a replay the writers can have written most of their input by then): the writer tasks of this instance
 * publish their own watermarks here, and the slowest of them stands in for the reader's minimum. It is at least
 * the true minimum (writers in other instances are not seen), so it pauses less, never wrongly: the slowest local
 * writer is never paused. Tasks not heard from for `staleMs` are left out. The pressure is unknown: reported as
 * Infinity, so the distance alone decides.
 */
export class PeerMarks {
  private readonly marks = new Map<number, { mark: { time: number; idle: boolean }; seenAt: number }>();

  constructor(private readonly staleMs: number) {}

  publish(source: number, mark: { time: number; idle: boolean }, now: number): void {
    this.marks.set(source, { mark, seenAt: now });
  }

  view(now: number): SourcesView | undefined {
    const clocks = new Map<number, { time: number; idle: boolean }>();
    for (const [source, entry] of this.marks) {
      if (now - entry.seenAt > this.staleMs) this.marks.delete(source);
      else clocks.set(source, entry.mark);
    }
    return clocks.size === 0 ? undefined : { expected: clocks.size, clocks, buffered: Infinity };
  }
}
