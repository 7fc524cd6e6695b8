import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/logger.js';
import { ConsumerRecovery, restartDelayMs } from '../src/recovery.js';

const logger = createLogger('test', 'silent');

describe('ConsumerRecovery', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(deadlineMs = 60_000, restart: () => Promise<void> = async () => undefined) {
    const giveUp = vi.fn();
    const restarts = vi.fn(restart);
    const recovery = new ConsumerRecovery({ name: 'g', logger, policy: { deadlineMs, giveUp }, restart: restarts, now: () => Date.now() });
    return { recovery, giveUp, restarts };
  }

  it('restarts a consumer kafkajs will not restart, with growing back-off, until it joins again', async () => {
    const { recovery, restarts, giveUp } = setup();
    recovery.crashed(new Error('Failed to find group coordinator'), false);
    expect(recovery.crash?.message).toBe('Failed to find group coordinator');
    await vi.advanceTimersByTimeAsync(restartDelayMs(0) - 1);
    expect(restarts).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(restarts).toHaveBeenCalledTimes(1);
    recovery.crashed(new Error('again'), false);
    await vi.advanceTimersByTimeAsync(restartDelayMs(1) - 1);
    expect(restarts).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(restarts).toHaveBeenCalledTimes(2);
    expect(recovery.joined()).toBe(restartDelayMs(0) + restartDelayMs(1));
    expect(recovery.crash).toBeUndefined();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(giveUp).not.toHaveBeenCalled();
    // The back-off starts over after a recovery.
    recovery.crashed(new Error('later'), false);
    await vi.advanceTimersByTimeAsync(restartDelayMs(0));
    expect(restarts).toHaveBeenCalledTimes(3);
  });

  it('leaves a crash kafkajs restarts itself to kafkajs, but still holds it to the deadline', async () => {
    const { recovery, restarts, giveUp } = setup(30_000);
    recovery.crashed(new Error('retriable'), true);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(restarts).not.toHaveBeenCalled();
    expect(giveUp).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(giveUp).toHaveBeenCalledTimes(1);
    expect(recovery.gaveUp).toBe(true);
  });

  it('gives up once, at the deadline counted from the first crash, when restarts keep failing', async () => {
    const { recovery, restarts, giveUp } = setup(60_000, async () => {
      throw new Error('ECONNREFUSED');
    });
    recovery.crashed(new Error('Failed to find group coordinator'), false);
    await vi.advanceTimersByTimeAsync(59_999);
    expect(restarts.mock.calls.length).toBeGreaterThan(3);
    expect(giveUp).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(giveUp).toHaveBeenCalledTimes(1);
    expect(String(giveUp.mock.calls[0]![0])).toContain('did not recover within 60000 ms');
    const calls = restarts.mock.calls.length;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(restarts.mock.calls.length).toBe(calls);
    expect(giveUp).toHaveBeenCalledTimes(1);
  });

  it('does nothing after stop', async () => {
    const { recovery, restarts, giveUp } = setup(10_000);
    recovery.crashed(new Error('x'), false);
    recovery.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(restarts).not.toHaveBeenCalled();
    expect(giveUp).not.toHaveBeenCalled();
  });

  it('waits 1 s, doubling, at most 15 s', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map(restartDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000]);
  });
});
