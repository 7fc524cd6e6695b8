import { z } from 'zod';
import type { KeyValueStore } from '@sluice/shared';
import { ExpiringIndex, type IndexRemoval } from '@sluice/shared/collections';

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
 * changelog records it, held by shared's ExpiringIndex: a state expires at
 * the end of its cool-down, or `pendingRetentionMs` later when it holds a
 * count, against the highest event time seen; over the bound the oldest alert
 * goes first, ties by customer id. Once the expired states are gone, the
 * oldest alerts are those past their cool-down holding a count, so these are
 * evicted before any customer still in its cool-down. Both orders are read
 * from the stored states, so a cool-down rebuilt from the changelog decides
 * exactly as the original. O(log n) per transaction. Only this class may
 * write to that store.
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

export class CoolDown {
  private readonly states: ExpiringIndex<CoolDownState>;

  /** One instance per store object, built again whenever the store is restored. */
  constructor(
    readonly options: CoolDownOptions,
    store: KeyValueStore<CoolDownState>,
  ) {
    const valid = options.cooldownMs >= 0 && options.pendingRetentionMs >= 0 && Number.isInteger(options.maxEntries) && options.maxEntries >= 1;
    if (!valid) throw new RangeError(`cool-down needs cooldownMs >= 0, pendingRetentionMs >= 0 and an integer maxEntries >= 1, got ${JSON.stringify(options)}`);
    const { cooldownMs, pendingRetentionMs } = options;
    this.states = new ExpiringIndex<CoolDownState>(
      {
        maxEntries: options.maxEntries,
        time: (state) => state.last_alert_at,
        expiry: { at: (state) => state.last_alert_at + cooldownMs + (state.suppressed > 0 ? pendingRetentionMs : 0) },
      },
      // The changelog is plain JSON: a state of the wrong shape cannot be trusted, so it goes.
      store,
      (state) => stateSchema.safeParse(state).success,
    );
  }

  get size(): number {
    return this.states.size;
  }

  /** Call for a transaction that qualifies for an alert; says whether it alerts or is suppressed. */
  admit(customerId: string, eventTime: number): { outcome: CoolDownOutcome; removals: CoolDownRemoval[] } {
    if (this.options.cooldownMs === 0) return { outcome: { decision: 'alert', transactionCount: 1 }, removals: [] };
    const removals = this.expire(eventTime);
    const state = this.states.get(customerId);
    if (state !== undefined && eventTime - state.last_alert_at < this.options.cooldownMs) {
      const suppressed = state.suppressed + 1;
      this.states.set(customerId, { last_alert_at: state.last_alert_at, suppressed });
      return { outcome: { decision: 'suppressed', suppressedSoFar: suppressed }, removals };
    }
    removals.push(...this.states.set(customerId, { last_alert_at: eventTime, suppressed: 0 }).map(toRemoval));
    return { outcome: { decision: 'alert', transactionCount: 1 + (state?.suppressed ?? 0) }, removals };
  }

  /** Ends cool-downs and retentions that are over at `eventTime` (the highest seen so far counts). */
  expire(eventTime: number): CoolDownRemoval[] {
    return this.states.expire(eventTime).map(toRemoval);
  }
}

function toRemoval(removal: IndexRemoval<CoolDownState>): CoolDownRemoval {
  return { customerId: removal.id, cause: removal.cause, unreportedSuppressed: removal.value.suppressed };
}
