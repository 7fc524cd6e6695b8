import { SluiceError, withDefaults } from '@sluice/shared';
import { z } from 'zod';

/**
 * Concept-drift detectors over a stream of per-example errors (the learner
 * feeds |y − p|, which lives in [0, 1] as ADWIN's bound assumes). `update`
 * returns true on the example at which a drift is detected.
 */
export interface DriftDetector {
  readonly kind: DriftDetectorKind;
  update(value: number): boolean;
  /** The detector's current estimate of the stream's mean. */
  readonly estimation: number;
  toJSON(): DriftDetectorState;
}

export type DriftDetectorKind = 'adwin' | 'page_hinkley';

function invalid(what: string, error: z.ZodError): SluiceError {
  return new SluiceError('learner_state_invalid', `${what}: ${z.prettifyError(error)}`);
}

function checkValue(value: number): void {
  if (!Number.isFinite(value)) throw new SluiceError('invalid_drift_value', `drift detectors need finite values, got ${value}`);
}

const adwinOptionsSchema = z.object({
  delta: z.number().gt(0).lt(1),
  clock: z.number().int().positive(),
  maxBuckets: z.number().int().min(2),
  minWindowLength: z.number().int().positive(),
  gracePeriod: z.number().int().nonnegative(),
  mode: z.enum(['up', 'both']),
});

export type AdwinOptions = Partial<z.infer<typeof adwinOptionsSchema>>;

/** River's defaults (which are MOA's), except `mode`: see Adwin. */
export const ADWIN_DEFAULTS: z.infer<typeof adwinOptionsSchema> = {
  delta: 0.002,
  clock: 32,
  maxBuckets: 5,
  minWindowLength: 5,
  gracePeriod: 10,
  mode: 'up',
};

const adwinStateSchema = z.object({
  kind: z.literal('adwin'),
  options: adwinOptionsSchema,
  rows: z.array(z.object({ totals: z.array(z.number()), variances: z.array(z.number()) })),
  width: z.number().int().nonnegative(),
  total: z.number(),
  variance: z.number(),
  tick: z.number().int().nonnegative(),
});

interface BucketRow {
  /** Oldest first; every bucket of row i summarises 2^i consecutive values. */
  totals: number[];
  variances: number[];
}

/**
 * ADWIN (Bifet & Gavaldà, 2007, "Learning from time-changing data with
 * adaptive windowing"), the ADWIN2 variant with MOA's variance-based bound.
 * The window is kept as an exponential histogram: row i holds at most
 * `maxBuckets` buckets of 2^i values (total and variance each), so memory and
 * the cut search are O(maxBuckets · log width). Every `clock` values, each
 * bucket boundary splits the window into an older part W0 and a newer W1;
 * if their means differ by more than
 *   ε = sqrt(2 · m · σ² · ln(2 ln(n) / δ)) + (2/3) · m · ln(2 ln(n) / δ),
 *   m = 1/(n0 − minLen + 1) + 1/(n1 − minLen + 1),
 * the oldest bucket is dropped and the search repeats: the window shrinks to
 * the longest recent stretch that looks stationary. `delta` bounds the false
 * alarm probability.
 *
 * `mode` 'up' (the default) reports only cuts where the newer part's mean is
 * higher: on an error stream a falling error (a model still learning, or a
 * concept getting easier) is no drift to react to. The window shrinks on
 * every cut either way, so the estimate stays current. 'both' is the
 * original, two-sided ADWIN.
 */
export class Adwin implements DriftDetector {
  readonly kind = 'adwin';
  readonly options: z.infer<typeof adwinOptionsSchema>;
  private rows: BucketRow[] = [];
  private width = 0;
  private total = 0;
  private variance = 0;
  private tick = 0;

  constructor(options: AdwinOptions = {}) {
    const parsed = adwinOptionsSchema.safeParse(withDefaults(ADWIN_DEFAULTS, options));
    if (!parsed.success) throw new SluiceError('invalid_learner_options', `adwin: ${z.prettifyError(parsed.error)}`);
    this.options = parsed.data;
  }

