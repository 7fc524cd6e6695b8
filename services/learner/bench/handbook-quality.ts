/**
 * Model quality on the Fraud Detection Handbook stream, in process: prints
 * figures, asserts nothing. The simulator (tools/cli), the handbook feature
 * engine (services/features) and the learner's test-then-train loop, wired as
 * the pipeline wires them: a transaction's vector is computed when it happens;
 * its label arrives 7 days later (event time), goes into its terminal's risk
 * window, and the vector is scored by the current model, recorded for the
 * metrics, then learned.
 * Logistic regression runs once per drift reaction. Each also scores every
 * transaction when it happens with its latest 500-label snapshot, as the
 * fraud service does, to count the alerts a 0.9 threshold would raise.
 *   node --conditions=sluice-source --import tsx services/learner/bench/handbook-quality.ts [days] [customers] [terminals]
 */
import { createModel, restoreModel, type FeatureVector, type OnlineModel } from '@sluice/shared';
import { Simulation } from '../../../tools/cli/src/simulator/index.js';
import { EntityStore } from '../../features/src/entity-store.js';
import { handbookFeatureSpec } from '../../features/src/handbook.js';
import { compileSpec } from '../../features/src/plan.js';
import { assembleVector, eventFeatures } from '../../features/src/vector.js';
import { DRIFT_REACTIONS, OnlineLearner } from '../src/online-learner.js';
import { PrequentialMetrics } from '../src/prequential-metrics.js';

const DAYS = Number(process.argv[2] ?? 183);
const CUSTOMERS = Number(process.argv[3] ?? 5_000);
const TERMINALS = Number(process.argv[4] ?? CUSTOMERS * 2);
const DAY = 86_400_000;
const THRESHOLD = 0.9;
const SNAPSHOT_EVERY_LABELS = 500;

const plan = compileSpec(handbookFeatureSpec());
const customers = new EntityStore(plan.entities.get('customer_id')!);
const terminals = new EntityStore(plan.entities.get('terminal_id')!);
const HST = 'half-space trees (no labels used)';
const models: Record<string, OnlineLearner> = {
  ...Object.fromEntries(
    DRIFT_REACTIONS.map((driftReaction) => [
      `logistic regression, drift reaction ${driftReaction}`,
      OnlineLearner.create(createModel('logistic_regression', plan.names), plan.version, { metricsWindow: 20_000, driftReaction }),
    ]),
  ),
  [HST]: OnlineLearner.create(createModel('half_space_trees', plan.names), plan.version, { metricsWindow: 20_000, drift: null }),
};
const supervised = Object.keys(models).filter((name) => name !== HST);
/** Per logistic regression: its latest snapshot, and what scoring each transaction with it at the threshold gives. */
const serving = new Map(supervised.map((name) => [name, { snapshot: null as OnlineModel | null, labelsSince: 0, drifts: 0, alerts: 0, alertsOnFraud: 0, frauds: 0 }]));
/** Per 30-day period, per model: every label's score, for exact AUC / AP of that period. */
let period = new Map(Object.keys(models).map((name) => [name, new PrequentialMetrics(1_000_000)]));
const pending = new Map<string, FeatureVector>();
const simulation = new Simulation({ nbDays: DAYS, nCustomers: CUSTOMERS, nTerminals: TERMINALS });
const start = Date.UTC(2018, 3, 1);
let periodEnd = start + 30 * DAY;
let transactions = 0;
let labels = 0;
const began = performance.now();

function report(label: string): void {
  const parts = [...period].map(([name, metrics]) => {
    const m = metrics.compute();
    return `${name}: AUC ${m.roc_auc?.toFixed(3) ?? 'n/a'}, AP ${m.average_precision?.toFixed(3) ?? 'n/a'}`;
  });
  console.log(`${label} (${period.values().next().value!.compute().positives} frauds labelled): ${parts.join('; ')}`);
}

for (const event of simulation.events()) {
  while (event.at >= periodEnd) {
    report(`labels of days ${(periodEnd - 30 * DAY - start) / DAY}–${(periodEnd - start) / DAY}`);
    period = new Map(Object.keys(models).map((name) => [name, new PrequentialMetrics(1_000_000)]));
    periodEnd += 30 * DAY;
  }
  if (event.kind === 'transaction') {
    const tx = { ...event.payload, event_time: event.payload.timestamp };
    const values = assembleVector(plan, eventFeatures(plan, tx), { customer_id: customers.update(tx).values, terminal_id: terminals.update(tx).values });
    const vector: FeatureVector = { ...tx, feature_set_version: plan.version, feature_names: plan.names, feature_values: values, ingested_at: 0 };
    pending.set(tx.transaction_id, vector);
    models[HST]!.observeUnlabelled(vector);
    for (const served of serving.values()) {
      if (served.snapshot === null) continue;
      const alert = served.snapshot.predict(values) >= THRESHOLD;
      if (event.truth.is_fraud) served.frauds++;
      if (alert) served.alerts++;
      if (alert && event.truth.is_fraud) served.alertsOnFraud++;
    }
    transactions++;
    continue;
  }
  const label = event.payload;
  terminals.applyLabel({ terminal_id: label.terminal_id, tx_event_time: label.tx_timestamp, is_fraud: label.is_fraud });
  const vector = pending.get(label.transaction_id);
  if (vector === undefined) continue;
  pending.delete(label.transaction_id);
  labels++;
  const y = label.is_fraud ? 1 : 0;
  for (const [name, learner] of Object.entries(models)) {
    const served = serving.get(name);
    if (served === undefined) {
      period.get(name)!.record(learner.model.predict(vector.feature_values), y);
      continue;
    }
    const observation = learner.observe(vector, y);
    period.get(name)!.record(observation.score, y);
    if (observation.drift) served.drifts++;
    if (++served.labelsSince >= SNAPSHOT_EVERY_LABELS) {
      served.labelsSince = 0;
      // A copy of the model as it stands, as a published snapshot carries it (without the snapshot's metrics, not used here).
      served.snapshot = restoreModel(learner.model.algorithm, structuredClone(learner.model.toState()));
    }
  }
}
report(`labels from day ${(periodEnd - 30 * DAY - start) / DAY} to the end (transactions up to day ${DAYS}, labels 7 days later)`);
for (const [name, served] of serving) {
  const precision = served.alerts === 0 ? 'n/a' : `${((100 * served.alertsOnFraud) / served.alerts).toFixed(1)}%`;
  console.log(
    `${name}: ${served.drifts} drifts; scoring each transaction with its latest snapshot at ${THRESHOLD}: ` +
      `${served.alerts} alerts, precision ${precision}, recall ${((100 * served.alertsOnFraud) / Math.max(1, served.frauds)).toFixed(1)}%`,
  );
}
const seconds = (performance.now() - began) / 1000;
console.log(
  `${transactions.toLocaleString('en-US')} transactions, ${labels.toLocaleString('en-US')} labels (${DAYS} days, ${CUSTOMERS} customers) ` +
    `through simulator + features + test-then-train in ${seconds.toFixed(0)} s = ${Math.round((transactions + labels) / seconds).toLocaleString('en-US')} events/s on one core`,
);
