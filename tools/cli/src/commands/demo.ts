import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isWatermarkRecord, type Alert, type ModelSnapshot } from '@sluice/shared';
import { formatAlert } from '../alert-format.js';
import { connect, type Connection } from '../connection.js';
import { KafkaEventSink, RateLimiter } from '../event-sink.js';
import { Simulation } from '../simulator/index.js';
import { simulatorOptions, type SimulateOptions } from './simulate.js';

export interface DemoOptions extends Omit<SimulateOptions, 'out' | 'progress'> {
  alerts: number;
  keepRunning?: boolean;
}

const SERVICES = [
  { name: 'ingest', port: 9401 },
  { name: 'features', port: 9402 },
  { name: 'learner', port: 9403 },
  { name: 'fraud', port: 9404 },
] as const;

const DRAIN_DEADLINE_MS = 600_000;

interface DemoState {
  produced: number;
  transactions: number;
  frauds: number;
  scored: number;
  alerts: number;
  alertsOnFraud: number;
  fraudsAlerted: Set<string>;
  latenciesMs: number[];
  model: ModelSnapshot | null;
}

/**
 * The whole pipeline on one machine: the four services as child processes, a
 * simulated population streamed into transactions.raw and labels.raw, alerts
 * printed as they arrive, a running summary, and a report at the end.
 */
export async function demoCommand(options: DemoOptions): Promise<void> {
  const connection = connect();
  // A run of its own: fresh topics and consumer groups, so that a second demo starts from zero.
  const runId = randomUUID().slice(0, 6);
  const prefix = `${connection.config.SLUICE_TOPIC_PREFIX}demo-${runId}.`;
  process.env.SLUICE_TOPIC_PREFIX = prefix;
  const demo = connect();
  say(`demo run ${runId}: topics prefixed "${prefix}"; starting ingest, features, learner, fraud…`);
  const children = SERVICES.map((service) => startService(service.name, service.port, prefix));
  const stopServices = async () => {
    await Promise.all(children.map((child) => stopChild(child)));
  };
  process.once('SIGINT', () => void stopServices().then(() => process.exit(130)));
  try {
    for (const service of SERVICES) await waitReady(service.name, service.port, children);
    say('all four services ready; streaming the simulated population (Ctrl-C stops)');
    const state: DemoState = { produced: 0, transactions: 0, frauds: 0, scored: 0, alerts: 0, alertsOnFraud: 0, fraudsAlerted: new Set(), latenciesMs: [], model: null };
    const truth = new Map<string, boolean>();
    const followers = await follow(demo, state, truth, options.alerts);
    const started = performance.now();
    const ticker = setInterval(() => summary(state, started), 3_000);

    const sink = await new KafkaEventSink(demo, 200).open();
    const limiter = new RateLimiter(options.rate);
    for (const event of new Simulation(simulatorOptions(options)).events()) {
      if (event.kind === 'transaction') {
        state.transactions += 1;
        truth.set(event.payload.transaction_id, event.truth.is_fraud);
        if (event.truth.is_fraud) state.frauds += 1;
      }
      await sink.write(event);
      state.produced += 1;
      await limiter.tick();
    }
    await sink.close();
    say(`stream sent: ${state.produced} events; waiting for the pipeline to drain…`);
    clearInterval(ticker);
    await drain(state, started);
    summary(state, started);
    report(state, started);
    await followers();
    if (options.keepRunning) {
      say('services keep running (Ctrl-C stops them); follow alerts with: ./sluice cli tail alerts');
      await new Promise(() => undefined);
    }
  } finally {
    await stopServices();
  }
  // The kafkajs clients of the followers may hold the event loop open.
  process.exit(0);
}

function say(text: string): void {
  process.stdout.write(`\x1b[1m[demo]\x1b[0m ${text}\n`);
}

