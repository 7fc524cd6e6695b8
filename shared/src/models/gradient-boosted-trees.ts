import { z } from 'zod';
import { SluiceError } from '../errors.js';
import { Random } from './random.js';
import { checkVector, numberArray, parseState, withDefaults } from './validation.js';

/**
 * Gradient-boosted decision trees (logistic loss, second-order leaf values
 * and split gains as in XGBoost, histogram splits as in LightGBM) retrained
 * from scratch on a sliding window of the latest labelled examples every
 * `retrainEvery` labels; between retrains the ensemble is fixed. Why this
 * and not a tree that grows online (Hoeffding trees, adaptive random forest):
 * the labels come 7 days late in batches of a day, so an online tree gains
 * no freshness over a daily retrain, and a boosted ensemble fitted on the
 * whole window ranks frauds better (measured: services/learner/README.md,
 * "Model quality"). A refit blocks `learn` for about a second of CPU. Forgetting is the window: nothing older than
 * `windowSize` kept examples shapes the next ensemble, so no drift reaction
 * is needed.
 *
 * Class imbalance: all positives enter the window, negatives with
 * probability `negativeSampleRate` (r), so the window spans weeks of frauds
 * at a bounded size and a retrain costs a fraction of the full stream. The
 * ensemble fits the log-odds of the sampled window, which are the true
 * log-odds − ln r; `predict` adds ln r back, so the score is a calibrated
 * fraud probability, on the same scale as the (unweighted) logistic
 * regression's: a threshold means the same for both models.
 *
 * Memory: the window (windowSize × features doubles) and the ensemble
 * (trees × at most 2^(maxDepth+1) − 1 nodes). State (`toState`) is the
 * ensemble, the options and the counters a refit depends on (kept examples,
 * the sampler's state, labels since the refit), not the window: 50,000 × 15
 * doubles is over Kafka's 1 MB record limit. The window travels separately in
 * chunks (`takeWindowChanges`, `restoreWindow`): chunk k holds the kept
 * examples numbered [k·C, (k+1)·C), C = `windowChunkSize` (250 by default,
 * about 40 KB as JSON with 15 features), and only the chunk being filled and
 * the chunks that fell out of the window change, so a changelog writes one
 * or two chunk records per batch; the ensemble (`stableStateFields`, about
 * 110 KiB) changes only at a refit, so a changelog writes it apart, only when
 * `stableStateRevision` moved. A model restored from its state and its
 * chunks makes exactly the refits the original would (same examples in the
 * same slots, same sampler draws). Restored from the state alone (a snapshot:
 * the changelog is lost) its window starts empty, it scores identically and
 * keeps serving the restored ensemble until the new window is half full
 * (about ten days of labels by default), since a refit on a few days of
 * labels would rank worse than the trees it replaces.
 */
export interface GradientBoostedTreesOptions {
  /** Kept examples (positives + sampled negatives) the ensemble is fitted on. */
  windowSize?: number;
  /** Labels (kept or not) between retrains. */
  retrainEvery?: number;
  /** Kept examples needed before the first retrain (and after a restore). */
  minExamples?: number;
  negativeSampleRate?: number;
  trees?: number;
  maxDepth?: number;
  learningRate?: number;
  /** Histogram bins per feature (≤ 256): split candidates are the window's quantiles. */
  bins?: number;
  /** Minimum hessian sum (≈ examples × p(1 − p)) in a child. */
  minChildWeight?: number;
  /** L2 penalty on leaf values (XGBoost's lambda). */
  l2?: number;
  seed?: number;
}

const optionsSchema = z.object({
  windowSize: z.number().int().min(100),
  retrainEvery: z.number().int().positive(),
  minExamples: z.number().int().positive(),
  negativeSampleRate: z.number().gt(0).max(1),
  trees: z.number().int().positive(),
  maxDepth: z.number().int().min(1).max(12),
  learningRate: z.number().positive(),
  bins: z.number().int().min(2).max(256),
  minChildWeight: z.number().nonnegative(),
  l2: z.number().nonnegative(),
  seed: z.number().int(),
});

