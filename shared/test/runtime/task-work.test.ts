import { describe, expect, it } from 'vitest';
import { batchLag } from '../../src/runtime/task-work.js';

describe('batchLag', () => {
  it('is what kafkajs counts after the batch', () => {
    expect(batchLag({ offsetLag: () => '1234' })).toBe(1234);
    expect(batchLag({ offsetLag: () => '0' })).toBe(0);
  });

  it('is 0, not -1, for a batch that held only a transaction marker at the end of its partition', () => {
    expect(batchLag({ offsetLag: () => '-1' })).toBe(0);
  });
});