function startService(name: string, port: number, prefix: string): ChildProcess {
  const main = fileURLToPath(new URL(`../../../../services/${name}/src/main.ts`, import.meta.url));
  const child = spawn(process.execPath, ['--conditions=sluice-source', '--import', 'tsx', main], {
    env: {
      // Simulated history runs thousands of times faster than real time; the services order it by event time with
      // watermarks, so the demo needs no setting that real time does not.
      ...process.env,
      SLUICE_TOPIC_PREFIX: prefix,
      METRICS_PORT: String(port),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      INGEST_HTTP_PORT: process.env.INGEST_HTTP_PORT ?? '8080',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Services log JSON lines on stdout; the demo shows their errors (a start-up failure is one fatal line).
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; code?: string };
      if ((entry.level ?? 0) >= 50) process.stderr.write(`[${name}] ${entry.code ? `${entry.code}: ` : ''}${entry.msg ?? line}\n`);
    } catch {
      process.stderr.write(`[${name}] ${line}\n`);
    }
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal === null) say(`${name} exited with code ${code}`);
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

async function waitReady(name: string, port: number, children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (children.some((child) => child.exitCode !== null)) throw new Error(`a service exited during start-up (see its log above)`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`${name} was not ready within 120 s (http://127.0.0.1:${port}/readyz)`);
}

async function follow(connection: Connection, state: DemoState, truth: Map<string, boolean>, printLimit: number): Promise<() => Promise<void>> {
  const alerts = connection.kafka.consumer({ groupId: `sluice-demo-alerts-${randomUUID()}`, readUncommitted: false });
  const models = connection.kafka.consumer({ groupId: `sluice-demo-models-${randomUUID()}`, readUncommitted: false });
  const scores = connection.kafka.consumer({ groupId: `sluice-demo-scores-${randomUUID()}`, readUncommitted: false });
  await Promise.all([alerts.connect(), models.connect(), scores.connect()]);
  await alerts.subscribe({ topics: [connection.topics.fraudAlerts], fromBeginning: true });
  await models.subscribe({ topics: [connection.topics.modelUpdates], fromBeginning: true });
  await scores.subscribe({ topics: [connection.topics.fraudScores], fromBeginning: true });
  await alerts.run({
    eachMessage: async ({ message }) => {
      const alert = await connection.serde.decode<Alert>(message.value);
      state.alerts += 1;
      const fraud = truth.get(alert.transaction_id) === true;
      if (fraud) {
        state.alertsOnFraud += 1;
        state.fraudsAlerted.add(alert.transaction_id);
      }
      state.latenciesMs.push(alert.alerted_at - alert.ingested_at);
      if (state.alerts <= printLimit) process.stdout.write(`${fraud ? '\x1b[31m✔ fraud\x1b[0m' : '\x1b[33m✘ genuine\x1b[0m'} ${formatAlert(alert)}\n`);
      else if (state.alerts === printLimit + 1) say(`(further alerts counted in the summary; see them all with: ./sluice cli tail alerts --from-beginning)`);
    },
  });
  await models.run({
    eachMessage: async ({ message }) => {
      // The learner's progress records (watermark header) carry no snapshot.
      if (isWatermarkRecord(message.headers)) return;
      const snapshot = await connection.serde.decode<ModelSnapshot>(message.value);
      if (!state.model || snapshot.version > state.model.version) state.model = snapshot;
    },
  });
  // Fraud scores each transaction exactly once (read committed), so counting the records tells when the pipeline has drained.
  await scores.run({
    eachBatch: async ({ batch }) => {
      state.scored += batch.messages.filter((message) => !isWatermarkRecord(message.headers)).length;
    },
  });
  return async () => {
    await Promise.all([alerts.disconnect(), models.disconnect(), scores.disconnect()]);
  };
}

function summary(state: DemoState, started: number): void {
  const seconds = (performance.now() - started) / 1000;
  const auc = state.model?.metrics.roc_auc;
  say(
    `${Math.round(state.produced / seconds)} events/s in · ${state.transactions} transactions (${state.frauds} frauds) · ${state.scored} scored · ${state.alerts} alerts (${state.alertsOnFraud} on true frauds) · model ${state.model ? `v${state.model.version}, AUC ${auc === null || auc === undefined ? 'n/a' : auc.toFixed(3)}` : 'none yet (rules only)'}`,
  );
}

/**
 * Waits until fraud has scored every transaction sent, then until the alert reader has caught up. A fixed quiet
 * period is not enough: on a loaded machine the pipeline can be a whole stream behind when the producer finishes
 * (a CI run ended with 0 of 18,894 transactions scored 8 s after the last send).
 */
async function drain(state: DemoState, started: number): Promise<void> {
  const deadline = Date.now() + DRAIN_DEADLINE_MS;
  let lastReport = Date.now();
  while (state.scored < state.transactions) {
    if (Date.now() > deadline) {
      say(`the pipeline did not score every transaction within ${DRAIN_DEADLINE_MS / 1000} s (${state.scored} of ${state.transactions}); the report covers what was scored`);
      return;
    }
    if (Date.now() - lastReport > 3_000) {
      summary(state, started);
      lastReport = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // Alerts commit in the same transactions as their scores; their reader may still be a poll behind.
  let last = -1;
  while (state.alerts !== last) {
    last = state.alerts;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function report(state: DemoState, started: number): void {
  const seconds = (performance.now() - started) / 1000;
  const precision = state.alerts === 0 ? 0 : state.alertsOnFraud / state.alerts;
  const recall = state.frauds === 0 ? 0 : state.fraudsAlerted.size / state.frauds;
  const metrics = state.model?.metrics;
  const lines = [
    '',
    '──── Sluice demo report ────',
    `events streamed      ${state.produced} in ${seconds.toFixed(1)} s (${Math.round(state.produced / seconds)} events/s)`,
    `transactions         ${state.transactions}, of which ${state.frauds} frauds`,
    `alerts               ${state.alerts}: ${state.alertsOnFraud} on true frauds (precision ${(precision * 100).toFixed(1)}%), ${state.fraudsAlerted.size} frauds caught (recall ${(recall * 100).toFixed(1)}%)`,
    state.latenciesMs.length === 0
      ? 'alert latency        no alert to measure'
      : `alert latency        p50 ${percentile(state.latenciesMs, 50).toFixed(0)} ms, p99 ${percentile(state.latenciesMs, 99).toFixed(0)} ms (arrival on transactions.raw → alert)`,
    `model                ${state.model ? `${state.model.model_name} v${state.model.version}, trained on ${state.model.trained_count} labels; rolling AUC ${metrics?.roc_auc?.toFixed(3) ?? 'n/a'}, AP ${metrics?.average_precision?.toFixed(3) ?? 'n/a'}` : 'none published'}`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}
