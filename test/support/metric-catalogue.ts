/**
 * Every metric the services can expose, read from their source: the
 * prom-client constructors in shared/src and services/<name>/src (name, type,
 * label names) and Node's default metrics as shared's createMetricsRegistry
 * registers them. The monitoring test checks this catalogue against real
 * scrapes, so the static deploy tests can trust it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetricsRegistry } from '@sluice/shared';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface MetricFamily {
  name: string;
  type: MetricType;
  /** Label names the code sets (without the target labels and `service`). */
  labels: string[];
  /** Where it is declared: a source file, or `prom-client default metrics`. */
  source: string;
}

export const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url));

/** Labels on every sluice series once scraped: the registry's default label and the target's. */
export const TARGET_LABELS = ['service', 'job', 'instance'];

function sourceFiles(directory: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

function metricSourceDirectories(): string[] {
  const services = join(REPOSITORY, 'services');
  return [join(REPOSITORY, 'shared', 'src'), ...readdirSync(services).map((name) => join(services, name, 'src'))];
}

/** The object literal that starts at text[open] ('{'), strings skipped. */
function objectLiteral(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
    } else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(open, i + 1);
  }
  throw new Error(`unbalanced braces after offset ${open}`);
}

/** Metrics declared with `new Counter|Gauge|Histogram|Summary({ name: '...', ... })`. */
export function declaredMetrics(): MetricFamily[] {
  const families: MetricFamily[] = [];
  const constructor = /new\s+(Counter|Gauge|Histogram|Summary)\s*(<[^>()]*>)?\s*\(\s*\{/g;
  for (const directory of metricSourceDirectories()) {
    for (const file of sourceFiles(directory)) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(constructor)) {
        const literal = objectLiteral(text, match.index + match[0].length - 1);
        const source = relative(REPOSITORY, file);
        const name = /\bname:\s*(['"`])([^'"`]+)\1/.exec(literal)?.[2];
        // A name built at run time would escape every check below: refuse it rather than miss it.
        if (!name || name.includes('${')) throw new Error(`${source}: a ${match[1]} without a literal name: ${literal.slice(0, 120)}`);
        const labelList = /\blabelNames:\s*\[([^\]]*)\]/.exec(literal)?.[1] ?? '';
        const labels = [...labelList.matchAll(/(['"`])([^'"`]+)\1/g)].map((label) => label[2]!);
        families.push({ name, type: match[1]!.toLowerCase() as MetricType, labels, source });
      }
    }
  }
  return families;
}

/** Node's default metrics exactly as shared's createMetricsRegistry registers them. */
export async function defaultMetrics(): Promise<MetricFamily[]> {
  const registry = createMetricsRegistry('catalogue');
  const metrics = await registry.getMetricsAsJSON();
  registry.clear();
  return metrics.map((metric) => {
    const labels = new Set<string>();
    for (const value of metric.values as { labels: Record<string, unknown> }[]) for (const label of Object.keys(value.labels)) labels.add(label);
    labels.delete('service');
    labels.delete('le');
    return { name: metric.name, type: String(metric.type) as MetricType, labels: [...labels].sort(), source: 'prom-client default metrics' };
  });
}

export async function metricCatalogue(): Promise<MetricFamily[]> {
  const families = [...declaredMetrics(), ...(await defaultMetrics())];
  const seen = new Map<string, MetricFamily>();
  for (const family of families) {
    const earlier = seen.get(family.name);
    if (earlier && (earlier.type !== family.type || earlier.labels.join() !== family.labels.join())) {
      throw new Error(`${family.name} is declared twice, differently: ${earlier.source} and ${family.source}`);
    }
    seen.set(family.name, family);
  }
  return [...seen.values()];
}

/** The series names a family exposes, with the labels each carries once scraped. */
export function seriesOf(family: MetricFamily): Map<string, Set<string>> {
  const labels = new Set([...family.labels, ...TARGET_LABELS]);
  if (family.type === 'histogram') {
    return new Map([
      [`${family.name}_bucket`, new Set([...labels, 'le'])],
      [`${family.name}_sum`, labels],
      [`${family.name}_count`, labels],
    ]);
  }
  if (family.type === 'summary') {
    return new Map([
      [family.name, new Set([...labels, 'quantile'])],
      [`${family.name}_sum`, labels],
      [`${family.name}_count`, labels],
    ]);
  }
  return new Map([[family.name, labels]]);
}

/** Every series name the services expose, with its labels; plus Prometheus's own `up` and `ALERTS`. */
export function seriesCatalogue(families: MetricFamily[]): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const family of families) for (const [name, labels] of seriesOf(family)) series.set(name, labels);
  series.set('up', new Set(TARGET_LABELS));
  return series;
}

/** Metric family names and types in a Prometheus text exposition (its TYPE lines). */
export function familiesInExposition(text: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(match[1]!, match[2]!);
  return families;
}
