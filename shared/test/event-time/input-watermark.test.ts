import { describe, expect, it } from 'vitest';
import { InputWatermark } from '../../src/event-time/input-watermark.js';

describe('InputWatermark', () => {
  it('arrival mode: a paused input is never idle, however quiet (records may wait unread in the log)', () => {
    const input = new InputWatermark({ mode: 'arrival', disorderMs: 0, idleTimeoutMs: 1_000 }, 0, true);
    input.observeEvent(500, 0);
    input.endOfBatch(0, 0);
    expect(input.progress(5_000)).toEqual({ time: 500, idle: true });
    expect(input.progress(5_000, true)).toEqual({ time: 499, idle: false });
  });
});
