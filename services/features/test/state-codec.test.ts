import { describe, expect, it } from 'vitest';
import { applyLabel, createEntityState, updateEntity, type EntityState } from '../src/entity-state.js';
import { EntityStore, entityStateCodec, MemoryStateMap } from '../src/entity-store.js';
import { handbookFeatureSpec } from '../src/handbook.js';
import { compileSpec, type EntityPlan } from '../src/plan.js';
import type { FeatureSpec } from '../src/spec.js';
import { deserializeEntityState, estimateEntityStateBytes, serializeEntityState } from '../src/state-codec.js';
import { generateStream, prng } from './synthetic-stream.js';

const MIN = 60_000;

/** Through the changelog and back, as text. */
function roundTrip(plan: EntityPlan, state: EntityState): EntityState {
  return deserializeEntityState(plan, JSON.parse(JSON.stringify(serializeEntityState(plan, state))));
}

describe('entity state serialisation', () => {
  it('restores handbook states that produce the same vectors as states that never stopped', () => {
    const plan = compileSpec(handbookFeatureSpec());
    const customerPlan = plan.entities.get('customer_id')!;
    const terminalPlan = plan.entities.get('terminal_id')!;
    const codecs = { customers: entityStateCodec(customerPlan), terminals: entityStateCodec(terminalPlan) };
    const live = { customers: new MemoryStateMap<EntityState>(), terminals: new MemoryStateMap<EntityState>() };
    let restarted = { customers: new MemoryStateMap<EntityState>(), terminals: new MemoryStateMap<EntityState>() };
    const stores = (maps: typeof live) => ({ customers: new EntityStore(customerPlan, maps.customers), terminals: new EntityStore(terminalPlan, maps.terminals) });
    const liveStores = stores(live);
    let restartedStores = stores(restarted);
    const { stream } = generateStream({ seed: 11, transactions: 2000, customers: 40, terminals: 20, days: 50 });
    stream.forEach((item, i) => {
      if (i % 150 === 149) {
        const next = { customers: new MemoryStateMap<EntityState>(), terminals: new MemoryStateMap<EntityState>() };
        for (const kind of ['customers', 'terminals'] as const) {
          for (const [id, state] of restarted[kind].entries()) next[kind].put(id, codecs[kind].deserialize(codecs[kind].serialize(state)));
        }
        restarted = next;
        restartedStores = stores(restarted);
      }
      if (item.kind === 'label') {
        expect(restartedStores.terminals.applyLabel(item)).toEqual(liveStores.terminals.applyLabel(item));
        return;
      }
      expect(restartedStores.customers.update(item)).toEqual(liveStores.customers.update(item));
      expect(restartedStores.terminals.update(item)).toEqual(liveStores.terminals.update(item));
    });
    for (const kind of ['customers', 'terminals'] as const) {
      for (const [id, state] of live[kind].entries()) {
        expect(codecs[kind].serialize(restarted[kind].get(id)!).toString()).toBe(codecs[kind].serialize(state).toString());
      }
    }
  });

  it('restores every aggregation, exact and bucketed, with out-of-order and late events', () => {
    const features: FeatureSpec['features'] = [
      { kind: 'window', name: 'n', entity: 'k', windowMs: 90 * MIN, aggregation: 'count' },
      { kind: 'window', name: 'mean', entity: 'k', windowMs: 90 * MIN, aggregation: 'mean', field: 'x' },
      { kind: 'window', name: 'sd', entity: 'k', windowMs: 90 * MIN, aggregation: 'stddev', field: 'x' },
      { kind: 'window', name: 'min', entity: 'k', windowMs: 30 * MIN, delayMs: 10 * MIN, aggregation: 'min', field: 'x' },
      { kind: 'window', name: 'max', entity: 'k', windowMs: 30 * MIN, aggregation: 'max', field: 'x' },
      { kind: 'window', name: 'ewm', entity: 'k', windowMs: 90 * MIN, aggregation: 'ewm', field: 'x', halfLifeMs: MIN },
      { kind: 'window', name: 'since', entity: 'k', windowMs: 90 * MIN, aggregation: 'time_since_last' },
      { kind: 'window', name: 'ratio', entity: 'k', windowMs: 60 * MIN, delayMs: 30 * MIN, aggregation: 'ratio', numerator: { source: 'labels', field: 'x' } },
    ];
    for (const extra of [{}, { exactCap: 8, bucketMs: 2 * MIN }]) {
      const plan = compileSpec({ version: 'r', graceMs: 5 * MIN, features, ...extra }).entities.get('k')!;
      const random = prng(3);
      const live = createEntityState(plan);
      let restored = createEntityState(plan);
      let clock = Date.UTC(2024, 0, 1);
      const outcomes = new Set<string>();
      let lastEventTime: number | undefined;
      for (let i = 0; i < 3000; i++) {
        if (i % 97 === 0) restored = roundTrip(plan, restored);
        clock += Math.floor(random() * 40_000);
        const x = Math.round(random() * 1000) / 10;
        if (random() < 0.1) {
          // Some labels find their event, some do not (unmatched): a restored state must decide both the same.
          const label = { k: 'a', tx_event_time: random() < 0.5 && lastEventTime !== undefined ? lastEventTime : clock - Math.floor(random() * 100 * MIN), x };
          expect(applyLabel(plan, restored, label)).toBe(applyLabel(plan, live, label));
          continue;
        }
        const back = random() < 0.2 ? Math.floor(random() * 7 * MIN) : 0;
        const event = { k: 'a', event_time: clock - back, x };
        lastEventTime = event.event_time;
        const expected = updateEntity(plan, live, event);
        outcomes.add(expected.outcome);
        expect(updateEntity(plan, restored, event)).toEqual(expected);
      }
      expect(outcomes).toEqual(new Set(['in_order', 'out_of_order', 'late']));
      expect(live.logs[0]!.b).toBe('bucketMs' in extra ? extra.bucketMs : 0);
    }
  });

  it('rejects a value written for another layout', () => {
    const handbook = compileSpec(handbookFeatureSpec());
    const customers = handbook.entities.get('customer_id')!;
    const terminals = handbook.entities.get('terminal_id')!;
    const state = createEntityState(customers);
    updateEntity(customers, state, { customer_id: 'c', event_time: 1_700_000_000_000, amount: 5 });
    const value = serializeEntityState(customers, state);
    expect(() => deserializeEntityState(terminals, value)).toThrow(RangeError);
    expect(() => deserializeEntityState(customers, { nope: true })).toThrow(RangeError);
    expect(() => deserializeEntityState(customers, [1, null, value[2], [1, 2], []])).toThrow(RangeError);
  });

  it('estimates more bytes for a state holding more points', () => {
    const plan = compileSpec(handbookFeatureSpec()).entities.get('customer_id')!;
    const state = createEntityState(plan);
    const empty = estimateEntityStateBytes(state);
    for (let k = 0; k < 10; k++) updateEntity(plan, state, { customer_id: 'c', event_time: 1_700_000_000_000 + k * MIN, amount: k });
    expect(estimateEntityStateBytes(state)).toBe(empty + 10 * 2 * 8);
  });
});
