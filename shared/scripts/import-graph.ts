import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The modules a file really loads at run time — its imports as the compiler
 * emits them, so type-only imports, which vanish, do not count — followed
 * through relative paths and `@sluice/shared` subpaths (by the package's
 * `sluice-source` exports), to tell whether a pure module would load an I/O
 * library (issue 11, item 7).
 */
export const IO_LIBRARIES = ['kafkajs', 'prom-client', 'pino', '@kafkajs/confluent-schema-registry'];
export const SHARED_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED_EXPORTS = (JSON.parse(readFileSync(resolve(SHARED_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { 'sluice-source': string }> }).exports;

function runtimeImports(file: string): string[] {
  const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: file,
  });
  return ts.preProcessFile(outputText, true, true).importedFiles.map((imported) => imported.fileName);
}

function resolveImport(from: string, specifier: string): string | null {
  if (specifier.startsWith('.')) {
    const candidate = resolve(dirname(from), specifier.replace(/\.js$/, '.ts'));
    if (!existsSync(candidate)) throw new Error(`${from} imports ${specifier}, which does not exist`);
    return candidate;
  }
  const subpath = /^@sluice\/shared(\/.*)?$/.exec(specifier);
  if (subpath !== null) {
    const target = SHARED_EXPORTS[`.${subpath[1] ?? ''}`];
    if (target === undefined) throw new Error(`${from} imports ${specifier}, which @sluice/shared does not export`);
    return resolve(SHARED_ROOT, target['sluice-source']);
  }
  return null;
}

/** The import chain from `entry` to the first I/O library it loads at run time, or null when it loads none. */
export function ioChain(entry: string): string[] | null {
  const seen = new Set<string>();
  const walk = (file: string, chain: string[]): string[] | null => {
    if (seen.has(file)) return null;
    seen.add(file);
    for (const specifier of runtimeImports(file)) {
      if (IO_LIBRARIES.some((library) => specifier === library || specifier.startsWith(`${library}/`))) return [...chain, file, specifier];
      const next = resolveImport(file, specifier);
      if (next === null) continue;
      const found = walk(next, [...chain, file]);
      if (found !== null) return found;
    }
    return null;
  };
  return walk(entry, []);
}

/** The chain with paths relative to the repository, for messages. */
export function describeChain(chain: string[]): string[] {
  return chain.map((step) => step.replace(`${resolve(SHARED_ROOT, '..')}/`, ''));
}
