import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { summariseHeapSnapshot } from '../../../bench/pipeline/heap-snapshot-summary.js';

describe('summariseHeapSnapshot', () => {
  it('counts what is live, ArrayBuffers included, and not what was dropped before the snapshot', () => {
    const directory = mkdtempSync(join(tmpdir(), 'heap-summary-'));
    try {
      const held = new Float64Array(4 * 2 ** 20); // 32 MiB, live
      (() => new Float64Array(8 * 2 ** 20).fill(1))(); // 64 MiB, garbage by the time of the snapshot
      const summary = summariseHeapSnapshot(writeHeapSnapshot(join(directory, 'test.heapsnapshot')));
      held[0] = 1;
      expect(summary.arrayBufferBytes).toBeGreaterThanOrEqual(32 * 2 ** 20);
      expect(summary.arrayBufferBytes).toBeLessThan(64 * 2 ** 20);
      expect(summary.liveBytes).toBeGreaterThan(summary.arrayBufferBytes);
      expect(summary.kinds[0]).toEqual(['native:system / JSArrayBufferData', expect.any(Number), expect.any(Number)]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
