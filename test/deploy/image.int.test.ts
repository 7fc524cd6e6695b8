/**
 * The Dockerfile, without a Docker daemon: hadolint lints it, BuildKit's own
 * parser reads it, and the test then carries it out by hand. The build stage's
 * COPY instructions take files from the build context as .dockerignore leaves
 * it, its RUN instructions run as written (npm ci, tsc -b, npm prune), the
 * runtime stage's heredocs become the entrypoint and health-check scripts, and
 * the four services start from the compiled dist/ through that entrypoint,
 * with production dependencies only, against the test stack: healthy by the
 * image's HEALTHCHECK, ready, and out cleanly on SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPOSITORY } from '../support/metric-catalogue.js';
import { serviceEnv, uniquePrefix } from '../support/kafka.js';
import { freePort } from '../support/prometheus.js';
import { deployTool } from '../support/python-tools.js';

interface Instruction {
  cmd: string;
  flags: string[];
  value: string[];
  json: boolean;
  heredocs: [string, number, string][] | null;
  original: string;
}

const SERVICES = ['ingest', 'features', 'learner', 'fraud'];

function parseDockerfile(path: string): Instruction[] {
  const script = [
    'import dockerfile, json, sys',
    'out = []',
    'for c in dockerfile.parse_file(sys.argv[1]):',
    '    out.append({"cmd": c.cmd.upper(), "flags": list(c.flags), "value": list(c.value), "json": c.json, "heredocs": [list(h) for h in (c.heredocs or [])] or None, "original": c.original})',
    'json.dump(out, sys.stdout)',
  ].join('\n');
  const result = deployTool('python', ['-c', script, path]);
  if (result.status !== 0) throw new Error(`BuildKit's parser refused ${path}: ${result.output}`);
  return JSON.parse(result.output) as Instruction[];
}

/** The stages of a Dockerfile: each FROM and the instructions under it. */
function stages(instructions: Instruction[]): { name: string; image: string; body: Instruction[] }[] {
  const result: { name: string; image: string; body: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.cmd === 'FROM') {
      const [image, as, name] = instruction.value;
      result.push({ image: image!, name: as?.toUpperCase() === 'AS' ? name! : String(result.length), body: [] });
    } else result.at(-1)?.body.push(instruction);
  }
  return result;
}

/** .dockerignore as Docker reads it: Go path patterns with **, later lines win, `!` re-includes, a directory takes its contents along. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
      let source = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i]!;
        if (c === '*' && pattern[i + 1] === '*') {
          source += pattern[i + 2] === '/' ? '(.*/)?' : '.*';
          i += pattern[i + 2] === '/' ? 2 : 1;
        } else if (c === '*') source += '[^/]*';
        else if (c === '?') source += '[^/]';
        else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const parts = path.split('/');
    let excluded = false;
    for (const rule of rules) {
      for (let depth = 1; depth <= parts.length; depth++) {
        if (rule.regex.test(parts.slice(0, depth).join('/'))) {
          excluded = !rule.negate;
          break;
        }
      }
    }
    return excluded;
  };
}

