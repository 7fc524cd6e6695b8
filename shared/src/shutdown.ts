import type { Logger } from './logger.js';

type Closer = () => Promise<void>;

/**
 * Runs the registered closers in reverse order of registration on SIGTERM or
 * SIGINT (a processor first finishes or aborts its open transaction and leaves
 * its group, then the servers close), and exits. A second signal, or a stuck
 * closer past the deadline, exits at once.
 */
export class GracefulShutdown {
  private readonly closers: { name: string; close: Closer }[] = [];
  private shuttingDown = false;

  constructor(
    private readonly logger: Logger,
    private readonly deadlineMs = 30_000,
  ) {}

  register(name: string, close: Closer): void {
    this.closers.push({ name, close });
  }

  listen(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        if (this.shuttingDown) {
          this.logger.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        void this.shutdown(signal).then((code) => process.exit(code));
      });
    }
  }

  /**
   * For a failure the service cannot recover from in-process (a consumer that
   * did not come back within its deadline): closes what it can, then exits
   * non-zero, so that a supervisor (Kubernetes, systemd, compose) restarts it.
   */
  fail(reason: string, error: unknown): void {
    if (this.shuttingDown) return;
    this.logger.fatal({ err: error, reason }, `${reason}: exiting so that a supervisor restarts the service`);
    void this.shutdown(reason).then(() => process.exit(1));
  }

  /** Closes everything; resolves with the exit code (0 when every closer finished in time). */
  async shutdown(reason: string): Promise<number> {
    this.shuttingDown = true;
    this.logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      this.logger.error({ deadlineMs: this.deadlineMs }, 'shutdown deadline passed: exiting');
      process.exit(1);
    }, this.deadlineMs);
    timer.unref();
    let code = 0;
    for (const { name, close } of [...this.closers].reverse()) {
      try {
        await close();
      } catch (error) {
        code = 1;
        this.logger.error({ err: error, component: name }, 'error while closing');
      }
    }
    clearTimeout(timer);
    this.logger.info('shut down cleanly');
    return code;
  }
}
