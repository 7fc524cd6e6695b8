import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderedBuffer, PartitionStore, SEGMENT_BYTES, SegmentedBuffer, vectorBufferCodec, type ChangelogRecord, type FeatureVector, type Label } from '@sluice/shared';
import { joinOrder, type JoinEvent } from '../src/event-time-join.js';
import { JOIN_EVENT_SEGMENTS, JOIN_EVENT_VECTOR } from '../src/vector-slots.js';

const NAMES = ['customer_tx_count_1d', 'terminal_fraud_rate_28d'];

function vectorEvent(n: number): JoinEvent {
  const vector: FeatureVector = {
    transaction_id: `tx-${n}`,
    customer_id: 'c-1',
    terminal_id: 't-1',
    event_time: 10 * n,
    amount: n + 0.25,
    feature_set_version: 'handbook-v1',
    feature_names: [...NAMES],
    feature_values: [n, n / 3],
    ingested_at: 0,
  };
  return { kind: 'vector', vector };
}

function labelEvent(n: number): JoinEvent {
  const label: Label = { transaction_id: `tx-${n}`, customer_id: 'c-1', terminal_id: 't-1', tx_event_time: 10 * n, is_fraud: n % 2 === 0, labeled_at: 10 * n + 5, ingested_at: 0 };
  return { kind: 'label', label };
}

const timeOf = (event: JoinEvent) => joinOrder(event).time;
const newStore = () => new PartitionStore<unknown>({ name: 'join-buffer', changelogTopic: 'join-buffer.changelog', ...vectorBufferCodec(JOIN_EVENT_VECTOR) }, 0);

/** A store rebuilt from a compacted changelog: the latest record per key, in the order `order` picks. */
function restored(records: ChangelogRecord[], order: <X>(entries: X[]) => X[] = (x) => x): PartitionStore<unknown> {
  const latest = new Map<string, Buffer | null>();
  for (const record of records) latest.set(record.key, record.value);
  const store = newStore();
  for (const [key, value] of order([...latest])) store.restore(key, value);
  return store;
}

describe('SegmentedBuffer', () => {
  it('writes the events of a batch as one record, and deletes it once they are all released', () => {
    const store = newStore();
    const buffer = new OrderedBuffer(new SegmentedBuffer(store, JOIN_EVENT_SEGMENTS, -Infinity, timeOf), joinOrder);
    for (let n = 1; n <= 4; n++) buffer.add(vectorEvent(n));
    buffer.add(labelEvent(1));
    const first = store.drainChanges();
    expect(first).toHaveLength(1);
    expect(first[0]!.value!.toString('utf8').split(NAMES[0]!)).toHaveLength(2);

    expect(buffer.releaseThrough(20).map(timeOf)).toEqual([10, 15, 20]);
    expect(store.drainChanges()).toEqual([]);
    expect(buffer.releaseThrough(40)).toHaveLength(2);
    expect(store.drainChanges()).toEqual([{ topic: 'join-buffer.changelog', partition: 0, key: 'segment-0', value: null }]);
  });

  it('keeps every record under SEGMENT_BYTES, however many features a vector has', () => {
    const store = newStore();
    const segments = new SegmentedBuffer(store, JOIN_EVENT_SEGMENTS, -Infinity, timeOf);
    const wide = (n: number): JoinEvent => {
      const event = vectorEvent(n) as Extract<JoinEvent, { kind: 'vector' }>;
      return { kind: 'vector', vector: { ...event.vector, feature_names: Array.from({ length: 300 }, (_, i) => `f${i}`), feature_values: Array.from({ length: 300 }, (_, i) => -Math.PI * n * i) } };
    };
    for (let n = 0; n < 200; n++) segments.put(`k${n}`, wide(n));
    const records = store.drainChanges();
    expect(records.length).toBeGreaterThan(1);
    for (const record of records) expect(record.value!.length).toBeLessThan(SEGMENT_BYTES);
  });

  it('reads events stored one per key (changelogs from before segments) and releases them', () => {
    const old = vectorEvent(3);
    const store = restored([{ topic: 'join-buffer.changelog', partition: 0, key: 'k3', value: Buffer.from(JSON.stringify(old)) }]);
    const buffer = new OrderedBuffer(new SegmentedBuffer(store, JOIN_EVENT_SEGMENTS, -Infinity, timeOf), joinOrder);
    expect(buffer.releaseThrough(100)).toEqual([old]);
    expect(store.drainChanges()).toEqual([{ topic: 'join-buffer.changelog', partition: 0, key: 'k3', value: null }]);
  });

  it('reads events stored one per key with their names by reference, the names entry after them', () => {
    const event = vectorEvent(4) as Extract<JoinEvent, { kind: 'vector' }>;
    const v = { ...event.vector, feature_names: ['legacy_ref_a', 'legacy_ref_b'] };
    const packed = [v.transaction_id, v.customer_id, v.terminal_id, v.event_time, v.amount, v.feature_set_version, 'legacy-ref', v.feature_values, v.ingested_at];
    const store = restored([
      { topic: 'join-buffer.changelog', partition: 0, key: 'k4', value: Buffer.from(JSON.stringify({ kind: 'vector', vector: packed })) },
      { topic: 'join-buffer.changelog', partition: 0, key: 'feature-names/legacy-ref', value: Buffer.from(JSON.stringify({ feature_names_ref: 'legacy-ref', feature_names: v.feature_names })) },
    ]);
    expect([...new SegmentedBuffer(store, JOIN_EVENT_SEGMENTS, -Infinity, timeOf).entries()]).toEqual([['k4', { kind: 'vector', vector: v }]]);
  });

  it('restored at any commit, in any record order, with the frontier stored beside it, holds what the buffer held', () => {
    type Op = { op: 'add'; n: number; label: boolean } | { op: 'release'; by: number } | { op: 'seal' } | { op: 'commit' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('add' as const), n: fc.integer({ min: 0, max: 30 }), label: fc.boolean() }),
      fc.record({ op: fc.constant('release' as const), by: fc.integer({ min: 0, max: 60 }) }),
      fc.constant({ op: 'seal' as const }),
      fc.constant({ op: 'commit' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })), (ops, draws) => {
        const store = newStore();
        const segments = new SegmentedBuffer(store, JOIN_EVENT_SEGMENTS, -Infinity, timeOf);
        const buffer = new OrderedBuffer(segments, joinOrder);
        const log: ChangelogRecord[] = [];
        let released = -Infinity;
        const random = draws[Symbol.iterator]();
        const shuffle = <X>(entries: X[]) =>
          entries
            .map((entry) => [random.next().value as number, entry] as const)
            .sort((a, b) => a[0] - b[0])
            .map(([, entry]) => entry);
        const check = () => {
          const again = new SegmentedBuffer(restored(log, shuffle), JOIN_EVENT_SEGMENTS, released, timeOf);
          expect(new Map(again.entries())).toEqual(new Map(segments.entries()));
        };
        for (const step of ops) {
          if (step.op === 'add') {
            // The owner buffers only what is after its frontier (an older event is applied at once).
            const event = step.label ? labelEvent(step.n) : vectorEvent(step.n);
            if (timeOf(event) > released) buffer.add(event);
          } else if (step.op === 'release') {
            released = Math.max(released, released === -Infinity ? step.by : released + step.by);
            buffer.releaseThrough(released);
          } else if (step.op === 'seal') segments.seal();
          else {
            log.push(...store.drainChanges());
            check();
          }
        }
        log.push(...store.drainChanges());
        check();
      }),
    );
  });
});
