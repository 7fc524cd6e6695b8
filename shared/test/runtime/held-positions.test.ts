import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commitPosition, processedPosition } from '../../src/runtime/held-positions.js';

describe('held positions', () => {
  it('commits the position itself when nothing is held, or only records at or after it', () => {
    expect(commitPosition(120n, undefined)).toEqual({ offset: '120', metadata: null });
    expect(commitPosition(120n, '120')).toEqual({ offset: '120', metadata: null });
    expect(commitPosition(120n, '130')).toEqual({ offset: '120', metadata: null });
  });

  it('commits the oldest held record, with the position processed through as metadata', () => {
    expect(commitPosition(120n, '7')).toEqual({ offset: '7', metadata: 'sluice-processed:120' });
  });

  it('reads back the position processed through, whatever was held (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 62n }), fc.option(fc.bigInt({ min: 0n, max: 2n ** 62n }), { nil: undefined }), (next, held) => {
        const { offset, metadata } = commitPosition(next, held?.toString());
        expect(BigInt(offset)).toBe(held !== undefined && held < next ? held : next);
        expect(processedPosition(offset, metadata)).toBe(next.toString());
      }),
    );
  });

  it("ignores metadata it did not write, or that names a position before the offset", () => {
    expect(processedPosition('50', null)).toBe('50');
    expect(processedPosition('50', '')).toBe('50');
    expect(processedPosition('50', 'written by another tool')).toBe('50');
    expect(processedPosition('50', 'sluice-processed:abc')).toBe('50');
    expect(processedPosition('50', 'sluice-processed:40')).toBe('50');
    expect(processedPosition('50', 'sluice-processed:60')).toBe('60');
  });
});
