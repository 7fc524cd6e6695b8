import { afterEach, describe, expect, it } from 'vitest';
import type { FeatureVector, Score } from '@sluice/shared';
import { bruteForceFeatures, DAY_MS, handbookStream, type HandbookStream } from '../support/handbook-stream.js';
import { Partitioners } from 'kafkajs';
import { createPipelineTopics, followByTransaction, produce, testKafka, testSerde, uniquePrefix } from '../support/kafka.js';
import { averagePrecision, rocAuc } from '../../services/learner/src/prequential-metrics.js';
import { oracleScores } from '../support/replay-oracle.js';
import { metricValue, scrape, startService, stopAllServices, waitUntilReady, type RunningService, type ServiceName } from '../support/services.js';

afterEach(stopAllServices);

/**
 * The bar: an output is a function of the input alone. Sixty days of history
 * are preloaded on the raw topics and replayed through the four services as
 * fast as they go: once quietly, once with two features instances and every
 * service SIGKILLed and restarted mid-replay. Every feature of every vector
 * must equal the handbook definitions computed by brute force, and both runs
 * must write the same vectors and the same scores (score, model version,
 * decision) for every transaction.
 */

const STREAM = handbookStream({ seed: 11, transactions: 6_000, customers: 200, terminals: 60, days: 60, fraudRate: 0.05, labelDelayMs: 7 * DAY_MS });
const TOTAL = STREAM.transactions.length;
/** Fraud serves the logistic regression, pinned: the in-process oracle (replay-oracle.ts) is that model (the champion rule is tested in fraud-champion.int.test.ts). */
const SERVED_MODEL = 'fraud-lr';
const ENV = { INGEST_HTTP_ENABLED: 'false', FRAUD_MODEL_PIN: SERVED_MODEL };
/**
 * Ingest's idle timeout in the paced run (default 10 s; a backlog never waits for it, so the full-speed runs keep
 * the default). It is also how long a raw partition resuming after idleness holds its mark (input-clock.ts): the
 * partitions of one step must all resume within it.
 */
const PACED_IDLE_MS = 1_500;
const PACED_ENV = { ...ENV, INGEST_IDLE_TIMEOUT_MS: String(PACED_IDLE_MS), INGEST_WATERMARK_INTERVAL_MS: '200' };
/**
 * After a step is scored: its last records were released by the raw partitions turning idle (their marks trail
 * the newest time read), so every source is idle by then; this lets the idle marks reach the learner and fraud.
 */
const PACED_PAUSE_MS = 1_000;

interface ReplayOutput {
  vectors: Map<string, FeatureVector>;
  scores: Map<string, Score>;
  vectorCopies: number;
  scoreCopies: number;
  featuresMetrics: string;
  /** The learner's and fraud's own metrics at the end, to explain a failure. */
  modelMetrics: string;
}

function rawTransactions(stream: Pick<HandbookStream, 'transactions'>) {
  return stream.transactions.map((tx) => ({
    key: tx.customer_id,
    value: JSON.stringify({ transaction_id: tx.transaction_id, customer_id: tx.customer_id, terminal_id: tx.terminal_id, amount: tx.amount, timestamp: tx.event_time, currency: 'EUR' }),
  }));
}

function rawLabels(stream: Pick<HandbookStream, 'labels'>) {
  return stream.labels.map((label) => ({
    key: label.customer_id,
    value: JSON.stringify({
      transaction_id: label.transaction_id,
      customer_id: label.customer_id,
      terminal_id: label.terminal_id,
      tx_timestamp: label.tx_event_time,
      is_fraud: label.is_fraud,
      labeled_at: label.labeled_at,
    }),
  }));
}


async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface Followers {
  vectors: Awaited<ReturnType<typeof followByTransaction<FeatureVector>>>;
  scores: Awaited<ReturnType<typeof followByTransaction<Score>>>;
}

