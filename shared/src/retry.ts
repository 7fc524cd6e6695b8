import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Calls in all, the first included. */
  attempts: number;
  /** Wait after failed attempt n (1-based). */
  delayMs: (attempt: number) => number;
  /** Which failures are worth another attempt, by a flag the error carries (errors.ts isRetriable), never by its text; all when absent. */
  retriable?: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number) => void;
}

/** Calls `request` until it succeeds, a failure is not retriable, or the attempts are spent (the last error is thrown). */
export async function retrying<T>(request: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if (attempt >= options.attempts || options.retriable?.(error) === false) throw error;
      options.onRetry?.(error, attempt);
      await sleep(options.delayMs(attempt));
    }
  }
}
