import type { FeatureContribution, ModelSnapshot } from '@sluice/shared';

/** What fraud needs from a model; the concrete models live in the shared library. */
export interface Scorer {
  predict(x: readonly number[]): number;
  explain?(x: readonly number[]): FeatureContribution[];
}

/** Builds a scorer from a snapshot; throws on a snapshot it cannot trust (e.g. `snapshotToModel`). */
export type ScorerFactory = (snapshot: ModelSnapshot) => Scorer;

export interface ActiveModel {
  snapshot: ModelSnapshot;
  scorer: Scorer;
  /** The snapshot's label clock (`labelClockOf`). */
  clock: number;
}

export type OfferResult =
  | { status: 'accepted'; newestVersion: number; evicted: number }
  | { status: 'refused-feature-mismatch'; reason: string }
  | { status: 'refused-invalid'; reason: string }
  | { status: 'ignored-known-version'; reason: string }
  | { status: 'ignored-other-model'; reason: string };

export type ScoreResult =
  | { score: number; model: ActiveModel }
  | { score: null; model: ActiveModel | null; reason: string };

export interface ModelSelectionOptions {
  /**
   * E: a vector at event time t is scored by the newest snapshot whose label
   * clock is at or before t − E (never one that learned a label established
   * after t − E).
   */
  delayMs: number;
  /** Snapshots held at most; past it the oldest go (a vector that needed one is then scored by rules alone). */
  maxSnapshots: number;
}

/**
 * The event time through which a snapshot learned (every label established at
 * or before it, none after). Snapshots of learners older than label clocks
 * carry none: their publication time stands in, the best bound there is.
 */
export function labelClockOf(snapshot: ModelSnapshot): number {
  return snapshot.label_clock ?? snapshot.created_at;
}

/** (clock, version) order: the learner's versions grow with its clocks, the version breaks ties. */
function compareModels(a: ActiveModel, b: ActiveModel): number {
  return a.clock !== b.clock ? a.clock - b.clock : a.snapshot.version - b.snapshot.version;
}

/**
 * Differences between two lists of feature names, or null when they match in
 * order. Listed so an operator can see at once whether a feature was added,
 * dropped, renamed or moved.
 */
export function describeFeatureMismatch(expected: readonly string[], actual: readonly string[]): string | null {
  if (expected.length === actual.length && expected.every((name, i) => name === actual[i])) return null;
  const expectedSet = new Set(expected);
  const actualSet = new Set(actual);
  const missing = expected.filter((name) => !actualSet.has(name));
  const extra = actual.filter((name) => !expectedSet.has(name));
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`missing ${missing.join(', ')}`);
  if (extra.length > 0) parts.push(`unexpected ${extra.join(', ')}`);
  if (missing.length === 0 && extra.length === 0) {
    const moved = expected.filter((name, i) => actual[i] !== name);
    parts.push(expected.length === actual.length ? `same names in another order (${moved.join(', ')})` : 'duplicated names');
  }
  return `expected [${expected.join(', ')}], got [${actual.join(', ')}]: ${parts.join('; ')}`;
}

/**
 * The snapshots of one model name fraud may still score with, by label clock
 * (issue 12, item 4). A vector at event time t is scored by the newest
 * snapshot whose clock is at or before t − E, so a replay scores each
 * transaction with the model it would have met in real time, never one that
 * learned from its future, whichever service runs ahead. A refused snapshot
 * (other features, unreadable) is not held, so the one before it stays in
 * use. Re-reading the compacted topic offers known versions again: ignored.
 *
 * What is kept: `prune(t)` drops every snapshot older than the newest one a
 * vector at t would use (the caller passes the oldest event time still to
 * score), and `maxSnapshots` bounds the table whatever the caller does.
 */
export class ModelSelection {
  /** Sorted by (clock, version). */
  private readonly models: ActiveModel[] = [];
  private expectedFeatures: readonly string[] | null = null;

  constructor(
    readonly modelName: string,
    private readonly createScorer: ScorerFactory,
    readonly options: ModelSelectionOptions,
  ) {
    if (!(options.delayMs >= 0) || !Number.isSafeInteger(options.maxSnapshots) || options.maxSnapshots < 1) {
      throw new RangeError(`model selection needs delayMs >= 0 and an integer maxSnapshots >= 1, got ${JSON.stringify(options)}`);
    }
  }

