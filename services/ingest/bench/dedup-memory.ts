/**
 * Bytes per remembered id in the de-duplication store, as ingest holds it (a
 * DedupStore over the processor's PartitionStore, after each batch's
 * changelog records were written): the V8 heap plus the typed arrays' buffers
 * outside it. Prints figures, asserts nothing. 500,000 ids, batches of 500
 * (short / UUID ids): 116 / 149 bytes per id with the first hand-rolled store,
 * 100 / 133 on shared's ExpiringIndex of strings, 49 / 49 as fingerprints
 * (seen-ids.ts; 2.2 / 3.1 µs per id against 1.7 / 2.6: the SHA-256); 1,000
 * changelog records each time.
 *   node --expose-gc --conditions=sluice-source --import tsx services/ingest/bench/dedup-memory.ts [ids] [batch] [short|uuid]
 * Ids look like the simulator's (`<seed>-<n>`, ~8 characters) or UUIDs (36); one kind per run, so
 * that nothing of an earlier store is still on the heap.
 */
import { PartitionStore } from '@sluice/shared';
import { DedupStore } from '../src/dedup.js';

const IDS = Number(process.argv[2] ?? 500_000);
const BATCH = Number(process.argv[3] ?? 500);
const KIND = process.argv[4] ?? 'short';
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** The V8 heap and the typed arrays' buffers outside it: the store holds both. */
function memoryUsed(): number {
  gc!();
  gc!();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

const KINDS = {
  short: ['short ids (0-123456)', (i: number) => `0-${i}`],
  uuid: ['36-character ids (UUID-like)', (i: number) => `c0ffee00-0000-4000-8000-${i.toString(16).padStart(12, '0')}`],
} as const;
{
  const [label, idOf] = KINDS[KIND as keyof typeof KINDS];
  const before = memoryUsed();
  const backing = new PartitionStore<unknown>({ name: 'seen-transactions', changelogTopic: 'bench' }, 0);
  const dedup = new DedupStore({ horizonMs: 24 * 3_600_000, maxEntries: IDS }, backing);
  let changelogRecords = 0;
  let changelogBytes = 0;
  const started = performance.now();
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < IDS; i++) {
    // Kafka timestamps: a few records per millisecond, as a busy partition sees them.
    dedup.remember(idOf(i), t0 + Math.floor(i / 3));
    if ((i + 1) % BATCH === 0) {
      for (const record of backing.drainChanges()) {
        changelogRecords += 1;
        changelogBytes += record.key.length + (record.value?.length ?? 0);
      }
    }
  }
  const micros = ((performance.now() - started) / IDS) * 1000;
  const bytes = memoryUsed() - before;
  console.log(
    `${label}: ${IDS.toLocaleString('en-US')} ids, ${Math.round(bytes / IDS)} bytes per id (${(bytes / 2 ** 20).toFixed(0)} MiB); ` +
      `${micros.toFixed(2)} µs per id; changelog ${changelogRecords.toLocaleString('en-US')} records, ${(changelogBytes / IDS).toFixed(1)} bytes per id (batches of ${BATCH})`,
  );
  if (dedup.size !== IDS) throw new Error(`expected ${IDS} ids, holds ${dedup.size}`);
}
