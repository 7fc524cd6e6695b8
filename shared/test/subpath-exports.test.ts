import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeChain, ioChain, IO_LIBRARIES, SHARED_EXPORTS, SHARED_ROOT } from '../scripts/import-graph.js';

/**
 * Pure modules must be loadable without the I/O libraries (issue 11, item 7):
 * a model, a window or a rule imported through the whole `@sluice/shared`
 * barrel used to load kafkajs, prom-client and pino.
 */
describe('@sluice/shared subpath exports', () => {
  const pure = Object.entries(SHARED_EXPORTS).filter(([subpath]) => subpath !== '.' && subpath !== './testing');

  it.each(pure)('%s loads no I/O library', (_subpath, target) => {
    const chain = ioChain(resolve(SHARED_ROOT, target['sluice-source']));
    expect(chain === null ? null : describeChain(chain)).toBeNull();
  });

  it('the walker finds the I/O libraries the whole barrel loads', () => {
    const chain = ioChain(resolve(SHARED_ROOT, SHARED_EXPORTS['.']!['sluice-source']));
    expect(chain).not.toBeNull();
    expect(IO_LIBRARIES).toContain(chain?.at(-1));
  });
});
