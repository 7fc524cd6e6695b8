import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionStore, SegmentedStore, SluiceError, VECTOR_VALUES, vectorBufferCodec, type ChangelogRecord, type FeatureVector } from '@sluice/shared';
import { PENDING_SEGMENTS } from '../src/vector-slots.js';

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

/** The pending store's changelog as a compacted topic restores it: the latest record per key, in the order `order` picks. */
function raw(records: ChangelogRecord[] = [], order: (latest: [string, Buffer | null][]) => [string, Buffer | null][] = (x) => x): PartitionStore<unknown> {
  const latest = new Map<string, Buffer | null>();
  for (const record of records) {
    latest.delete(record.key);
    latest.set(record.key, record.value);
  }
  const store = new PartitionStore<unknown>({ name: 'pending', changelogTopic: 'pending.changelog', ...vectorBufferCodec(VECTOR_VALUES) }, 0);
  for (const [key, value] of order([...latest])) store.restore(key, value);
  return store;
}

const pendingStore = (store: PartitionStore<unknown>) => new SegmentedStore(store, PENDING_SEGMENTS);
const record = (key: string, value: unknown): ChangelogRecord => ({ topic: 'pending.changelog', partition: 0, key, value: Buffer.from(JSON.stringify(value)) });

describe('the pending store (vectors waiting for their label)', () => {
  it('writes a batch of vectors as one record with their names once, and a store restored from it holds the same vectors', () => {
    const store = raw();
    const pending = pendingStore(store);
    for (let n = 1; n <= 20; n++) pending.put(`tx-${n}`, vector(n));
    pending.seal();
    const records = store.drainChanges();
    expect(records).toHaveLength(1);
    expect(records[0]!.value!.toString('utf8').split(NAMES[0]!)).toHaveLength(2);
    const again = pendingStore(raw(records));
    expect(new Map(again.entries())).toEqual(new Map(pending.entries()));
  });

  it('holds one names array for every vector it stores', () => {
    const pending = pendingStore(raw());
    pending.put('tx-1', vector(1));
    pending.put('tx-2', vector(2));
    expect(pending.get('tx-1')!.feature_names).toBe(pending.get('tx-2')!.feature_names);
    expect(pending.get('tx-1')).toEqual(vector(1));
  });

  it('reads the vectors of changelogs from before segments: in full, by names reference, positional with the names entry after them', () => {
    const names = ['only_in_this_test_a', 'only_in_this_test_b', 'only_in_this_test_c'];
    const { feature_names: _, ...byRef } = vector(4, names);
    const v = vector(6, names);
    const packed = [v.transaction_id, v.customer_id, v.terminal_id, v.event_time, v.amount, v.feature_set_version, 'hand-made-ref', v.feature_values, v.ingested_at];
    const store = raw([
      record('tx-3', vector(3)),
      record('tx-4', { ...byRef, feature_names_ref: 'hand-made-ref' }),
      record('tx-6', packed),
      record('feature-names/hand-made-ref', { feature_names_ref: 'hand-made-ref', feature_names: names }),
    ]);
    const pending = pendingStore(store);
    expect(pending.size).toBe(3);
    expect(pending.get('tx-3')).toEqual(vector(3));
    expect(pending.get('tx-4')).toEqual(vector(4, names));
    expect(pending.get('tx-6')).toEqual(v);
    pending.delete('tx-4');
    expect(store.drainChanges().map((each) => [each.key, each.value])).toEqual([['tx-4', null]]);
  });

  it('refuses a vector whose names are nowhere in the changelog', () => {
    const { feature_names: _, ...rest } = vector(5);
    expect(() => pendingStore(raw([record('tx-5', { ...rest, feature_names_ref: 'never-written' })]))).toThrow(SluiceError);
  });

  it('restores the same vectors from its changelog at any commit, in any record order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.constantFrom('put', 'delete', 'seal', 'commit'), n: fc.integer({ min: 0, max: 6 }), names: fc.constantFrom(NAMES, ['x', 'y', 'z']) }), { minLength: 10, maxLength: 60, size: 'max' }),
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        (ops, draws) => {
          const store = raw();
          const pending = pendingStore(store);
          const written: ChangelogRecord[] = [];
          for (const op of ops) {
            if (op.op === 'put') pending.put(`tx-${op.n}`, vector(op.n, [...op.names]));
            else if (op.op === 'delete') pending.delete(`tx-${op.n}`);
            else if (op.op === 'seal') pending.seal();
            else written.push(...store.drainChanges());
          }
          written.push(...store.drainChanges());
          const random = draws[Symbol.iterator]();
          const shuffle = (entries: [string, Buffer | null][]) =>
            entries
              .map((entry) => [random.next().value as number, entry] as const)
              .sort((a, b) => a[0] - b[0])
              .map(([, entry]) => entry);
          const again = pendingStore(raw(written, shuffle));
          expect(new Map(again.entries())).toEqual(new Map(pending.entries()));
          expect(again.size).toBe(pending.size);
        },
      ),
    );
  });
});
