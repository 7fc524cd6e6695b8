/**
 * Prometheus and promtool for tests: installed from Debian's `prometheus`
 * package when missing, and a throw-away Prometheus server (its own config,
 * storage in a temporary directory, a free port on the loopback) with a small
 * client for its HTTP API.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROMETHEUS_DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
export const RULES_DIR = join(PROMETHEUS_DIR, 'rules');

export interface PrometheusTools {
  prometheus: string;
  promtool: string;
}

function onPath(name: string): string | null {
  const directories = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const directory of directories) {
    const candidate = join(directory, name);
    if (directory && existsSync(candidate)) return candidate;
  }
  return null;
}

let tools: PrometheusTools | null = null;
let failure: Error | null = null;

/**
 * Finds `prometheus` and `promtool`, installing Debian's `prometheus` package
 * (which has both) when either is missing. Idempotent; throws with apt's own
 * words when the install fails.
 */
export function ensurePrometheus(): PrometheusTools {
  if (tools) return tools;
  if (failure) throw failure;
  try {
    tools = findOrInstall();
    return tools;
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    throw failure;
  }
}

function findOrInstall(): PrometheusTools {
  let prometheus = onPath('prometheus');
  let promtool = onPath('promtool');
  if (!prometheus || !promtool) {
    if (!onPath('apt-get')) throw new Error('prometheus/promtool are not installed and there is no apt-get to install them: install Prometheus 2.x (it brings promtool)');
    if (process.getuid?.() !== 0) throw new Error('prometheus/promtool are not installed; as root the tests would run `apt-get install -y prometheus`: run it, or the tests as root');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // The package's post-install script tries to start a system service; without an init system it says so and goes on.
    const install = () =>
      spawnSync('apt-get', ['install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'prometheus'], { env, encoding: 'utf8', timeout: 600_000 });
    process.stderr.write('[prometheus] installing Debian package prometheus (prometheus and promtool)\n');
    let result = install();
    if (result.status !== 0) {
      // A fresh machine has no package lists yet.
      const update = spawnSync('apt-get', ['update', '-o', 'DPkg::Lock::Timeout=300'], { env, encoding: 'utf8', timeout: 600_000 });
      if (update.status !== 0) throw new Error(`apt-get update failed (exit ${update.status}):\n${tail(update.stdout + update.stderr)}`);
      result = install();
    }
    if (result.status !== 0) throw new Error(`apt-get install prometheus failed (exit ${result.status}):\n${tail(result.stdout + result.stderr)}`);
    prometheus = onPath('prometheus');
    promtool = onPath('promtool');
    if (!prometheus || !promtool) throw new Error('apt-get installed prometheus but prometheus or promtool is still not on PATH');
  }
  return { prometheus, promtool };
}

function tail(text: string, lines = 30): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function promtool(args: string[], options: { input?: string; cwd?: string } = {}): CommandResult {
  const result = spawnSync(ensurePrometheus().promtool, args, { input: options.input, cwd: options.cwd, encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface MetricsProblem {
  metric: string;
  problem: string;
}

/**
 * `promtool check metrics` on a scrape: the lint problems it names (empty when
 * clean). A text that does not parse throws.
 */
export function checkMetrics(exposition: string): MetricsProblem[] {
  const result = promtool(['check', 'metrics'], { input: exposition });
  const output = `${result.stdout}${result.stderr}`.trim();
  if (result.status === 0) return [];
  // Exit 3: lint problems, one "<metric> <problem>" per line. Anything else: the text did not parse.
  if (result.status !== 3) throw new Error(`promtool check metrics failed (exit ${result.status}): ${output}`);
  return output
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const space = line.indexOf(' ');
      return { metric: line.slice(0, space), problem: line.slice(space + 1).trim() };
    });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ScrapeTarget {
  service: string;
  port: number;
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface RuleState {
  group: string;
  name: string;
  type: 'recording' | 'alerting';
  query: string;
  health: string;
  lastError?: string;
  state?: string;
}

export interface ActiveAlert {
  labels: Record<string, string>;
  state: string;
  value: string;
}

export interface RunningPrometheus {
  url: string;
  /** An instant query; throws on a PromQL error. Scalars come back as one sample without labels. */
  query(expr: string): Promise<Sample[]>;
  /** Polls an instant query until `accept` holds, returning the last samples; throws with them on timeout. */
  waitFor(expr: string, accept: (samples: Sample[]) => boolean, timeoutMs?: number): Promise<Sample[]>;
  rules(): Promise<RuleState[]>;
  alerts(): Promise<ActiveAlert[]>;
  targets(): Promise<{ labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }[]>;
  /** Prometheus's own log lines (stderr), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts Prometheus scraping `targets` (job "sluice", as deploy/prometheus/prometheus.yml,
 * with each target's `service` label) every `scrapeIntervalSeconds`, evaluating
 * the rule files (absolute paths or globs) at the same interval.
 */
export async function startPrometheus(options: { targets: ScrapeTarget[]; ruleFiles: string[]; scrapeIntervalSeconds?: number }): Promise<RunningPrometheus> {
  const { prometheus } = ensurePrometheus();
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const directory = mkdtempSync(join(tmpdir(), 'sluice-prometheus-'));
  // JSON is YAML: no YAML writer needed.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: options.ruleFiles,
    scrape_configs: [
      {
        job_name: 'sluice',
        honor_labels: true,
        static_configs: options.targets.map((target) => ({ targets: [`127.0.0.1:${target.port}`], labels: { service: target.service } })),
      },
    ],
  };
  const configFile = join(directory, 'prometheus.yml');
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      prometheus,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilReady(url, child, () => log);
      return client(url, child, () => log, directory);
    } catch (error) {
      lastError = error;
      await stopChild(child);
    }
  }
  rmSync(directory, { recursive: true, force: true });
  throw lastError;
}

async function waitUntilReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${log()}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`prometheus at ${url} not ready within 30 s: ${log()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface ApiResponse<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

function client(url: string, child: ChildProcess, log: () => string, directory: string): RunningPrometheus {
  const api = async <T>(path: string, form?: Record<string, string>): Promise<T> => {
    const response = await fetch(`${url}${path}`, form ? { method: 'POST', body: new URLSearchParams(form) } : undefined);
    const body = (await response.json()) as ApiResponse<T>;
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${form ? JSON.stringify(form) : ''}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const query = async (expr: string): Promise<Sample[]> => {
    const data = await api<{ resultType: string; result: unknown }>('/api/v1/query', { query: expr });
    if (data.resultType === 'scalar') return [{ metric: {}, value: Number((data.result as [number, string])[1]) }];
    if (data.resultType !== 'vector') throw new Error(`${expr}: expected an instant vector, got ${data.resultType}`);
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((entry) => ({ metric: entry.metric, value: Number(entry.value[1]) }));
  };
  return {
    url,
    query,
    async waitFor(expr, accept, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let samples: Sample[] = [];
      for (;;) {
        samples = await query(expr);
        if (accept(samples)) return samples;
        if (Date.now() > deadline) throw new Error(`after ${timeoutMs} ms, ${expr} still gives ${JSON.stringify(samples)}`);
        await sleep(500);
      }
    },
    async rules() {
      const data = await api<{ groups: { name: string; rules: Omit<RuleState, 'group'>[] }[] }>('/api/v1/rules');
      return data.groups.flatMap((group) => group.rules.map((rule) => ({ ...rule, group: group.name })));
    },
    async alerts() {
      return (await api<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts;
    },
    async targets() {
      return (await api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }[] }>('/api/v1/targets')).activeTargets;
    },
    log,
    async stop() {
      await stopChild(child);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
