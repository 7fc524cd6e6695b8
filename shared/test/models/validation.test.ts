import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkVector, numberArray, withDefaults } from '../../src/models/validation.js';

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

describe('numberArray', () => {
  const issueOf = (schema: z.ZodType<number[]>, value: unknown) => {
    const result = schema.safeParse(value);
    return result.success ? null : { path: result.error.issues[0]?.path, message: result.error.issues[0]?.message };
  };

  it('accepts arrays of finite numbers, integers at or above the minimum when asked', () => {
    expect(numberArray().parse([0, -1.5, 1e300])).toEqual([0, -1.5, 1e300]);
    expect(numberArray().parse([])).toEqual([]);
    expect(numberArray({ int: true, min: -1 }).parse([-1, 0, 7])).toEqual([-1, 0, 7]);
  });

  it('names the first element it refuses and why', () => {
    expect(issueOf(numberArray(), [1, Number.NaN])).toEqual({ path: [1], message: 'expected a finite number, got null' });
    expect(issueOf(numberArray(), [Infinity])).toEqual({ path: [0], message: 'expected a finite number, got null' });
    expect(issueOf(numberArray(), [1, '2', 'x'])).toEqual({ path: [1], message: 'expected a finite number, got "2"' });
    expect(issueOf(numberArray({ int: true }), [1, 2.5])).toEqual({ path: [1], message: 'expected an integer, got 2.5' });
    expect(issueOf(numberArray({ int: true, min: 0 }), [3, -1])).toEqual({ path: [1], message: 'expected an integer >= 0, got -1' });
    expect(issueOf(numberArray({ min: 0.5 }), [0.25])).toEqual({ path: [0], message: 'expected a finite number >= 0.5, got 0.25' });
    expect(issueOf(numberArray(), { 0: 1, length: 1 })?.message).toBe('expected an array of numbers');
    expect(issueOf(numberArray(), null)?.message).toBe('expected an array of numbers');
  });

  it('sits inside a zod object like the element schemas it replaces, the path leading to the element', () => {
    const schema = z.object({ trees: z.array(z.object({ mass: numberArray({ int: true, min: 0 }) })) });
    const result = schema.safeParse({ trees: [{ mass: [1] }, { mass: [2, -3] }] });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path)).toEqual([['trees', 1, 'mass', 1]]);
  });
});
