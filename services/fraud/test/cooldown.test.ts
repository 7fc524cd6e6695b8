import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PartitionStore } from '@sluice/shared';
import { CoolDown, type CoolDownOptions, type CoolDownOutcome, type CoolDownState } from '../src/cooldown.js';

const MIN = 60_000;

function newBacking(): PartitionStore<CoolDownState> {
  return new PartitionStore<CoolDownState>({ name: 'cooldown', changelogTopic: 'fraud-cooldown-changelog' }, 0);
}

function newCoolDown(options: Partial<CoolDownOptions>): { coolDown: CoolDown; backing: PartitionStore<CoolDownState> } {
  const backing = newBacking();
  const full = { cooldownMs: 10 * MIN, maxEntries: 1000, pendingRetentionMs: 60 * MIN, ...options };
  return { coolDown: new CoolDown(full, backing), backing };
}

const outcome = (coolDown: CoolDown, customer: string, t: number): CoolDownOutcome => coolDown.admit(customer, t).outcome;

/** Unbounded reference: what the cool-down must decide when nothing is evicted. */
class ReferenceCoolDown {
  readonly state = new Map<string, { last: number; suppressed: number }>();
  constructor(readonly cooldownMs: number) {}

  admit(customer: string, t: number): CoolDownOutcome {
    const s = this.state.get(customer);
    if (this.cooldownMs > 0 && s && t - s.last < this.cooldownMs) {
      s.suppressed++;
      return { decision: 'suppressed', suppressedSoFar: s.suppressed };
    }
    this.state.set(customer, { last: t, suppressed: 0 });
    return { decision: 'alert', transactionCount: 1 + (s?.suppressed ?? 0) };
  }
}

const streamArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 4 * MIN })), { maxLength: 200 });

function toStream(raw: [number, number][]): [string, number][] {
  let t = Date.UTC(2024, 0, 1);
  return raw.map(([c, step]) => [`c${c}`, (t += step)]);
}

