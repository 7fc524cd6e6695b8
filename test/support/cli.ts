import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../tools/cli/src/main.ts', import.meta.url));

/** Runs `sluice cli <args>` as its own process (TypeScript through tsx, as ./sluice does); `done` gives its exit code and output. */
export function startCli(args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, ['--conditions=sluice-source', '--import', 'tsx', cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, output }))) };
}

export function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return startCli(args, env).done;
}
