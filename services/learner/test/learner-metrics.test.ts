import { describe, expect, it } from 'vitest';
import { bufferedEventsOf } from '../src/learner-metrics.js';

describe('bufferedEventsOf', () => {
  it('sums the tasks and names the fullest', () => {
    expect(bufferedEventsOf([3, 12, 0, 7])).toEqual({ total: 22, largestTask: 12 });
  });

  it('is nothing held when the instance has no task', () => {
    expect(bufferedEventsOf([])).toEqual({ total: 0, largestTask: 0 });
  });
});
