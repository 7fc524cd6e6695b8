/**
 * The four services as child processes, compiled as the image runs them (`node dist/main.js`), with what the
 * benchmark reads about each from /proc: CPU time (utime + stime of /proc/<pid>/stat) and peak RSS (VmHWM of
 * /proc/<pid>/status). Compiled, not through tsx as `./sluice demo` runs them: tsx's loader keeps a thread and its
 * compiler in every process, 30-40 MiB of RSS a deployed service does not have (measured 2026-12-02: an idle fraud
 * service 134-144 MiB under tsx, 103 MiB compiled). NODE_OPTIONS are the run's `--node-options`, none by default
 * (as the image sets none): V8's heap sizing is part of what is measured.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Option } from 'commander';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const SERVICE_NAMES = ['ingest', 'features', 'learner', 'fraud'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

const CLOCK_TICKS_PER_SECOND = 100;

export interface BenchService {
  name: ServiceName;
  child: ChildProcess;
  /** Resolves once the service has started its processor(s): start-up (loading, connecting) is behind it. */
  started: Promise<void>;
  /** Port of /metrics, once logged. */
  metricsPort: Promise<number>;
  /** CPU seconds when `started` resolved. */
  cpuAtStart: number;
}

const REPOSITORY_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Compiles the workspaces (`npm run build`, incremental: a second or two when nothing changed) so that `dist/` is the source's. */
export function buildServices(): void {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0) throw new Error(`npm run build failed (${build.signal ?? `exit code ${build.status}`}): the services cannot run compiled`);
}

/** How the services' node runs: NODE_OPTIONS, and flags before the script (--cpu-prof; V8 flags NODE_OPTIONS refuses). */
export interface NodeSettings {
  nodeOptions: string;
  nodeArguments: string[];
}

/** The benches' `--node-options`, one definition for both. */
export function nodeOptionsOption(): Option {
  return new Option('--node-options <options>', "the services' NODE_OPTIONS, e.g. --node-options=--max-old-space-size=1024 (default none, as in the image: V8 sizes the heap from the machine)").default('');
}

/** How the services ran, for a bench's printed figures. */
export function describeNode(node: NodeSettings): string {
  const options = node.nodeOptions ? `NODE_OPTIONS '${node.nodeOptions}'` : 'no NODE_OPTIONS';
  return `compiled, ${options}${node.nodeArguments.length > 0 ? `, node ${node.nodeArguments.join(' ')}` : ''}`;
}

/**
 * Starts one compiled service (after `buildServices`) with `nodeOptions` as its NODE_OPTIONS and `nodeArguments`
 * before its script (--cpu-prof; V8 flags NODE_OPTIONS refuses); `logFile`, when given, receives every line it writes.
 */
export function startService(
  name: ServiceName,
  env: Record<string, string>,
  node: NodeSettings,
  onError: (line: string) => void,
  logFile?: string,
): BenchService {
  const main = join(REPOSITORY_ROOT, 'services', name, 'dist', 'main.js');
  const child = spawn(process.execPath, [...node.nodeArguments, main], {
    env: { ...process.env, LOG_LEVEL: 'info', NODE_OPTIONS: node.nodeOptions, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let markStarted!: () => void;
  let failStart!: (error: Error) => void;
  let markPort!: (port: number) => void;
  const service: BenchService = {
    name,
    child,
    started: new Promise((resolve, reject) => {
      markStarted = resolve;
      failStart = reject;
    }),
    metricsPort: new Promise((resolve) => (markPort = resolve)),
    cpuAtStart: 0,
  };
  const log = logFile === undefined ? undefined : createWriteStream(logFile);
  child.once('exit', () => log?.end());
  createInterface({ input: child.stdout! }).on('line', (line) => {
    log?.write(`${line}\n`);
    let entry: { level?: number; msg?: string; port?: number; code?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      onError(`[${name}] ${line}`);
      return;
    }
    if (entry.msg === 'serving /metrics, /healthz, /readyz' && typeof entry.port === 'number') markPort(entry.port);
    if (entry.msg === 'processor started') {
      service.cpuAtStart ||= cpuSeconds(child.pid!);
      markStarted();
    }
    if ((entry.level ?? 0) >= 50) onError(`[${name}] ${entry.code ? `${entry.code}: ` : ''}${entry.msg ?? line}`);
  });
  createInterface({ input: child.stderr! }).on('line', (line) => onError(`[${name} stderr] ${line}`));
  child.once('exit', (code, signal) => failStart(new Error(`${name} exited (${signal ?? `code ${code}`}) before its processor started: see its lines above`)));
  return service;
}

/** User + system CPU seconds of a live process. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Peak resident set size of a live process, MiB. */
export function peakRssMiB(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

export async function scrapeMetrics(service: BenchService): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${await service.metricsPort}/metrics`);
  return response.text();
}

/** Sum of a counter's samples by one label's value. */
export function sumByLabel(metrics: string, name: string, label: string): Map<string, number> {
  const sums = new Map<string, number>();
  const pattern = new RegExp(`${label}="([^"]*)"`);
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const value = pattern.exec(line)?.[1];
    if (value !== undefined) sums.set(value, (sums.get(value) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return sums;
}

/** SIGTERM (a graceful stop writes the CPU profile), SIGKILL after 30 s. */
export async function stopService(service: BenchService): Promise<void> {
  const { child } = service;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}
