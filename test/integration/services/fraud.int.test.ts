import { afterEach, describe, expect, it } from 'vitest';
import { createModel, encodeWatermark, WATERMARK_HEADER, type Alert, type FeatureVector, type ModelSnapshot, type OnlineModel, type Score } from '@sluice/shared';
import { consumeAll, createPipelineTopics, testKafka, testSerde, uniquePrefix } from '../../support/kafka.js';
import { startService, stopAllServices, waitUntilReady } from '../../support/services.js';
import { TestWatermarks } from '../../support/watermarks.js';
import { Partitioners } from 'kafkajs';

afterEach(stopAllServices);

const names = ['TX_AMOUNT', 'SIGNAL_A', 'SIGNAL_B'];
const threshold = 0.9;
const T0 = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;
/** FRAUD_MODEL_DELAY_MS, its default. */
const E = 30_000;

/** A model that learned "fraud when <feature> is high" from a synthetic stream. */
function trainedOn(featureIndex: number): OnlineModel {
  const model = createModel('logistic_regression', names, { positiveWeight: 1 });
  let seed = 7 + featureIndex;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let step = 0; step < 20_000; step += 1) {
    const x = [random() * 500, random() * 4 - 2, random() * 4 - 2];
    model.learn(x, x[featureIndex]! > 1 ? 1 : 0);
  }
  return model;
}

function snapshot(model: OnlineModel, version: number, labelClock: number): ModelSnapshot {
  return {
    model_name: 'fraud-lr',
    version,
    algorithm: model.algorithm,
    feature_names: names,
    feature_set_version: 'test-v1',
    state: JSON.stringify(model.toState()),
    trained_count: 20_000,
    metrics: { roc_auc: null, average_precision: null, log_loss: null, positives: 0, negatives: 0, window_size: 0 },
    created_at: Date.now(),
    label_clock: labelClock,
  };
}

function vector(n: number): FeatureVector {
  const a = ((n * 37) % 40) / 10 - 2;
  const b = ((n * 53) % 40) / 10 - 2;
  const amount = n % 50 === 0 ? 1500 : (n * 7) % 400;
  return {
    transaction_id: `tx-${n}`,
    customer_id: `c-${n % 11}`,
    terminal_id: `t-${n % 5}`,
    event_time: T0 + n * MINUTE,
    amount,
    feature_set_version: 'test-v1',
    feature_names: names,
    feature_values: [amount, a, b],
    ingested_at: Date.now(),
  };
}

