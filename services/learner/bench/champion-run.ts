/**
 * The learner's supervised models trained together on the handbook stream as
 * the train stage trains them (issue 14, item 4), and what fraud would serve:
 * - every model learns every label, test-then-train, in the stream's order,
 *   through `OnlineLearner` with the learner's default options;
 * - snapshot rounds as `TrainStage` triggers them: every
 *   LEARNER_SNAPSHOT_EVERY_LABELS labels (label clock: that label's time) and
 *   at each LEARNER_SNAPSHOT_INTERVAL_MS boundary of event time passed with
 *   labels learned since the last round (label clock: the boundary);
 * - each transaction at t is scored by the newest round whose label clock is
 *   at or before t − FRAUD_MODEL_DELAY (30 s), as fraud picks its snapshot.
 * The run keeps each model's test-then-train scores, so the champion rule can
 * be replayed afterwards for any metric window, margin and minimum: the rule
 * only reads the rolling metrics at the rounds, and the served champion
 * score of a transaction is the score of the model the rule picked at the
 * round in force.
 */
import { restoreModel, type FeatureVector, type ModelMetrics, type OnlineModel } from '@sluice/shared';
import { decideChampion, type ChampionDecision, type ChampionRule } from '../src/champion-rule.js';
import { createSupervisedModel, type ModelDeclaration, type SupervisedModelSettings } from '../src/model-declarations.js';
import { OnlineLearner, type OnlineLearnerOptions } from '../src/online-learner.js';
import { averagePrecision, logLoss, rocAuc } from '../src/prequential-metrics.js';
import { DAY_MS, type HandbookStreamData } from './handbook-stream.js';

/** The simulator's label delay (`labelDelayMs`): a label's event time is its transaction's + 7 days. */
const LABEL_DELAY_MS = 7 * DAY_MS;
/** fraud's FRAUD_MODEL_DELAY_MS default: a vector at t is scored by a snapshot whose label clock is ≤ t − 30 s. */
export const SERVING_DELAY_MS = 30_000;

export interface RoundSchedule {
  everyLabels: number;
  intervalMs: number;
}

export interface ChampionRun {
  names: string[];
  /** Per model: each transaction's score by the snapshot fraud would use (0 before the first). */
  served: Float64Array[];
  /** Per transaction: index of the round whose snapshots scored it, −1 before the first. */
  roundOfTransaction: Int32Array;
  /** Per round: labels learned through it (the round's metrics cover the window ending there). */
  roundLabels: number[];
  /** Per model: test-then-train scores, in training order; `labels` the matching labels. */
  prequential: Float64Array[];
  labels: Uint8Array;
  /** Per model: CPU seconds in `OnlineLearner.observe`, and the largest snapshot state (JSON bytes). */
  trainSeconds: number[];
  maxSnapshotBytes: number[];
}

function vectorOf(stream: HandbookStreamData, i: number): FeatureVector {
  const d = stream.featureNames.length;
  return {
    transaction_id: String(i),
    customer_id: String(stream.customer[i]),
    terminal_id: '',
    event_time: stream.timeMs[i]!,
    amount: stream.features[i * d]!,
    feature_set_version: stream.featureSetVersion,
    feature_names: stream.featureNames,
    feature_values: Array.from(stream.features.subarray(i * d, (i + 1) * d)),
    ingested_at: 0,
  };
}

