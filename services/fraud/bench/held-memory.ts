/**
 * Heap per vector held by a fraud task waiting for the model stream (FRAUD_MAX_HELD bounds how many): N vectors
 * in the hold's buffer (an OrderedBuffer over shared's SegmentedBuffer, HELD_SEGMENTS), decoded as from Avro
 * (every vector its own array of its own 15 name strings), after the changes went to the changelog, heap
 * measured after a full GC; with the names shared (what the hold does) and as decoded (what it did before).
 *   node --expose-gc --conditions=sluice-source --import tsx services/fraud/bench/held-memory.ts [N]
 */
import { OrderedBuffer, PartitionStore, SegmentedBuffer, type FeatureVector, type SegmentFormat } from '@sluice/shared';
import { HELD_SEGMENTS, vectorOrder, type HeldVector } from '../src/scoring-order.js';

const n = Number(process.argv[2] ?? 50_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

// The handbook's names are 22-35 characters (services/features/src/handbook.ts).
const NAMES = Array.from({ length: 15 }, (_, k) => `CUSTOMER_ID_AVG_AMOUNT_${k}DAY_WINDOW`);

function decodedVector(i: number): FeatureVector {
  return {
    transaction_id: `0-${String(i).padStart(7, '0')}`,
    customer_id: String(i % 5_000),
    terminal_id: String(i % 10_000),
    event_time: 1_522_540_800_000 + i * 8_000,
    amount: 57.19 + (i % 100),
    feature_set_version: 'handbook-v1',
    // Avro's decoder makes new strings for every record.
    feature_names: NAMES.map((name) => Buffer.from(name).toString('utf8')),
    feature_values: Array.from({ length: 15 }, (_, k) => i * 0.5 + k),
    ingested_at: 1_764_000_000_000 + i,
  };
}

function bytesPerVector(format: SegmentFormat<HeldVector>): number {
  gc!();
  const before = process.memoryUsage().heapUsed;
  const store = new PartitionStore<unknown>({ name: 'held', changelogTopic: 'held.changelog' }, 0);
  const segments = new SegmentedBuffer(store, format, -Infinity, (held) => held.vector.event_time);
  const buffer = new OrderedBuffer(segments, vectorOrder);
  for (let i = 0; i < n; i++) {
    buffer.add({ vector: decodedVector(i), arrived_at: i });
    if (i % 500 === 499) segments.seal();
  }
  store.drainChanges();
  gc!();
  const after = process.memoryUsage().heapUsed;
  if (buffer.size !== n) throw new Error('lost vectors');
  return (after - before) / n;
}

const asDecoded: SegmentFormat<HeldVector> = { ...HELD_SEGMENTS, held: undefined };
console.log(`Heap per held vector (${n.toLocaleString('en-US')} vectors of 15 features, after GC, node ${process.version}):`);
console.log(`  names shared (HELD_SEGMENTS)       ${Math.round(bytesPerVector(HELD_SEGMENTS))} bytes`);
console.log(`  names as decoded, one copy each    ${Math.round(bytesPerVector(asDecoded))} bytes`);