/** What a run leaves once every transaction has been scored: the outputs, and the services' metrics to explain a failure. */
async function collect(services: Map<string, RunningService>, { vectors, scores }: Followers): Promise<ReplayOutput> {
  await until(`${TOTAL} scores`, () => scores.records.size >= TOTAL && vectors.records.size >= TOTAL, 300_000);
  // Anything repeated would arrive now.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const features = services.get('features')!;
  await waitUntilReady(features);
  const featuresMetrics = await scrape(features);
  const modelMetrics = [await scrape(services.get('learner')!), await scrape(services.get('fraud')!)]
    .join('\n')
    .split('\n')
    .filter((line) => /^sluice_(learner|fraud|model)/.test(line))
    .join('\n');
  await Promise.all([vectors.stop(), scores.stop()]);
  return { vectors: vectors.records, scores: scores.records, vectorCopies: vectors.copies(), scoreCopies: scores.copies(), featuresMetrics, modelMetrics };
}

async function follow(kafka: ReturnType<typeof testKafka>, prefix: string): Promise<Followers> {
  const serde = testSerde();
  return {
    vectors: await followByTransaction<FeatureVector>(kafka, serde, `${prefix}transactions.features`),
    scores: await followByTransaction<Score>(kafka, serde, `${prefix}fraud.scores`),
  };
}

async function replay(name: string, withFaults: boolean): Promise<ReplayOutput> {
  const prefix = uniquePrefix(name);
  const kafka = testKafka();
  await createPipelineTopics(kafka, prefix);
  await produce(kafka, `${prefix}labels.raw`, rawLabels(STREAM));
  await produce(kafka, `${prefix}transactions.raw`, rawTransactions(STREAM));
  const followers = await follow(kafka, prefix);
  const { scores } = followers;
  const services = new Map<string, RunningService>();
  const start = (service: ServiceName, instance = '') => services.set(service + instance, startService(service, prefix, ENV));
  for (const service of ['ingest', 'features', 'learner', 'fraud'] as const) start(service);
  if (withFaults) start('features', '#2');
  const restart = async (service: ServiceName, atScores: number) => {
    await until(`${atScores} scores before killing ${service}`, () => scores.records.size >= atScores, 240_000);
    await services.get(service)!.kill('SIGKILL');
    start(service);
  };
  if (withFaults) {
    await restart('ingest', TOTAL * 0.1);
    await restart('features', TOTAL * 0.3);
    await restart('learner', TOTAL * 0.5);
    await restart('fraud', TOTAL * 0.7);
  }
  return collect(services, followers);
}

/** Days of event time per paced step: the transactions made, and the labels established, in them. */
const PACED_STEP_DAYS = 5;
/**
 * The same stream as it would come live, compressed: the services run from the
 * start, and the raw topics receive PACED_STEP_DAYS of event time at a time,
 * each step once the previous one is scored and the pipeline has gone idle
 * (ingest's idle timeout, shortened so the test stays short, fires between
 * steps). Idle sources, marks resuming after them, punctuations and the
 * learner's idle progress all come into play here and never in a backlog.
 */
async function pacedReplay(name: string): Promise<ReplayOutput & { steps: number }> {
  const prefix = uniquePrefix(name);
  const kafka = testKafka();
  await createPipelineTopics(kafka, prefix);
  const followers = await follow(kafka, prefix);
  const services = new Map<string, RunningService>();
  for (const service of ['ingest', 'features', 'learner', 'fraud'] as const) services.set(service, startService(service, prefix, PACED_ENV));
  await Promise.all([...services.values()].map((service) => waitUntilReady(service)));
  const first = STREAM.transactions[0]!.event_time;
  const last = STREAM.labels.at(-1)!.labeled_at;
  const stepMs = PACED_STEP_DAYS * DAY_MS;
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  let steps = 0;
  for (let from = first; from <= last; from += stepMs) {
    const to = from + stepMs;
    const transactions = STREAM.transactions.filter((tx) => tx.event_time >= from && tx.event_time < to);
    const labels = STREAM.labels.filter((label) => label.labeled_at >= from && label.labeled_at < to);
    // One request for both topics: what happens in the same days arrives together, as it would live.
    await producer.sendBatch({
      topicMessages: [
        { topic: `${prefix}labels.raw`, messages: rawLabels({ labels }) },
        { topic: `${prefix}transactions.raw`, messages: rawTransactions({ transactions }) },
      ].filter((entry) => entry.messages.length > 0),
      acks: -1,
    });
    const scored = STREAM.transactions.filter((tx) => tx.event_time < to).length;
    await until(`step ${steps}: ${scored} scores`, () => followers.scores.records.size >= scored, 120_000);
    steps += 1;
    await new Promise((resolve) => setTimeout(resolve, PACED_PAUSE_MS));
  }
  await producer.disconnect();
  return { ...(await collect(services, followers)), steps };
}

