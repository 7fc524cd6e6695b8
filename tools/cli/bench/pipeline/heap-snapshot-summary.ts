/**
 * What a service holds live, from a V8 `.heapsnapshot` (node
 * --heapsnapshot-signal): V8 collects garbage before it writes one, so unlike
 * the heap "used" and "external" figures of /metrics, which count garbage not
 * yet collected, a snapshot shows only what is reachable. Totals of self
 * sizes, the ArrayBuffer backing stores (Buffers, typed arrays: memory outside
 * the V8 heap) and the largest kinds of node.
 *
 *   node --import tsx bench/pipeline/heap-snapshot-summary.ts FILE.heapsnapshot [top]
 */
import { readFileSync } from 'node:fs';

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapSummary {
  /** Every live node's self size, backing stores included (bytes). */
  liveBytes: number;
  /** ArrayBuffer backing stores: Buffers and typed arrays, outside the V8 heap (bytes). */
  arrayBufferBytes: number;
  /** Kinds of node (`type:name`, strings and heap numbers together) by self size, largest first: [kind, bytes, count]. */
  kinds: [string, number, number][];
}

/** The name V8 gives the native node holding an ArrayBuffer's bytes. */
const BACKING_STORE = 'system / JSArrayBufferData';

export function summariseHeapSnapshot(file: string, top = 8): HeapSummary {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field)) as [number, number, number];
  const { nodes, strings } = snapshot;
  const kinds = new Map<string, [number, number]>();
  let liveBytes = 0;
  let arrayBufferBytes = 0;
  for (let at = 0; at < nodes.length; at += width) {
    const type = types[nodes[at + typeAt]!]!;
    const name = strings[nodes[at + nameAt]!]!;
    const size = nodes[at + sizeAt]!;
    liveBytes += size;
    if (name === BACKING_STORE) arrayBufferBytes += size;
    // Each string and number is its own node named by its content: one kind for all of them.
    const kind = type.includes('string') ? 'strings' : type === 'number' ? 'heap numbers' : `${type}:${name}`.slice(0, 60);
    const tally = kinds.get(kind) ?? [0, 0];
    tally[0] += size;
    tally[1] += 1;
    kinds.set(kind, tally);
  }
  const largest = [...kinds].sort((a, b) => b[1][0] - a[1][0]).slice(0, top);
  return { liveBytes, arrayBufferBytes, kinds: largest.map(([kind, [bytes, count]]) => [kind, bytes, count]) };
}

const MiB = 2 ** 20;

export function formatHeapSummary(service: string, summary: HeapSummary): string {
  const kinds = summary.kinds.map(([kind, bytes, count]) => `${kind} ${(bytes / MiB).toFixed(1)} (${count.toLocaleString('en-US')})`).join(', ');
  return `${service}: live ${(summary.liveBytes / MiB).toFixed(1)} MiB, of which ArrayBuffers ${(summary.arrayBufferBytes / MiB).toFixed(1)} MiB; largest kinds, MiB (nodes): ${kinds}`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const [file, top] = process.argv.slice(2);
  if (!file) throw new Error('usage: heap-snapshot-summary.ts FILE.heapsnapshot [top]');
  console.log(formatHeapSummary(file, summariseHeapSnapshot(file, Number(top ?? 8))));
}
