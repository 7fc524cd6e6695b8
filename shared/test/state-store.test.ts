import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionStore, type ChangelogRecord } from '../src/state-store.js';

const newStore = () => new PartitionStore<number>({ name: 'store', changelogTopic: 'store-changelog' }, 0);
const keyOf = fc.constantFrom('a', 'b', 'c', 'd');
const op = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: keyOf, value: fc.integer() }),
  fc.record({ op: fc.constant('delete' as const), key: keyOf }),
  fc.constant({ op: 'commit' as const }),
);

describe('PartitionStore changelog', () => {
  it('restores, from what it wrote at each commit, the state it held then (compacted or not), writing at most one record per key changed', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const store = newStore();
        const log: ChangelogRecord[] = [];
        let touched = new Set<string>();
        const commit = () => {
          const records = store.drainChanges();
          expect(records.length).toBeLessThanOrEqual(touched.size);
          log.push(...records);
          touched = new Set();
          const restored = newStore();
          for (const record of log) restored.restore(record.key, record.value);
          expect(new Map(restored.entries())).toEqual(new Map(store.entries()));
          // Compaction keeps the last record per key: the same state.
          const compacted = newStore();
          for (const record of new Map(log.map((each) => [each.key, each])).values()) compacted.restore(record.key, record.value);
          expect(new Map(compacted.entries())).toEqual(new Map(store.entries()));
        };
        for (const step of ops) {
          if (step.op === 'put') store.put(step.key, step.value);
          else if (step.op === 'delete') store.delete(step.key);
          else commit();
          if (step.op !== 'commit') touched.add(step.key);
        }
        commit();
      }),
      { numRuns: 500 },
    );
  });

  it('writes nothing for a key taken in and released within one batch, and a tombstone for one released later', () => {
    const store = newStore();
    store.put('passing', 1);
    store.delete('passing');
    store.put('held', 2);
    expect(store.drainChanges().map((record) => [record.key, record.value?.toString() ?? null])).toEqual([['held', '2']]);
    store.delete('held');
    store.put('again', 3);
    store.delete('again');
    store.put('again', 4);
    expect(store.drainChanges().map((record) => [record.key, record.value?.toString() ?? null])).toEqual([
      ['held', null],
      ['again', '4'],
    ]);
  });
});
