/**
 * Writes the handbook stream the quality bench replays (handbook-stream.ts)
 * as two CSV files, for baselines outside this repository's dependencies
 * (river_baseline.py):
 * - transactions.csv: index, day, customer, is_fraud, then the features, in stream order;
 * - events.csv: the order things happen, one integer a line: i is
 *   transaction i, -i-1 is the label of transaction i (7 days later).
 *   node --conditions=sluice-source --import tsx services/learner/bench/export-stream.ts <directory> [days] [customers]
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { loadHandbookStream } from './handbook-stream.js';

const directory = process.argv[2];
if (directory === undefined) throw new Error('usage: export-stream.ts <directory> [days] [customers]');
const days = Number(process.argv[3] ?? 183);
const customers = Number(process.argv[4] ?? 5_000);
const stream = loadHandbookStream({ days, customers, terminals: customers * 2, seed: 0 }, console.log);
mkdirSync(directory, { recursive: true });

async function write(file: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(join(directory!, file));
  for (const line of lines) if (!out.write(line)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

const d = stream.featureNames.length;
await write(
  'transactions.csv',
  (function* () {
    yield `index,day,customer,is_fraud,${stream.featureNames.join(',')}\n`;
    for (let i = 0; i < stream.count; i++) {
      yield `${i},${stream.day[i]},${stream.customer[i]},${stream.fraud[i]},${Array.from(stream.features.subarray(i * d, (i + 1) * d)).join(',')}\n`;
    }
  })(),
);
await write(
  'events.csv',
  (function* () {
    yield 'event\n';
    for (const e of stream.events) yield `${e}\n`;
  })(),
);
console.log(`wrote ${stream.count} transactions and ${stream.events.length} events to ${directory}`);
