/**
 * The four services under a real Prometheus: a short simulated stream goes in
 * through the CLI, Prometheus scrapes every second with deploy/prometheus's
 * rules loaded, and PromQL has to tell what happened, checked against what
 * the test produced and what came out on Kafka.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '@sluice/shared';
import { consumeAll, createPipelineTopics, produce, serviceEnv, testKafka, testSerde, uniquePrefix } from '../support/kafka.js';
import { familiesInExposition, metricCatalogue } from '../support/metric-catalogue.js';
import { checkMetrics, ensurePrometheus, RULES_DIR, startPrometheus, type MetricsProblem, type RunningPrometheus, type Sample } from '../support/prometheus.js';
import { withoutGrafanaVariables } from '../support/promql.js';
import { scrape, startService, stopAllServices, waitUntilReady, type RunningService, type ServiceName } from '../support/services.js';

const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url));
const SERVICES: ServiceName[] = ['ingest', 'features', 'learner', 'fraud'];
/** prom-client's fraud end-to-end buckets (services/fraud/src/fraud-metrics.ts). */
const END_TO_END_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * promtool findings in services code that are known and reported (a service
 * engineer's fix, see deploy/README.md): prom-client's default metrics include
 * three gauges named with _total. Anything else fails the test.
 */
const KNOWN_METRIC_PROBLEMS: MetricsProblem[] = [];

/** Which consumer groups read each topic of the pipeline (one count per group in sluice_messages_consumed_total). */
const READERS: Record<string, ServiceName[]> = {
  'transactions.valid': ['features'],
  'labels.valid': ['features', 'learner'],
  'transactions.by-terminal': ['features'],
  'transactions.features': ['learner', 'fraud'],
  'learner.examples': ['learner'],
};

/**
 * Dashboard queries that may return no series in this short run, and why.
 * Every other query of the dashboard must return data.
 */
const MAY_BE_EMPTY: Record<string, string> = {
  'sum by (model) (increase(sluice_learner_drift_detections_total[5m]))': 'no drift detected in a few simulated days (a labelled counter has no series before its first increment)',
  'ALERTS{alertname=~"Sluice.*"}': 'nothing pending or firing in a healthy run (checked below once a service is killed)',
};

let prometheus: RunningPrometheus | null = null;
afterAll(async () => {
  await stopAllServices();
  await prometheus?.stop();
});

function byLabel(samples: Sample[], label: string): Record<string, number> {
  return Object.fromEntries(samples.map((sample) => [sample.metric[label] ?? '', sample.value]));
}

/** Prometheus's histogram_quantile on cumulative bucket counts (linear inside the bucket; +Inf gives the last finite bound). */
function histogramQuantile(q: number, buckets: [number, number][]): number {
  const total = buckets[buckets.length - 1]![1];
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Infinity) return lower;
      return lower + (bound - lower) * ((rank - below) / (count - below));
    }
    lower = bound;
    below = count;
  }
  return NaN;
}

/** Ready, or a failure as soon as the process exits (with its last log lines) instead of at the timeout. */
function readyOrExited(service: RunningService): Promise<void> {
  return Promise.race([
    waitUntilReady(service, 120_000),
    new Promise<void>((_, reject) =>
      service.child.once('exit', (code, signal) => reject(new Error(`${service.name} exited (${code ?? signal}) before it was ready: ${JSON.stringify(service.logs.slice(-3))}`))),
    ),
  ]);
}

function runSimulator(prefix: string, args: string[]): Promise<{ transactions: number; labels: number; frauds: number }> {
  const main = join(REPOSITORY, 'tools/cli/src/main.ts');
  const child = spawn(process.execPath, ['--conditions=sluice-source', '--import', 'tsx', main, 'simulate', '--no-progress', ...args], {
    env: serviceEnv(prefix, { LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const summary = /(\d+) events \((\d+) transactions, (\d+) frauds, (\d+) labels\)/.exec(stderr);
      if (code !== 0 || !summary) reject(new Error(`simulate exited with ${code}: ${stderr}`));
      else resolve({ transactions: Number(summary[2]), frauds: Number(summary[3]), labels: Number(summary[4]) });
    });
  });
}

