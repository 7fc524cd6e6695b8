import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionStore, segmentedBufferCodec, SegmentedStore, SEGMENT_BYTES, type ChangelogRecord, type SegmentFormat } from '../src/index.js';

interface Item {
  n: number;
  text: string;
}

/** Values as a segment's JSON list of [key, value]; single (pre-segment) records are the value's JSON. */
const ITEMS: SegmentFormat<Item> = {
  estimatedBytes: (item) => 40 + item.text.length,
  write: (values) => [...values],
  read: (written) => written as [string, Item][],
  single: (value) => value as Item,
};
const codec = segmentedBufferCodec({ serialize: (value: Item) => Buffer.from(JSON.stringify(value)), deserialize: (bytes) => JSON.parse(bytes.toString('utf8')) as unknown });

function open(changelog: readonly ChangelogRecord[] = []) {
  const raw = new PartitionStore<unknown>({ name: 'pending', changelogTopic: 'changelog', ...codec }, 0);
  for (const record of changelog) raw.restore(record.key, record.value);
  return { raw, store: new SegmentedStore(raw, ITEMS) };
}

/** The changelog as compaction leaves it: each key's latest record, without tombstones. */
function compacted(records: readonly ChangelogRecord[]): ChangelogRecord[] {
  const latest = new Map(records.map((record) => [record.key, record]));
  return [...latest.values()].filter((record) => record.value !== null);
}

const contents = (store: SegmentedStore<Item>) => new Map([...store.entries()].sort(([a], [b]) => a.localeCompare(b)));

type Step =
  | { op: 'put'; key: string; n: number }
  | { op: 'delete'; key: string }
  | { op: 'seal' }
  | { op: 'commit' }
  | { op: 'crash' };

const KEYS = Array.from({ length: 12 }, (_, i) => `tx-${i}`);
const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('put' as const), key: fc.constantFrom(...KEYS), n: fc.nat(1_000) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'seal' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'crash' as const }) },
);

/** Values the compacted changelog's segment records hold, and whether any of them is a removals record. */
function segmentValues(changelog: readonly ChangelogRecord[]): number {
  let values = 0;
  for (const record of compacted(changelog)) {
    const parsed = JSON.parse(record.value!.toString('utf8')) as { segment?: unknown[] };
    if (parsed.segment) values += parsed.segment.length;
  }
  return values;
}

