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

  get time(): number {
    return this.newest - this.maxDisorderMs;
  }

  idle(now: number): boolean {
    return this.caughtUp && now - this.lastArrivalAt >= this.idleTimeoutMs;
  }
}

/**
 * A task's watermark over its inputs' clocks: the minimum over the inputs that
 * are not idle; idle when all are. (A task reading transactions and labels
 * passes on the older of the two, unless one of them has nothing to say.)
 */
export function combineInputClocks(clocks: readonly InputClock[], now: number): { time: number; idle: boolean } {
  let time = Infinity;
  for (const clock of clocks) if (!clock.idle(now) && clock.time < time) time = clock.time;
  if (time === Infinity) {
    // All idle: report the newest time any of them reached, so a reader that later sees this source active again knows where it stood.
    let newest = -Infinity;
    for (const clock of clocks) if (clock.time > newest) newest = clock.time;
    return { time: newest, idle: true };
  }
  return { time, idle: false };
}