/** A vector without its processing-time stamp: the rest must be a function of the input. */
function comparable(vector: FeatureVector): Omit<FeatureVector, 'ingested_at'> {
  const { ingested_at: _ignored, ...rest } = vector;
  return rest;
}

/** The fields and features two vectors of one transaction differ in. */
function vectorDifference(a: FeatureVector, b: FeatureVector): string {
  const [u, v] = [comparable(a) as Record<string, unknown>, comparable(b) as Record<string, unknown>];
  const fields = Object.keys(u).filter((key) => key !== 'feature_values' && JSON.stringify(u[key]) !== JSON.stringify(v[key]));
  const features = a.feature_names.flatMap((name, f) => (a.feature_values[f] === b.feature_values[f] ? [] : [`${name} ${a.feature_values[f]} vs ${b.feature_values[f]}`]));
  return [...fields.map((key) => `${key} ${JSON.stringify(u[key])} vs ${JSON.stringify(v[key])}`), ...features].join(', ');
}

/** Transactions whose vectors (all but processing-time stamps) or scores (score, model, decision) differ between two runs, with examples. */
function differences(a: ReplayOutput, b: ReplayOutput) {
  let differentVectors = 0;
  let differentScores = 0;
  const examples: string[] = [];
  for (const tx of STREAM.transactions) {
    const [u, v] = [a.vectors.get(tx.transaction_id)!, b.vectors.get(tx.transaction_id)];
    if (v === undefined || JSON.stringify(comparable(u)) !== JSON.stringify(comparable(v))) {
      differentVectors += 1;
      if (examples.length < 5) examples.push(`vector ${tx.transaction_id} at ${tx.event_time}: ${v === undefined ? 'missing' : vectorDifference(u, v)}`);
    }
    const [s, t] = [a.scores.get(tx.transaction_id)!, b.scores.get(tx.transaction_id)];
    if (t === undefined || s.score !== t.score || s.model_name !== t.model_name || s.model_version !== t.model_version || s.decision !== t.decision) {
      differentScores += 1;
      if (examples.length < 10) examples.push(`score ${tx.transaction_id} at ${tx.event_time}: ${s.score} v${s.model_version} ${s.decision} vs ${t?.score} v${t?.model_version} ${t?.decision}`);
    }
  }
  return { counts: { differentVectors, differentScores }, examples: examples.join('\n') };
}

/** ROC AUC and average precision of the scores given by a model (the rest are scored by rules alone), against the stream's labels. */
function quality(scores: ReadonlyMap<string, number | null>) {
  const fraud = new Map(STREAM.labels.map((label) => [label.transaction_id, label.is_fraud ? 1 : 0]));
  const scored = [...scores].filter((entry): entry is [string, number] => entry[1] !== null);
  const values = scored.map(([, score]) => score);
  const labels = scored.map(([id]) => fraud.get(id)!);
  return { scored: scored.length, rocAuc: rocAuc(values, labels), averagePrecision: averagePrecision(values, labels) };
}

let quietRun: Promise<ReplayOutput> | undefined;
/** The full-speed replay every comparison starts from, run once for the file. */
const quietReplay = () => (quietRun ??= replay('replay-quiet', false));

