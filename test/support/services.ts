import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serviceEnv } from './kafka.js';

export type ServiceName = 'ingest' | 'features' | 'learner' | 'fraud';

export interface RunningService {
  name: ServiceName;
  child: ChildProcess;
  logs: Record<string, unknown>[];
  /** Resolves with the first log line matching, waiting up to timeoutMs. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  metricsPort(): Promise<number>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<RunningService>();

/** Starts a service as its own process (as in production: TypeScript through tsx), pointed at the test stack. */
export function startService(name: ServiceName, prefix: string, extraEnv: Record<string, string> = {}): RunningService {
  const main = fileURLToPath(new URL(`../../services/${name}/src/main.ts`, import.meta.url));
  const child = spawn(process.execPath, ['--conditions=sluice-source', '--import', 'tsx', main], {
    env: serviceEnv(prefix, { LOG_LEVEL: 'info', ...extraEnv }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { predicate: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    if (process.env.TEST_SERVICE_LOGS) process.stderr.write(`[${name}] ${text}\n`);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(`[${name} stderr] ${chunk.toString()}`));
  const service: RunningService = {
    name,
    child,
    logs,
    waitForLog(predicate, timeoutMs = 60_000) {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no matching log line within ${timeoutMs} ms; last lines: ${JSON.stringify(logs.slice(-5))}`)), timeoutMs);
        waiters.push({ predicate, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      });
    },
    async metricsPort() {
      const line = await service.waitForLog((entry) => entry.msg === 'serving /metrics, /healthz, /readyz');
      return Number(line.port);
    },
    async kill(signal = 'SIGKILL') {
      running.delete(service);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
  };
  running.add(service);
  return service;
}

export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map((service) => service.kill('SIGKILL')));
}

/** Polls a service's /readyz until it answers 200. */
export async function waitUntilReady(service: RunningService, timeoutMs = 90_000): Promise<void> {
  const port = await service.metricsPort();
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      last = await response.text();
      if (response.ok) return;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${service.name} not ready within ${timeoutMs} ms: ${last}`);
}

export async function scrape(service: RunningService): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${await service.metricsPort()}/metrics`);
  return response.text();
}

/** Sum of a metric's samples whose labels include all of `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).startsWith('{') ? line.slice(name.length + 1, line.indexOf('}')) : '';
    const matches = Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`));
    if (matches) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
