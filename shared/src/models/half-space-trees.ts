import { z } from 'zod';
import { SluiceError } from '../errors.js';
import { Random } from './random.js';
import { checkVector, numberArray, parseState, withDefaults } from './validation.js';

/**
 * Half-Space Trees (Tan, Ting & Liu, 2011, "Fast anomaly detection for
 * streaming data"), following River's `anomaly.HalfSpaceTrees`: label-free,
 * so it scores from the first window on, long before any label arrives.
 *
 * Each tree is a full binary tree of random axis-aligned splits over the unit
 * cube, drawn once from the seed (no data needed): the split feature is picked
 * with probability proportional to the node's current width along it, the
 * split point uniformly inside the middle 70% (padding 0.15). Every node
 * counts the points of the latest window that pass through it (`l_mass`);
 * when a window of `windowSize` points is complete the counts become the
 * reference (`r_mass`) and counting restarts, so the model forgets at the
 * pace of one window. A point scores by the reference mass along its path,
 * each level weighted by 2^depth, stopping at the first node whose mass is
 * below 10% of a window (too sparse to be trusted deeper); the sum is
 * normalised by its maximum, n_trees · windowSize · (2^(height+1) − 1), and
 * inverted so that 1 means "in a region where the reference window had
 * nothing" and 0 means "as dense as it gets".
 *
 * Features are min-max normalised into the unit cube. Ranges are either
 * configured (`limits`, one [min, max] per feature) or learned from the first
 * window: those points are buffered, the ranges set to their min and max, and
 * the buffer replayed as the first window. Learned ranges are then frozen
 * (re-scaling would move points between cells the masses were counted in);
 * values outside fall into the outermost cells. Until the first window is
 * complete there is no reference and every score is 0, as in River.
 */
export interface HalfSpaceTreesOptions {
  nTrees?: number;
  height?: number;
  windowSize?: number;
  limits?: [number, number][] | null;
  seed?: number;
}

const limitsSchema = z.array(z.tuple([z.number(), z.number()]));

const optionsSchema = z.object({
  nTrees: z.number().int().min(1).max(1000),
  height: z.number().int().min(1).max(20),
  windowSize: z.number().int().min(1),
  limits: limitsSchema
    .refine((ls) => ls.every(([lo, hi]) => lo < hi), 'every limit must be [min, max] with min < max')
    .nullable(),
  seed: z.number().int(),
});

export type ResolvedHalfSpaceTreesOptions = z.infer<typeof optionsSchema>;

export const HALF_SPACE_TREES_DEFAULTS: ResolvedHalfSpaceTreesOptions = {
  nTrees: 10,
  height: 8,
  windowSize: 250,
  limits: null,
  seed: 42,
};

const PADDING = 0.15;
const SIZE_LIMIT_FRACTION = 0.1;

const treeSchema = z.object({
  feature: numberArray({ int: true, min: 0 }),
  threshold: numberArray(),
  l_mass: numberArray({ int: true, min: 0 }),
  r_mass: numberArray({ int: true, min: 0 }),
});

const stateSchema = z
  .object({
    feature_names: z.array(z.string()).min(1),
    options: optionsSchema,
    limits: limitsSchema.nullable(),
    warmup: z.array(numberArray()),
    counter: z.number().int().nonnegative(),
    first_window: z.boolean(),
    trees: z.array(treeSchema),
  })
  .superRefine((s, ctx) => {
    const d = s.feature_names.length;
    const internal = 2 ** s.options.height - 1;
    const nodes = 2 ** (s.options.height + 1) - 1;
    const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
    if (s.trees.length !== s.options.nTrees) fail('tree count differs from options.nTrees');
    for (const t of s.trees) {
      if (t.feature.length !== internal || t.threshold.length !== internal) fail('a tree has the wrong number of splits');
      if (t.l_mass.length !== nodes || t.r_mass.length !== nodes) fail('a tree has the wrong number of nodes');
      if (t.feature.some((f) => f >= d)) fail('a split refers to an unknown feature');
    }
    if (s.options.limits !== null && s.options.limits.length !== d) fail('options.limits needs one entry per feature');
    if (s.limits !== null && s.limits.length !== d) fail('limits needs one entry per feature');
    if (s.limits === null && s.warmup.length !== s.counter) fail('warm-up buffer and counter disagree');
    if (s.warmup.some((x) => x.length !== d)) fail('a warm-up vector has the wrong length');
    if (s.counter >= s.options.windowSize) fail('counter must stay below windowSize');
  });

