import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const stackScript = fileURLToPath(new URL('../../deploy/local/stack.sh', import.meta.url));
const run = promisify(execFile);

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A base port with the `count` ports from it free (a cluster's nodes take two each). */
async function freePortRange(count: number): Promise<number> {
  const listening = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = await freePort();
    if (base + count > 65535) continue;
    let free = true;
    for (let port = base + 1; port < base + count && free; port++) free = await listening(port);
    if (free) return base;
  }
  throw new Error(`no ${count} free ports in a row`);
}

export interface OwnStack {
  /** Comma-separated, every node. */
  brokers: string;
  registryUrl: string;
  dataDir: string;
  env: Record<string, string>;
  /** SIGTERM to the broker only (the registry keeps its schemas), waiting until it has exited. */
  stopBroker(): Promise<void>;
  /** A signal to node `node` of a cluster (SLUICE_KAFKA_NODES), waiting until it has exited. */
  stopNode(node: number, signal: NodeJS.Signals): Promise<void>;
  /** `stack.sh start`: starts what is not running (the broker), waits until it answers. */
  start(): Promise<void>;
  /** Stops both and deletes the data directory. */
  remove(): Promise<void>;
}

/**
 * A stack of the test's own (deploy/local/stack.sh on free ports and its own
 * data directory) that a test may stop and start: the shared stack the other
 * tests use must never be stopped.
 */
export async function startOwnStack(name: string, extraEnv: Record<string, string> = {}): Promise<OwnStack> {
  const nodes = Number(extraEnv.SLUICE_KAFKA_NODES ?? '1');
  const kafkaPort = nodes > 1 ? await freePortRange(2 * nodes) : await freePort();
  const [controllerPort, registryPort] = [await freePort(), await freePort()];
  const dataDir = join(tmpdir(), `sluice-${name}-${process.pid}-${Date.now()}`);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SLUICE_KAFKA_PORT: String(kafkaPort),
    SLUICE_KAFKA_CONTROLLER_PORT: String(controllerPort),
    SLUICE_REGISTRY_PORT: String(registryPort),
    SLUICE_DATA_DIR: dataDir,
    SLUICE_KAFKA_HEAP: '512m',
    SLUICE_REGISTRY_HEAP: '384m',
    ...extraEnv,
  };
  const stack = async (command: string) => (await run('bash', [stackScript, command], { env, maxBuffer: 16 * 1024 * 1024 })).stdout;
  await stack('start');
  const brokers = /KAFKA_BROKERS=(\S+)/.exec(await stack('env'))![1]!;
  const stopPid = async (pidFile: string, signal: NodeJS.Signals) => {
    const pid = Number(readFileSync(join(dataDir, pidFile), 'utf8').trim());
    process.kill(pid, signal);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    process.kill(pid, 'SIGKILL');
  };
  return {
    brokers,
    registryUrl: `http://127.0.0.1:${registryPort}/apis/ccompat/v7`,
    dataDir,
    env,
    stopBroker: () => stopPid('kafka.pid', 'SIGTERM'),
    stopNode: (node, signal) => stopPid(`kafka-${node}.pid`, signal),
    start: async () => void (await stack('start')),
    remove: async () => void (await stack('reset')),
  };
}
