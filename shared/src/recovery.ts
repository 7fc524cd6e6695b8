import type { Logger } from './logger.js';

/** What a service does about a Kafka client that stopped working. */
export interface RecoveryPolicy {
  /** How long a crashed consumer may go without joining its group again before the service gives up. */
  deadlineMs: number;
  /** Ends the service with a non-zero exit code, so that a supervisor restarts it. */
  giveUp(reason: string, error: unknown): void;
}

export const DEFAULT_RECOVERY_DEADLINE_MS = 180_000;

/** Without a service runtime (tests, benches): exit non-zero at once, there being nothing to close in order. */
export function exitingRecovery(logger: Logger, deadlineMs = DEFAULT_RECOVERY_DEADLINE_MS): RecoveryPolicy {
  return {
    deadlineMs,
    giveUp(reason, error) {
      logger.fatal({ err: error }, `${reason}: exiting so that a supervisor restarts the service`);
      process.exit(1);
    },
  };
}

/** Wait before the n-th restart in a row (0-based): 1 s, doubling, at most 15 s. */
export function restartDelayMs(attempt: number): number {
  return Math.min(1_000 * 2 ** attempt, 15_000);
}

export interface ConsumerRecoveryOptions {
  /** Names the consumer in logs and in the give-up reason. */
  name: string;
  logger: Logger;
  policy: RecoveryPolicy;
  /** Replaces the crashed consumer with a new one (disconnect, create, subscribe, run). A throw counts as another crash. */
  restart(): Promise<void>;
  now?: () => number;
}

/**
 * Keeps a kafkajs consumer alive through broker outages. kafkajs restarts a
 * crashed consumer itself only when the cause is retriable; with the broker
 * away for ~20 s a consumer crashed with `KafkaJSNonRetriableError: Failed to
 * find group coordinator` and stayed stopped while the process lived on idle
 * (issue 15). Here a crash kafkajs will not restart is restarted in-process
 * with back-off; if the consumer has not joined its group again within the
 * deadline, the service gives up (exits non-zero) instead of staying up idle.
 */
export class ConsumerRecovery {
  private error: Error | undefined;
  private since: number | undefined;
  private attempts = 0;
  private deadline?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  private stopped = false;
  private failed = false;

  constructor(private readonly options: ConsumerRecoveryOptions) {}

  /** The crash not yet recovered from, if any. */
  get crash(): Error | undefined {
    return this.error;
  }

  get gaveUp(): boolean {
    return this.failed;
  }

  /** The consumer crashed; `kafkajsRestarts` is kafkajs's own `restart` flag. */
  crashed(error: Error, kafkajsRestarts: boolean): void {
    if (this.stopped || this.failed) return;
    const now = (this.options.now ?? Date.now)();
    this.error = error;
    if (this.since === undefined) {
      this.since = now;
      this.deadline = setTimeout(() => this.giveUp(), this.options.policy.deadlineMs);
      this.deadline.unref();
    }
    const { logger, name } = this.options;
    if (kafkajsRestarts) {
      logger.warn({ err: error, consumer: name }, 'consumer crashed: kafkajs restarts it');
      return;
    }
    const delayMs = restartDelayMs(this.attempts++);
    logger.warn({ err: error, consumer: name, restartInMs: delayMs, attempt: this.attempts }, 'consumer crashed: restarting it in-process');
    clearTimeout(this.pending);
    this.pending = setTimeout(() => void this.restart(), delayMs);
  }

  /** The consumer joined its group: whatever crash came before is over. Returns how long it was down (ms), if it was. */
  joined(): number | undefined {
    if (this.since === undefined) return undefined;
    const downMs = (this.options.now ?? Date.now)() - this.since;
    clearTimeout(this.deadline);
    this.error = undefined;
    this.since = undefined;
    this.attempts = 0;
    this.options.logger.info({ consumer: this.options.name, downMs }, 'consumer recovered');
    return downMs;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.deadline);
    clearTimeout(this.pending);
  }

  private async restart(): Promise<void> {
    if (this.stopped || this.failed) return;
    try {
      await this.options.restart();
    } catch (error) {
      this.crashed(error instanceof Error ? error : new Error(String(error)), false);
    }
  }

  private giveUp(): void {
    if (this.stopped || this.since === undefined) return;
    this.failed = true;
    clearTimeout(this.pending);
    this.options.policy.giveUp(`consumer ${this.options.name} did not recover within ${this.options.policy.deadlineMs} ms of crashing`, this.error);
  }
}
