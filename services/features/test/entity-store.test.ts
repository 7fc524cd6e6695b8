import { describe, expect, it } from 'vitest';
import type { EntityState } from '../src/entity-state.js';
import { EntityStore, entityStateCodec, MemoryStateMap } from '../src/entity-store.js';
import { handbookFeatureSpec } from '../src/handbook.js';
import { compileSpec } from '../src/plan.js';
import { DAY } from './synthetic-stream.js';

const plan = compileSpec(handbookFeatureSpec()).entities.get('terminal_id')!;
const t0 = Date.UTC(2024, 0, 1);
const tx = (terminal_id: string, event_time: number) => ({ transaction_id: `${terminal_id}@${event_time}`, terminal_id, event_time, amount: 1 });
const label = (terminal_id: string, tx_event_time: number, is_fraud: boolean) => ({ terminal_id, tx_event_time, is_fraud });

/** Records the puts and deletes, as the changelogged store marks them. */
class RecordingMap extends MemoryStateMap<EntityState> {
  readonly writes: string[] = [];
  override put(key: string, value: EntityState): void {
    this.writes.push(`put ${key}`);
    super.put(key, value);
  }
  override delete(key: string): void {
    this.writes.push(`delete ${key}`);
    super.delete(key);
  }
}

describe('entity store', () => {
  it('puts a state when it changed and only then', () => {
    const map = new RecordingMap();
    const store = new EntityStore(plan, map);
    store.update(tx('a', t0));
    store.update(tx('b', t0));
    expect(map.writes).toEqual(['put a', 'put b']);
    store.update(tx('a', t0 + 10 * DAY));
    map.writes.length = 0;
    // A late event changes nothing; an applied label does.
    expect(store.update(tx('a', t0 + 2 * DAY)).outcome).toBe('late');
    expect(map.writes).toEqual([]);
    expect(store.applyLabel(label('a', t0 + 10 * DAY, true)).outcome).toBe('applied');
    expect(map.writes).toEqual(['put a']);
  });

  it('creates no state for a label nothing takes', () => {
    const store = new EntityStore(plan);
    expect(store.applyLabel(label('x', t0, false))).toEqual({ entityId: 'x', outcome: 'ignored' });
    expect(store.size).toBe(0);
  });

  it('evicts expired entities with a delete, and a state restored through the codec answers as the original', () => {
    const map = new RecordingMap();
    const store = new EntityStore(plan, map);
    store.update(tx('old', t0));
    store.update(tx('new', t0 + 40 * DAY));
    expect(store.watermark()).toBe(t0 + 40 * DAY);
    // Retention of a terminal: 30-day window + 7-day delay + 1 h grace.
    expect(store.evictExpired(t0 + 37 * DAY + 3_600_000 - 1)).toEqual([]);
    expect(store.evictExpired(t0 + 37 * DAY + 3_600_000)).toEqual(['old']);
    expect(map.writes.at(-1)).toBe('delete old');
    const codec = entityStateCodec(plan);
    const copy = new EntityStore(plan);
    const restored = new MemoryStateMap<EntityState>();
    restored.put('new', codec.deserialize(codec.serialize(store.get('new')!)));
    const restoredStore = new EntityStore(plan, restored);
    expect(restoredStore.update(tx('new', t0 + 48 * DAY))).toEqual(store.update(tx('new', t0 + 48 * DAY)));
    expect(copy.size).toBe(0);
    expect(store.estimateBytes()).toBeGreaterThan(0);
  });

  it('needs an entity id', () => {
    expect(() => new EntityStore(plan).update({ event_time: t0 })).toThrow(TypeError);
  });
});
