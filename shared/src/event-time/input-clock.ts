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
 */
export class InputClock {
  private newest = -Infinity;
  private lastArrivalAt: number;
  private caughtUp: boolean;

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
  }

  observe(eventTime: number, now: number): void {
    if (eventTime > this.newest) this.newest = eventTime;
    this.lastArrivalAt = now;
  }

  /** After a batch of this partition: how many records remain behind it. */
  endOfBatch(lag: number, now: number): void {
    this.caughtUp = lag <= 0;
    this.lastArrivalAt = now;
  }

  /**
   * Everything at or before this time has been read (marks are inclusive): the newest time less the allowed
   * disorder, less one more millisecond, since another record of that same millisecond may still follow.
   */
  get time(): number {
    return this.newest - this.maxDisorderMs - 1;
  }

  /** The newest event time read (an idle partition has passed on everything up to it). */
  get newestTime(): number {
    return this.newest;
  }

  idle(now: number): boolean {
    return this.caughtUp && now - this.lastArrivalAt >= this.idleTimeoutMs;
  }
}
