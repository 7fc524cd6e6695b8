// A trainer that is paused (SIGSTOP) long enough for the standby to take over, then wakes up (SIGCONT):
// the standby fences it when the partition is assigned, so the zombie can commit nothing more.
import { afterEach, expect, it } from 'vitest';
import { Partitioners } from 'kafkajs';
import { topicNames, type Label, type LabelledExample, type ModelSnapshot } from '@sluice/shared';
import { createPipelineTopics, testKafka, testSerde, uniquePrefix } from '../../support/kafka.js';
import { startService, stopAllServices, waitUntilReady, type RunningService } from '../../support/services.js';
import { TopicFollower, versionsGoingBack } from '../../support/learner-follow.js';
import { TestWatermarks } from '../../support/watermarks.js';
import { exampleKey, LearnerStream, type StreamVector } from '../../support/learner-stream.js';

afterEach(stopAllServices);
const WAVE = 200;
const ENV = { LEARNER_SNAPSHOT_EVERY_LABELS: '100', LEARNER_SNAPSHOT_INTERVAL_MS: '1000', LEARNER_LABEL_TTL_MS: String(WAVE * 60_000), LEARNER_METRICS_WINDOW: '500', LEARNER_SESSION_TIMEOUT_MS: '8000' };

it('a paused trainer that wakes after the standby took over publishes nothing that conflicts: no example or version twice', async () => {
  const prefix = uniquePrefix('learner-zombie');
  const topics = topicNames(prefix);
  const kafka = testKafka();
  await createPipelineTopics(kafka, prefix, 6);
  const serde = testSerde();
  await serde.register(topics.transactionsFeatures, 'FeatureVector');
  await serde.register(topics.labelsValid, 'Label');
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const examples = await TopicFollower.start(kafka, topics.learnerExamples, (b) => serde.decode<LabelledExample>(b));
  const snapshots = await TopicFollower.start(kafka, topics.modelUpdates, (b) => serde.decode<ModelSnapshot>(b));
  const stream = new LearnerStream({ seed: 5, waveSize: WAVE, customers: 24, partitions: 6, unlabelledRate: 0.08, earlyRate: 0.15, ttlMs: WAVE * 60_000, featuresTopic: topics.transactionsFeatures });
  // The features service's terminal stages: a watermark of each after every batch of vectors.
  const marks = new TestWatermarks(kafka, producer, topics.transactionsFeatures, 6);
  // Ingest's tasks on labels.valid: a mark once a wave's labels are all sent (see learner.int.test.ts).
  const labelMarks = new TestWatermarks(kafka, producer, topics.labelsValid, 6);
  const mark = async (time: number) => {
    await marks.send(time);
    stream.watermark = Math.max(stream.watermark, time);
  };
  const sendVectors = async (vectors: StreamVector[]) => {
    await producer.send({ topic: topics.transactionsFeatures, messages: await Promise.all(vectors.map(async ({ vector }) => ({ key: vector.customer_id, value: await serde.encode(topics.transactionsFeatures, vector) }))) });
    stream.markSent(vectors);
    await mark(stream.newestSent);
  };
  const sendLabels = async (labels: Label[]) => {
    if (labels.length) await producer.send({ topic: topics.labelsValid, messages: await Promise.all(labels.map(async (l) => ({ key: l.customer_id, value: await serde.encode(topics.labelsValid, l) }))) });
  };
  const sendWave = async (w: number) => { const p = stream.plan(w); await sendLabels(p.earlyLabels); await sendVectors(p.vectors); await sendLabels(p.labels); await labelMarks.send(stream.labelsPassed); await mark(stream.labelsPassed); };
  const seen = () => new Set(examples.values().map(exampleKey));
  const joined = (w: number) => examples.waitFor(() => stream.wave(w).every((e) => seen().has(`unlabelled/none/${e.vector.transaction_id}`) && (!e.labelled || seen().has(`labelled/label/${e.vector.transaction_id}`))), `wave ${w}`, 90_000);

  const pair = [startService('learner', prefix, ENV), startService('learner', prefix, ENV)];
  await Promise.all(pair.map((s) => waitUntilReady(s)));
  await sendWave(0); await joined(0);
  await sendWave(1); await joined(1);
  const publishedBy = (s: RunningService) => Math.max(0, ...s.logs.filter((l) => l.msg === 'model snapshot published' && l.model === 'fraud-lr').map((l) => Number(l.version)));
  await snapshots.waitFor(() => pair.some((s) => publishedBy(s) > 0), 'snap');
  const [trainer, standby] = publishedBy(pair[0]!) > publishedBy(pair[1]!) ? [pair[0]!, pair[1]!] : [pair[1]!, pair[0]!];
  const stoppedAt = Date.now();
  trainer.child.kill('SIGSTOP');
  await sendWave(2);
  await standby.waitForLog((l) => l.msg === 'partitions assigned' && Date.parse(String(l.time)) > stoppedAt, 60_000);
  trainer.child.kill('SIGCONT');
  await joined(2);
  await sendWave(3); await joined(3);
  await sendWave(4); await joined(4);
  // Past every label sent (the last wave's labels are established after its last vector): everything is trained and snapshotted.
  await mark(stream.labelsPassed);
  const expected = stream.expectedExamples();
  await examples.waitFor(() => [...expected.keys()].every((key) => seen().has(key)), 'every expected example', 60_000);
  const labelled = new Set(examples.values().map(exampleKey).filter((key) => key.startsWith('labelled/'))).size;
  const lrSnapshots = () => snapshots.values().filter((snapshot) => snapshot.model_name === 'fraud-lr');
  await snapshots.waitFor(() => (lrSnapshots().at(-1)?.trained_count ?? 0) >= labelled, 'a snapshot covering every labelled example', 30_000);
  const keys = examples.values().map(exampleKey);
  expect(keys.length - new Set(keys).size, 'examples written twice').toBe(0);
  const lr = lrSnapshots();
  expect(versionsGoingBack(lr.map((snapshot) => snapshot.version)), 'versions published twice or going back').toEqual([]);
  for (let i = 1; i < lr.length; i++) expect(lr[i]!.trained_count).toBeGreaterThan(lr[i - 1]!.trained_count);
  expect(lr.at(-1)!.trained_count, 'every labelled example learned once').toBe(labelled);
  await producer.disconnect();
  await examples.stop();
  await snapshots.stop();
});
