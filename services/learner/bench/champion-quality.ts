/**
 * The served champion on the handbook stream (issue 14, item 4): the
 * learner's default models (LEARNER_MODELS) trained together, the snapshot
 * rounds, the champion rule and fraud's choice of snapshot as the services
 * run them with their default configuration (champion-run.ts). Prints each
 * model's served figures and the served champion's under the handbook
 * protocol, the rule's switches, training CPU per model and snapshot sizes.
 * Called by handbook-quality.ts (`npm run bench:quality`); standalone with
 * `sweep` it also replays the rule over a grid of metrics, margins, minimum
 * labels and metric windows (the evidence for the defaults), by default
 * over windows of 2,000, 5,000, 10,000 and 20,000 labels:
 *   node --conditions=sluice-source --import tsx services/learner/bench/champion-quality.ts [sweep [window,window…]]
 */
import { pathToFileURL } from 'node:url';
import { CHAMPION_METRICS, type ChampionRule } from '../src/champion-rule.js';
import { learnerConfigSchema } from '../src/config.js';
import { evaluateFold, indicesByDay, meanOfFolds, SECTION_5_3_TEST_FOLDS } from './handbook-protocol.js';
import { loadHandbookStream, type HandbookStreamData } from './handbook-stream.js';
import { roundMetrics, runChampionModels, SERVING_DELAY_MS, servedChampion, type ChampionRun } from './champion-run.js';

const f3 = (v: number | null): string => (v === null ? '  n/a' : v.toFixed(3));

function section53(stream: HandbookStreamData, byDay: Map<number, number[]>, scores: ArrayLike<number>): string {
  const m = meanOfFolds(SECTION_5_3_TEST_FOLDS.map((fold) => evaluateFold(stream, fold, scores, 100, byDay)));
  return `${f3(m.rocAuc)} / ${f3(m.averagePrecision)} / ${f3(m.cardPrecisionAtK)}`;
}

/** `sweepWindows`: metric windows to replay the rule's grid over (none: only the default rule). */
export function printChampionSection(stream: HandbookStreamData, byDay: Map<number, number[]>, sweepWindows: readonly number[] = []): void {
  const config = learnerConfigSchema.parse({});
  const rule: ChampionRule = { metric: config.LEARNER_CHAMPION_METRIC, margin: config.LEARNER_CHAMPION_MARGIN, minLabels: config.LEARNER_CHAMPION_MIN_LABELS };
  const drift = config.LEARNER_DRIFT_DETECTOR === 'none' ? null : { kind: config.LEARNER_DRIFT_DETECTOR };
  const run: ChampionRun = runChampionModels(
    stream,
    config.LEARNER_MODELS,
    { learningRate: config.LEARNER_LEARNING_RATE, l2: config.LEARNER_L2 },
    { metricsWindow: config.LEARNER_METRICS_WINDOW, drift, driftReaction: config.LEARNER_DRIFT_REACTION, shrinkKeep: config.LEARNER_DRIFT_SHRINK_KEEP },
    { everyLabels: config.LEARNER_SNAPSHOT_EVERY_LABELS, intervalMs: config.LEARNER_SNAPSHOT_INTERVAL_MS },
  );
  const labels = run.labels.length;
  console.log(
    `\nlearner defaults, models trained together (LEARNER_MODELS=${config.LEARNER_MODELS.map((d) => `${d.name}:${d.algorithm}`).join(',')}), ` +
      `${run.roundLabels.length} snapshot rounds (every ${config.LEARNER_SNAPSHOT_EVERY_LABELS} labels or ${config.LEARNER_SNAPSHOT_INTERVAL_MS / 3_600_000} h of event time), ` +
      `each transaction scored by the round with label clock ≤ t − ${SERVING_DELAY_MS / 1000} s:`,
  );
  console.log(`${'model'.padEnd(46)} | §5.3 mean AUC / AP / CP@100 | train labels/s (CPU, observe) | largest snapshot state`);
  run.names.forEach((name, k) => {
    console.log(
      `${name.padEnd(46)} | ${section53(stream, byDay, run.served[k]!).padEnd(27)} | ${Math.round(labels / run.trainSeconds[k]!).toLocaleString('en-US').padStart(29)} | ${(run.maxSnapshotBytes[k]! / 1024).toFixed(0)} KiB`,
    );
  });
  const metrics = roundMetrics(run, config.LEARNER_METRICS_WINDOW);
  const champion = servedChampion(run, metrics, rule);
  const share = run.names.map((name, k) => `${name} ${(100 * champion.share[k]!).toFixed(1)}%`).join(', ');
  const ruleText = `${rule.metric} over ${config.LEARNER_METRICS_WINDOW} labels, margin ${rule.margin}, min ${rule.minLabels} labels`;
  console.log(`${'served champion'.padEnd(46)} | ${section53(stream, byDay, champion.scores).padEnd(27)} | rule: ${ruleText}; ${champion.switches} switches; transactions scored: ${share}`);
  const changes = champion.decisions.map((d, r) => ({ d, r })).filter(({ d }) => d.kind === 'switch');
  for (const { d, r } of changes.slice(0, 12)) console.log(`  round ${r} (${run.roundLabels[r]!.toLocaleString('en-US')} labels): ${d.champion} — ${d.reason}`);
  if (changes.length > 12) console.log(`  … ${changes.length - 12} more switches`);
  if (sweepWindows.length === 0) return;

  console.log('\nchampion rule sweep (served champion, §5.3 mean AUC / AP / CP@100; switches):');
  for (const window of sweepWindows) {
    const windowMetrics = roundMetrics(run, window);
    for (const metric of CHAMPION_METRICS) {
      for (const margin of [0, 0.01, 0.02, 0.05]) {
        const cells = [0, 10_000, 50_000, 100_000].map((minLabels) => {
          const served = servedChampion(run, windowMetrics, { metric, margin: metric === 'log_loss' ? margin / 10 : margin, minLabels });
          return `${section53(stream, byDay, served.scores)} ${String(served.switches).padStart(3)}`;
        });
        console.log(`window ${String(window).padStart(6)} ${metric.padEnd(17)} margin ${metric === 'log_loss' ? margin / 10 : margin} | min 0, 10k, 50k, 100k: ${cells.join(' | ')}`);
      }
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const stream = loadHandbookStream({ days: 183, customers: 5_000, terminals: 10_000, seed: 0 }, console.log);
  const windows = (process.argv[3] ?? '2000,5000,10000,20000').split(',').map(Number);
  printChampionSection(stream, indicesByDay(stream.day), process.argv[2] === 'sweep' ? windows : []);
}
