import { z } from 'zod';
import { SluiceError } from '../errors.js';

/**
 * Model states come from outside the process (snapshots on `model.updates`,
 * changelogs), so a corrupt or foreign one must fail loudly at restore rather
 * than score with garbage later.
 */
export function parseState<T>(schema: z.ZodType<T>, state: unknown, what: string): T {
  const result = schema.safeParse(state);
  if (!result.success) {
    throw new SluiceError('model_state_invalid', `${what} state is invalid: ${z.prettifyError(result.error)}`);
  }
  return result.data;
}

/**
 * An array of finite numbers (integers at or above `min` when asked), checked in one loop. Zod's schema per element
 * costs about as much per number as the rest of a restore: a Half-Space Trees state carries ~19,000 numbers and the
 * fraud service restores every snapshot on model.updates (`shared/bench/model-restore.ts` prints the cost).
 */
export function numberArray(constraints: { int?: boolean; min?: number } = {}): z.ZodType<number[]> {
  const { int = false, min = -Infinity } = constraints;
  const expected = `${int ? 'an integer' : 'a finite number'}${min > -Infinity ? ` >= ${min}` : ''}`;
  return z
    .custom<number[]>((value) => Array.isArray(value), { message: 'expected an array of numbers' })
    .superRefine((values, ctx) => {
      for (let i = 0; i < values.length; i++) {
        const value: unknown = values[i];
        if (typeof value === 'number' && Number.isFinite(value) && value >= min && (!int || Number.isInteger(value))) continue;
        ctx.addIssue({ code: 'custom', path: [i], message: `expected ${expected}, got ${JSON.stringify(value)}` });
        return;
      }
    });
}

/**
 * One NaN learned into a weight poisons every later prediction, so vectors are
 * checked at the model boundary rather than trusted.
 */
export function checkVector(x: readonly number[], featureCount: number, what: string): void {
  if (x.length !== featureCount) {
    throw new SluiceError('feature_count_mismatch', `${what} expects ${featureCount} features, got ${x.length}`);
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new SluiceError('feature_not_finite', `${what} got a non-finite value at feature index ${i}`);
    }
  }
}

/**
 * Options over defaults, where an explicitly undefined option (as a config
 * loader writes for an unset variable) means "use the default" rather than
 * erasing it.
 */
export function withDefaults<T extends object>(defaults: T, options: Partial<T>): T {
  const merged = { ...defaults };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
}