export type HalfSpaceTreesState = z.infer<typeof stateSchema>;

export const HALF_SPACE_TREES = 'half_space_trees';

interface Tree {
  feature: Int32Array;
  threshold: Float64Array;
  lMass: Float64Array;
  rMass: Float64Array;
}

export class HalfSpaceTrees {
  readonly algorithm = HALF_SPACE_TREES;
  readonly supervised = false;
  readonly featureNames: readonly string[];
  readonly options: ResolvedHalfSpaceTreesOptions;
  private readonly trees: Tree[];
  private limits: [number, number][] | null = null;
  private lows: Float64Array | null = null;
  private inverseSpans: Float64Array | null = null;
  private warmup: number[][] = [];
  private counter = 0;
  private firstWindow = true;
  private readonly normalised: Float64Array;
  private readonly maxScore: number;
  private readonly sizeLimit: number;

  /**
   * `storedTrees`: the trees of a state `fromJSON` has validated, taken instead of planting new random ones (planting
   * was a quarter of a restore's CPU, and the fraud service restores every snapshot).
   */
  constructor(featureNames: readonly string[], options: HalfSpaceTreesOptions = {}, storedTrees?: HalfSpaceTreesState['trees']) {
    const resolved = optionsSchema.safeParse(withDefaults(HALF_SPACE_TREES_DEFAULTS, options));
    if (!resolved.success) {
      throw new SluiceError('invalid_model_options', `half-space trees: ${z.prettifyError(resolved.error)}`);
    }
    const o = resolved.data;
    if (featureNames.length < 1) throw new SluiceError('invalid_model_options', 'half-space trees need at least one feature');
    if (o.limits !== null && o.limits.length !== featureNames.length) {
      throw new SluiceError('invalid_model_options', `half-space trees: ${featureNames.length} features but ${o.limits.length} limits`);
    }
    this.options = o;
    this.featureNames = [...featureNames];
    this.normalised = new Float64Array(featureNames.length);
    this.maxScore = o.nTrees * o.windowSize * (2 ** (o.height + 1) - 1);
    this.sizeLimit = SIZE_LIMIT_FRACTION * o.windowSize;
    if (storedTrees === undefined) {
      const rng = new Random(o.seed);
      this.trees = Array.from({ length: o.nTrees }, () => buildTree(featureNames.length, o.height, rng));
    } else {
      this.trees = storedTrees.map((t) => ({
        feature: Int32Array.from(t.feature),
        threshold: Float64Array.from(t.threshold),
        lMass: Float64Array.from(t.l_mass),
        rMass: Float64Array.from(t.r_mass),
      }));
    }
    if (o.limits !== null) this.setLimits(o.limits);
  }

  static fromJSON(state: unknown): HalfSpaceTrees {
    const s = parseState(stateSchema, state, HALF_SPACE_TREES);
    const model = new HalfSpaceTrees(s.feature_names, s.options, s.trees);
    if (s.limits !== null) model.setLimits(s.limits);
    model.warmup = s.warmup.map((x) => [...x]);
    model.counter = s.counter;
    model.firstWindow = s.first_window;
    return model;
  }

  /** Anomaly score in [0, 1], higher = more anomalous; 0 until the first window is complete. */
  predict(x: readonly number[]): number {
    checkVector(x, this.featureNames.length, HALF_SPACE_TREES);
    if (this.firstWindow) return 0;
    const u = this.normalise(x);
    const height = this.options.height;
    let score = 0;
    for (const t of this.trees) {
      let node = 0;
      for (let depth = 0; ; depth++) {
        const mass = t.rMass[node] as number;
        score += mass * 2 ** depth;
        if (mass < this.sizeLimit || depth === height) break;
        node = (u[t.feature[node] as number] as number) < (t.threshold[node] as number) ? 2 * node + 1 : 2 * node + 2;
      }
    }
    return 1 - score / this.maxScore;
  }

  /** Label-free: `y` is ignored, every point counts as part of the stream's normal behaviour. */
  learn(x: readonly number[], _y?: 0 | 1): void {
    checkVector(x, this.featureNames.length, HALF_SPACE_TREES);
    if (this.lows === null) {
      this.warmup.push([...x]);
      this.counter += 1;
      if (this.counter === this.options.windowSize) {
        this.setLimits(learnedLimits(this.warmup));
        for (const w of this.warmup) this.addMass(w);
        this.warmup = [];
        this.swapWindows();
      }
      return;
    }
    this.addMass(x);
    this.counter += 1;
    if (this.counter === this.options.windowSize) this.swapWindows();
  }

