import type { FeatureContribution, ModelSelectionKind, ModelSnapshot } from '@sluice/shared';

/** What fraud needs from a model; the concrete models live in the shared library. */
export interface Scorer {
  predict(x: readonly number[]): number;
  explain?(x: readonly number[]): FeatureContribution[];
  /** False for label-free models (anomaly scores): never a champion; held only when configured by name. Absent: supervised. */
  readonly supervised?: boolean;
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
  | { status: 'ignored-unsupervised'; reason: string };

/**
 * How the served model was chosen. `champion`: named by the learner's rule in
 * the newest round a vector may see; `default`: no round names one (learners
 * older than champions) or the one named has no usable snapshot, so the
 * configured FRAUD_MODEL_NAME serves; `pinned`: FRAUD_MODEL_PIN.
 */
export type ServedSelection = ModelSelectionKind;

export interface ServedModel {
  model: ActiveModel;
  selection: ServedSelection;
  /** Why: the round's champion_reason, or why the default or the pin serves. */
  reason: string;
}

/** What a vector at event time t is scored by: a model, or none (rules alone) and why. */
export type ServedChoice = { status: 'model'; served: ServedModel } | { status: 'none'; selection: ServedSelection; reason: string };

export type ScoreResult =
  | { score: number; served: ServedModel }
  | { score: null; served: ServedModel | null; reason: string };

/** The operator's side of the choice. */
export interface ServingPolicy {
  /** Serves when no snapshot names a champion (FRAUD_MODEL_NAME). */
  defaultModel: string;
  /** FRAUD_MODEL_PIN: this model serves whatever the learner's rule says. */
  pin: string | null;
}

export interface ModelSelectionOptions {
  /**
   * E: a vector at event time t is scored by snapshots whose label clock is
   * at or before t − E (never one that learned a label established after t − E).
   */
  delayMs: number;
  /** Snapshots held at most per model; past it the oldest go (a vector that needed one is then scored by rules alone). */
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

/** The newest of one model's snapshots (sorted by `compareModels`) whose clock is at or before `cutoff`; null when none is. */
export function newestEligible(models: readonly ActiveModel[], cutoff: number): ActiveModel | null {
  let low = 0;
  let high = models.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (models[mid]!.clock <= cutoff) low = mid + 1;
    else high = mid;
  }
  return low === 0 ? null : models[low - 1]!;
}

/**
 * The model a vector whose snapshots must have clocks at or before `cutoff`
 * (t − E) is scored by, from the snapshots held per model name (each sorted
 * by `compareModels`). A function of (cutoff, the set of snapshots) alone:
 * nothing here depends on the order they arrived in, so a replay and a real
 * time run choose alike.
 * - A pin wins: the pinned model's newest eligible snapshot.
 * - Otherwise the newest eligible round decides: the snapshots with the
 *   greatest clock at or before the cutoff (the learner publishes one per
 *   model per round, all naming the same champion); of those that name a
 *   champion, the one with the greatest (version, model name) is read, so even
 *   snapshots that disagree give one answer. The champion serves with its own
 *   newest eligible snapshot.
 * - No snapshot of that round names one (learners older than champions), or
 *   the one named has no usable snapshot here (refused, unsupervised, not yet
 *   published): the configured default serves.
 */
export function chooseServed(models: ReadonlyMap<string, readonly ActiveModel[]>, cutoff: number, policy: ServingPolicy): ServedChoice {
  if (policy.pin !== null) {
    const pinned = newestEligible(models.get(policy.pin) ?? [], cutoff);
    if (pinned === null) return { status: 'none', selection: 'pinned', reason: `no snapshot of the pinned ${policy.pin} learned only from labels at or before ${cutoff}` };
    return { status: 'model', served: { model: pinned, selection: 'pinned', reason: `pinned by FRAUD_MODEL_PIN=${policy.pin}` } };
  }
  let roundClock = -Infinity;
  const eligible: ActiveModel[] = [];
  for (const snapshots of models.values()) {
    const newest = newestEligible(snapshots, cutoff);
    if (newest === null) continue;
    eligible.push(newest);
    if (newest.clock > roundClock) roundClock = newest.clock;
  }
  let namer: ActiveModel | null = null;
  for (const model of eligible) {
    if (model.clock !== roundClock || model.snapshot.champion == null) continue;
    if (namer === null || model.snapshot.version > namer.snapshot.version || (model.snapshot.version === namer.snapshot.version && model.snapshot.model_name > namer.snapshot.model_name)) namer = model;
  }
  let fallback = `no snapshot of the round at ${roundClock} names a champion`;
  if (namer !== null) {
    const name = namer.snapshot.champion!;
    const champion = newestEligible(models.get(name) ?? [], cutoff);
    if (champion !== null) return { status: 'model', served: { model: champion, selection: 'champion', reason: namer.snapshot.champion_reason ?? `named by ${namer.snapshot.model_name} v${namer.snapshot.version}` } };
    fallback = `champion ${name} (named by ${namer.snapshot.model_name} v${namer.snapshot.version}) has no usable snapshot at or before ${cutoff}`;
  }
  const chosen = newestEligible(models.get(policy.defaultModel) ?? [], cutoff);
  if (chosen === null) return { status: 'none', selection: 'default', reason: eligible.length === 0 ? 'no model learned only from labels at or before ' + cutoff : `${fallback}, and the default ${policy.defaultModel} has none either` };
  return { status: 'model', served: { model: chosen, selection: 'default', reason: `${fallback}: the default ${policy.defaultModel} serves` } };
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
 * The snapshots fraud may still score with, per model name, by label clock
 * (issue 12 item 4, issue 14 item 4): every supervised model on model.updates
 * (the learner's champion may be any of them), and the configured default and
 * pin whatever they are. A vector at event time t is scored by the model
 * `chooseServed` gives for t − E, with that model's newest snapshot whose
 * clock is at or before t − E, so a replay scores each transaction with the
 * model it would have met in real time, never one that learned from its
 * future, whichever service runs ahead. A refused snapshot (other features,
 * unreadable) is not held, so the one before it stays in use. Re-reading the
 * compacted topic offers known versions again: ignored.
 *
 * What is kept: `prune(t)` drops, per model, every snapshot older than the
 * newest one a vector at t could use (the caller passes the oldest event time
 * still to score), which keeps the newest round at t too; `maxSnapshots`
 * bounds each model's list whatever the caller does. Without pruning the lists
 * are each model's top `maxSnapshots` by (clock, version), whatever the
 * arrival order.
 */
export class ModelSelection {
  /** Per model name, sorted by (clock, version). */
  private readonly models = new Map<string, ActiveModel[]>();
  private expectedFeatures: readonly string[] | null = null;

  constructor(
    readonly policy: ServingPolicy,
    private readonly createScorer: ScorerFactory,
    readonly options: ModelSelectionOptions,
  ) {
    if (!(options.delayMs >= 0) || !Number.isSafeInteger(options.maxSnapshots) || options.maxSnapshots < 1) {
      throw new RangeError(`model selection needs delayMs >= 0 and an integer maxSnapshots >= 1, got ${JSON.stringify(options)}`);
    }
  }

  /** The newest snapshot held of any model, by (clock, version) (for logs); null before any. */
  get newest(): ActiveModel | null {
    let newest: ActiveModel | null = null;
    for (const models of this.models.values()) {
      const last = models.at(-1);
      if (last !== undefined && (newest === null || compareModels(last, newest) > 0)) newest = last;
    }
    return newest;
  }

  /** Snapshots held, all models together. */
  get size(): number {
    let size = 0;
    for (const models of this.models.values()) size += models.length;
    return size;
  }

  /** The snapshots held of one model, oldest first. */
  snapshotsOf(modelName: string): readonly ActiveModel[] {
    return this.models.get(modelName) ?? [];
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
    for (const models of this.models.values()) {
      for (let i = models.length - 1; i >= 0; i--) {
        const refusal = this.featureRefusal(models[i]!.snapshot);
        if (refusal === null) continue;
        refusals.push(refusal);
        models.splice(i, 1);
      }
    }
    return refusals;
  }

  offer(snapshot: ModelSnapshot): OfferResult {
    const label = `${snapshot.model_name} v${snapshot.version}`;
    const models = this.models.get(snapshot.model_name) ?? [];
    if (models.some((model) => model.snapshot.version === snapshot.version)) {
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
    const named = snapshot.model_name === this.policy.defaultModel || snapshot.model_name === this.policy.pin;
    if (scorer.supervised === false && !named) {
      return { status: 'ignored-unsupervised', reason: `${label} is label-free (an anomaly score, never a champion) and neither FRAUD_MODEL_NAME nor FRAUD_MODEL_PIN` };
    }
    const model: ActiveModel = { snapshot, scorer, clock: labelClockOf(snapshot) };
    let at = models.length;
    while (at > 0 && compareModels(models[at - 1]!, model) > 0) at--;
    models.splice(at, 0, model);
    const evicted = Math.max(0, models.length - this.options.maxSnapshots);
    models.splice(0, evicted);
    if (models.length > 0) this.models.set(snapshot.model_name, models);
    return { status: 'accepted', newestVersion: models.at(-1)?.snapshot.version ?? snapshot.version, evicted };
  }

  /** What a vector at `eventTime` is scored by (`chooseServed` at eventTime − E). */
  choose(eventTime: number): ServedChoice {
    return chooseServed(this.models, eventTime - this.options.delayMs, this.policy);
  }

  /** No vector older than `oldestEventTime` remains to be scored: drop, per model, what none of the rest can use. Returns how many went. */
  prune(oldestEventTime: number): number {
    const cutoff = oldestEventTime - this.options.delayMs;
    let dropped = 0;
    for (const models of this.models.values()) {
      const keep = newestEligible(models, cutoff);
      if (keep === null) continue;
      const before = models.indexOf(keep);
      models.splice(0, before);
      dropped += before;
    }
    return dropped;
  }

  /**
   * Scores one vector with the model `choose` gives for its event time. No
   * score (rules alone) when there is none, when the vector's features are not
   * the model's (the feature set changed under it), or when the model fails or
   * yields a non-finite value.
   */
  score(eventTime: number, featureNames: readonly string[], values: readonly number[]): ScoreResult {
    const choice = this.choose(eventTime);
    if (choice.status === 'none') return { score: null, served: null, reason: this.size === 0 ? 'no model yet' : choice.reason };
    const { served } = choice;
    const mismatch = describeFeatureMismatch(served.model.snapshot.feature_names, featureNames);
    if (mismatch !== null) return { score: null, served, reason: `vector features are not the model's: ${mismatch}` };
    let score: number;
    try {
      score = served.model.scorer.predict(values);
    } catch (err) {
      return { score: null, served, reason: `model failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (!Number.isFinite(score)) return { score: null, served, reason: `model returned ${score}` };
    return { score, served };
  }

  private featureRefusal(snapshot: ModelSnapshot): OfferResult | null {
    if (this.expectedFeatures === null) return null;
    const mismatch = describeFeatureMismatch(this.expectedFeatures, snapshot.feature_names);
    if (mismatch === null) return null;
    return { status: 'refused-feature-mismatch', reason: `${snapshot.model_name} v${snapshot.version} has other features: ${mismatch}` };
  }
}