describe('CoolDown', () => {
  it('folds a burst into the next alert after the cool-down', () => {
    const { coolDown } = newCoolDown({});
    expect(outcome(coolDown, 'c', 0)).toEqual({ decision: 'alert', transactionCount: 1 });
    for (let i = 1; i <= 5; i++) expect(outcome(coolDown, 'c', i * MIN)).toEqual({ decision: 'suppressed', suppressedSoFar: i });
    expect(outcome(coolDown, 'other', 6 * MIN)).toEqual({ decision: 'alert', transactionCount: 1 });
    expect(outcome(coolDown, 'c', 10 * MIN - 1)).toEqual({ decision: 'suppressed', suppressedSoFar: 6 });
    expect(outcome(coolDown, 'c', 12 * MIN)).toEqual({ decision: 'alert', transactionCount: 7 });
    expect(outcome(coolDown, 'c', 13 * MIN)).toEqual({ decision: 'suppressed', suppressedSoFar: 1 });
  });

  it('alerts on every qualifying transaction when off, storing nothing', () => {
    const { coolDown, backing } = newCoolDown({ cooldownMs: 0 });
    for (let i = 0; i < 5; i++) expect(outcome(coolDown, 'c', i)).toEqual({ decision: 'alert', transactionCount: 1 });
    expect(backing.size).toBe(0);
  });

  it('matches an unbounded reference on random streams, and loses no transaction', () => {
    fc.assert(
      fc.property(streamArb, fc.constantFrom(0, 1, 5 * MIN, 30 * MIN), (raw, cooldownMs) => {
        const { coolDown, backing } = newCoolDown({ cooldownMs, pendingRetentionMs: 10 ** 12 });
        const reference = new ReferenceCoolDown(cooldownMs);
        let alerted = 0;
        const stream = toStream(raw);
        for (const [customer, t] of stream) {
          const got = outcome(coolDown, customer, t);
          expect(got).toEqual(reference.admit(customer, t));
          if (got.decision === 'alert') alerted += got.transactionCount;
        }
        const pending = [...backing.entries()].reduce((sum, [, s]) => sum + s.suppressed, 0);
        expect(alerted + pending).toBe(stream.length);
      }),
      { numRuns: 300 },
    );
  });

  it('expires an entry without a count at the end of its cool-down', () => {
    const { coolDown, backing } = newCoolDown({});
    coolDown.admit('c', 0);
    // Committed, so that its expiry needs a tombstone (an entry added and removed before a commit needs no record).
    expect(backing.drainChanges().map((r) => r.key)).toEqual(['c']);
    expect(coolDown.expire(10 * MIN - 1)).toEqual([]);
    expect(coolDown.expire(10 * MIN)).toEqual([{ customerId: 'c', cause: 'expired', unreportedSuppressed: 0 }]);
    expect(backing.size).toBe(0);
    expect(backing.drainChanges().map((r) => [r.key, r.value])).toEqual([['c', null]]);
  });

  it('keeps a suppressed count for the retention period, then reports it', () => {
    const { coolDown } = newCoolDown({});
    coolDown.admit('c', 0);
    coolDown.admit('c', MIN);
    coolDown.admit('c', 2 * MIN);
    expect(coolDown.expire(60 * MIN)).toEqual([]);
    expect(outcome(coolDown, 'c', 69 * MIN)).toEqual({ decision: 'alert', transactionCount: 3 });

    coolDown.admit('c', 70 * MIN);
    expect(coolDown.expire(69 * MIN + 70 * MIN - 1)).toEqual([]);
    expect(coolDown.expire(69 * MIN + 70 * MIN)).toEqual([{ customerId: 'c', cause: 'expired', unreportedSuppressed: 1 }]);
    expect(coolDown.size).toBe(0);
  });

  it('evicts the oldest customer over the bound and reports its count', () => {
    const { coolDown } = newCoolDown({ maxEntries: 2 });
    coolDown.admit('a', 0);
    coolDown.admit('a', 1);
    coolDown.admit('b', 2);
    expect(coolDown.admit('c', 3).removals).toEqual([{ customerId: 'a', cause: 'evicted', unreportedSuppressed: 1 }]);
    expect(outcome(coolDown, 'a', 4)).toEqual({ decision: 'alert', transactionCount: 1 });
  });

  it('evicts customers past their cool-down before those still in it', () => {
    const { coolDown } = newCoolDown({ maxEntries: 2 });
    coolDown.admit('a', 0);
    coolDown.admit('a', MIN);
    coolDown.admit('b', 11 * MIN);
    expect(coolDown.admit('c', 11 * MIN).removals).toEqual([{ customerId: 'a', cause: 'evicted', unreportedSuppressed: 1 }]);
    expect(outcome(coolDown, 'b', 12 * MIN)).toEqual({ decision: 'suppressed', suppressedSoFar: 1 });
  });

  it('rebuilt from its changelog at any commit, in any record order, decides like the original', () => {
    // Whole minutes, so that alerts at the same instant (ties) are common.
    const coarseArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 3 }).map((m) => m * MIN)), { maxLength: 200 });
    fc.assert(
      fc.property(coarseArb, coarseArb, fc.integer({ min: 1, max: 10 }), fc.array(fc.nat()), (before, after, batch, shuffle) => {
        const options = { cooldownMs: 5 * MIN, pendingRetentionMs: 20 * MIN, maxEntries: 4 };
        const { coolDown: original, backing } = newCoolDown(options);
        const stream = toStream([...before, ...after]);
        const latest = new Map<string, Buffer | null>();
        const commit = () => {
          for (const record of backing.drainChanges()) latest.set(record.key, record.value);
        };
        stream.slice(0, before.length).forEach(([customer, t], i) => {
          original.admit(customer, t);
          if ((i + 1) % batch === 0) commit();
        });
        commit();
        // Compaction keeps each key's latest record, not the order they were first written in: restore in any order.
        const records = [...latest];
        for (let i = records.length - 1; i > 0; i--) {
          const j = (shuffle[i % Math.max(1, shuffle.length)] ?? 0) % (i + 1);
          [records[i], records[j]] = [records[j]!, records[i]!];
        }
        const restoredBacking = newBacking();
        for (const [key, value] of records) restoredBacking.restore(key, value);
        const restored = new CoolDown(options, restoredBacking);
        for (const [customer, t] of stream.slice(before.length)) expect(restored.admit(customer, t)).toEqual(original.admit(customer, t));
      }),
      { numRuns: 300 },
    );
  });

  it('drops stored states of the wrong shape when it takes over a store', () => {
    const backing = newBacking();
    backing.restore('good', Buffer.from(JSON.stringify({ last_alert_at: 0, suppressed: 2 })));
    backing.restore('bad', Buffer.from(JSON.stringify({ last_alert_at: 'noon' })));
    const coolDown = new CoolDown({ cooldownMs: MIN, pendingRetentionMs: MIN, maxEntries: 10 }, backing);
    expect([...backing.keys()]).toEqual(['good']);
    expect(coolDown.admit('good', 1.5 * MIN).outcome).toEqual({ decision: 'alert', transactionCount: 3 });
  });

  it('refuses nonsensical options', () => {
    expect(() => newCoolDown({ cooldownMs: -1 })).toThrow(RangeError);
    expect(() => newCoolDown({ maxEntries: 0 })).toThrow(RangeError);
  });
});
