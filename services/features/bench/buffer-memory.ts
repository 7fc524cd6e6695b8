/**
 * Heap per event held in an event-time buffer, for the defaults of FEATURES_BUFFER_MAX_EVENTS and
 * LEARNER_BUFFER_MAX_EVENTS: N events in an OrderedBuffer over a PartitionStore (the decoded record under its
 * order key, plus the heap entry), after the changes went to the changelog, heap measured after a full GC.
 *   node --expose-gc --conditions=sluice-source --import tsx services/features/bench/buffer-memory.ts [N]
 * Events shaped as the stages hold them: a routed transaction (the handbook's 3 event and 6 customer values), a
 * routed label, a join vector (15 handbook features) and a join label. Prints bytes per event.
 */
import { OrderedBuffer, PartitionStore, type EventOrder, type FeatureVector, type Label, type RoutedEvent, type Transaction } from '@sluice/shared';

const n = Number(process.argv[2] ?? 50_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const id = (i: number) => `0-${String(i).padStart(7, '0')}`;
const transaction = (i: number): Transaction => ({
  transaction_id: id(i),
  customer_id: String(i % 5_000),
  terminal_id: String(i % 10_000),
  amount: 57.19 + (i % 100),
  event_time: 1_522_540_800_000 + i * 8_000,
  currency: 'EUR',
  ingested_at: 1_764_000_000_000 + i,
});
const label = (i: number): Label => ({
  transaction_id: id(i),
  customer_id: String(i % 5_000),
  terminal_id: String(i % 10_000),
  tx_event_time: 1_522_540_800_000 + i * 8_000,
  is_fraud: i % 100 === 0,
  labeled_at: 1_522_540_800_000 + i * 8_000 + 7 * 86_400_000,
  ingested_at: 1_764_000_000_000 + i,
});
const names = Array.from({ length: 15 }, (_, k) => `FEATURE_${k}`);
const vector = (i: number): FeatureVector => {
  const tx = transaction(i);
  return {
    transaction_id: tx.transaction_id,
    customer_id: tx.customer_id,
    terminal_id: tx.terminal_id,
    event_time: tx.event_time,
    amount: tx.amount,
    feature_set_version: 'handbook-v1',
    // A decoded record carries its own array of names.
    feature_names: [...names],
    feature_values: Array.from({ length: 15 }, (_, k) => i * 0.5 + k),
    ingested_at: tx.ingested_at,
  };
};

function bytesPerEvent<T>(make: (i: number) => T, orderOf: (event: T) => EventOrder): number {
  gc!();
  const before = process.memoryUsage().heapUsed;
  const store = new PartitionStore<T>({ name: 'buffer', changelogTopic: 'buffer.changelog' }, 0);
  const buffer = new OrderedBuffer(store, orderOf);
  for (let i = 0; i < n; i++) buffer.add(make(i));
  // As after the batch's commit: the changes have gone to the changelog.
  store.drainChanges();
  gc!();
  const after = process.memoryUsage().heapUsed;
  if (buffer.size !== n) throw new Error('lost events');
  return (after - before) / n;
}

const rows: [string, number][] = [
  [
    'features: routed transaction',
    bytesPerEvent(
      (i): RoutedEvent => ({ feature_set_version: 'handbook-v1', transaction: transaction(i), label: null, event_values: [1, 0, 0], customer_values: [1, 57, 3, 60, 12, 58] }),
      (e) => ({ time: e.transaction!.event_time, rank: 1, id: e.transaction!.transaction_id }),
    ),
  ],
  [
    'features: routed label',
    bytesPerEvent(
      (i): RoutedEvent => ({ feature_set_version: 'handbook-v1', transaction: null, label: label(i), event_values: [], customer_values: [] }),
      (e) => ({ time: e.label!.labeled_at, rank: 0, id: e.label!.transaction_id }),
    ),
  ],
  ['learner join: vector', bytesPerEvent((i) => ({ kind: 'vector' as const, vector: vector(i) }), (e) => ({ time: e.vector.event_time, rank: 0, id: e.vector.transaction_id }))],
  ['learner join: label', bytesPerEvent((i) => ({ kind: 'label' as const, label: label(i) }), (e) => ({ time: e.label.labeled_at, rank: 1, id: e.label.transaction_id }))],
];
console.log(`Heap per buffered event (${n.toLocaleString('en-US')} events, after GC, node ${process.version}):`);
for (const [what, bytes] of rows) console.log(`  ${what.padEnd(30)} ${Math.round(bytes)} bytes`);
