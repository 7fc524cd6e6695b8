import { describe, expect, it } from 'vitest';
import { EntityStore } from '../src/entity-store.js';
import { handbookFeatureSpec } from '../src/handbook.js';
import { compileSpec } from '../src/plan.js';
import { DAY } from './synthetic-stream.js';

const plan = compileSpec(handbookFeatureSpec()).entities.get('terminal_id')!;
const t0 = Date.UTC(2024, 0, 1);
const tx = (terminal_id: string, event_time: number) => ({ transaction_id: `${terminal_id}@${event_time}`, terminal_id, event_time, amount: 1 });
const label = (terminal_id: string, tx_event_time: number, is_fraud: boolean) => ({ terminal_id, tx_event_time, is_fraud });

describe('entity store', () => {
  it('reports the ids whose state changed, once each', () => {
    const store = new EntityStore(plan);
    store.update(tx('a', t0));
    store.update(tx('b', t0));
    store.update(tx('a', t0 + 1));
    expect(store.takeTouched()).toEqual(['a', 'b']);
    expect(store.takeTouched()).toEqual([]);
    // A late event changes nothing; an applied label does.
    store.update(tx('a', t0 + 10 * DAY));
    store.takeTouched();
    expect(store.update(tx('a', t0 + 2 * DAY)).outcome).toBe('late');
    expect(store.applyLabel(label('a', t0 + 9 * DAY, true)).outcome).toBe('applied');
    expect(store.takeTouched()).toEqual(['a']);
  });

  it('creates no state for a label nothing takes', () => {
    const store = new EntityStore(plan);
    expect(store.applyLabel(label('x', t0, false))).toEqual({ entityId: 'x', outcome: 'ignored' });
    expect(store.size).toBe(0);
  });

  it('evicts expired entities and restores from the changelog, tombstones included', () => {
    const store = new EntityStore(plan);
    store.update(tx('old', t0));
    store.update(tx('new', t0 + 40 * DAY));
    // Retention of a terminal: 30-day window + 7-day delay + 1 h grace.
    expect(store.evictExpired(t0 + 37 * DAY + 3_600_000 - 1)).toEqual([]);
    expect(store.evictExpired(t0 + 37 * DAY + 3_600_000)).toEqual(['old']);
    const copy = new EntityStore(plan);
    copy.restore('new', JSON.parse(JSON.stringify(store.serialize('new'))));
    expect(copy.update(tx('new', t0 + 48 * DAY))).toEqual(store.update(tx('new', t0 + 48 * DAY)));
    copy.restore('new', null);
    expect(copy.size).toBe(0);
    expect(store.estimateBytes()).toBeGreaterThan(0);
  });

  it('needs an entity id', () => {
    expect(() => new EntityStore(plan).update({ event_time: t0 })).toThrow(TypeError);
  });
});
