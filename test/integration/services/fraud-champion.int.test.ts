import { afterEach, describe, expect, it } from 'vitest';
import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import { createModel, encodeWatermark, WATERMARK_HEADER, type AvroSerde, type Alert, type FeatureVector, type ModelSnapshot, type OnlineModel, type Score } from '@sluice/shared';
import { MODEL_PROGRESS_KEY } from '../../../services/learner/src/train-stage.js';
import { consumeAll, createPipelineTopics, testKafka, testSerde, uniquePrefix } from '../../support/kafka.js';
import { metricValue, scrape, startService, stopAllServices, waitUntilReady, type RunningService } from '../../support/services.js';
import { TestWatermarks } from '../../support/watermarks.js';

afterEach(stopAllServices);

const names = ['TX_AMOUNT', 'SIGNAL_A', 'SIGNAL_B'];
const threshold = 0.9;
const T0 = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;
/** Between two vectors: 96 a day, so the 400 span four days and more (the alert budget's days). */
const STEP = 15 * MINUTE;
const DAY = 86_400_000;
/** The pinned instance alerts on a budget of 12 cards a day: 2 per partition of six. */
const BUDGET = 12;
const PARTITIONS = 6;
/** FRAUD_MODEL_DELAY_MS, its default. */
const E = 30_000;
const VECTORS = 400;
/** Vectors from this one on are at or after the second round's clock + E. */
const SWITCH = 200;
const CHAMPION = 'fraud-lr';
const CHALLENGER = 'fraud-challenger';

/** A real logistic regression that learned "fraud when <feature> is high" from a synthetic stream. */
function trainedOn(featureIndex: number): OnlineModel {
  const model = createModel('logistic_regression', names, { positiveWeight: 1 });
  let seed = 11 + featureIndex;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let step = 0; step < 20_000; step += 1) {
    const x = [random() * 500, random() * 4 - 2, random() * 4 - 2];
    model.learn(x, x[featureIndex]! > 1 ? 1 : 0);
  }
  return model;
}

/** One model's snapshot of a learner round: every snapshot of the round names the same champion. */
function snapshot(name: string, model: OnlineModel, version: number, labelClock: number, champion: string): ModelSnapshot {
  return {
    model_name: name,
    version,
    algorithm: model.algorithm,
    feature_names: names,
    feature_set_version: 'test-v1',
    state: JSON.stringify(model.toState()),
    trained_count: 20_000,
    metrics: { roc_auc: null, average_precision: null, log_loss: null, positives: 0, negatives: 0, window_size: 0 },
    created_at: Date.now(),
    label_clock: labelClock,
    champion,
    champion_reason: `round ${version}: ${champion} leads`,
  };
}

function vector(n: number): FeatureVector {
  const a = ((n * 37) % 40) / 10 - 2;
  const b = ((n * 53) % 40) / 10 - 2;
  const amount = n % 50 === 0 ? 1500 : (n * 7) % 400;
  return {
    transaction_id: `tx-${n}`,
    customer_id: `c-${n % 23}`,
    terminal_id: `t-${n % 5}`,
    event_time: T0 + n * STEP,
    amount,
    feature_set_version: 'test-v1',
    feature_names: names,
    feature_values: [amount, a, b],
    ingested_at: Date.now(),
  };
}