export type ResolvedGradientBoostedTreesOptions = z.infer<typeof optionsSchema>;

export const GRADIENT_BOOSTED_TREES_DEFAULTS: ResolvedGradientBoostedTreesOptions = {
  windowSize: 50_000,
  // About four days of labels on the handbook stream. Refitting every 10k, 20k, 30k or 40k labels ranks the
  // same (§5.3 AP 0.689, 0.686, 0.688, 0.685). Through the learner's OnlineLearner.observe (score, metrics, drift
  // detector, learn) 30k trained 17,800 labels/s of CPU on the shared machine, under the 20,000 the champion must
  // keep; 40k refits a quarter less often (services/learner/README.md, "Model quality").
  retrainEvery: 40_000,
  minExamples: 2_000,
  negativeSampleRate: 0.25,
  trees: 100,
  maxDepth: 5,
  learningRate: 0.1,
  bins: 64,
  minChildWeight: 1,
  l2: 1,
  seed: 1,
};

const stateSchema = z
  .object({
    feature_names: z.array(z.string()).min(1),
    options: optionsSchema,
    /** Per node: split feature, or −1 for a leaf. */
    node_feature: numberArray({ int: true, min: -1 }),
    /** Per node: the split threshold (x ≤ threshold goes left), or a leaf's value. */
    node_value: numberArray(),
    node_left: numberArray({ int: true, min: 0 }),
    node_right: numberArray({ int: true, min: 0 }),
    roots: numberArray({ int: true, min: 0 }),
    /** Added to the trees' sum: the window's log-odds at the start of boosting, + ln(negativeSampleRate). */
    intercept: z.number(),
    retrains: z.number().int().nonnegative(),
    // The counters below are absent in states written before the window was kept (restored as a fresh window).
    /** Examples kept since the window started: the next one is numbered `kept`. */
    kept: z.number().int().nonnegative().optional(),
    /** The negative sampler's state (`Random.saveState`). */
    sampler_state: z.number().int().nonnegative().optional(),
    labels_since_retrain: z.number().int().nonnegative().optional(),
    refit_floor: z.number().int().nonnegative().optional(),
  })
  .refine(
    (s) =>
      [s.node_value.length, s.node_left.length, s.node_right.length].every((n) => n === s.node_feature.length) &&
      s.node_feature.every((f, i) => f < s.feature_names.length && (f < 0 || [s.node_left[i]!, s.node_right[i]!].every((c) => c > i && c < s.node_feature.length))) &&
      s.roots.every((r) => r < s.node_feature.length),
    'nodes must be parallel arrays, children after their parent, features and roots in range',
  );

export type GradientBoostedTreesState = z.infer<typeof stateSchema>;

/**
 * Kept examples [start, start + labels.length) of one window chunk: `labels` one '0' or '1' each, `values` their
 * features as little-endian float64, base64 (exact, and 11 characters a double where JSON numbers take up to 24).
 */
export interface WindowChunk {
  start: number;
  labels: string;
  values: string;
}

const windowChunkSchema = z.object({ start: z.number().int().nonnegative(), labels: z.string().regex(/^[01]*$/), values: z.string() });

/** What changed in the window since the last `takeWindowChanges`: chunks to (re)write and chunks now wholly out of it. */
export interface WindowChanges {
  put: [index: number, chunk: WindowChunk][];
  drop: number[];
}

/** Kept examples per window chunk: 200 chunks a window (250 for the default 50,000). */
export function windowChunkSize(windowSize: number): number {
  return Math.max(1, Math.ceil(windowSize / 200));
}

export const GRADIENT_BOOSTED_TREES = 'gradient_boosted_trees';

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

