import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SegmentedBuffer, type SegmentFormat } from '../../src/event-time/segmented-buffer.js';
import { PartitionStore } from '../../src/state-store.js';

interface Event {
  time: number;
}

const FORMAT: SegmentFormat<Event> = {
  estimatedBytes: () => 20,
  write: (events) => Object.fromEntries(events),
  read: (written) => Object.entries(written as Record<string, Event>),
  single: (value) => value as Event,
};

function buffer() {
  const store = new PartitionStore<unknown>({ name: 'buffer', changelogTopic: 'changelog' }, 0);
  return { store, segments: new SegmentedBuffer<Event>(store, FORMAT, -Infinity, (event) => event.time) };
}

const steps = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('put' as const), key: fc.nat(30), topic: fc.option(fc.nat(1), { nil: null }) }),
    fc.record({ op: fc.constant('delete' as const), key: fc.nat(30) }),
  ),
  { maxLength: 200 },
);

describe('SegmentedBuffer, events with their origin', () => {
  it('writes no changelog record for an event put with its origin, and none when it goes', () => {
    const { store, segments } = buffer();
    segments.put('a', { time: 1 }, { topic: 'in', offset: '4' });
    segments.put('b', { time: 2 }, { topic: 'in', offset: '5' });
    expect(store.drainChanges()).toEqual([]);
    expect(segments.size).toBe(2);
    segments.delete('a');
    segments.delete('b');
    expect(store.drainChanges()).toEqual([]);
    expect(segments.size).toBe(0);
  });

  it('names the oldest record of each input still held, as a brute-force oracle over every held event does (property)', () => {
    fc.assert(
      fc.property(steps, (script) => {
        const { segments } = buffer();
        /** The oracle: every held event's origin offset (null: put without one), by key. */
        const held = new Map<string, { topic: string; offset: number } | null>();
        let offset = 0;
        for (const step of script) {
          const key = `k${step.key}`;
          if (step.op === 'delete') {
            segments.delete(key);
            held.delete(key);
          } else {
            const origin = step.topic === null ? undefined : { topic: `t${step.topic}`, offset: String(offset++) };
            segments.put(key, { time: step.key }, origin);
            held.set(key, origin === undefined ? null : { topic: origin.topic, offset: Number(origin.offset) });
          }
          for (const topic of ['t0', 't1']) {
            const offsets = [...held.values()].filter((origin) => origin?.topic === topic).map((origin) => origin!.offset);
            expect(segments.oldestHeld(topic)).toBe(offsets.length === 0 ? undefined : String(Math.min(...offsets)));
          }
          expect(segments.size).toBe(held.size);
        }
      }),
    );
  });

  it('still names the oldest held record when one stays held while thousands behind it come and go (the queue compacts)', () => {
    const { segments } = buffer();
    const held = new Map<string, number>([['first', 0]]);
    segments.put('first', { time: 0 }, { topic: 'in', offset: '0' });
    for (let n = 1; n <= 20_000; n++) {
      segments.put(`k${n}`, { time: n }, { topic: 'in', offset: String(n) });
      held.set(`k${n}`, n);
      // Most go soon after; one in seven stays.
      if (n % 7 !== 0) {
        segments.delete(`k${n}`);
        held.delete(`k${n}`);
      }
      if (n % 1_000 === 0) expect(segments.oldestHeld('in')).toBe('0');
    }
    segments.delete('first');
    held.delete('first');
    expect(segments.oldestHeld('in')).toBe(String(Math.min(...held.values())));
    for (const key of [...held.keys()]) {
      segments.delete(key);
      held.delete(key);
      expect(segments.oldestHeld('in')).toBe(held.size === 0 ? undefined : String(Math.min(...held.values())));
    }
  });

  it('keeps an event put without an origin in a segment record, as before', () => {
    const { store, segments } = buffer();
    segments.put('a', { time: 1 });
    expect(store.drainChanges().map((record) => record.key)).toEqual(['segment-0']);
    expect(segments.oldestHeld('in')).toBeUndefined();
  });
});
