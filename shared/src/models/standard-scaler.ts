import { z } from 'zod';
import { SluiceError } from '../errors.js';
import { parseState } from './validation.js';

export const standardScalerStateSchema = z
  .object({
    count: z.number().int().nonnegative(),
    mean: z.array(z.number()),
    m2: z.array(z.number().nonnegative()),
  })
  .refine((s) => s.mean.length === s.m2.length, 'mean and m2 must have one entry per feature');

export type StandardScalerState = z.infer<typeof standardScalerStateSchema>;

/**
 * Online per-feature standardisation with Welford's update: one pass, O(d) per
 * example, and numerically stable where the naive sum-of-squares form loses
 * all precision on large amounts. Variance is the population variance (divide
 * by n), as in River and scikit-learn's StandardScaler.
 */
export class StandardScaler {
  private count = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(readonly featureCount: number) {
    if (!Number.isInteger(featureCount) || featureCount < 1) {
      throw new SluiceError('invalid_model_options', `feature count must be a positive integer, got ${featureCount}`);
    }
    this.mean = new Float64Array(featureCount);
    this.m2 = new Float64Array(featureCount);
  }

  static fromJSON(state: unknown): StandardScaler {
    const s = parseState(standardScalerStateSchema, state, 'standard scaler');
    const scaler = new StandardScaler(s.mean.length);
    scaler.count = s.count;
    scaler.mean.set(s.mean);
    scaler.m2.set(s.m2);
    return scaler;
  }

  get samples(): number {
    return this.count;
  }

  /** Callers validate x (length and finiteness): the scaler sits inside a model's hot path. */
  learn(x: readonly number[]): void {
    this.count += 1;
    for (let i = 0; i < this.featureCount; i++) {
      const v = x[i] as number;
      const delta = v - (this.mean[i] as number);
      this.mean[i] = (this.mean[i] as number) + delta / this.count;
      this.m2[i] = (this.m2[i] as number) + delta * (v - (this.mean[i] as number));
    }
  }

  meanOf(i: number): number {
    return this.mean[i] as number;
  }

  stdOf(i: number): number {
    return this.count > 0 ? Math.sqrt((this.m2[i] as number) / this.count) : 0;
  }

  /**
   * A feature with no spread yet (first example, or a constant feature)
   * standardises to 0: it carries no information, and 0 keeps its weight
   * untouched instead of dividing by zero.
   */
  transformInto(x: readonly number[], out: Float64Array): Float64Array {
    for (let i = 0; i < this.featureCount; i++) {
      const sd = this.stdOf(i);
      out[i] = sd > 0 ? ((x[i] as number) - (this.mean[i] as number)) / sd : 0;
    }
    return out;
  }

  transform(x: readonly number[]): number[] {
    return Array.from(this.transformInto(x, new Float64Array(this.featureCount)));
  }

  toJSON(): StandardScalerState {
    return { count: this.count, mean: Array.from(this.mean), m2: Array.from(this.m2) };
  }
}