function dashboardExpressions(): string[] {
  const directory = join(REPOSITORY, 'deploy/grafana/dashboards');
  const expressions: string[] = [];
  const walk = (panels: { targets?: { expr?: string }[]; panels?: unknown[] }[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) if (target.expr) expressions.push(target.expr);
      walk((panel.panels ?? []) as typeof panels);
    }
  };
  for (const file of readdirSync(directory).filter((name) => name.endsWith('.json'))) walk(JSON.parse(readFileSync(join(directory, file), 'utf8')).panels);
  return expressions;
}

describe('monitoring with a real Prometheus', () => {
  it('PromQL over the scraped services and the recording rules tells what happened to a simulated stream', async () => {
    ensurePrometheus();
    const kafka = testKafka();
    const prefix = uniquePrefix('monitoring');
    const topic = (name: string) => `${prefix}${name}`;
    await createPipelineTopics(kafka, prefix, 3);

    // Every transaction alerts (a rule that always fires, no cool-down), so fraud.alerts carries
    // the exact latency of every observation in the end-to-end histogram.
    const env = {
      TOPIC_PARTITIONS: '3',
      INGEST_HTTP_PORT: '0',
      LEARNER_SNAPSHOT_EVERY_LABELS: '200',
      LEARNER_SNAPSHOT_INTERVAL_MS: '2000',
      FRAUD_COOLDOWN_MS: '0',
      FRAUD_RULES_JSON: JSON.stringify([{ name: 'any-amount', severity: 'high', description: 'every transaction (test)', condition: { field: 'amount', op: '>=', value: 0 } }]),
    };
    const services = new Map<ServiceName, RunningService>(SERVICES.map((name) => [name, startService(name, prefix, env)]));
    await Promise.all([...services.values()].map((service) => readyOrExited(service)));
    const ports = await Promise.all(SERVICES.map(async (service) => ({ service, port: await services.get(service)!.metricsPort() })));

    // Each service's names as exposed, checked by promtool, before any traffic.
    const catalogue = new Map((await metricCatalogue()).map((family) => [family.name, family]));
    const problems: (MetricsProblem & { service: string })[] = [];
    const checkScrapes = async () => {
      const exposed = new Map<string, string>();
      for (const [name, service] of services) {
        const text = await scrape(service);
        for (const problem of checkMetrics(text)) problems.push({ service: name, ...problem });
        for (const [family, type] of familiesInExposition(text)) exposed.set(family, type);
      }
      return exposed;
    };
    const exposedAtStart = await checkScrapes();

    prometheus = await startPrometheus({ targets: ports, ruleFiles: [join(RULES_DIR, '*.yml')], scrapeIntervalSeconds: 1 });
    const prom = prometheus;
    await prom.waitFor('sum(up{job="sluice"})', (samples) => samples[0]?.value === 4, 30_000);

    // The stream: a few bad records, then 15 simulated days through the CLI (labels 7 days late).
    const started = Date.now();
    await produce(kafka, topic('transactions.raw'), [
      ...Array.from({ length: 4 }, (_, i) => ({ key: `bad-${i}`, value: `{"transaction_id": "bad-${i}", ` })),
      ...Array.from({ length: 3 }, (_, i) => ({
        key: `neg-${i}`,
        value: JSON.stringify({ transaction_id: `neg-${i}`, customer_id: 'C-neg', terminal_id: 'T-neg', amount: -1, timestamp: '2018-04-01T00:00:00Z' }),
      })),
    ]);
    await produce(kafka, topic('labels.raw'), [{ key: 'x', value: '[]' }, { key: 'y', value: '42' }]);
    const bad = { transactions: 7, labels: 2 };
    const stream = await runSimulator(prefix, ['--customers', '100', '--terminals', '200', '--days', '15', '--seed', '11', '--id-prefix', prefix]);
    const elapsedBound = () => (Date.now() - started) / 1000;
    expect(stream.transactions).toBeGreaterThan(1000);
    expect(stream.labels).toBeGreaterThan(500);

    // Wait until fraud has scored every transaction and the learner has published a model fraud took.
    await prom.waitFor('sum(sluice_fraud_end_to_end_latency_seconds_count)', (samples) => (samples[0]?.value ?? 0) >= stream.transactions, 120_000);
    await prom.waitFor('min(sluice_fraud_model_version)', (samples) => (samples[0]?.value ?? 0) > 0, 60_000);
    // Counters the processing code bumps (dead letters, fraud's scores, alerts and latency) count a batch
    // again when its transaction aborts and it is retried; the loop's own counters count commits only.
    // Without an abort in this run, both must match what happened exactly.
    const aborted = (await prom.query('sum(sluice_kafka_transactions_total{outcome="aborted"}) or vector(0)'))[0]!.value;
    const exact = aborted === 0;
    if (!exact) console.warn(`${aborted} aborted transaction(s) in this run: counts made while processing are checked as lower bounds`);
    const expectCount = (actual: number | undefined, expected: number, what: string) => {
      if (exact) expect(actual, what).toBe(expected);
      else expect(actual, what).toBeGreaterThanOrEqual(expected);
    };

    // Events in, per topic: ingest read exactly what was produced, and every topic inside the
    // pipeline was read once per consumer group for each message committed to it.
    const consumed = await prom.waitFor(
      'sum by (topic) (sluice_messages_consumed_total{service="ingest"})',
      (samples) => byLabel(samples, 'topic')[topic('labels.raw')] === stream.labels + bad.labels && byLabel(samples, 'topic')[topic('transactions.raw')] === stream.transactions + bad.transactions,
      60_000,
    );
    expect(byLabel(consumed, 'topic')).toEqual({ [topic('transactions.raw')]: stream.transactions + bad.transactions, [topic('labels.raw')]: stream.labels + bad.labels });
    const pipelineBalanced = async () => {
      const produced = byLabel(await prom.query('sum by (topic) (sluice_messages_produced_total)'), 'topic');
      const read = byLabel(await prom.query('sum by (topic) (sluice_messages_consumed_total)'), 'topic');
      return Object.entries(READERS).map(([name, readers]) => ({ topic: name, produced: produced[topic(name)], readers: readers.length, consumed: read[topic(name)] }));
    };
    const deadline = Date.now() + 60_000;
    let balance = await pipelineBalanced();
    while (balance.some((row) => row.consumed !== row.produced! * row.readers) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      balance = await pipelineBalanced();
    }
    for (const row of balance) {
      expect(row.produced, `${row.topic}: messages committed`).toBeGreaterThan(0);
      expect(row.consumed, `${row.topic}: read by ${row.readers} group(s)`).toBe(row.produced! * row.readers);
    }
    expect(byLabel(await prom.query('sum by (topic) (sluice_messages_produced_total{service="ingest"})'), 'topic')[topic('transactions.valid')]).toBe(stream.transactions);
    expect((await prom.query('sum(sluice_messages_consumed_total{service="fraud"})'))[0]?.value).toBe(stream.transactions);

    // Dead letters by code: exactly the bad records produced, and in the recording rule.
    const letters = byLabel(await prom.query('sum by (code) (sluice_dead_letters_total)'), 'code');
    expect(Object.keys(letters).sort()).toEqual(['MALFORMED_JSON', 'NOT_AN_OBJECT', 'OUT_OF_RANGE']);
    for (const [code, count] of Object.entries({ MALFORMED_JSON: 4, OUT_OF_RANGE: 3, NOT_AN_OBJECT: 2 })) expectCount(letters[code], count, `dead letters ${code}`);
    const letterRates = await prom.waitFor('service_topic_code:sluice_dead_letters:rate5m', (samples) => samples.length === 3);
    expect(new Set(letterRates.map((sample) => `${sample.metric.service} ${sample.metric.code}`))).toEqual(new Set(['ingest MALFORMED_JSON', 'ingest OUT_OF_RANGE', 'ingest NOT_AN_OBJECT']));

    // Alerts counted: as many as fraud.alerts holds, all of them decided "alert".
    const alertMessages = await consumeAll(kafka, topic('fraud.alerts'), { count: stream.transactions, settleMs: 2000, timeoutMs: 60_000 });
    expect(alertMessages).toHaveLength(stream.transactions);
    expectCount((await prom.query('sum(sluice_fraud_alerts_total)'))[0]?.value, alertMessages.length, 'sluice_fraud_alerts_total');
    const decisions = byLabel(await prom.query('sum by (decision) (sluice_fraud_scores_total)'), 'decision');
    expect(Object.keys(decisions)).toEqual(['alert']);
    expectCount(decisions.alert, stream.transactions, 'sluice_fraud_scores_total{decision="alert"}');
    expect((await prom.query('sum(reason:sluice_fraud_alerts:rate1m)'))[0]?.value).toBeGreaterThan(0);

    // End-to-end latency: Prometheus's buckets hold exactly the alerts' own latencies, and its
    // quantiles are those of that distribution.
    const serde = testSerde();
    const latencies = await Promise.all(alertMessages.map(async (message) => {
      const alert = (await serde.decode(message.value)) as Alert;
      return Math.max(0, Number(alert.alerted_at) - Number(alert.ingested_at)) / 1000;
    }));
    const bucketSamples = await prom.query('sum by (le) (sluice_fraud_end_to_end_latency_seconds_bucket)');
    const promBuckets = bucketSamples.map((sample) => [sample.metric.le === '+Inf' ? Infinity : Number(sample.metric.le), sample.value] as [number, number]).sort((a, b) => a[0] - b[0]);
    const expectedBuckets = [...END_TO_END_BUCKETS, Infinity].map((bound) => [bound, latencies.filter((latency) => latency <= bound).length] as [number, number]);
    if (exact) expect(promBuckets).toEqual(expectedBuckets);
    const quantiles: Record<string, number> = {};
    for (const q of [0.5, 0.95, 0.99]) {
      const [sample] = await prom.query(`histogram_quantile(${q}, sum by (le) (sluice_fraud_end_to_end_latency_seconds_bucket))`);
      quantiles[q] = sample!.value;
      expect(sample!.value).toBeCloseTo(histogramQuantile(q, exact ? expectedBuckets : promBuckets), 9);
    }
    expect(quantiles[0.5]).toBeGreaterThan(0);
    expect(quantiles[0.5]).toBeLessThanOrEqual(quantiles[0.95]!);
    expect(quantiles[0.95]).toBeLessThanOrEqual(quantiles[0.99]!);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(elapsedBound());
    // The recording rules, over 5 minutes that hold the whole run, agree with the raw buckets.
    for (const [q, name] of [[0.5, 'p50_5m'], [0.95, 'p95_5m'], [0.99, 'p99_5m']] as const) {
      const [recorded] = await prom.waitFor(`sluice:fraud_end_to_end_latency_seconds:${name}`, (samples) => samples.length === 1 && Number.isFinite(samples[0]!.value));
      expect(recorded!.value).toBeCloseTo(quantiles[q]!, 6);
    }

    // Consumer lag: every stage reports it for every input topic, and the recording rule sums it.
    const lag = await prom.query('count by (service, topic) (sluice_consumer_lag_messages)');
    const lagPairs = new Set(lag.map((sample) => `${sample.metric.service} ${sample.metric.topic!.slice(prefix.length)}`));
    for (const [name, readers] of Object.entries({ 'transactions.raw': ['ingest'], 'labels.raw': ['ingest'], ...READERS })) {
      for (const reader of readers) expect(lagPairs, `lag of ${reader} on ${name}`).toContain(`${reader} ${name}`);
    }
    const lagSums = byLabel(await prom.query('service_topic:sluice_consumer_lag_messages:sum'), 'topic');
    const lagRaw = byLabel(await prom.query('sum by (topic) (max by (service, topic, partition) (sluice_consumer_lag_messages))'), 'topic');
    expect(Object.keys(lagSums).sort()).toEqual(Object.keys(lagRaw).sort());
    for (const value of Object.values(lagSums)) expect(value).toBeGreaterThanOrEqual(0);

    // The model: published by the learner, taken by fraud, with a rolling AUC.
    const learnerVersions = byLabel(await prom.query('model:sluice_learner_model_version:max'), 'model');
    const fraudVersion = (await prom.query('max(sluice_fraud_model_version)'))[0]!.value;
    expect(learnerVersions['fraud-lr']).toBeGreaterThan(0);
    expect(fraudVersion).toBeGreaterThan(0);
    expect(fraudVersion).toBeLessThanOrEqual(learnerVersions['fraud-lr']!);
    const auc = await prom.waitFor('sluice_learner_roc_auc{model="fraud-lr"}', (samples) => samples.length === 1);
    expect(auc[0]!.value).toBeGreaterThanOrEqual(0);
    expect(auc[0]!.value).toBeLessThanOrEqual(1);
    const snapshotAge = await prom.query('model:sluice_learner_last_snapshot_age_seconds:min{model="fraud-lr"}');
    expect(snapshotAge[0]!.value).toBeLessThan(elapsedBound() + 5);

    // Every rule loads and evaluates; every recording rule has data from this run; no alert fires.
    const rules = await prom.rules();
    expect(rules.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.lastError}`)).toEqual([]);
    const recording = rules.filter((rule) => rule.type === 'recording');
    expect(recording.length).toBeGreaterThan(10);
    const emptyRecordings: string[] = [];
    for (const rule of recording) if ((await prom.query(rule.name)).length === 0) emptyRecordings.push(rule.name);
    expect(emptyRecordings).toEqual([]);
    expect(rules.filter((rule) => rule.type === 'alerting').map((rule) => rule.name).sort()).toEqual(
      ['SluiceConsumerLagGrowing', 'SluiceDeadLetterRateHigh', 'SluiceEndToEndLatencyHigh', 'SluiceFraudModelRefused', 'SluiceFraudModelStale', 'SluiceLearnerSnapshotStale', 'SluiceProcessingFailures', 'SluiceServiceDown', 'SluiceStageStalled', 'SluiceTransactionsAborting'],
    );
    expect((await prom.alerts()).filter((alert) => alert.state === 'firing').map((alert) => alert.labels.alertname)).toEqual([]);

    // Every query of the Grafana dashboard runs, and returns data unless listed with a reason.
    const emptyPanels: string[] = [];
    for (const expr of dashboardExpressions()) {
      const samples = await prom.query(withoutGrafanaVariables(expr));
      if (samples.length === 0 && !(withoutGrafanaVariables(expr) in MAY_BE_EMPTY)) emptyPanels.push(expr);
    }
    expect(emptyPanels).toEqual([]);

    // Names after traffic: promtool finds nothing beyond the known problems, and the static
    // catalogue the deploy tests use is exactly what the services expose.
    const exposed = await checkScrapes();
    for (const [name, type] of exposedAtStart) exposed.set(name, type);
    expect([...exposed.keys()].sort()).toEqual([...catalogue.keys()].sort());
    for (const [name, type] of exposed) expect(`${name} ${type}`).toBe(`${name} ${catalogue.get(name)!.type}`);
    const unexpected = problems.filter((problem) => !KNOWN_METRIC_PROBLEMS.some((known) => known.metric === problem.metric && known.problem === problem.problem));
    expect(unexpected).toEqual([]);
    const stillKnown = KNOWN_METRIC_PROBLEMS.filter((known) => problems.some((problem) => problem.metric === known.metric));
    if (stillKnown.length > 0) console.warn(`known metric-name problems (services code, see deploy/README.md): ${stillKnown.map((known) => known.metric).join(', ')}`);
    // Conventions promtool does not check: the prefix, base units, bounded label values.
    for (const name of exposed.keys()) {
      expect(name).toMatch(/^sluice_[a-z0-9_]+$/);
      expect(name).not.toMatch(/_(ms|milliseconds|microseconds|minutes|hours|kilobytes|megabytes|percent)(_|$)/);
    }
    const cardinality = await prom.query('max by (__name__) (count by (__name__, service, instance) ({job="sluice", __name__=~"sluice_.+", le=""}))');
    const wide = cardinality.filter((sample) => sample.value > 40).map((sample) => `${sample.metric.__name__}: ${sample.value} series`);
    expect(wide, 'series per metric and instance (100 customers, 200 terminals: nothing may grow with them)').toEqual([]);

    // A service going away: up drops to 0 and SluiceServiceDown becomes pending.
    await services.get('learner')!.kill('SIGKILL');
    await prom.waitFor('up{job="sluice", service="learner"}', (samples) => samples[0]?.value === 0, 20_000);
    const pending = await prom.waitFor('ALERTS{alertname=~"Sluice.*"}', (samples) => samples.some((sample) => sample.metric.alertname === 'SluiceServiceDown'), 20_000);
    // Only the killed service is down; other alerts may be pending on a loaded machine (lag, latency) and are not judged here.
    const down = pending.filter((sample) => sample.metric.alertname === 'SluiceServiceDown').map((sample) => sample.metric.service);
    expect(down).toEqual(['learner']);
    expect(pending.every((sample) => sample.metric.alertstate === 'pending')).toBe(true);
  });
});