export function runChampionModels(
  stream: HandbookStreamData,
  declarations: readonly ModelDeclaration[],
  settings: SupervisedModelSettings,
  learnerOptions: Partial<OnlineLearnerOptions>,
  schedule: RoundSchedule,
): ChampionRun {
  const m = declarations.length;
  const learners = declarations.map((d) => OnlineLearner.create(createSupervisedModel(d, stream.featureNames, settings), stream.featureSetVersion, learnerOptions));
  let labelCount = 0;
  for (const e of stream.events) if (e < 0) labelCount++;
  const prequential = declarations.map(() => new Float64Array(labelCount));
  const labels = new Uint8Array(labelCount);
  const served = declarations.map(() => new Float64Array(stream.count));
  const roundOfTransaction = new Int32Array(stream.count).fill(-1);
  const roundLabels: number[] = [];
  const trainSeconds = declarations.map(() => 0);
  const maxSnapshotBytes = declarations.map(() => 0);
  const lastState: string[] = declarations.map(() => '');
  const copies: (OnlineModel | null)[] = declarations.map(() => null);
  /** Rounds published but not yet old enough for fraud to use: (label clock, each model's copy). */
  const pending: { clock: number; index: number; models: (OnlineModel | null)[] }[] = [];
  let current: { index: number; models: (OnlineModel | null)[] } = { index: -1, models: copies };
  let labelsLearned = 0;
  let labelsSinceRound = 0;
  let roundClock = -Infinity;
  let position = -Infinity;

  const publishRound = (clock: number) => {
    const models = learners.map((learner, k) => {
      const state = JSON.stringify(learner.model.toState());
      maxSnapshotBytes[k] = Math.max(maxSnapshotBytes[k]!, Buffer.byteLength(state));
      // A windowed model's state changes only when it refits: the same state restores the same scorer.
      if (state !== lastState[k]) copies[k] = restoreModel(learner.model.algorithm, JSON.parse(state));
      lastState[k] = state;
      return copies[k]!;
    });
    pending.push({ clock, index: roundLabels.length, models });
    roundLabels.push(labelsLearned);
    labelsSinceRound = 0;
    roundClock = clock;
  };
  const boundary = (time: number) => Math.floor(time / schedule.intervalMs) * schedule.intervalMs;
  const atBoundary = (b: number) => {
    if (labelsSinceRound > 0 && b > roundClock && b >= position) publishRound(b);
  };

  for (const e of stream.events) {
    if (e >= 0) {
      const t = stream.timeMs[e]!;
      while (pending.length > 0 && pending[0]!.clock <= t - SERVING_DELAY_MS) current = pending.shift()!;
      roundOfTransaction[e] = current.index;
      const x = Array.from(stream.features.subarray(e * stream.featureNames.length, (e + 1) * stream.featureNames.length));
      for (let k = 0; k < m; k++) {
        const model = current.models[k];
        served[k]![e] = model === null || model === undefined ? 0 : model.predict(x);
      }
      continue;
    }
    const i = ~e;
    const time = stream.timeMs[i]! + LABEL_DELAY_MS;
    atBoundary(boundary(time - 1));
    position = Math.max(position, time);
    const y = stream.fraud[i] === 1 ? 1 : 0;
    const vector = vectorOf(stream, i);
    for (let k = 0; k < m; k++) {
      const began = process.cpuUsage();
      const observation = learners[k]!.observe(vector, y);
      const used = process.cpuUsage(began);
      trainSeconds[k] = trainSeconds[k]! + (used.user + used.system) / 1e6;
      prequential[k]![labelsLearned] = observation.score;
    }
    labels[labelsLearned] = y;
    labelsLearned++;
    if (++labelsSinceRound >= schedule.everyLabels) publishRound(time);
  }
  return { names: declarations.map((d) => d.name), served, roundOfTransaction, roundLabels, prequential, labels, trainSeconds, maxSnapshotBytes };
}

/** Each model's rolling metrics at each round, over the `window` labels before it (as `PrequentialMetrics` computes them). */
export function roundMetrics(run: ChampionRun, window: number): ModelMetrics[][] {
  return run.roundLabels.map((through) => {
    const from = Math.max(0, through - window);
    const y = run.labels.subarray(from, through);
    let positives = 0;
    for (const v of y) positives += v;
    return run.prequential.map((scores) => {
      const s = scores.subarray(from, through);
      return {
        roc_auc: rocAuc(s, y),
        average_precision: averagePrecision(s, y),
        log_loss: logLoss(s, y),
        positives,
        negatives: y.length - positives,
        window_size: window,
      };
    });
  });
}

export interface ServedChampion {
  scores: Float64Array;
  decisions: ChampionDecision[];
  switches: number;
  /** Share of transactions scored by each model. */
  share: number[];
}

/** The champion rule replayed over the rounds, and each transaction's score by the champion of the round in force. */
export function servedChampion(run: ChampionRun, metrics: ModelMetrics[][], rule: ChampionRule): ServedChampion {
  let champion: string | null = null;
  const decisions = metrics.map((round, r) => {
    const decision = decideChampion(
      rule,
      champion,
      run.names.map((name, k) => ({ name, metrics: round[k]!, labels: run.roundLabels[r]! })),
    );
    champion = decision.champion;
    return decision;
  });
  const index = decisions.map((d) => run.names.indexOf(d.champion));
  const scores = new Float64Array(run.roundOfTransaction.length);
  const counts = run.names.map(() => 0);
  for (let i = 0; i < scores.length; i++) {
    const r = run.roundOfTransaction[i]!;
    // Before the first round no model exists: every model's served score is 0.
    const k = r < 0 ? 0 : index[r]!;
    counts[k]!++;
    scores[i] = run.served[k]![i]!;
  }
  return {
    scores,
    decisions,
    switches: decisions.filter((d, r) => d.kind === 'switch' && r > 0).length,
    share: counts.map((c) => c / scores.length),
  };
}
