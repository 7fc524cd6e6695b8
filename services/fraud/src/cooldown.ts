import { z } from 'zod';
import type { KeyValueStore } from '@sluice/shared';
import { Fifo } from '@sluice/shared';

/**
 * Optional per-customer alert cool-down.
 *
 * The first alert of a burst goes out at once: a card may need blocking now,
 * and an emitted Kafka message cannot be amended later. Qualifying
 * transactions within `cooldownMs` (event time) of the customer's last alert
 * are suppressed and counted; the customer's next alert after the cool-down
 * carries them folded in (`transaction_count` = 1 + suppressed). Each
 * suppressed transaction is also on `fraud.scores` with decision
 * 'suppressed'. A count whose customer never alerts again is kept for
 * `pendingRetentionMs` after the cool-down, then reported by the removal that
 * drops it (`unreportedSuppressed`), never silently.
 *
 * With `cooldownMs` 0 the cool-down is off: every qualifying transaction
 * alerts with a count of 1 and nothing is stored.
 *
 * State lives in a KeyValueStore keyed by customer_id, so the processor's
 * changelog records it; entries expire against the highest event time seen,
 * in amortised O(1), and their number is bounded. Only this class may write
 * to that store.
 */

export interface CoolDownOptions {
  cooldownMs: number;
  /** Upper bound on customers held; the oldest go first. */
  maxEntries: number;
  /** How long a suppressed count waits, after the cool-down, for the customer's next alert. */
  pendingRetentionMs: number;
}

export const DEFAULT_COOLDOWN_OPTIONS: CoolDownOptions = {
  cooldownMs: 0,
  maxEntries: 200_000,
  pendingRetentionMs: 30 * 24 * 60 * 60 * 1000,
};

/** One customer's state, as stored in the changelog. */
export interface CoolDownState {
  last_alert_at: number;
  suppressed: number;
}

const stateSchema = z.object({ last_alert_at: z.number(), suppressed: z.int().min(0) });

export type CoolDownOutcome =
  | { decision: 'alert'; transactionCount: number }
  | { decision: 'suppressed'; suppressedSoFar: number };

/** A customer whose state left the store. `evicted`: pushed out by the bound, maybe inside its cool-down. */
export interface CoolDownRemoval {
  customerId: string;
  cause: 'expired' | 'evicted';
  /** Suppressed transactions no alert will carry: count them. */
  unreportedSuppressed: number;
}

interface Entry {
  customerId: string;
  lastAlertAt: number;
}

export class CoolDown {
  /** Customers whose cool-down may still run, oldest alert first. */
  private readonly active = new Fifo<Entry>();
  /** Customers past their cool-down holding a suppressed count, oldest first. */
  private readonly pending = new Fifo<Entry>();
  private watermark = -Infinity;

  /** One instance per store object, built again whenever the store is restored. */
  constructor(
    readonly options: CoolDownOptions,
    private readonly store: KeyValueStore<CoolDownState>,
  ) {
    const valid = options.cooldownMs >= 0 && options.pendingRetentionMs >= 0 && Number.isInteger(options.maxEntries) && options.maxEntries >= 1;
    if (!valid) throw new RangeError(`cool-down needs cooldownMs >= 0, pendingRetentionMs >= 0 and an integer maxEntries >= 1, got ${JSON.stringify(options)}`);
    const restored: Entry[] = [];
    for (const [customerId, state] of store.entries()) {
      // The changelog is plain JSON: a state of the wrong shape cannot be trusted, so it goes.
      if (stateSchema.safeParse(state).success) restored.push({ customerId, lastAlertAt: state.last_alert_at });
      else store.delete(customerId);
    }
    restored.sort((a, b) => a.lastAlertAt - b.lastAlertAt);
    for (const entry of restored) this.active.push(entry);
  }

  get size(): number {
    return this.store.size;
  }

  /** Call for a transaction that qualifies for an alert; says whether it alerts or is suppressed. */
  admit(customerId: string, eventTime: number): { outcome: CoolDownOutcome; removals: CoolDownRemoval[] } {
    if (this.options.cooldownMs === 0) return { outcome: { decision: 'alert', transactionCount: 1 }, removals: [] };
    const removals = this.expire(eventTime);
    const state = this.store.get(customerId);
    if (state !== undefined && eventTime - state.last_alert_at < this.options.cooldownMs) {
      const suppressed = state.suppressed + 1;
      this.store.put(customerId, { last_alert_at: state.last_alert_at, suppressed });
      return { outcome: { decision: 'suppressed', suppressedSoFar: suppressed }, removals };
    }
    this.store.put(customerId, { last_alert_at: eventTime, suppressed: 0 });
    this.active.push({ customerId, lastAlertAt: eventTime });
    this.evictOverflow(removals);
    return { outcome: { decision: 'alert', transactionCount: 1 + (state?.suppressed ?? 0) }, removals };
  }

  /** Ends cool-downs and retentions that are over at `eventTime` (the highest seen so far counts). */
  expire(eventTime: number): CoolDownRemoval[] {
    if (eventTime > this.watermark) this.watermark = eventTime;
    const removals: CoolDownRemoval[] = [];
    const { cooldownMs, pendingRetentionMs } = this.options;
    for (let e = this.active.peek(); e !== undefined && e.lastAlertAt + cooldownMs <= this.watermark; e = this.active.peek()) {
      this.active.shift();
      const state = this.live(e);
      if (state === undefined) continue;
      if (state.suppressed > 0) {
        this.pending.push(e);
      } else {
        this.store.delete(e.customerId);
        removals.push({ customerId: e.customerId, cause: 'expired', unreportedSuppressed: 0 });
      }
    }
    for (let e = this.pending.peek(); e !== undefined && e.lastAlertAt + cooldownMs + pendingRetentionMs <= this.watermark; e = this.pending.peek()) {
      this.pending.shift();
      this.remove(e, 'expired', removals);
    }
    this.evictOverflow(removals);
    return removals;
  }

  private evictOverflow(removals: CoolDownRemoval[]): void {
    while (this.store.size > this.options.maxEntries) {
      const e = this.pending.shift() ?? this.active.shift();
      if (e === undefined) return;
      this.remove(e, 'evicted', removals);
    }
  }

  private remove(e: Entry, cause: CoolDownRemoval['cause'], removals: CoolDownRemoval[]): void {
    const state = this.live(e);
    if (state === undefined) return;
    this.store.delete(e.customerId);
    removals.push({ customerId: e.customerId, cause, unreportedSuppressed: state.suppressed });
  }

  /** The stored state when the queue entry still describes it (a newer alert makes older entries stale). */
  private live(e: Entry): CoolDownState | undefined {
    const state = this.store.get(e.customerId);
    return state !== undefined && state.last_alert_at === e.lastAlertAt ? state : undefined;
  }
}
