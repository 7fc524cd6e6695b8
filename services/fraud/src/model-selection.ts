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
}

export type OfferResult =
  | { status: 'accepted'; previousVersion: number | null }
  | { status: 'refused-feature-mismatch'; reason: string }
  | { status: 'refused-invalid'; reason: string }
  | { status: 'ignored-older-version'; reason: string }
  | { status: 'ignored-other-model'; reason: string };

export type ScoreResult =
  | { score: number; model: ActiveModel }
  | { score: null; model: ActiveModel | null; reason: string };

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
 * Holds the model fraud scores with: the newest acceptable snapshot of one
 * model name from `model.updates`. A refused snapshot leaves the previous
 * model in use. Versions only go up, so re-reading the compacted topic (or a
 * replay) never swaps an older model back in.
 */
export class ModelSelection {
  private active: ActiveModel | null = null;

  constructor(
    readonly modelName: string,
    private readonly createScorer: ScorerFactory,
  ) {}

  get current(): ActiveModel | null {
    return this.active;
  }

  offer(snapshot: ModelSnapshot, expectedFeatureNames: readonly string[]): OfferResult {
    const label = `${snapshot.model_name} v${snapshot.version}`;
    if (snapshot.model_name !== this.modelName) {
      return { status: 'ignored-other-model', reason: `${label}: this service scores with ${this.modelName}` };
    }
    const previousVersion = this.active?.snapshot.version ?? null;
    if (previousVersion !== null && snapshot.version <= previousVersion) {
      return { status: 'ignored-older-version', reason: `${label}: v${previousVersion} is already in use` };
    }
    const mismatch = describeFeatureMismatch(expectedFeatureNames, snapshot.feature_names);
    if (mismatch !== null) return { status: 'refused-feature-mismatch', reason: `${label} has other features: ${mismatch}` };
    let scorer: Scorer;
    try {
      scorer = this.createScorer(snapshot);
    } catch (err) {
      return { status: 'refused-invalid', reason: `${label}: ${err instanceof Error ? err.message : String(err)}` };
    }
    this.active = { snapshot, scorer };
    return { status: 'accepted', previousVersion };
  }

  /**
   * Scores one vector with the current model. No score (rules alone) before
   * any model, when the vector's features are not the model's (the feature
   * set changed under it), or when the model fails or yields a non-finite value.
   */
  score(featureNames: readonly string[], values: readonly number[]): ScoreResult {
    const model = this.active;
    if (model === null) return { score: null, model: null, reason: 'no model yet' };
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
}
