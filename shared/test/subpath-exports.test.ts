import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Pure modules must be loadable without the I/O libraries (issue 11, item 7):
 * a model, a window or a rule imported through the whole `@sluice/shared`
 * barrel used to load kafkajs, prom-client and pino. This walks the modules a
 * file really loads at run time — its imports as the compiler emits them, so
 * type-only imports, which vanish, do not count — and names the chain to any
 * I/O library it reaches.
 */
const IO_LIBRARIES = ['kafkajs', 'prom-client', 'pino', '@kafkajs/confluent-schema-registry'];
const sharedRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const packageJson = JSON.parse(readFileSync(resolve(sharedRoot, 'package.json'), 'utf8')) as {
  exports: Record<string, { 'sluice-source': string }>;
};

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
    const target = packageJson.exports[`.${subpath[1] ?? ''}`];
    if (target === undefined) throw new Error(`${from} imports ${specifier}, which @sluice/shared does not export`);
    return resolve(sharedRoot, target['sluice-source']);
  }
  return null;
}

/** The import chain from `entry` to the first I/O library it loads, or null. */
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

const relative = (chain: string[]): string[] => chain.map((step) => step.replace(`${resolve(sharedRoot, '..')}/`, ''));

describe('@sluice/shared subpath exports', () => {
  const pure = Object.entries(packageJson.exports).filter(([subpath]) => subpath !== '.');

  it.each(pure)('%s loads no I/O library', (_subpath, target) => {
    const chain = ioChain(resolve(sharedRoot, target['sluice-source']));
    expect(chain === null ? null : relative(chain)).toBeNull();
  });

  it('the walker finds the I/O libraries the whole barrel loads', () => {
    const chain = ioChain(resolve(sharedRoot, packageJson.exports['.']!['sluice-source']));
    expect(chain).not.toBeNull();
    expect(IO_LIBRARIES).toContain(chain?.at(-1));
  });
});