export class GradientBoostedTrees {
  readonly algorithm = GRADIENT_BOOSTED_TREES;
  readonly supervised = true;
  readonly featureNames: readonly string[];
  readonly options: ResolvedGradientBoostedTreesOptions;
  // Typed arrays: a prediction walks 100 trees, and through number[] (as fitted, or as parsed from a snapshot) it took
  // 3.9 µs fitted and 5.3 µs restored (shared/bench/model-predict.ts); fraud predicts once per vector.
  private nodeFeature = new Int32Array(0);
  private nodeValue = new Float64Array(0);
  private nodeLeft = new Int32Array(0);
  private nodeRight = new Int32Array(0);
  private roots = new Int32Array(0);
  private intercept = 0;
  private retrainCount = 0;
  /**
   * Ring buffer of kept examples: `size` of them, the next written at `head`. Allocated with the first example kept
   * or restored: a model restored only to score (the fraud service restores every snapshot) never needs the
   * windowSize × features doubles (6 MB by default), ~0.6 ms of a restore's CPU to allocate and zero (shared/bench/model-restore.ts).
   */
  private window = new Float64Array(0);
  private windowLabels = new Uint8Array(0);
  private size = 0;
  private head = 0;
  private labelsSinceRetrain = 0;
  /** Kept examples needed for a refit: minExamples, or half a window right after a restore without the window. */
  private refitFloor: number;
  private sampler: Random;
  /** Examples kept since the window started; example s sits in slot s mod windowSize while it is in the window. */
  private kept = 0;
  /** `kept` at the last `takeWindowChanges`. */
  private flushed = 0;
  /** After `fromJSON`, until `restoreWindow`: the original's counters, which the window must match. */
  private restorable: { kept: number; refitFloor: number } | null = null;

  constructor(featureNames: readonly string[], options: GradientBoostedTreesOptions = {}) {
    const resolved = optionsSchema.safeParse(withDefaults(GRADIENT_BOOSTED_TREES_DEFAULTS, options));
    if (!resolved.success) {
      throw new SluiceError('invalid_model_options', `gradient-boosted trees: ${z.prettifyError(resolved.error)}`);
    }
    if (featureNames.length < 1) throw new SluiceError('invalid_model_options', 'gradient-boosted trees: at least one feature is needed');
    this.options = resolved.data;
    this.featureNames = [...featureNames];
    this.sampler = new Random(this.options.seed);
    this.refitFloor = this.options.minExamples;
  }

  static fromJSON(state: unknown): GradientBoostedTrees {
    const s = parseState(stateSchema, state, GRADIENT_BOOSTED_TREES);
    const model = new GradientBoostedTrees(s.feature_names, s.options);
    model.setEnsemble({ feature: s.node_feature, value: s.node_value, left: s.node_left, right: s.node_right, roots: s.roots });
    model.intercept = s.intercept;
    if (s.roots.length > 0) model.refitFloor = Math.max(s.options.minExamples, Math.floor(s.options.windowSize / 2));
    model.retrainCount = s.retrains;
    model.labelsSinceRetrain = s.labels_since_retrain ?? 0;
    if (s.sampler_state !== undefined) model.sampler = new Random(s.sampler_state);
    if (s.kept !== undefined && s.refit_floor !== undefined) model.restorable = { kept: s.kept, refitFloor: s.refit_floor };
    return model;
  }

  /**
   * Refills the window of a model just restored by `fromJSON` from the chunks its original wrote
   * (`takeWindowChanges`), looked up by index. True when every kept example still in the window was found: the
   * model then refits exactly as the original would. False (the model keeps an empty window, see "State" above)
   * when the state predates the window, a chunk is missing or malformed, or the window was already restored.
   */
  restoreWindow(chunk: (index: number) => unknown): boolean {
    const restorable = this.restorable;
    this.restorable = null;
    if (restorable === null || this.kept > 0) return false;
    const { kept } = restorable;
    const W = this.options.windowSize;
    const d = this.featureNames.length;
    const C = windowChunkSize(W);
    const from = Math.max(0, kept - W);
    this.allocateWindow();
    for (let k = Math.floor(from / C); k * C < kept; k++) {
      const parsed = windowChunkSchema.safeParse(chunk(k));
      if (!parsed.success) return false;
      const { start, labels, values } = parsed.data;
      const lo = Math.max(from, k * C);
      const hi = Math.min((k + 1) * C, kept);
      const bytes = Buffer.from(values, 'base64');
      if (start > lo || start + labels.length < hi || bytes.length !== labels.length * d * 8) return false;
      const x = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      for (let seq = lo; seq < hi; seq++) {
        const slot = seq % W;
        for (let f = 0; f < d; f++) this.window[slot * d + f] = x[(seq - start) * d + f]!;
        this.windowLabels[slot] = labels.charCodeAt(seq - start) - 48;
      }
    }
    this.kept = kept;
    this.flushed = kept;
    this.size = Math.min(kept, W);
    this.head = kept % W;
    this.refitFloor = restorable.refitFloor;
    return true;
  }