/** One pipeline's inputs (its own topic prefix): what the features service and the learner would write. */
function lane(kafka: Kafka, producer: Producer, serde: AvroSerde, prefix: string) {
  const features = `${prefix}transactions.features`;
  const models = `${prefix}model.updates`;
  const marks = new TestWatermarks(kafka, producer, features, 2);
  return {
    prefix,
    async setUp() {
      await createPipelineTopics(kafka, prefix);
      await serde.register(features, 'FeatureVector');
      await serde.register(models, 'ModelSnapshot');
    },
    async vectors(from: number, to: number) {
      const messages = [];
      for (let n = from; n < to; n += 1) messages.push({ key: vector(n).customer_id, value: await serde.encode(features, vector(n)) });
      await producer.send({ topic: features, messages });
      await marks.send(vector(to - 1).event_time);
    },
    /** A round: each model's snapshot, then the learner's progress through the round's clock (as train-stage.ts writes it). */
    async round(snapshots: ModelSnapshot[], progressThrough: number) {
      const messages: Message[] = await Promise.all(snapshots.map(async (s) => ({ key: s.model_name, value: await serde.encode(models, s) })));
      const mark = encodeWatermark({ source: 0, sources: 1, time: progressThrough, idle: false });
      messages.push({ key: MODEL_PROGRESS_KEY, value: Buffer.from(mark), headers: { [WATERMARK_HEADER]: mark } });
      await producer.send({ topic: models, messages });
    },
    /** Scores with the partition they were written to: fraud keys them by customer, as its input, with the same partitioner, so it is the scoring task's. */
    async scores(count: number) {
      return Promise.all((await consumeAll(kafka, `${prefix}fraud.scores`, { count, timeoutMs: 30_000, settleMs: 0 })).map(async (m) => ({ ...(await serde.decode<Score>(m.value)), partition: m.partition })));
    },
    async alerts(count: number) {
      return Promise.all((await consumeAll(kafka, `${prefix}fraud.alerts`, { count, timeoutMs: 30_000, settleMs: 1_000 })).map((m) => serde.decode<Alert>(m.value)));
    },
  };
}

