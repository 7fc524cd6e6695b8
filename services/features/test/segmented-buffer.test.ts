import { PartitionStore, type ChangelogRecord, type RoutedEvent } from '@sluice/shared';
import { OrderedBuffer, SegmentedBuffer } from '@sluice/shared/event-time';
import { describe, expect, it } from 'vitest';
import { routedOrder } from '../src/feature-stages.js';
import { TERMINAL_SEGMENTS, terminalBufferCodec } from '../src/segmented-buffer.js';

const routed = (n: number): RoutedEvent => ({
  feature_set_version: 'v',
  transaction: { transaction_id: `tx-${n}`, customer_id: `c${n % 3}`, terminal_id: 't', amount: n / 7, event_time: 1_000 + n, currency: null, ingested_at: 0 },
  label: null,
  event_values: [n / 7, 0, 1],
  customer_values: [1, n / 3],
});
const timeOf = (event: RoutedEvent) => routedOrder(event).time;

/** A buffer over a store that writes its changelog through the topology's codec, as the service's does. */
function terminalBuffer(changelog: ChangelogRecord[] = [], frontier = -Infinity) {
  const store = new PartitionStore<unknown>({ name: 'terminal-buffer', changelogTopic: 'changelog', ...terminalBufferCodec }, 0);
  for (const record of changelog) store.restore(record.key, record.value);
  const segments = new SegmentedBuffer(store, TERMINAL_SEGMENTS, frontier, timeOf);
  return { store, segments, buffer: new OrderedBuffer(segments, routedOrder) };
}

/** The changelog as compaction leaves it: each key's latest record, without tombstones. */
function compacted(records: ChangelogRecord[]): ChangelogRecord[] {
  const latest = new Map(records.map((record) => [record.key, record]));
  return [...latest.values()].filter((record) => record.value !== null);
}

describe('terminal buffer segments', () => {
  it('writes one record for a batch of buffered events, none for a partial release, a tombstone once all are released', () => {
    const { store, segments, buffer } = terminalBuffer();
    for (let n = 0; n < 100; n++) buffer.add(routed(n));
    segments.seal();
    expect(store.drainChanges()).toHaveLength(1);
    expect(buffer.releaseThrough(1_049)).toEqual(Array.from({ length: 50 }, (_, n) => routed(n)));
    expect(store.drainChanges()).toEqual([]);
    buffer.releaseThrough(1_099);
    expect(store.drainChanges()).toEqual([{ topic: 'changelog', partition: 0, key: expect.any(String), value: null }]);
  });

  it('restores exactly the events not released through the frontier stored beside it, and releases them in order', () => {
    const live = terminalBuffer();
    const changelog: ChangelogRecord[] = [];
    for (let batch = 0; batch < 5; batch++) {
      for (let n = batch; n < 100; n += 5) live.buffer.add(routed(n));
      live.segments.seal();
      changelog.push(...live.store.drainChanges());
    }
    live.buffer.releaseThrough(1_037);
    changelog.push(...live.store.drainChanges());
    const restored = terminalBuffer(compacted(changelog), 1_037);
    expect(restored.buffer.size).toBe(62);
    expect(restored.buffer.releaseThrough(Infinity)).toEqual(live.buffer.releaseThrough(Infinity));
    // Every segment drained: the restored store deletes them all.
    expect(restored.store.drainChanges().every((record) => record.value === null)).toBe(true);
  });

  it('reads the events buffered one per key before segments, as JSON objects or field lists', () => {
    const orderKey = (event: RoutedEvent) => `${timeOf(event)}|1|${event.transaction!.transaction_id}`;
    const changelog: ChangelogRecord[] = [
      { topic: 'changelog', partition: 0, key: orderKey(routed(1)), value: Buffer.from(JSON.stringify(routed(1))) },
      { topic: 'changelog', partition: 0, key: orderKey(routed(2)), value: terminalBufferCodec.serialize(routed(2)) },
    ];
    const restored = terminalBuffer(changelog);
    restored.buffer.add(routed(3));
    expect(restored.buffer.releaseThrough(Infinity)).toEqual([routed(1), routed(2), routed(3)]);
    const keys = restored.store.drainChanges().map((record) => [record.key, record.value]);
    expect(keys).toEqual([
      [orderKey(routed(1)), null],
      [orderKey(routed(2)), null],
    ]);
  });
});
