import { afterEach, describe, expect, it } from 'vitest';
import type { FeatureVector, Score } from '@sluice/shared';
import { bruteForceFeatures, DAY_MS, handbookStream, type HandbookStream } from '../support/handbook-stream.js';
import { createPipelineTopics, followByTransaction, produce, testKafka, testSerde, uniquePrefix } from '../support/kafka.js';
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
const ENV = { INGEST_HTTP_ENABLED: 'false' };

interface ReplayOutput {
  vectors: Map<string, FeatureVector>;
  scores: Map<string, Score>;
  vectorCopies: number;
  scoreCopies: number;
  featuresMetrics: string;
  /** The learner's and fraud's own metrics at the end, to explain a failure. */
  modelMetrics: string;
}

function rawTransactions(stream: HandbookStream) {
  return stream.transactions.map((tx) => ({
    key: tx.customer_id,
    value: JSON.stringify({ transaction_id: tx.transaction_id, customer_id: tx.customer_id, terminal_id: tx.terminal_id, amount: tx.amount, timestamp: tx.event_time, currency: 'EUR' }),
  }));
}

function rawLabels(stream: HandbookStream) {
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

async function replay(name: string, withFaults: boolean): Promise<ReplayOutput> {
  const prefix = uniquePrefix(name);
  const kafka = testKafka();
  const serde = testSerde();
  await createPipelineTopics(kafka, prefix);
  await produce(kafka, `${prefix}labels.raw`, rawLabels(STREAM));
  await produce(kafka, `${prefix}transactions.raw`, rawTransactions(STREAM));
  const vectors = await followByTransaction<FeatureVector>(kafka, serde, `${prefix}transactions.features`);
  const scores = await followByTransaction<Score>(kafka, serde, `${prefix}fraud.scores`);
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

/** A vector without its processing-time stamp: the rest must be a function of the input. */
function comparable(vector: FeatureVector): Omit<FeatureVector, 'ingested_at'> {
  const { ingested_at: _ignored, ...rest } = vector;
  return rest;
}

describe('event time, end to end', () => {
  it('replays 60 days at full speed exactly, and identically with two features instances and every service killed mid-replay', { timeout: 900_000 }, async () => {
    const quiet = await replay('replay-quiet', false);
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

    const faulty = await replay('replay-faults', true);
    let differentVectors = 0;
    let differentScores = 0;
    const differences: string[] = [];
    for (const tx of STREAM.transactions) {
      const [a, b] = [quiet.vectors.get(tx.transaction_id)!, faulty.vectors.get(tx.transaction_id)];
      if (b === undefined || JSON.stringify(comparable(a)) !== JSON.stringify(comparable(b))) {
        differentVectors += 1;
        if (differences.length < 5) differences.push(`vector ${tx.transaction_id}: ${JSON.stringify(comparable(a))} vs ${JSON.stringify(b && comparable(b))}`);
      }
      const [s, t] = [quiet.scores.get(tx.transaction_id)!, faulty.scores.get(tx.transaction_id)];
      if (t === undefined || s.score !== t.score || s.model_version !== t.model_version || s.decision !== t.decision) {
        differentScores += 1;
        if (differences.length < 10) differences.push(`score ${tx.transaction_id}: ${s.score} v${s.model_version} vs ${t?.score} v${t?.model_version}`);
      }
    }
    expect({ differentVectors, differentScores }, differences.join('\n')).toEqual({ differentVectors: 0, differentScores: 0 });
  });
});
