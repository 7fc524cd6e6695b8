import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeChain, ioChain } from '../../../shared/scripts/import-graph.js';

/** The edges of the service, where Kafka, HTTP, metrics and logs are wired; every other module is domain logic. */
const EDGES = new Set(['main.ts', 'http-door.ts', 'ingest-metrics.ts']);
const source = fileURLToPath(new URL('../src/', import.meta.url));
const domainModules = readdirSync(source).filter((file) => file.endsWith('.ts') && !EDGES.has(file));

describe('ingest domain modules', () => {
  it.each(domainModules)('%s loads no I/O library (testable, and loadable, without Kafka)', (file) => {
    const chain = ioChain(`${source}${file}`);
    expect(chain === null ? null : describeChain(chain)).toBeNull();
  });
});
