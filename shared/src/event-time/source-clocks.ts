import type { WatermarkMark } from './watermark.js';

/** What a reader knows of one upstream source. */
export interface SourceClock {
  time: number;
  idle: boolean;
}

/** The serialisable form of a reader's clocks (stored beside its buffer, so a restored reader resumes where it was). */
export interface SourceClocksState {
  sources: number;
  /** null for -Infinity, which JSON cannot hold. */
  frontier: number | null;
  clocks: [number, { time: number | null; idle: boolean }][];
}

/**
 * A reader's view of its upstream sources' watermarks, and the frontier they
 * allow: the minimum over the sources that are not idle. Until every one of
 * the `sources` sources has reported, nothing is released (an unknown source
 * may still send anything). When every source is idle, nothing is in flight:
 * the frontier moves to the newest time any source reached, so what is held
 * is released (the end of a replay, a quiet night) instead of waiting for the
 * next event. A source that was idle and resumes behind that is late, the
 * price of any idle timeout (Flink's idleness has the same trade-off).
 * A source's clock only moves forward (a restarted source re-reads its input
 * and reports older times again), and so does the frontier: an event older
 * than it is late, whichever source it came from.
 */
export class SourceClocks {
  private readonly clocks = new Map<number, SourceClock>();
  private sources = 0;
  private floor = -Infinity;

  static restore(state: SourceClocksState): SourceClocks {
    const restored = new SourceClocks();
    restored.sources = state.sources;
    restored.floor = state.frontier ?? -Infinity;
    for (const [source, clock] of state.clocks) restored.clocks.set(source, { time: clock.time ?? -Infinity, idle: clock.idle });
    return restored;
  }

  /** Takes a source's mark; true when the frontier moved. */
  observe(mark: WatermarkMark): boolean {
    const before = this.floor;
    this.sources = Math.max(this.sources, mark.sources);
    const clock = this.clocks.get(mark.source);
    if (clock === undefined) this.clocks.set(mark.source, { time: mark.time, idle: mark.idle });
    else {
      clock.time = Math.max(clock.time, mark.time);
      clock.idle = mark.idle;
    }
    this.advance();
    return this.floor !== before;
  }

  /** Events at or before this time can be applied: no source will send anything older (or it is late). */
  get frontier(): number {
    return this.floor;
  }

  /** How many sources write to the topic, as their marks say (0 before any). */
  get expected(): number {
    return this.sources;
  }

  /** Each source's clock as last heard (live: a writer aligning on this reader reads it, alignment-board.ts). */
  get bySource(): ReadonlyMap<number, Readonly<SourceClock>> {
    return this.clocks;
  }

  /** Sources heard from / expected, and how many of them are idle now (for metrics). */
  census(): { expected: number; reported: number; idle: number } {
    let idle = 0;
    for (const clock of this.clocks.values()) if (clock.idle) idle++;
    return { expected: this.sources, reported: this.clocks.size, idle };
  }

  /** True when every expected source is idle: the reader's own output is idle too. */
  get allIdle(): boolean {
    if (this.sources === 0 || this.clocks.size < this.sources) return false;
    for (const clock of this.clocks.values()) if (!clock.idle) return false;
    return true;
  }

  toState(): SourceClocksState {
    return {
      sources: this.sources,
      frontier: Number.isFinite(this.floor) ? this.floor : null,
      clocks: [...this.clocks].map(([source, clock]) => [source, { time: Number.isFinite(clock.time) ? clock.time : null, idle: clock.idle }]),
    };
  }

  private advance(): void {
    if (this.sources === 0 || this.clocks.size < this.sources) return;
    let min = Infinity;
    let newest = -Infinity;
    for (const clock of this.clocks.values()) {
      if (!clock.idle && clock.time < min) min = clock.time;
      if (clock.time > newest) newest = clock.time;
    }
    const frontier = min === Infinity ? newest : min;
    if (frontier > this.floor) this.floor = frontier;
  }
}
