import type { ProcessingContext } from '../processor.js';
import type { Progress } from './input-watermark.js';

/** A watermark is re-sent this long after the last one even when unchanged, so a reader whose clocks were lost hears again. */
const WATERMARK_REPEAT_MS = 30_000;

/** One task's watermark output to one topic: written when it changed (or is old), behind the data queued so far. */
export class WatermarkOutbox {
  private last: string | undefined;
  private lastAt = -Infinity;

  constructor(private readonly topic: string) {}

  send(context: ProcessingContext, mark: Progress): void {
    const text = `${mark.time}/${mark.idle}`;
    if (text === this.last && context.now - this.lastAt < WATERMARK_REPEAT_MS) return;
    context.sendWatermark(this.topic, mark);
    this.last = text;
    this.lastAt = context.now;
  }
}
