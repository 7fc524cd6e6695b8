import { afterEach, describe, expect, it } from 'vitest';
import { createModel, type Alert, type FeatureVector, type ModelSnapshot, type OnlineModel } from '@sluice/shared';
import { consumeAll, createPipelineTopics, testKafka, testSerde, uniquePrefix } from '../../support/kafka.js';
import { startService, stopAllServices, waitUntilReady } from '../../support/services.js';
import { Partitioners } from 'kafkajs';

afterEach(stopAllServices);

const names = ['TX_AMOUNT', 'SIGNAL_A', 'SIGNAL_B'];
const threshold = 0.9;

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

function snapshot(model: OnlineModel, version: number): ModelSnapshot {
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
    event_time: Date.UTC(2024, 0, 1) + n * 60_000,
    amount,
    feature_set_version: 'test-v1',
    feature_names: names,
    feature_values: [amount, a, b],
    ingested_at: Date.now(),
  };
}

describe('fraud against the real broker', () => {
  it('alerts on exactly the expected transactions, swaps in a new model mid-stream, and survives a SIGKILL without losing or repeating an alert', async () => {
    const prefix = uniquePrefix('fraud');
    const kafka = testKafka();
    await createPipelineTopics(kafka, prefix);
    const serde = testSerde();
    await serde.register(`${prefix}transactions.features`, 'FeatureVector');
    await serde.register(`${prefix}model.updates`, 'ModelSnapshot');
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const sendVectors = async (from: number, to: number) => {
      const messages = [];
      for (let n = from; n < to; n += 1) messages.push({ key: vector(n).customer_id, value: await serde.encode(`${prefix}transactions.features`, vector(n)) });
      await producer.send({ topic: `${prefix}transactions.features`, messages });
    };
    const publish = async (model: OnlineModel, version: number) =>
      producer.send({ topic: `${prefix}model.updates`, messages: [{ key: 'fraud-lr', value: await serde.encode(`${prefix}model.updates`, snapshot(model, version)) }] });

    const first = trainedOn(1);
    const second = trainedOn(2);
    const expectedAlert = (n: number, model: OnlineModel) => model.predict(vector(n).feature_values) >= threshold || vector(n).amount > 1000;

    await publish(first, 1);
    let fraud = startService('fraud', prefix, { FRAUD_THRESHOLD: String(threshold) });
    await waitUntilReady(fraud);
    await sendVectors(0, 200);
    await fraud.waitForLog((line) => line.msg === 'model swapped in' && line.version === 1);
    const expectedFirst = Array.from({ length: 200 }, (_, n) => n).filter((n) => expectedAlert(n, first));
    let alerts = await consumeAll(kafka, `${prefix}fraud.alerts`, { count: expectedFirst.length });
    expect(expectedFirst.length).toBeGreaterThan(10);
    expect(expectedFirst.length).toBeLessThan(150);

    await publish(second, 2);
    await fraud.waitForLog((line) => line.msg === 'model swapped in' && line.version === 2);
    await sendVectors(200, 400);
    const expectedSecond = Array.from({ length: 200 }, (_, n) => n + 200).filter((n) => expectedAlert(n, second));
    alerts = await consumeAll(kafka, `${prefix}fraud.alerts`, { count: expectedFirst.length + expectedSecond.length });
    let decoded = await Promise.all(alerts.map((message) => serde.decode<Alert>(message.value)));
    const byVersion = (version: number) => decoded.filter((alert) => alert.model_version === version || (alert.score === null && false)).map((alert) => alert.transaction_id);
    expect(new Set(byVersion(1))).toEqual(new Set(expectedFirst.map((n) => `tx-${n}`)));
    expect(new Set(byVersion(2))).toEqual(new Set(expectedSecond.map((n) => `tx-${n}`)));
    for (const alert of decoded) {
      const n = Number(alert.transaction_id.slice(3));
      if (vector(n).amount > 1000) expect(alert.rules_fired.map((rule) => rule.name)).toContain('large-amount');
      if (alert.score !== null && alert.score >= threshold) {
        expect(alert.top_features.length).toBeGreaterThan(0);
        expect(alert.top_features[0]!.feature).toBe(alert.model_version === 1 ? 'SIGNAL_A' : 'SIGNAL_B');
      }
    }

    await sendVectors(400, 1400);
    await consumeAll(kafka, `${prefix}fraud.scores`, { count: 600, timeoutMs: 60_000, settleMs: 0 });
    await fraud.kill('SIGKILL');
    fraud = startService('fraud', prefix, { FRAUD_THRESHOLD: String(threshold) });
    await waitUntilReady(fraud);
    await sendVectors(1400, 1600);
    const expectedAll = [...expectedFirst, ...Array.from({ length: 1400 }, (_, n) => n + 200).filter((n) => expectedAlert(n, second))];
    alerts = await consumeAll(kafka, `${prefix}fraud.alerts`, { count: expectedAll.length, timeoutMs: 120_000, settleMs: 5_000 });
    decoded = await Promise.all(alerts.map((message) => serde.decode<Alert>(message.value)));
    const ids = decoded.map((alert) => alert.transaction_id);
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(expectedAll.map((n) => `tx-${n}`)));
    const scores = await consumeAll(kafka, `${prefix}fraud.scores`, { count: 1600, timeoutMs: 60_000 });
    expect(scores).toHaveLength(1600);
    await producer.disconnect();
  });
});
