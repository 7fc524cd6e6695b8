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

export interface OwnStack {
  brokers: string;
  registryUrl: string;
  dataDir: string;
  env: Record<string, string>;
  /** SIGTERM to the broker only (the registry keeps its schemas), waiting until it has exited. */
  stopBroker(): Promise<void>;
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
  const [kafkaPort, controllerPort, registryPort] = [await freePort(), await freePort(), await freePort()];
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
  const stack = async (command: string) => {
    await run('bash', [stackScript, command], { env, maxBuffer: 16 * 1024 * 1024 });
  };
  await stack('start');
  return {
    brokers: `127.0.0.1:${kafkaPort}`,
    registryUrl: `http://127.0.0.1:${registryPort}/apis/ccompat/v7`,
    dataDir,
    env,
    async stopBroker() {
      const pid = Number(readFileSync(join(dataDir, 'kafka.pid'), 'utf8').trim());
      process.kill(pid, 'SIGTERM');
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
    },
    start: () => stack('start'),
    remove: () => stack('reset'),
  };
}