  /**
   * The window chunks changed since the last call (the one being filled, and any filled since) and those that
   * fell wholly out of the window: what a changelog must write so that `restoreWindow` finds the window.
   */
  takeWindowChanges(): WindowChanges {
    const W = this.options.windowSize;
    const d = this.featureNames.length;
    const C = windowChunkSize(W);
    const changes: WindowChanges = { put: [], drop: [] };
    const from = Math.max(0, this.kept - W);
    for (let k = Math.floor(Math.max(0, this.flushed - W) / C); k < Math.floor(from / C); k++) changes.drop.push(k);
    for (let k = Math.max(Math.floor(this.flushed / C), Math.floor(from / C)); k * C < this.kept && this.kept > this.flushed; k++) {
      const lo = Math.max(from, k * C);
      const hi = Math.min((k + 1) * C, this.kept);
      const x = new Float64Array((hi - lo) * d);
      let labels = '';
      for (let seq = lo; seq < hi; seq++) {
        const slot = seq % W;
        x.set(this.window.subarray(slot * d, slot * d + d), (seq - lo) * d);
        labels += this.windowLabels[slot] === 1 ? '1' : '0';
      }
      changes.put.push([k, { start: lo, labels, values: Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64') }]);
    }
    this.flushed = this.kept;
    return changes;
  }

  readonly stableStateFields = ['node_feature', 'node_value', 'node_left', 'node_right', 'roots', 'intercept'] as const;

  /** Moves at every refit that changed the ensemble, and only then. */
  get stableStateRevision(): number {
    return this.retrainCount;
  }

  get treeCount(): number {
    return this.roots.length;
  }

  get retrains(): number {
    return this.retrainCount;
  }

  /** The fraud log-odds: intercept + the trees' values (0 before the first retrain). */
  logit(x: readonly number[]): number {
    checkVector(x, this.featureNames.length, GRADIENT_BOOSTED_TREES);
    const { nodeFeature: feature, nodeValue: value, nodeLeft: left, nodeRight: right, roots } = this;
    let sum = this.intercept;
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t]!;
      for (let f = feature[node]!; f >= 0; f = feature[node]!) node = (x[f] as number) <= value[node]! ? left[node]! : right[node]!;
      sum += value[node]!;
    }
    return sum;
  }

  predict(x: readonly number[]): number {
    return sigmoid(this.logit(x));
  }

  learn(x: readonly number[], y: 0 | 1): void {
    checkVector(x, this.featureNames.length, GRADIENT_BOOSTED_TREES);
    this.labelsSinceRetrain += 1;
    if (y === 1 || this.sampler.next() < this.options.negativeSampleRate) {
      const d = this.featureNames.length;
      this.allocateWindow();
      for (let f = 0; f < d; f++) this.window[this.head * d + f] = x[f] as number;
      this.windowLabels[this.head] = y;
      this.head = (this.head + 1) % this.options.windowSize;
      this.size = Math.min(this.size + 1, this.options.windowSize);
      this.kept += 1;
    }
    if (this.labelsSinceRetrain >= this.options.retrainEvery && this.size >= this.refitFloor) this.retrain();
  }

  private allocateWindow(): void {
    if (this.windowLabels.length > 0) return;
    this.window = new Float64Array(this.options.windowSize * this.featureNames.length);
    this.windowLabels = new Uint8Array(this.options.windowSize);
  }

  /** Fits a new ensemble on the window now (a no-op while the window lacks either class). */
  retrain(): void {
    this.labelsSinceRetrain = 0;
    const fitted = fitEnsemble(this.window, this.windowLabels, this.size, this.featureNames.length, this.options);
    if (fitted === null) return;
    this.setEnsemble(fitted);
    this.intercept = fitted.base + Math.log(this.options.negativeSampleRate);
    this.retrainCount += 1;
    this.refitFloor = this.options.minExamples;
  }

  private setEnsemble(ensemble: Omit<Ensemble, 'base'>): void {
    this.nodeFeature = Int32Array.from(ensemble.feature);
    this.nodeValue = Float64Array.from(ensemble.value);
    this.nodeLeft = Int32Array.from(ensemble.left);
    this.nodeRight = Int32Array.from(ensemble.right);
    this.roots = Int32Array.from(ensemble.roots);
  }

  toJSON(): GradientBoostedTreesState {
    return {
      feature_names: [...this.featureNames],
      options: { ...this.options },
      node_feature: Array.from(this.nodeFeature),
      node_value: Array.from(this.nodeValue),
      node_left: Array.from(this.nodeLeft),
      node_right: Array.from(this.nodeRight),
      roots: Array.from(this.roots),
      intercept: this.intercept,
      retrains: this.retrainCount,
      kept: this.kept,
      sampler_state: this.sampler.saveState(),
      labels_since_retrain: this.labelsSinceRetrain,
      refit_floor: this.refitFloor,
    };
  }

  toState(): GradientBoostedTreesState {
    return this.toJSON();
  }
}

interface Ensemble {
  base: number;
  feature: number[];
  value: number[];
  left: number[];
  right: number[];
  roots: number[];
}

/**
 * Split candidates per feature: up to bins − 1 thresholds at the quantiles
 * of (a stride sample of at most 20,000 of) the window's values; a value
 * goes to the first bin whose threshold is ≥ it.
 */
function binEdges(window: Float64Array, n: number, d: number, f: number, bins: number): Float64Array {
  const stride = Math.max(1, Math.floor(n / 20_000));
  const values = new Float64Array(Math.ceil(n / stride));
  for (let i = 0, k = 0; i < n; i += stride) values[k++] = window[i * d + f]!;
  values.sort();
  const distinct: number[] = [];
  for (const v of values) if (distinct.length === 0 || distinct[distinct.length - 1] !== v) distinct.push(v);
  // The largest value is no threshold: nothing would go right of it.
  distinct.pop();
  if (distinct.length <= bins - 1) return Float64Array.from(distinct);
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const v = distinct[Math.floor((k * distinct.length) / bins)]!;
    if (edges.length === 0 || edges[edges.length - 1]! < v) edges.push(v);
  }
  return Float64Array.from(edges);
}