describe('fraud serving the learner\'s champion against the real broker', () => {
  it('switches champions under traffic, every alert names the model that scored it, and a pinned instance uses the pin throughout (alerting on a budget)', async () => {
    const kafka = testKafka();
    const serde = testSerde();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const served = lane(kafka, producer, serde, uniquePrefix('fraud-champion'));
    const pinned = lane(kafka, producer, serde, uniquePrefix('fraud-pinned'));
    const lanes = [served, pinned];
    await Promise.all(lanes.map((l) => l.setUp()));

    const champion = trainedOn(1);
    const challenger = trainedOn(2);
    const firstClock = T0 - 60 * MINUTE;
    const switchClock = vector(SWITCH).event_time - E;
    const round = (version: number, clock: number, name: string) => [snapshot(CHAMPION, champion, version, clock, name), snapshot(CHALLENGER, challenger, version, clock, name)];
    for (const l of lanes) await l.round(round(1, firstClock, CHAMPION), firstClock);
    const services: RunningService[] = [startService('fraud', served.prefix, { FRAUD_THRESHOLD: String(threshold) }), startService('fraud', pinned.prefix, { FRAUD_THRESHOLD: String(threshold), FRAUD_MODEL_PIN: CHAMPION, FRAUD_ALERT_MODE: 'budget', FRAUD_ALERT_BUDGET_CARDS_PER_DAY: String(BUDGET) })];
    await Promise.all(services.map((s) => waitUntilReady(s)));

    // Traffic before the switch, the learner keeping up (its progress E behind each batch), then the round naming the challenger, then more traffic.
    for (let from = 0; from < SWITCH; from += 50) {
      for (const l of lanes) await l.vectors(from, from + 50);
      for (const l of lanes) await l.round([], vector(from + 49).event_time - E);
    }
    expect((await served.scores(SWITCH)).length).toBe(SWITCH);
    for (const l of lanes) await l.round(round(2, switchClock, CHALLENGER), switchClock);
    for (let from = SWITCH; from < VECTORS; from += 50) {
      for (const l of lanes) await l.vectors(from, from + 50);
      for (const l of lanes) await l.round([], vector(from + 49).event_time - E);
    }

    const scoredBy = (n: number, pin: boolean) => (pin ? { name: CHAMPION, version: n >= SWITCH ? 2 : 1, model: champion } : n >= SWITCH ? { name: CHALLENGER, version: 2, model: challenger } : { name: CHAMPION, version: 1, model: champion });
    const expectedScore = (n: number, pin: boolean) => scoredBy(n, pin).model.predict(vector(n).feature_values);
    /**
     * The budget's threshold by brute force: on each task, day d alerts at the 2nd highest card (customer, its
     * maximum score) of the last earlier day with vectors; the fixed threshold before such a day.
     */
    const budgetThresholds = (partitionOf: Map<number, number>) => {
      const days = new Map<string, Map<string, number>>();
      for (let n = 0; n < VECTORS; n++) {
        const key = `${partitionOf.get(n)}/${Math.floor(vector(n).event_time / DAY)}`;
        const cards = days.get(key) ?? new Map<string, number>();
        days.set(key, cards.set(vector(n).customer_id, Math.max(cards.get(vector(n).customer_id) ?? 0, expectedScore(n, true))));
      }
      return (n: number) => {
        const day = Math.floor(vector(n).event_time / DAY);
        const before = [...days.keys()].filter((key) => key.startsWith(`${partitionOf.get(n)}/`) && Number(key.split('/')[1]) < day).map((key) => Number(key.split('/')[1]));
        if (before.length === 0) return threshold;
        const cards = [...days.get(`${partitionOf.get(n)}/${Math.max(...before)}`)!.values()].sort((a, b) => b - a);
        return cards.length >= BUDGET / PARTITIONS ? cards[BUDGET / PARTITIONS - 1]! : threshold;
      };
    };
    for (const [l, pin] of [[served, false], [pinned, true]] as const) {
      const scores = await l.scores(VECTORS);
      expect(scores.map((s) => s.transaction_id).sort()).toEqual(Array.from({ length: VECTORS }, (_, n) => `tx-${n}`).sort());
      const partitionOf = new Map(scores.map((s) => [Number(s.transaction_id.slice(3)), s.partition]));
      const thresholdOf = pin ? budgetThresholds(partitionOf) : () => threshold;
      for (const score of scores) {
        const n = Number(score.transaction_id.slice(3));
        const expected = scoredBy(n, pin);
        expect([score.transaction_id, score.model_name, score.model_version, score.model_selection]).toEqual([score.transaction_id, expected.name, expected.version, pin ? 'pinned' : 'champion']);
        expect(score.score).toBeCloseTo(expectedScore(n, pin), 12);
        expect([score.transaction_id, score.threshold]).toEqual([score.transaction_id, thresholdOf(n)]);
      }
      if (pin) expect(new Set(scores.map((s) => s.threshold)).size).toBeGreaterThan(PARTITIONS);
      const expectedAlerts = Array.from({ length: VECTORS }, (_, n) => n).filter((n) => expectedScore(n, pin) >= thresholdOf(n) || vector(n).amount > 1000);
      // Enough model alerts on each side of the switch for the names to mean something.
      expect(expectedAlerts.filter((n) => n < SWITCH && vector(n).amount <= 1000).length).toBeGreaterThan(10);
      expect(expectedAlerts.filter((n) => n >= SWITCH && vector(n).amount <= 1000).length).toBeGreaterThan(10);
      const alerts = await l.alerts(expectedAlerts.length);
      expect(alerts.map((a) => a.transaction_id).sort()).toEqual(expectedAlerts.map((n) => `tx-${n}`).sort());
      const byId = new Map(scores.map((s) => [s.transaction_id, s]));
      for (const alert of alerts) {
        const score = byId.get(alert.transaction_id)!;
        expect([alert.model_name, alert.model_version, alert.model_selection, alert.score, alert.threshold]).toEqual([score.model_name, score.model_version, score.model_selection, score.score, score.threshold]);
      }
    }

    // The champion is reported: a gauge on the model now served, scores counted by model, one log line per change with the learner's reason.
    const metrics = await scrape(services[0]!);
    expect(metricValue(metrics, 'sluice_fraud_champion_info', { model: CHALLENGER, selection: 'champion' })).toBe(1);
    expect(metricValue(metrics, 'sluice_fraud_champion_info', { model: CHAMPION, selection: 'champion' })).toBe(0);
    expect(metricValue(metrics, 'sluice_fraud_model_scores_total', { model: CHAMPION })).toBe(SWITCH);
    expect(metricValue(metrics, 'sluice_fraud_model_scores_total', { model: CHALLENGER })).toBe(VECTORS - SWITCH);
    const changes = services[0]!.logs.filter((line) => line.msg === 'served model changed');
    expect(changes.map((line) => [line.model, line.reason])).toEqual([
      [CHAMPION, `round 1: ${CHAMPION} leads`],
      [CHALLENGER, `round 2: ${CHALLENGER} leads`],
    ]);
    expect(metricValue(await scrape(services[1]!), 'sluice_fraud_champion_info', { model: CHAMPION, selection: 'pinned' })).toBe(1);
    await producer.disconnect();
  });
});