  /** The newest snapshot held (for the version and age gauges); null before any. */
  get current(): ActiveModel | null {
    return this.models.at(-1) ?? null;
  }

  get size(): number {
    return this.models.length;
  }

  /**
   * The feature names vectors carry, once the first vector tells them. Held
   * snapshots trained on others are dropped and returned as refusals, and
   * later ones are refused as they come (before that, scoring checks each
   * vector against its model).
   */
  expectFeatures(names: readonly string[]): OfferResult[] {
    this.expectedFeatures = [...names];
    const refusals: OfferResult[] = [];
    for (let i = this.models.length - 1; i >= 0; i--) {
      const refusal = this.featureRefusal(this.models[i]!.snapshot);
      if (refusal === null) continue;
      refusals.push(refusal);
      this.models.splice(i, 1);
    }
    return refusals;
  }

  offer(snapshot: ModelSnapshot): OfferResult {
    const label = `${snapshot.model_name} v${snapshot.version}`;
    if (snapshot.model_name !== this.modelName) {
      return { status: 'ignored-other-model', reason: `${label}: this service scores with ${this.modelName}` };
    }
    if (this.models.some((model) => model.snapshot.version === snapshot.version)) {
      return { status: 'ignored-known-version', reason: `${label} is already held` };
    }
    const refusal = this.featureRefusal(snapshot);
    if (refusal !== null) return refusal;
    let scorer: Scorer;
    try {
      scorer = this.createScorer(snapshot);
    } catch (err) {
      return { status: 'refused-invalid', reason: `${label}: ${err instanceof Error ? err.message : String(err)}` };
    }
    const model: ActiveModel = { snapshot, scorer, clock: labelClockOf(snapshot) };
    let at = this.models.length;
    while (at > 0 && compareModels(this.models[at - 1]!, model) > 0) at--;
    this.models.splice(at, 0, model);
    const evicted = Math.max(0, this.models.length - this.options.maxSnapshots);
    this.models.splice(0, evicted);
    return { status: 'accepted', newestVersion: this.current!.snapshot.version, evicted };
  }

  /** The snapshot a vector at `eventTime` is scored by: the newest whose clock is at or before eventTime − E; null when none is held. */
  choose(eventTime: number): ActiveModel | null {
    const cutoff = eventTime - this.options.delayMs;
    let low = 0;
    let high = this.models.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.models[mid]!.clock <= cutoff) low = mid + 1;
      else high = mid;
    }
    return low === 0 ? null : this.models[low - 1]!;
  }

  /** No vector older than `oldestEventTime` remains to be scored: drop what none of the rest can choose. Returns how many went. */
  prune(oldestEventTime: number): number {
    const keep = this.choose(oldestEventTime);
    if (keep === null) return 0;
    const dropped = this.models.indexOf(keep);
    this.models.splice(0, dropped);
    return dropped;
  }

  /**
   * Scores one vector with the model `choose` gives for its event time. No
   * score (rules alone) when there is none, when the vector's features are not
   * the model's (the feature set changed under it), or when the model fails or
   * yields a non-finite value.
   */
  score(eventTime: number, featureNames: readonly string[], values: readonly number[]): ScoreResult {
    const model = this.choose(eventTime);
    if (model === null) return { score: null, model: null, reason: this.models.length === 0 ? 'no model yet' : `no model learned only from labels before ${eventTime - this.options.delayMs}` };
    const mismatch = describeFeatureMismatch(model.snapshot.feature_names, featureNames);
    if (mismatch !== null) return { score: null, model, reason: `vector features are not the model's: ${mismatch}` };
    let score: number;
    try {
      score = model.scorer.predict(values);
    } catch (err) {
      return { score: null, model, reason: `model failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (!Number.isFinite(score)) return { score: null, model, reason: `model returned ${score}` };
    return { score, model };
  }

  private featureRefusal(snapshot: ModelSnapshot): OfferResult | null {
    if (this.expectedFeatures === null) return null;
    const mismatch = describeFeatureMismatch(this.expectedFeatures, snapshot.feature_names);
    if (mismatch === null) return null;
    return { status: 'refused-feature-mismatch', reason: `${snapshot.model_name} v${snapshot.version} has other features: ${mismatch}` };
  }
}