function lowerBound(edges: Float64Array, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function fitEnsemble(window: Float64Array, labels: Uint8Array, n: number, d: number, o: ResolvedGradientBoostedTreesOptions): Ensemble | null {
  let positives = 0;
  for (let i = 0; i < n; i++) positives += labels[i]!;
  if (positives === 0 || positives === n) return null;
  const B = o.bins;
  const edges = Array.from({ length: d }, (_, f) => binEdges(window, n, d, f, B));
  const binned = new Uint8Array(n * d);
  for (let i = 0; i < n; i++) for (let f = 0; f < d; f++) binned[i * d + f] = lowerBound(edges[f]!, window[i * d + f]!);

  const base = Math.log(positives / (n - positives));
  const margin = new Float64Array(n).fill(base);
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const rows = new Int32Array(n);
  const ensemble: Ensemble = { base, feature: [], value: [], left: [], right: [], roots: [] };

  /** Interleaved (Σg, Σh) per (feature, bin) over rows[lo, hi). */
  const histogram = (lo: number, hi: number): Float64Array => {
    const h = new Float64Array(d * B * 2);
    for (let k = lo; k < hi; k++) {
      const r = rows[k]!;
      const g = grad[r]!;
      const w = hess[r]!;
      const base = r * d;
      for (let f = 0; f < d; f++) {
        const at = (f * B + binned[base + f]!) * 2;
        h[at] = h[at]! + g;
        h[at + 1] = h[at + 1]! + w;
      }
    }
    return h;
  };

  const addNode = (feature: number, value: number): number => {
    ensemble.feature.push(feature);
    ensemble.value.push(value);
    ensemble.left.push(0);
    ensemble.right.push(0);
    return ensemble.feature.length - 1;
  };

  const build = (lo: number, hi: number, depth: number, hist: Float64Array, G: number, H: number): number => {
    const leafScore = (G * G) / (H + o.l2);
    let bestGain = 0;
    let bestFeature = -1;
    let bestBin = -1;
    if (depth < o.maxDepth && hi - lo >= 2) {
      for (let f = 0; f < d; f++) {
        const nBins = edges[f]!.length;
        let GL = 0;
        let HL = 0;
        for (let b = 0; b < nBins; b++) {
          const at = (f * B + b) * 2;
          GL += hist[at]!;
          HL += hist[at + 1]!;
          const HR = H - HL;
          if (HL < o.minChildWeight || HR < o.minChildWeight) continue;
          const GR = G - GL;
          const gain = (GL * GL) / (HL + o.l2) + (GR * GR) / (HR + o.l2) - leafScore;
          if (gain > bestGain) {
            bestGain = gain;
            bestFeature = f;
            bestBin = b;
          }
        }
      }
    }
    if (bestFeature < 0) {
      const value = (-o.learningRate * G) / (H + o.l2);
      for (let k = lo; k < hi; k++) margin[rows[k]!] = margin[rows[k]!]! + value;
      return addNode(-1, value);
    }
    // Partition rows[lo, hi): bin ≤ bestBin to the left.
    let mid = lo;
    for (let k = lo; k < hi; k++) {
      const r = rows[k]!;
      if (binned[r * d + bestFeature]! <= bestBin) {
        rows[k] = rows[mid]!;
        rows[mid++] = r;
      }
    }
    let GL = 0;
    let HL = 0;
    for (let b = 0; b <= bestBin; b++) {
      GL += hist[(bestFeature * B + b) * 2]!;
      HL += hist[(bestFeature * B + b) * 2 + 1]!;
    }
    // Histogram the smaller child; the larger one is the parent's minus it (in place). Leaves need none.
    const node = addNode(bestFeature, edges[bestFeature]![bestBin]!);
    let leftHist = hist;
    let rightHist = hist;
    if (depth + 1 < o.maxDepth) {
      const leftSmaller = mid - lo <= hi - mid;
      const small = leftSmaller ? histogram(lo, mid) : histogram(mid, hi);
      for (let k = 0; k < hist.length; k++) hist[k] = hist[k]! - small[k]!;
      leftHist = leftSmaller ? small : hist;
      rightHist = leftSmaller ? hist : small;
    }
    const left = build(lo, mid, depth + 1, leftHist, GL, HL);
    const right = build(mid, hi, depth + 1, rightHist, G - GL, H - HL);
    ensemble.left[node] = left;
    ensemble.right[node] = right;
    return node;
  };

  for (let t = 0; t < o.trees; t++) {
    let G = 0;
    let H = 0;
    for (let i = 0; i < n; i++) {
      const p = sigmoid(margin[i]!);
      grad[i] = p - labels[i]!;
      hess[i] = Math.max(p * (1 - p), 1e-16);
      G += grad[i]!;
      H += hess[i]!;
      rows[i] = i;
    }
    ensemble.roots.push(build(0, n, 0, histogram(0, n), G, H));
  }
  return ensemble;
}