  toJSON(): HalfSpaceTreesState {
    return {
      feature_names: [...this.featureNames],
      options: { ...this.options, limits: copyLimits(this.options.limits) },
      limits: copyLimits(this.limits),
      warmup: this.warmup.map((x) => [...x]),
      counter: this.counter,
      first_window: this.firstWindow,
      trees: this.trees.map((t) => ({
        feature: Array.from(t.feature),
        threshold: Array.from(t.threshold),
        l_mass: Array.from(t.lMass),
        r_mass: Array.from(t.rMass),
      })),
    };
  }

  toState(): HalfSpaceTreesState {
    return this.toJSON();
  }

  private setLimits(limits: readonly (readonly [number, number])[]): void {
    this.limits = copyLimits(limits);
    this.lows = Float64Array.from(limits, ([lo]) => lo);
    this.inverseSpans = Float64Array.from(limits, ([lo, hi]) => (hi > lo ? 1 / (hi - lo) : 0));
  }

  /**
   * A feature whose learned range is a single value maps to the middle, and
   * anything off that value to the edge of the cube on its side.
   */
  private normalise(x: readonly number[]): Float64Array {
    const lows = this.lows as Float64Array;
    const inv = this.inverseSpans as Float64Array;
    for (let i = 0; i < x.length; i++) {
      const v = x[i] as number;
      const lo = lows[i] as number;
      const k = inv[i] as number;
      this.normalised[i] = k > 0 ? (v - lo) * k : v < lo ? 0 : v > lo ? 1 : 0.5;
    }
    return this.normalised;
  }

  private addMass(x: readonly number[]): void {
    const u = this.normalise(x);
    const height = this.options.height;
    for (const t of this.trees) {
      let node = 0;
      for (let depth = 0; ; depth++) {
        t.lMass[node] = (t.lMass[node] as number) + 1;
        if (depth === height) break;
        node = (u[t.feature[node] as number] as number) < (t.threshold[node] as number) ? 2 * node + 1 : 2 * node + 2;
      }
    }
  }

  private swapWindows(): void {
    for (const t of this.trees) {
      t.rMass.set(t.lMass);
      t.lMass.fill(0);
    }
    this.counter = 0;
    this.firstWindow = false;
  }
}

function copyLimits(limits: readonly (readonly [number, number])[] | null): [number, number][] | null {
  return limits === null ? null : limits.map(([lo, hi]): [number, number] => [lo, hi]);
}

function learnedLimits(points: readonly number[][]): [number, number][] {
  const d = (points[0] as number[]).length;
  return Array.from({ length: d }, (_, i): [number, number] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const p of points) {
      const v = p[i] as number;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return [lo, hi];
  });
}

/** Nodes in heap order: node n has children 2n+1 and 2n+2; splits are drawn depth-first, left before right. */
function buildTree(featureCount: number, height: number, rng: Random): Tree {
  const internal = 2 ** height - 1;
  const tree: Tree = {
    feature: new Int32Array(internal),
    threshold: new Float64Array(internal),
    lMass: new Float64Array(2 * internal + 1),
    rMass: new Float64Array(2 * internal + 1),
  };
  const lows = new Float64Array(featureCount);
  const highs = new Float64Array(featureCount).fill(1);
  const split = (node: number, depth: number): void => {
    if (depth === height) return;
    let total = 0;
    for (let i = 0; i < featureCount; i++) total += (highs[i] as number) - (lows[i] as number);
    let pick = rng.next() * total;
    let f = 0;
    while (f < featureCount - 1 && pick >= (highs[f] as number) - (lows[f] as number)) {
      pick -= (highs[f] as number) - (lows[f] as number);
      f += 1;
    }
    const lo = lows[f] as number;
    const hi = highs[f] as number;
    const at = rng.uniform(lo + PADDING * (hi - lo), hi - PADDING * (hi - lo));
    tree.feature[node] = f;
    tree.threshold[node] = at;
    highs[f] = at;
    split(2 * node + 1, depth + 1);
    highs[f] = hi;
    lows[f] = at;
    split(2 * node + 2, depth + 1);
    lows[f] = lo;
  };
  split(0, 0);
  return tree;
}
