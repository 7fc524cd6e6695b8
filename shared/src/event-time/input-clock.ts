/**
 * The watermark of one input partition read in arrival order, for the task
 * that reads it to pass on downstream: the newest event time read, less the
 * disorder the producers are allowed (events may arrive that much older than
 * the newest one without being late).
 *
 * Idle: the partition was caught up (no lag) when its last batch was read and
 * nothing has arrived for `idleTimeoutMs` of processing time. Requiring "caught
 * up" keeps a partition that is merely waiting its turn in a backlog replay
 * from being taken as idle; what remains is a source that has nothing to say
 * (a partition without traffic, labels before the first one), which must not
 * hold the others back.
 *
 * Resuming: a partition that was idle (`idle` said so) and receives records
 * again keeps reporting the time it stood at (active) for one more idle timeout before
 * its watermark moves on. Readers stop waiting for an idle source, so after a
 * quiet spell the first partition to resume would otherwise carry their
 * frontier past the records the other partitions are about to resume with,
 * and make them late: replaying a stream a few days at a time with quiet
 * pauses between made nearly every event late in every stage
 * (test/integration/event-time.int.test.ts, paced run: 11,465 events behind
 * the features watermark, 10,251 labels late in the learner). The hold gives
 * the partitions resuming together time to say so. It delays only what comes
 * right after a quiet spell: a steady stream never idles, and a sparse one's
 * records already waited about as long for their own partition's next mark or
 * idleness (marks trail the newest time read).
 */
export class InputClock {
  private newest = -Infinity;
  private lastArrivalAt: number;
  private caughtUp: boolean;
  /** While resuming from idle: the time reported (where the partition stood), and until when (processing time). */
  private held: { time: number; until: number } | undefined;
  /** `idle` has answered true since the last record: the partition may have been reported idle. */
  private saidIdle = false;
  /** The latest processing time the clock was told. */
  private now: number;

  /**
   * `caughtUp`: whether the partition had nothing left to read when its task was assigned (the processor's
   * `lagAtAssignment` is 0). One that had a backlog is not idle before a batch shows it caught up: in a replay
   * its first batch may come long after the others' (kafkajs fetches a few partitions at a time).
   */
  constructor(
    private readonly maxDisorderMs: number,
    private readonly idleTimeoutMs: number,
    now: number,
    caughtUp = true,
  ) {
    this.lastArrivalAt = now;
    this.caughtUp = caughtUp;
    this.now = now;
  }

  observe(eventTime: number, now: number): void {
    this.tick(now);
    // Only a partition that may have been reported idle holds: one merely quiet while its task was busy elsewhere
    // (a slow commit, a stalled broker) was never passed over, and holding it would only add latency.
    if (this.saidIdle) this.held = { time: this.newest, until: now + this.idleTimeoutMs };
    this.saidIdle = false;
    if (eventTime > this.newest) this.newest = eventTime;
    this.lastArrivalAt = now;
  }

  /** After a batch of this partition: how many records remain behind it. */
  endOfBatch(lag: number, now: number): void {
    this.caughtUp = lag <= 0;
    this.lastArrivalAt = now;
    this.tick(now);
  }

  /**
   * Everything at or before this time has been read (marks are inclusive): the newest time less the allowed
   * disorder, less one more millisecond, since another record of that same millisecond may still follow. While
   * resuming from idle (as of the latest processing time given to `observe`, `endOfBatch` or `idle`): where the
   * partition stood when it went idle.
   */
  get time(): number {
    if (this.held !== undefined && this.now < this.held.until) return this.held.time;
    return this.newest - this.maxDisorderMs - 1;
  }

  /** The newest event time read (an idle partition has passed on everything up to it). */
  get newestTime(): number {
    return this.newest;
  }

  idle(now: number): boolean {
    this.tick(now);
    const idle = this.caughtUp && now - this.lastArrivalAt >= this.idleTimeoutMs;
    if (idle) this.saidIdle = true;
    return idle;
  }

  private tick(now: number): void {
    if (now > this.now) this.now = now;
    if (this.held !== undefined && this.now >= this.held.until) this.held = undefined;
  }
}