describe('fraud against the real broker', () => {
  it('scores each vector with the model of its event time (holding vectors the model stream has not passed), alerts on exactly the expected transactions, and survives a SIGKILL without losing or repeating an alert', async () => {
    const prefix = uniquePrefix('fraud');
    const kafka = testKafka();
    await createPipelineTopics(kafka, prefix);
    const serde = testSerde();
    await serde.register(`${prefix}transactions.features`, 'FeatureVector');
    await serde.register(`${prefix}model.updates`, 'ModelSnapshot');
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    // Two terminal-stage sources, as the features service would write them; the producer sends in event-time order.
    const marks = new TestWatermarks(kafka, producer, `${prefix}transactions.features`, 2);
    const sendVectors = async (from: number, to: number) => {
      const messages = [];
      for (let n = from; n < to; n += 1) messages.push({ key: vector(n).customer_id, value: await serde.encode(`${prefix}transactions.features`, vector(n)) });
      await producer.send({ topic: `${prefix}transactions.features`, messages });
      await marks.send(vector(to - 1).event_time);
    };
    const publish = async (model: OnlineModel, version: number, labelClock: number) =>
      producer.send({ topic: `${prefix}model.updates`, messages: [{ key: 'fraud-lr', value: await serde.encode(`${prefix}model.updates`, snapshot(model, version, labelClock)) }] });
    /** The learner's progress record: every snapshot with a label clock at or before `time` is published. */
    const progress = async (time: number, idle = false) => {
      const mark = encodeWatermark({ source: 0, sources: 1, time, idle });
      await producer.send({ topic: `${prefix}model.updates`, messages: [{ key: WATERMARK_HEADER, value: mark, headers: { [WATERMARK_HEADER]: mark } }] });
    };

    const first = trainedOn(1);
    const second = trainedOn(2);
    const expectedAlert = (n: number, model: OnlineModel) => model.predict(vector(n).feature_values) >= threshold || vector(n).amount > 1000;
    // The model a vector must be scored by: v2 learned through vector 200's time less E, v1 long before.
    const modelFor = (n: number) => (n >= 200 ? second : first);

    await publish(first, 1, T0 - 60 * MINUTE);
    await progress(T0 - 60 * MINUTE);
    let fraud = startService('fraud', prefix, { FRAUD_THRESHOLD: String(threshold) });
    await waitUntilReady(fraud);
    await sendVectors(0, 400);
    // The learner has not passed them: fraud holds every vector, however long it has had them.
    expect(await consumeAll(kafka, `${prefix}fraud.scores`, { count: 1, timeoutMs: 4_000, settleMs: 0 })).toEqual([]);
    await publish(second, 2, vector(200).event_time - E);
    await progress(vector(399).event_time);
    const expectedFirst = Array.from({ length: 400 }, (_, n) => n).filter((n) => expectedAlert(n, modelFor(n)));
    // Enough alerts from each model for the version check to mean something.
    expect(expectedFirst.filter((n) => n < 200).length).toBeGreaterThan(10);
    expect(expectedFirst.filter((n) => n >= 200).length).toBeGreaterThan(10);
    let alerts = await consumeAll(kafka, `${prefix}fraud.alerts`, { count: expectedFirst.length });
    let decoded = await Promise.all(alerts.map((message) => serde.decode<Alert>(message.value)));
    expect(new Set(decoded.map((alert) => alert.transaction_id))).toEqual(new Set(expectedFirst.map((n) => `tx-${n}`)));
    for (const alert of decoded) {
      const n = Number(alert.transaction_id.slice(3));
      expect(alert.model_version).toBe(n >= 200 ? 2 : 1);
      if (vector(n).amount > 1000) expect(alert.rules_fired.map((rule) => rule.name)).toContain('large-amount');
      if (alert.score !== null && alert.score >= threshold) {
        expect(alert.top_features.length).toBeGreaterThan(0);
        expect(alert.top_features[0]!.feature).toBe(alert.model_version === 1 ? 'SIGNAL_A' : 'SIGNAL_B');
      }
    }
    const firstScores = await Promise.all((await consumeAll(kafka, `${prefix}fraud.scores`, { count: 400, settleMs: 0 })).map((message) => serde.decode<Score>(message.value)));
    expect(firstScores.map((score) => [score.transaction_id, score.model_version]).sort()).toEqual(Array.from({ length: 400 }, (_, n) => [`tx-${n}`, n >= 200 ? 2 : 1]).sort());

    // An idle learner holds back nothing at or before where it stood (here: past every vector still to come).
    await progress(vector(1599).event_time, true);
    await sendVectors(400, 1400);
    await consumeAll(kafka, `${prefix}fraud.scores`, { count: 1000, timeoutMs: 60_000, settleMs: 0 });
    await fraud.kill('SIGKILL');
    fraud = startService('fraud', prefix, { FRAUD_THRESHOLD: String(threshold) });
    await waitUntilReady(fraud);
    await sendVectors(1400, 1600);
    const expectedAll = Array.from({ length: 1600 }, (_, n) => n).filter((n) => expectedAlert(n, modelFor(n)));
    alerts = await consumeAll(kafka, `${prefix}fraud.alerts`, { count: expectedAll.length, timeoutMs: 120_000, settleMs: 5_000 });
    decoded = await Promise.all(alerts.map((message) => serde.decode<Alert>(message.value)));
    const ids = decoded.map((alert) => alert.transaction_id);
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(expectedAll.map((n) => `tx-${n}`)));
    const scores = await Promise.all((await consumeAll(kafka, `${prefix}fraud.scores`, { count: 1600, timeoutMs: 60_000 })).map((message) => serde.decode<Score>(message.value)));
    expect(scores).toHaveLength(1600);
    for (const score of scores) expect(score.model_version).toBe(Number(score.transaction_id.slice(3)) >= 200 ? 2 : 1);
    await producer.disconnect();
  });
});