  static fromJSON(state: unknown): Adwin {
    const parsed = adwinStateSchema.safeParse(state);
    if (!parsed.success) throw invalid('adwin', parsed.error);
    const s = parsed.data;
    const adwin = new Adwin(s.options);
    adwin.rows = s.rows.map((r) => ({ totals: [...r.totals], variances: [...r.variances] }));
    adwin.width = s.width;
    adwin.total = s.total;
    adwin.variance = s.variance;
    adwin.tick = s.tick;
    return adwin;
  }

  /** Number of values in the current window. */
  get windowLength(): number {
    return this.width;
  }

  get estimation(): number {
    return this.width > 0 ? this.total / this.width : 0;
  }

  /** Population variance of the window, the σ² in the cut bound. */
  get windowVariance(): number {
    return this.width > 0 ? Math.max(this.variance / this.width, 0) : 0;
  }

  update(value: number): boolean {
    checkValue(value);
    this.insert(value);
    this.tick += 1;
    if (this.tick % this.options.clock !== 0 || this.width <= this.options.gracePeriod) return false;
    let detected = false;
    for (let cut = this.cutOnce(); cut !== null; cut = this.cutOnce()) {
      if (cut === 'up' || this.options.mode === 'both') detected = true;
    }
    return detected;
  }

  toJSON(): z.infer<typeof adwinStateSchema> {
    return {
      kind: 'adwin',
      options: { ...this.options },
      rows: this.rows.map((r) => ({ totals: [...r.totals], variances: [...r.variances] })),
      width: this.width,
      total: this.total,
      variance: this.variance,
      tick: this.tick,
    };
  }

  private insert(value: number): void {
    this.width += 1;
    if (this.width > 1) {
      const previousMean = this.total / (this.width - 1);
      this.variance += ((this.width - 1) * (value - previousMean) ** 2) / this.width;
    }
    this.total += value;
    if (this.rows.length === 0) this.rows.push({ totals: [], variances: [] });
    (this.rows[0] as BucketRow).totals.push(value);
    (this.rows[0] as BucketRow).variances.push(0);
    this.compress();
  }

  /** Merging two buckets of n values adds n·n·(μ1 − μ2)² / 2n to their summed variances. */
  private compress(): void {
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i] as BucketRow;
      if (row.totals.length <= this.options.maxBuckets) return;
      const n = 2 ** i;
      const [t1, t2] = row.totals.splice(0, 2) as [number, number];
      const [v1, v2] = row.variances.splice(0, 2) as [number, number];
      const meanGap = t1 / n - t2 / n;
      if (i + 1 === this.rows.length) this.rows.push({ totals: [], variances: [] });
      const next = this.rows[i + 1] as BucketRow;
      next.totals.push(t1 + t2);
      next.variances.push(v1 + v2 + (n * n * meanGap * meanGap) / (2 * n));
    }
  }

  /** One pass over the bucket boundaries, oldest first; at the first cut drops the oldest bucket and says which way the mean moved. */
  private cutOnce(): 'up' | 'down' | null {
    let n0 = 0;
    let sum0 = 0;
    let n1 = this.width;
    let sum1 = this.total;
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const row = this.rows[i] as BucketRow;
      const size = 2 ** i;
      for (let k = 0; k < row.totals.length; k++) {
        const t = row.totals[k] as number;
        n0 += size;
        n1 -= size;
        sum0 += t;
        sum1 -= t;
        if (n1 === 0) return null;
        const { minWindowLength } = this.options;
        const rise = sum1 / n1 - sum0 / n0;
        if (n0 >= minWindowLength && n1 >= minWindowLength && this.exceedsBound(n0, n1, Math.abs(rise))) {
          this.dropOldestBucket();
          return rise > 0 ? 'up' : 'down';
        }
      }
    }
    return null;
  }

  private exceedsBound(n0: number, n1: number, meanGap: number): boolean {
    const { delta, minWindowLength } = this.options;
    const dd = Math.log((2 * Math.log(this.width)) / delta);
    const v = this.windowVariance;
    const m = 1 / (n0 - minWindowLength + 1) + 1 / (n1 - minWindowLength + 1);
    const epsilon = Math.sqrt(2 * m * v * dd) + (2 / 3) * dd * m;
    return meanGap > epsilon;
  }

  private dropOldestBucket(): void {
    const last = this.rows.length - 1;
    const row = this.rows[last] as BucketRow;
    const size = 2 ** last;
    const t = row.totals.shift() as number;
    const v = row.variances.shift() as number;
    this.width -= size;
    this.total -= t;
    const gap = t / size - this.total / this.width;
    this.variance -= v + (size * this.width * gap * gap) / (size + this.width);
    if (row.totals.length === 0) this.rows.pop();
  }
}

