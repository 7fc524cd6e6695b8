/**
 * Runs the handbook's simulation (§3.2.6: 5,000 customers, 10,000 terminals,
 * 183 days from 2018-04-01, r = 5) through the streaming simulator and prints
 * its totals beside the handbook's published ones.
 * Usage: npx tsx tools/cli/bench/simulator-report.ts [seed] [days]
 * With `node --expose-gc --import tsx …` it also prints the live heap every
 * 30 days, which shows memory does not grow with the number of days.
 */
import { Simulation } from '../src/simulator/index.js';

const HANDBOOK = { transactions: 1_754_155, frauds: 14_681, byScenario: [973, 9_077, 4_631] };
const MEMORY_SAMPLE_EVERY = 50_000;
const DAY_MS = 86_400_000;
const collectGarbage = (globalThis as { gc?: () => void }).gc;

const seed = Number(process.argv[2] ?? 0);
const nbDays = Number(process.argv[3] ?? 183);
const startedAt = performance.now();
const simulation = new Simulation({ seed, nbDays });
const profilesMs = performance.now() - startedAt;

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
let transactions = 0;
let labels = 0;
let frauds = 0;
let fraudLabels = 0;
let amountSum = 0;
const firstScenario = [0, 0, 0, 0];
const finalScenario = [0, 0, 0, 0];
let peakHeap = 0;
const liveHeap: string[] = [];
let nextHeapDay = 30;
let lastAt = -Infinity;
let outOfOrder = 0;

const streamStartedAt = performance.now();
for (const event of simulation.events()) {
  if (event.at < lastAt) outOfOrder++;
  lastAt = event.at;
  if (event.kind === 'transaction') {
    transactions++;
    amountSum += event.payload.amount;
    const { truth } = event;
    if (truth.is_fraud) frauds++;
    firstScenario[truth.scenarios[0] ?? 0]!++;
    finalScenario[truth.scenario]!++;
  } else {
    labels++;
    if (event.payload.is_fraud) fraudLabels++;
  }
  if ((transactions + labels) % MEMORY_SAMPLE_EVERY === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  if (collectGarbage && event.at >= simulation.config.startMs + nextHeapDay * DAY_MS) {
    collectGarbage();
    liveHeap.push(`day ${nextHeapDay}: ${mib(process.memoryUsage().heapUsed)}`);
    nextHeapDay += 30;
  }
}
const streamSeconds = (performance.now() - streamStartedAt) / 1000;
const events = transactions + labels;

const pct = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(2)}%`;
const count = (n: number): string => n.toLocaleString('en-US');
const rows: [string, string, string][] = [
  ['transactions', count(transactions), count(HANDBOOK.transactions)],
  ['frauds', count(frauds), count(HANDBOOK.frauds)],
  ['fraud rate', pct(frauds, transactions), pct(HANDBOOK.frauds, HANDBOOK.transactions)],
  ...[1, 2, 3].map((s): [string, string, string] => [
    `frauds from scenario ${s} (handbook count: not already fraud)`,
    count(firstScenario[s]!),
    count(HANDBOOK.byScenario[s - 1]!),
  ]),
  ...[1, 2, 3].map((s): [string, string, string] => [`final TX_FRAUD_SCENARIO = ${s}`, count(finalScenario[s]!), '']),
];

console.log(`seed ${seed}, ${simulation.config.nCustomers} customers, ${simulation.config.nTerminals} terminals, ${simulation.config.nbDays} days, r = ${simulation.config.radius}`);
console.log(`${'figure'.padEnd(58)}${'sluice'.padStart(12)}${'handbook'.padStart(12)}`);
for (const [name, ours, theirs] of rows) console.log(`${name.padEnd(58)}${ours.padStart(12)}${theirs.padStart(12)}`);
console.log(`mean amount: ${(amountSum / transactions).toFixed(2)}`);
console.log(`labels: ${count(labels)} (${count(fraudLabels)} fraud), events out of time order: ${outOfOrder}`);
console.log(`profiles built in ${profilesMs.toFixed(0)} ms`);
console.log(`stream: ${count(events)} events in ${streamSeconds.toFixed(2)} s = ${count(Math.round(events / streamSeconds))} events/s`);
console.log(`peak RSS ${mib(process.resourceUsage().maxRSS * 1024)}, peak heap used (sampled, garbage included) ${mib(peakHeap)}`);
if (liveHeap.length > 0) console.log(`live heap after GC: ${liveHeap.join(', ')}`);
if (collectGarbage) console.log('(forced GCs slow the stream: take events/s from a run without --expose-gc)');
