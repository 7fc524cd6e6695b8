import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareOrder, OrderedBuffer, type EventOrder } from '../../src/event-time/ordered-buffer.js';

interface Event extends EventOrder {
  payload: number;
}

const orderOf = (event: Event): EventOrder => event;

/** A Map with the store's put, standing in for a changelogged store. */
class MapStore<T> extends Map<string, T> {
  put(key: string, value: T): void {
    this.set(key, value);
  }
}

const eventArb = fc.record({
  time: fc.integer({ min: 0, max: 50 }),
  rank: fc.integer({ min: 0, max: 1 }),
  id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
  payload: fc.integer(),
});

/** A step: add an event, release through a frontier, or restore the buffer from a copy of its store (a crash). */
const stepArb = fc.oneof(
  eventArb.map((event) => ({ kind: 'add' as const, event })),
  fc.integer({ min: -1, max: 60 }).map((frontier) => ({ kind: 'release' as const, frontier })),
  fc.constant({ kind: 'restore' as const }),
);

describe('OrderedBuffer', () => {
  it('releases exactly the events at or before each frontier, in (time, rank, id) order, once each, across restores', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 80 }), (steps) => {
        let store = new MapStore<Event>();
        let buffer = new OrderedBuffer(store, orderOf);
        // Oracle: a plain map by order key, released by a full sort.
        const oracle = new Map<string, Event>();
        for (const step of steps) {
          if (step.kind === 'add') {
            buffer.add(step.event);
            oracle.set(`${step.event.time}|${step.event.rank}|${step.event.id}`, step.event);
          } else if (step.kind === 'restore') {
            store = new MapStore(store);
            buffer = new OrderedBuffer(store, orderOf);
          } else {
            const expected = [...oracle.values()].filter((event) => event.time <= step.frontier).sort(compareOrder);
            for (const event of expected) oracle.delete(`${event.time}|${event.rank}|${event.id}`);
            expect(buffer.releaseThrough(step.frontier)).toEqual(expected);
          }
          expect(buffer.size).toBe(oracle.size);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('releases at most about the count asked, through a time all of whose events are out: as a full release to that time', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 40 }), fc.integer({ min: -1, max: 60 }), fc.nat(12), (events, frontier, maxEvents) => {
        const buffer = new OrderedBuffer(new MapStore<Event>(), orderOf);
        const reference = new OrderedBuffer(new MapStore<Event>(), orderOf);
        for (const event of events) {
          buffer.add(event);
          reference.add(event);
        }
        const { events: released, through } = buffer.releaseAtMost(frontier, maxEvents);
        expect(through).toBeLessThanOrEqual(frontier);
        expect(released).toEqual(reference.releaseThrough(through));
        // Short of the frontier only once the count is reached, and then by whole times.
        if (through < frontier) {
          expect(released.length).toBeGreaterThanOrEqual(maxEvents);
          expect(released.filter((event) => event.time !== through).length).toBeLessThan(Math.max(1, maxEvents));
        }
        expect(buffer.size).toBe(reference.size);
      }),
      { numRuns: 500 },
    );
  });

  it('orders by time, then rank, then id', () => {
    const store = new MapStore<Event>();
    const buffer = new OrderedBuffer(store, orderOf);
    buffer.add({ time: 5, rank: 1, id: 'tx-1', payload: 1 });
    buffer.add({ time: 5, rank: 0, id: 'tx-9', payload: 2 });
    buffer.add({ time: 4, rank: 1, id: 'tx-2', payload: 3 });
    buffer.add({ time: 5, rank: 1, id: 'tx-0', payload: 4 });
    expect(buffer.releaseThrough(4).map((event) => event.payload)).toEqual([3]);
    expect(buffer.oldestTime).toBe(5);
    expect(buffer.releaseThrough(5).map((event) => event.payload)).toEqual([2, 4, 1]);
    expect(buffer.size).toBe(0);
  });
});