/** The build context: every file under the repository that .dockerignore lets through. */
function buildContext(): Set<string> {
  const ignored = dockerignore(readFileSync(join(REPOSITORY, '.dockerignore'), 'utf8'));
  const files = new Set<string>();
  const walk = (directory: string) => {
    for (const entry of readdirSync(join(REPOSITORY, directory), { withFileTypes: true })) {
      const path = directory ? `${directory}/${entry.name}` : entry.name;
      if (path === '.git') continue;
      // No `!` rule in this .dockerignore, so an ignored directory can be skipped whole.
      if (ignored(path)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.add(path);
    }
  };
  walk('');
  return files;
}

interface Running {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('Dockerfile', () => {
  const dockerfile = join(REPOSITORY, 'Dockerfile');
  let instructions: Instruction[];
  beforeAll(() => {
    instructions = parseDockerfile(dockerfile);
  });

  it('passes hadolint with nothing to say, info level included', () => {
    const result = deployTool('hadolint', ['--no-color', '--failure-threshold', 'info', dockerfile]);
    expect(result.output.trim()).toBe('');
    expect(result.status).toBe(0);
  });

  it('is multi-stage; the runtime stage runs as a numeric non-root user with a HEALTHCHECK and the sluice entrypoint', () => {
    const all = stages(instructions);
    expect(all.length).toBeGreaterThanOrEqual(2);
    const runtime = all.at(-1)!;
    expect(runtime.body.some((instruction) => instruction.cmd === 'COPY' && instruction.flags.some((flag) => flag.startsWith('--from=')))).toBe(true);
    expect(runtime.body.some((instruction) => instruction.cmd === 'RUN' && /\bnpm (ci|install)\b/.test(instruction.original))).toBe(false);
    const user = runtime.body.filter((instruction) => instruction.cmd === 'USER').at(-1);
    expect(user?.value[0]).toMatch(/^[1-9][0-9]*(:[1-9][0-9]*)?$/);
    const healthcheck = runtime.body.find((instruction) => instruction.cmd === 'HEALTHCHECK');
    expect(healthcheck?.value[0]).toBe('CMD');
    expect(runtime.body.find((instruction) => instruction.cmd === 'ENTRYPOINT')?.value).toEqual(['sluice']);
    const exposed = runtime.body.filter((instruction) => instruction.cmd === 'EXPOSE').flatMap((instruction) => instruction.value);
    for (const port of ['8080', '9401', '9402', '9403', '9404']) expect(exposed).toContain(port);
  });

  it('builds by hand from the build context, and its entrypoint runs each service from dist/ against the stack: healthy, ready, clean exit on SIGTERM', async () => {
    const context = buildContext();
    // What must and must not reach the image.
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.base.json', 'shared/schemas/Transaction.avsc', 'services/fraud/src/main.ts']) expect(context).toContain(needed);
    for (const path of context) expect(path).not.toMatch(/(^|\/)(node_modules|dist|test|\.git)\//);

    const app = mkdtempSync(join(tmpdir(), 'sluice-image-'));
    const root = join(app, '.image-root');
    cleanups.push(() => rmSync(app, { recursive: true, force: true }));
    const [build, runtime] = [stages(instructions).at(-2)!, stages(instructions).at(-1)!];
    expect(build.body.find((instruction) => instruction.cmd === 'WORKDIR')?.value[0]).toBe('/app');

    // The build stage, instruction by instruction, with /app as the temporary directory.
    for (const instruction of build.body) {
      if (instruction.cmd === 'COPY') {
        expect(instruction.flags, instruction.original).toEqual([]);
        const sources = instruction.value.slice(0, -1);
        const destination = instruction.value.at(-1)!;
        for (const source of sources) {
          const inContext = [...context].filter((path) => path === source || path.startsWith(`${source}/`));
          expect(inContext.length, `${instruction.original}: ${source} is not in the build context`).toBeGreaterThan(0);
          for (const path of inContext) {
            const target = path === source ? (destination.endsWith('/') ? join(destination, basename(source)) : destination) : join(destination, relative(source, path));
            mkdirSync(dirname(join(app, target)), { recursive: true });
            cpSync(join(REPOSITORY, path), join(app, target));
          }
        }
      } else if (instruction.cmd === 'RUN') {
        const command = instruction.value.join(' ');
        const result = spawnSync('sh', ['-c', command], { cwd: app, encoding: 'utf8', env: { ...process.env, npm_config_prefer_offline: 'true' }, timeout: 300_000 });
        expect(result.status, `RUN ${command}\n${result.stdout}${result.stderr}`).toBe(0);
      } else expect(['WORKDIR', 'ENV', 'ARG'], instruction.original).toContain(instruction.cmd);
    }
    for (const service of SERVICES) expect(existsSync(join(app, 'services', service, 'dist', 'main.js')), `${service} dist`).toBe(true);
    // Production dependencies only: no compiler, no tsx, no test runner.
    for (const devOnly of ['typescript', 'tsx', 'vitest', 'eslint']) expect(existsSync(join(app, 'node_modules', devOnly)), devOnly).toBe(false);

    // The runtime stage's own files (heredocs); its COPY --from=build /app /app is the directory as it is.
    const files: Record<string, string> = {};
    for (const instruction of runtime.body.filter((candidate) => candidate.cmd === 'COPY' && candidate.heredocs)) {
      const target = join(root, instruction.value.at(-1)!);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, instruction.heredocs![0]![2]);
      const mode = instruction.flags.find((flag) => flag.startsWith('--chmod='));
      if (mode) chmodSync(target, Number.parseInt(mode.slice('--chmod='.length), 8));
      files[instruction.value.at(-1)!] = target;
    }
    const entrypoint = files['/usr/local/bin/sluice']!;
    const healthcheck = files['/usr/local/lib/sluice/healthcheck.cjs']!;
    expect(statSync(entrypoint).mode & 0o111).not.toBe(0);
    const healthCommand = runtime.body.find((instruction) => instruction.cmd === 'HEALTHCHECK')!.value.slice(1);
    expect(healthCommand).toEqual(['node', '/usr/local/lib/sluice/healthcheck.cjs']);
    const runtimeEnv = Object.fromEntries(runtime.body.filter((instruction) => instruction.cmd === 'ENV').map((instruction) => [instruction.value[0]!, instruction.value[1]!]));

    const healthy = (port: number) => spawnSync('node', [healthcheck], { env: { ...process.env, METRICS_PORT: String(port) }, encoding: 'utf8', timeout: 10_000 }).status;
    expect(healthy(await freePort()), 'health check with nothing listening').toBe(1);

    // An unknown name is refused with the list of services; the CLI runs from dist too.
    const unknown = spawnSync('sh', [entrypoint, 'nonsense'], { cwd: app, encoding: 'utf8' });
    expect(unknown.status).toBe(64);
    for (const service of SERVICES) expect(unknown.stderr).toContain(service);
    const cli = spawnSync('sh', [entrypoint, 'cli', '--help'], { cwd: app, encoding: 'utf8', env: { ...process.env, ...runtimeEnv } });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('simulate');

    // A bad setting stops a service at once, with the service's own message naming it (not a module error).
    const misconfigured = spawnSync('sh', [entrypoint, 'fraud'], { cwd: app, encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...runtimeEnv, FRAUD_THRESHOLD: '2', NODE_OPTIONS: '' } });
    expect(misconfigured.status).toBe(1);
    expect(misconfigured.stdout + misconfigured.stderr).toMatch(/CONFIG_INVALID.*FRAUD_THRESHOLD/);
    expect(misconfigured.stdout + misconfigured.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);

    // The four services, as `docker run sluice <name>` would start them.
    const prefix = uniquePrefix('image');
    const running: Running[] = [];
    cleanups.push(async () => {
      for (const service of running) if (service.child.exitCode === null) service.child.kill('SIGKILL');
    });
    const ports = new Map<string, number>();
    for (const name of SERVICES) {
      const port = await freePort();
      ports.set(name, port);
      const child = spawn('sh', [entrypoint, name], {
        cwd: app,
        env: { ...serviceEnv(prefix), ...runtimeEnv, TOPIC_PARTITIONS: '2', METRICS_PORT: String(port), INGEST_HTTP_PORT: '0', LOG_LEVEL: 'info', NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
      child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
      running.push({ name, child, output: () => output, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) });
    }
    for (const service of running) {
      const port = ports.get(service.name)!;
      const deadline = Date.now() + 90_000;
      let ready = '';
      while (Date.now() < deadline && service.child.exitCode === null) {
        if (healthy(port) === 0) {
          const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
          ready = response ? `${response.status} ${await response.text()}` : '';
          if (response?.ok) break;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(ready, `${service.name} from dist/: ${service.output().slice(-3000)}`).toMatch(/^200 /);
      // Started from the compiled JavaScript: no TypeScript file was loaded.
      expect(service.output()).not.toMatch(/\.ts:\d+/);
    }
    for (const service of running) service.child.kill('SIGTERM');
    for (const service of running) {
      const code = await Promise.race([service.exited, new Promise((resolve) => setTimeout(() => resolve('still running after 45 s'), 45_000))]);
      expect(code, `${service.name} on SIGTERM: ${service.output().slice(-2000)}`).toBe(0);
    }
  });
});
