/**
 * Where a service's CPU went, from a V8 `.cpuprofile` (node --cpu-prof):
 * self time grouped into the categories the pipeline benchmark reports
 * (client decode/encode, Avro, changelog serialisation, our own code, …),
 * plus the top functions by self time. Time in Node's own modules and V8
 * built-ins (Buffer allocation and copies, JSON, string conversions) is
 * charged to the nearest caller in a package or in our code: most of
 * `node:buffer` is the kafkajs encoder's, and that is the useful answer.
 *
 *   node --import tsx bench/pipeline/profile-summary.ts FILE.cpuprofile [top]
 */
import { readFileSync } from 'node:fs';

/** Frames whose time belongs to whoever called them. */
function isBuiltIn(url: string, fn: string): boolean {
  return (url === '' || url.startsWith('node:')) && !fn.startsWith('(');
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileBreakdown {
  /** Busy milliseconds (idle excluded). */
  busyMs: number;
  /** Category → share of busy time (0..1), largest first. */
  categories: [string, number][];
  /** Function (file:line) → share of busy time, largest first. */
  functions: [string, number][];
}

/** First matching rule wins: order from the most specific path to the most general. */
const CATEGORY_RULES: [string, (url: string, fn: string) => boolean][] = [
  ['idle', (url, fn) => fn === '(idle)'],
  ['garbage collection', (url, fn) => fn === '(garbage collector)'],
  ['kafkajs decode (fetch, record batches)', (url) => /kafkajs\/src\/(protocol\/(decoder|recordBatch\/(v2\/)?decoder|requests\/fetch\/v\d+\/response|messageSet\/decoder)|consumer\/batch|protocol\/recordBatch\/record\/v0\/decoder)/.test(url)],
  ['kafkajs encode (produce, record batches, crc32c)', (url) => /kafkajs\/src\/(protocol\/(encoder|recordBatch\/(v0|crc32C|record|header|v2\/index)|requests\/produce)|producer\/(partitioners|groupMessagesPerPartition|createTopicData|sendMessages))/.test(url)],
  ['kafkajs transactions and other client work', (url) => url.includes('/kafkajs/')],
  ['Avro (avsc, registry client)', (url) => url.includes('/avsc/') || url.includes('confluent-schema-registry')],
  ['validation (zod)', (url) => url.includes('/zod/')],
  ['metrics and logs (prom-client, pino)', (url) => url.includes('/prom-client/') || url.includes('/pino')],
  ['changelog serialisation (state-store)', (url) => /shared\/(src|dist)\/state-store/.test(url)],
  ['our code: shared runtime', (url) => /\/shared\/(src|dist)\//.test(url)],
  ['our code: service', (url) => url.includes('/services/')],
  ['V8/Node built-ins with no caller in a package (timers, sockets, microtasks)', (url, fn) => (url === '' || url.startsWith('node:')) && fn !== '(program)' && fn !== '(root)'],
  ['V8 (program: compile, runtime, other)', (url, fn) => fn === '(program)'],
  ['other dependencies', (url) => url.includes('/node_modules/')],
];

function categoryOf(url: string, fn: string): string {
  for (const [name, matches] of CATEGORY_RULES) if (matches(url, fn)) return name;
  return 'other';
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const src = url.search(/\/(shared|services|tools)\//);
  return src >= 0 ? url.slice(src + 1) : url;
}

export function summariseProfile(path: string, top = 15): ProfileBreakdown {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  /** The category of the nearest frame, from `id` up, that is not a built-in. */
  const chargedCategory = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const { url, functionName } = byId.get(at)!.callFrame;
      if (functionName === '(root)') break;
      if (!isBuiltIn(url, functionName)) return categoryOf(url, functionName);
    }
    const { url, functionName } = byId.get(id)!.callFrame;
    return categoryOf(url, functionName);
  };
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const category = chargedCategory(id);
    if (category === 'idle') continue;
    busy += us;
    categories.set(category, (categories.get(category) ?? 0) + us);
    const name = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const share = (entries: Map<string, number>) =>
    [...entries].map(([name, us]) => [name, us / busy] as [string, number]).sort((a, b) => b[1] - a[1]);
  return { busyMs: busy / 1000, categories: share(categories), functions: share(functions).slice(0, top) };
}

export function formatBreakdown(title: string, breakdown: ProfileBreakdown): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [`${title}: ${(breakdown.busyMs / 1000).toFixed(1)} CPU-s sampled (main thread, idle excluded)`];
  for (const [name, x] of breakdown.categories) if (x >= 0.005) lines.push(`  ${pct(x)}  ${name}`);
  lines.push('  top functions (self time):');
  for (const [name, x] of breakdown.functions) lines.push(`  ${pct(x)}  ${name}`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const [file, top] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [top]');
  console.log(formatBreakdown(file, summariseProfile(file, Number(top ?? 25))));
}