describe('SegmentedStore', () => {
  it('restored from its changelog at any commit, holds what the store held then, and goes on alike (against a Map)', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 20, maxLength: 300, size: 'max' }), (steps) => {
        const changelog: ChangelogRecord[] = [];
        let { raw, store } = open();
        let oracle = new Map<string, Item>();
        let committed = new Map<string, Item>();
        for (const step of steps) {
          if (step.op === 'put') {
            const item = { n: step.n, text: `v${step.n}` };
            store.put(step.key, item);
            oracle.set(step.key, item);
          } else if (step.op === 'delete') {
            store.delete(step.key);
            oracle.delete(step.key);
          } else if (step.op === 'seal') {
            store.seal();
          } else if (step.op === 'commit') {
            changelog.push(...raw.drainChanges());
            committed = new Map(oracle);
            expect(contents(open(changelog).store)).toEqual(new Map([...committed].sort(([a], [b]) => a.localeCompare(b))));
            // Sealed segments are compacted at a quarter of what they were written with, the open one holds only live values.
            expect(segmentValues(changelog)).toBeLessThanOrEqual(4 * committed.size);
          } else {
            ({ raw, store } = open(changelog));
            oracle = new Map(committed);
          }
          expect(store.size).toBe(oracle.size);
          for (const key of KEYS) expect(store.get(key)).toEqual(oracle.get(key));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('writes one segment for a batch of puts and one removals record for a batch of deletes, deleting both once every value is gone', () => {
    const { raw, store } = open();
    for (let n = 0; n < 100; n++) store.put(`tx-${n}`, { n, text: '' });
    store.seal();
    expect(raw.drainChanges().map((record) => record.key)).toEqual(['segment-0']);
    for (let n = 0; n < 50; n++) store.delete(`tx-${n}`);
    store.seal();
    const removals = raw.drainChanges();
    expect(removals.map((record) => record.key)).toEqual(['removed-0']);
    expect(JSON.parse(removals[0]!.value!.toString('utf8'))).toEqual({ removed: { 0: Array.from({ length: 50 }, (_, n) => `tx-${n}`) } });
    for (let n = 50; n < 74; n++) store.delete(`tx-${n}`);
    store.seal();
    // 26 of 100 left: still above a quarter.
    expect(raw.drainChanges().map((record) => [record.key, record.value === null])).toEqual([['removed-1', false]]);
    store.delete('tx-74');
    store.seal();
    // 25 of 100 left: they move to a new segment, the old one and both removals records that listed it go.
    expect(raw.drainChanges().map((record) => [record.key, record.value === null])).toEqual([
      ['segment-0', true],
      ['removed-0', true],
      ['removed-1', true],
      ['segment-1', false],
    ]);
    expect(store.size).toBe(25);
    for (let n = 75; n < 100; n++) store.delete(`tx-${n}`);
    expect(raw.drainChanges().map((record) => [record.key, record.value === null])).toEqual([['segment-1', true]]);
    expect(store.size).toBe(0);
  });

  it('after a restore, never gives a new segment the index of a deleted one that a removals record still lists', () => {
    const changelog: ChangelogRecord[] = [];
    let { raw, store } = open();
    for (const key of ['a', 'b', 'c', 'd']) store.put(key, { n: 0, text: key });
    store.seal();
    for (const key of ['e', 'f']) store.put(key, { n: 1, text: key });
    store.seal();
    // One removals record lists segment-0 (still alive) and segment-1, which is then emptied and deleted.
    store.delete('a');
    store.delete('e');
    store.delete('f');
    store.seal();
    changelog.push(...raw.drainChanges());
    ({ raw, store } = open(changelog));
    store.put('e', { n: 2, text: 'again' });
    store.seal();
    changelog.push(...raw.drainChanges());
    expect(contents(open(changelog).store)).toEqual(contents(store));
    expect(open(changelog).store.get('e')).toEqual({ n: 2, text: 'again' });
  });

  it('seals a segment and a removals record before they pass the broker-safe size', () => {
    const { raw, store } = open();
    const text = 'x'.repeat(1_000);
    const count = Math.ceil((3 * SEGMENT_BYTES) / 1_040);
    for (let n = 0; n < count; n++) store.put(`tx-${n}`, { n, text });
    const segments = raw.drainChanges();
    expect(segments.length).toBeGreaterThanOrEqual(3);
    for (const record of segments) expect(record.value!.length).toBeLessThan(SEGMENT_BYTES + 2_000);
    store.seal();
    const longKeys = open();
    for (let n = 0; n < 20_000; n++) longKeys.store.put(`${'k'.repeat(40)}-${n}`, { n, text: '' });
    longKeys.store.seal();
    longKeys.raw.drainChanges();
    for (let n = 0; n < 20_000; n += 2) longKeys.store.delete(`${'k'.repeat(40)}-${n}`);
    const removals = longKeys.raw.drainChanges().filter((record) => record.key.startsWith('removed-'));
    expect(removals.length).toBeGreaterThanOrEqual(2);
    for (const record of removals) expect(record.value!.length).toBeLessThan(SEGMENT_BYTES + 2_000);
  });

  it('reads, keeps and deletes values stored one per key before segments', () => {
    const changelog: ChangelogRecord[] = [
      { topic: 'changelog', partition: 0, key: 'tx-1', value: Buffer.from(JSON.stringify({ n: 1, text: 'a' })) },
      { topic: 'changelog', partition: 0, key: 'tx-2', value: Buffer.from(JSON.stringify({ n: 2, text: 'b' })) },
    ];
    const { raw, store } = open(changelog);
    expect(contents(store)).toEqual(new Map([['tx-1', { n: 1, text: 'a' }], ['tx-2', { n: 2, text: 'b' }]]));
    store.delete('tx-1');
    store.put('tx-2', { n: 3, text: 'c' });
    store.seal();
    expect(raw.drainChanges().map((record) => [record.key, record.value === null])).toEqual([
      ['tx-1', true],
      ['tx-2', true],
      ['segment-0', false],
    ]);
    expect(store.get('tx-2')).toEqual({ n: 3, text: 'c' });
  });
});