describe('event time, end to end', () => {
  it('replays 60 days at full speed exactly: every feature of every vector equals the handbook definitions', { timeout: 420_000 }, async () => {
    const quiet = await quietReplay();
    expect(quiet.vectorCopies).toBe(TOTAL);
    expect(quiet.scoreCopies).toBe(TOTAL);
    let inexact = 0;
    const wrong: string[] = [];
    STREAM.transactions.forEach((tx, i) => {
      const vector = quiet.vectors.get(tx.transaction_id)!;
      const expected = bruteForceFeatures(STREAM, i);
      expected.forEach((value, f) => {
        if (Math.abs(vector.feature_values[f]! - value) > 1e-9 * Math.max(1, Math.abs(value))) {
          inexact += 1;
          if (wrong.length < 5) wrong.push(`${tx.transaction_id} ${vector.feature_names[f]}: ${vector.feature_values[f]} ≠ ${value}`);
        }
      });
    });
    expect(inexact, wrong.join('\n')).toBe(0);
    // Exact because nothing was late: the watermark held every event until all partitions had passed it.
    expect(metricValue(quiet.featuresMetrics, 'sluice_features_events_total', { outcome: 'late' })).toBe(0);
    expect(metricValue(quiet.featuresMetrics, 'sluice_features_behind_watermark_total')).toBe(0);
    // The data exercise the terminal windows and the model.
    expect([...quiet.vectors.values()].filter((vector) => vector.feature_values[14]! > 0).length).toBeGreaterThan(TOTAL / 3);
    expect([...quiet.scores.values()].filter((score) => score.model_version !== null).length, quiet.modelMetrics).toBeGreaterThan(TOTAL / 2);
  });

  it('scores the replay as the in-process learner does: same model, same order, same model-clock rule', { timeout: 420_000 }, async () => {
    const quiet = await quietReplay();
    const sample = quiet.vectors.values().next().value!;
    const oracle = oracleScores(STREAM, sample.feature_names, sample.feature_set_version);
    let equal = 0;
    const different: string[] = [];
    for (const tx of STREAM.transactions) {
      const [served, expected] = [quiet.scores.get(tx.transaction_id)!, oracle.get(tx.transaction_id)!];
      const same =
        served.model_version === expected.version &&
        (served.score === null || served.model_name === SERVED_MODEL) &&
        (served.score === null || expected.score === null ? served.score === expected.score : Math.abs(served.score - expected.score) <= 1e-9);
      if (same) equal += 1;
      else if (different.length < 10) different.push(`${tx.transaction_id} at ${tx.event_time}: served ${served.score} v${served.model_version}, in process ${expected.score} v${expected.version}`);
    }
    const replayed = quality(new Map([...quiet.scores].map(([id, score]) => [id, score.score])));
    const inProcess = quality(new Map([...oracle].map(([id, score]) => [id, score.score])));
    console.log(`replay vs in-process scores: ${equal} of ${TOTAL} equal to 1e-9; replay ${JSON.stringify(replayed)}; in process ${JSON.stringify(inProcess)}`);
    expect(inProcess.scored).toBeGreaterThan(TOTAL / 2);
    expect(equal, different.join('\n')).toBe(TOTAL);
  });

  it('writes the same vectors and scores when the same stream comes paced, a few days at a time with idle pauses', { timeout: 420_000 }, async () => {
    const quiet = await quietReplay();
    const paced = await pacedReplay('replay-paced');
    console.log(`paced run: ${paced.steps} steps; features late ${metricValue(paced.featuresMetrics, 'sluice_features_events_total', { outcome: 'late' })}, behind watermark ${metricValue(paced.featuresMetrics, 'sluice_features_behind_watermark_total')}`);
    const { counts, examples } = differences(quiet, paced);
    expect(counts, `${examples}\n${paced.modelMetrics}`).toEqual({ differentVectors: 0, differentScores: 0 });
  });

  it('writes identical vectors and scores with two features instances and every service killed mid-replay', { timeout: 600_000 }, async () => {
    const quiet = await quietReplay();
    const faulty = await replay('replay-faults', true);
    const { counts, examples } = differences(quiet, faulty);
    expect(counts, examples).toEqual({ differentVectors: 0, differentScores: 0 });
  });
});