const pageHinkleyOptionsSchema = z.object({
  minInstances: z.number().int().positive(),
  delta: z.number().nonnegative(),
  threshold: z.number().positive(),
  alpha: z.number().gt(0).max(1),
});

export type PageHinkleyOptions = Partial<z.infer<typeof pageHinkleyOptionsSchema>>;

/** River's defaults. */
export const PAGE_HINKLEY_DEFAULTS: z.infer<typeof pageHinkleyOptionsSchema> = {
  minInstances: 30,
  delta: 0.005,
  threshold: 50,
  alpha: 1 - 0.0001,
};

const pageHinkleyStateSchema = z.object({
  kind: z.literal('page_hinkley'),
  options: pageHinkleyOptionsSchema,
  count: z.number().int().nonnegative(),
  mean: z.number(),
  sum: z.number(),
  minSum: z.number(),
});

/**
 * Page–Hinkley test (Page, 1954), one-sided for an increase: an error stream
 * only drifts in the direction that hurts. It accumulates
 * S_t = α·S_{t−1} + (x_t − mean_t − δ) and fires when S_t − min S exceeds
 * `threshold`; δ is the tolerated increase, α < 1 fades old evidence. After a
 * detection it starts afresh.
 */
export class PageHinkley implements DriftDetector {
  readonly kind = 'page_hinkley';
  readonly options: z.infer<typeof pageHinkleyOptionsSchema>;
  private count = 0;
  private mean = 0;
  private sum = 0;
  private minSum = 0;

  constructor(options: PageHinkleyOptions = {}) {
    const parsed = pageHinkleyOptionsSchema.safeParse(withDefaults(PAGE_HINKLEY_DEFAULTS, options));
    if (!parsed.success) throw new SluiceError('invalid_learner_options', `page-hinkley: ${z.prettifyError(parsed.error)}`);
    this.options = parsed.data;
  }

  static fromJSON(state: unknown): PageHinkley {
    const parsed = pageHinkleyStateSchema.safeParse(state);
    if (!parsed.success) throw invalid('page-hinkley', parsed.error);
    const s = parsed.data;
    const ph = new PageHinkley(s.options);
    ph.count = s.count;
    ph.mean = s.mean;
    ph.sum = s.sum;
    ph.minSum = s.minSum;
    return ph;
  }

  get estimation(): number {
    return this.mean;
  }

  update(value: number): boolean {
    checkValue(value);
    this.count += 1;
    this.mean += (value - this.mean) / this.count;
    this.sum = this.options.alpha * this.sum + (value - this.mean - this.options.delta);
    this.minSum = Math.min(this.minSum, this.sum);
    if (this.count < this.options.minInstances || this.sum - this.minSum <= this.options.threshold) return false;
    this.count = 0;
    this.mean = 0;
    this.sum = 0;
    this.minSum = 0;
    return true;
  }

  toJSON(): z.infer<typeof pageHinkleyStateSchema> {
    return {
      kind: 'page_hinkley',
      options: { ...this.options },
      count: this.count,
      mean: this.mean,
      sum: this.sum,
      minSum: this.minSum,
    };
  }
}

export type DriftDetectorState = z.infer<typeof adwinStateSchema> | z.infer<typeof pageHinkleyStateSchema>;

export type DriftDetectorConfig = ({ kind: 'adwin' } & AdwinOptions) | ({ kind: 'page_hinkley' } & PageHinkleyOptions);

/** Options are validated with unknown keys (such as `kind`) stripped. */
export function createDriftDetector(config: DriftDetectorConfig): DriftDetector {
  return config.kind === 'adwin' ? new Adwin(config) : new PageHinkley(config);
}

export function restoreDriftDetector(state: unknown): DriftDetector {
  const kind = (state as { kind?: unknown } | null)?.kind;
  if (kind === 'adwin') return Adwin.fromJSON(state);
  if (kind === 'page_hinkley') return PageHinkley.fromJSON(state);
  throw new SluiceError('learner_state_invalid', `unknown drift detector kind ${JSON.stringify(kind)}`);
}
