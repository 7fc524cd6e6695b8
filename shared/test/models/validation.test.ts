import { describe, expect, it } from 'vitest';
import { checkVector, withDefaults } from '../../src/models/validation.js';

describe('withDefaults', () => {
  it('lets explicitly undefined options fall back to the defaults', () => {
    const defaults = { a: 1, b: 'x', c: null as number | null };
    expect(withDefaults(defaults, { a: undefined, b: 'y', c: null })).toEqual({ a: 1, b: 'y', c: null });
    expect(defaults).toEqual({ a: 1, b: 'x', c: null });
  });
});

describe('checkVector', () => {
  it('accepts finite vectors of the right length only', () => {
    expect(() => checkVector([0, -1.5, 1e300], 3, 'm')).not.toThrow();
    expect(() => checkVector([0, 1], 3, 'm')).toThrow(expect.objectContaining({ code: 'feature_count_mismatch' }));
    expect(() => checkVector([0, Infinity, 1], 3, 'm')).toThrow(expect.objectContaining({ code: 'feature_not_finite' }));
  });
});
