import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { featureNamesCodec, PartitionStore, SluiceError, VECTOR_VALUES, withSharedFeatureNames, type ChangelogRecord, type FeatureVector, type LabelledExample, type VectorSlot } from '@sluice/shared';
import type { JoinEvent } from '../src/event-time-join.js';
import { EXAMPLE_VECTOR, JOIN_EVENT_VECTOR } from '../src/vector-slots.js';

const NAMES = ['customer_tx_count_1d', 'customer_avg_amount_7d', 'terminal_fraud_rate_28d'];

function vector(n: number, names: string[] = [...NAMES]): FeatureVector {
  return {
    transaction_id: `tx-${n}`,
    customer_id: `c-${n % 3}`,
    terminal_id: 't-1',
    event_time: 1_000 * n,
    amount: 12.5 + n,
    feature_set_version: 'handbook-v1',
    feature_names: names,
    feature_values: [n, n / 7, 0.1 * n],
    ingested_at: 1_000 * n + 5,
  };
}

function backing<V>(slot: VectorSlot<V>): PartitionStore<V> {
  return new PartitionStore<V>({ name: 'store', changelogTopic: 'store.changelog', ...featureNamesCodec(slot) }, 0);
}

/** What a compacted changelog restores: the latest record per key, in the order `order` picks. */
function restored<V>(slot: VectorSlot<V>, records: ChangelogRecord[], order: (latest: [string, Buffer | null][]) => [string, Buffer | null][] = (x) => x): PartitionStore<V> {
  const latest = new Map<string, Buffer | null>();
  for (const record of records) {
    latest.delete(record.key);
    latest.set(record.key, record.value);
  }
  const store = backing(slot);
  for (const [key, value] of order([...latest])) store.restore(key, value);
  return store;
}

describe('feature names shared by reference', () => {
  it('writes each vector without its names, and a store restored from that changelog holds the same values', () => {
    const store = backing(JOIN_EVENT_VECTOR);
    const shared = withSharedFeatureNames(store, JOIN_EVENT_VECTOR);
    const events: JoinEvent[] = [
      { kind: 'vector', vector: vector(1) },
      { kind: 'label', label: { transaction_id: 'tx-0', customer_id: 'c-0', terminal_id: 't-1', tx_event_time: 0, is_fraud: true, labeled_at: 500, ingested_at: 600 } },
      { kind: 'vector', vector: vector(2) },
    ];
    events.forEach((event, i) => shared.put(`k${i}`, event));
    const records = store.drainChanges();

    expect(records.filter((record) => record.value?.toString('utf8').includes(NAMES[0]!))).toHaveLength(1);
    expect(shared.size).toBe(3);
    expect([...shared.keys()]).toEqual(['k0', 'k1', 'k2']);
    const again = withSharedFeatureNames(restored(JOIN_EVENT_VECTOR, records), JOIN_EVENT_VECTOR);
    expect([...again.entries()]).toEqual(events.map((event, i) => [`k${i}`, event]));
    expect(again.size).toBe(3);
  });

  it('holds one names array for every vector it stores', () => {
    const shared = withSharedFeatureNames(backing(EXAMPLE_VECTOR), EXAMPLE_VECTOR);
    const example = (n: number): LabelledExample => ({ kind: 'labelled', label_source: 'label', is_fraud: false, labeled_at: n, decided_at: n, vector: vector(n) });
    shared.put('a', example(1));
    shared.put('b', example(2));
    expect(shared.get('a')!.vector.feature_names).toBe(shared.get('b')!.vector.feature_names);
    expect(shared.get('a')).toEqual(example(1));
  });

  it('reads vectors written in full (changelogs from before) as they were', () => {
    const old = vector(3);
    const store = restored(VECTOR_VALUES, [{ topic: 'store.changelog', partition: 0, key: 'tx-3', value: Buffer.from(JSON.stringify(old)) }]);
    expect(withSharedFeatureNames(store, VECTOR_VALUES).get('tx-3')).toEqual(old);
  });

  it('resolves a vector whose names entry comes after it in the changelog, and writes it again by reference', () => {
    const names = ['only_in_this_test_a', 'only_in_this_test_b', 'only_in_this_test_c'];
    const { feature_names: _, ...rest } = vector(4, names);
    const records: ChangelogRecord[] = [
      { topic: 'store.changelog', partition: 0, key: 'tx-4', value: Buffer.from(JSON.stringify({ ...rest, feature_names_ref: 'hand-made-ref' })) },
      { topic: 'store.changelog', partition: 0, key: 'feature-names/hand-made-ref', value: Buffer.from(JSON.stringify({ feature_names_ref: 'hand-made-ref', feature_names: names })) },
    ];
    const store = restored(VECTOR_VALUES, records);
    expect(withSharedFeatureNames(store, VECTOR_VALUES).get('tx-4')).toEqual(vector(4, names));
    expect(store.drainChanges().map((record) => record.key)).toEqual(['tx-4']);
  });

  it('resolves a vector written positionally before its names entry', () => {
    const names = ['packed_only_a', 'packed_only_b', 'packed_only_c'];
    const v = vector(6, names);
    const packed = [v.transaction_id, v.customer_id, v.terminal_id, v.event_time, v.amount, v.feature_set_version, 'packed-ref', v.feature_values, v.ingested_at];
    const records: ChangelogRecord[] = [
      { topic: 'store.changelog', partition: 0, key: 'tx-6', value: Buffer.from(JSON.stringify(packed)) },
      { topic: 'store.changelog', partition: 0, key: 'feature-names/packed-ref', value: Buffer.from(JSON.stringify({ feature_names_ref: 'packed-ref', feature_names: names })) },
    ];
    expect(withSharedFeatureNames(restored(VECTOR_VALUES, records), VECTOR_VALUES).get('tx-6')).toEqual(v);
  });

  it('refuses a vector whose names are nowhere in the changelog', () => {
    const { feature_names: _, ...rest } = vector(5);
    const store = restored(VECTOR_VALUES, [{ topic: 'store.changelog', partition: 0, key: 'tx-5', value: Buffer.from(JSON.stringify({ ...rest, feature_names_ref: 'never-written' })) }]);
    expect(() => withSharedFeatureNames(store, VECTOR_VALUES)).toThrow(SluiceError);
  });

  it('restores the same values from its changelog at any commit, in any record order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.constantFrom('put', 'delete', 'commit'), n: fc.integer({ min: 0, max: 6 }), names: fc.constantFrom(NAMES, ['x', 'y', 'z']) }), { maxLength: 40 }),
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        (ops, draws) => {
          const store = backing(VECTOR_VALUES);
          const shared = withSharedFeatureNames(store, VECTOR_VALUES);
          const written: ChangelogRecord[] = [];
          for (const op of ops) {
            if (op.op === 'put') shared.put(`tx-${op.n}`, vector(op.n, [...op.names]));
            else if (op.op === 'delete') shared.delete(`tx-${op.n}`);
            else written.push(...store.drainChanges());
          }
          written.push(...store.drainChanges());
          const random = draws[Symbol.iterator]();
          const shuffle = (entries: [string, Buffer | null][]) =>
            entries
              .map((entry) => [random.next().value as number, entry] as const)
              .sort((a, b) => a[0] - b[0])
              .map(([, entry]) => entry);
          const again = withSharedFeatureNames(restored(VECTOR_VALUES, written, shuffle), VECTOR_VALUES);
          expect(new Map(again.entries())).toEqual(new Map(shared.entries()));
          expect(again.size).toBe(shared.size);
        },
      ),
    );
  });
});
