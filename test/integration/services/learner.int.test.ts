import { afterEach, describe, expect, it } from 'vitest';
import { AssignerProtocol, Partitioners, type Kafka, type Producer } from 'kafkajs';
import {
  changelogTopic,
  processedPosition,
  readPartitions,
  snapshotToModel,
  topicNames,
  WATERMARK_HEADER,
  type AvroSerde,
  type Label,
  type LabelledExample,
  type LogisticRegression,
  type ModelSnapshot,
} from '@sluice/shared';
import { createPipelineTopics, createTopics, testKafka, testLogger, testSerde, uniquePrefix } from '../../support/kafka.js';
import { metricValue, scrape, startService, stopAllServices, waitUntilReady, type RunningService } from '../../support/services.js';
import { TopicFollower, versionsGoingBack } from '../../support/learner-follow.js';
import { TestWatermarks } from '../../support/watermarks.js';
import { exampleKey, FEATURE_NAMES, FEATURE_SET_VERSION, LearnerStream, TRUE_WEIGHTS, truthLogit, type StreamVector } from '../../support/learner-stream.js';
import { pipelineTopics } from '../../../tools/cli/src/pipeline-topology.js';

const followers: TopicFollower<unknown>[] = [];
afterEach(async () => {
  await stopAllServices();
  await Promise.all(followers.splice(0).map((follower) => follower.stop()));
});

const MINUTE = 60_000;
const WAVE = 200;
const PARTITIONS = 6;
const TTL_MS = WAVE * MINUTE;
const SNAPSHOT_EVERY = 100;
const METRICS_WINDOW = 500;
const LR = 'fraud-lr';
const HST = 'fraud-hst';
const LEARNER_ENV = {
  LEARNER_SNAPSHOT_EVERY_LABELS: String(SNAPSHOT_EVERY),
  LEARNER_SNAPSHOT_INTERVAL_MS: '1000',
  LEARNER_LABEL_TTL_MS: String(TTL_MS),
  LEARNER_METRICS_WINDOW: String(METRICS_WINDOW),
  LEARNER_SESSION_TIMEOUT_MS: '8000',
};

async function follow<T>(kafka: Kafka, topic: string, decode: (bytes: Buffer) => T | Promise<T>): Promise<TopicFollower<T>> {
  const follower = await TopicFollower.start<T>(kafka, topic, decode);
  followers.push(follower as TopicFollower<unknown>);
  return follower;
}

/** ROC AUC by counting pairs: the probability a random positive outscores a random negative (ties count half). */
function pairAuc(scores: number[], labels: boolean[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((positive, i) => {
    if (!labels[i]) return;
    scores.forEach((negative, j) => {
      if (labels[j]) return;
      pairs += 1;
      wins += positive > negative ? 1 : positive === negative ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

function logLine(service: RunningService, msg: string, model: string): Record<string, unknown> | undefined {
  return service.logs.find((line) => line.msg === msg && line.model === model);
}

describe('learner against the real broker', () => {
  it('joins late and early labels exactly once, publishes versioned snapshots that learn the truth, and carries on across SIGKILLs, a standby takeover and a lost changelog', async () => {
    const started = Date.now();
    const prefix = uniquePrefix('learner');
    const topics = topicNames(prefix);
    const kafka = testKafka();
    await createPipelineTopics(kafka, prefix, PARTITIONS);
    const serde: AvroSerde = testSerde();
    await serde.register(topics.transactionsFeatures, 'FeatureVector');
    await serde.register(topics.labelsValid, 'Label');
    const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();

    const examples = await follow(kafka, topics.learnerExamples, (bytes) => serde.decode<LabelledExample>(bytes));
    const snapshots = await follow(kafka, topics.modelUpdates, (bytes) => serde.decode<ModelSnapshot>(bytes));
    // The join's frontier, stored in its clocks: every event at or before it was applied.
    const joinClocksLog = await follow(kafka, changelogTopic(prefix, 'learner', 'join-clocks'), (bytes) => JSON.parse(bytes.toString('utf8')) as { released: number | null });

    const stream = new LearnerStream({
      seed: 20240501,
      waveSize: WAVE,
      customers: 24,
      partitions: PARTITIONS,
      unlabelledRate: 0.08,
      earlyRate: 0.15,
      ttlMs: TTL_MS,
      featuresTopic: topics.transactionsFeatures,
    });
    const seen = () => new Set(examples.values().map(exampleKey));
    // The features service's terminal stages, one source per partition: a watermark after each batch of vectors.
    const marks = new TestWatermarks(kafka, producer, topics.transactionsFeatures, PARTITIONS);
    // And for ingest's tasks on labels.valid: once a wave's labels are all sent (some of the next wave's go ahead
    // of it, as early labels), everything established up to just past them has been sent.
    const labelMarks = new TestWatermarks(kafka, producer, topics.labelsValid, PARTITIONS);
    const mark = async (time: number) => {
      await marks.send(time);
      stream.watermark = Math.max(stream.watermark, time);
    };
    const sendVectors = async (vectors: StreamVector[]) => {
      const messages = await Promise.all(vectors.map(async ({ vector }) => ({ key: vector.customer_id, value: await serde.encode(topics.transactionsFeatures, vector) })));
      await producer.send({ topic: topics.transactionsFeatures, messages, acks: -1 });
      stream.markSent(vectors);
      await mark(stream.newestSent);
    };
    const sendLabels = async (labels: Label[]) => {
      if (labels.length === 0) return;
      const messages = await Promise.all(labels.map(async (label) => ({ key: label.customer_id, value: await serde.encode(topics.labelsValid, label) })));
      await producer.send({ topic: topics.labelsValid, messages, acks: -1 });
    };
    const sendWave = async (w: number) => {
      const plan = stream.plan(w);
      await sendLabels(plan.earlyLabels);
      await sendVectors(plan.vectors);
      await sendLabels(plan.labels);
      // The wave's labels are established after its last vector: a watermark past them lets the join decide them.
      await labelMarks.send(stream.labelsPassed);
      await mark(stream.labelsPassed);
    };
    /** The wave's own examples (not the horizon expiries, which depend on later waves) have all been joined. */
    const waveJoined = (w: number) => async () => {
      const wanted = stream.wave(w).flatMap((entry) => [`unlabelled/none/${entry.vector.transaction_id}`, ...(entry.labelled ? [`labelled/label/${entry.vector.transaction_id}`] : [])]);
      await examples.waitFor(
        () => {
          const keys = seen();
          return wanted.every((key) => keys.has(key));
        },
        `wave ${w} joined`,
        90_000,
        () => `(missing ${wanted.filter((key) => !seen().has(key)).slice(0, 5).join(', ')}…)`,
      );
    };
    const firstOfWave = (w: number) => examples.waitFor(() => examples.values().some((example) => example.vector.transaction_id.startsWith(`tx-${w}-`)), `first example of wave ${w}`);
    const lrSnapshots = () => snapshots.values().filter((snapshot) => snapshot.model_name === LR);

    /**
     * Moves the watermark past every label sent (each is established after its vector, so the last ones wait
     * for it), waits until the join has emitted all it must, then for the snapshot the training stage publishes
     * at the next interval boundary: its training count must be exactly the number of labelled examples.
     */
    const flush = async (service: RunningService): Promise<ModelSnapshot> => {
      await labelMarks.send(stream.labelsPassed);
      await mark(stream.labelsPassed);
      const expected = stream.expectedExamples();
      await examples.waitFor(
        () => {
          const keys = seen();
          return [...expected.keys()].every((key) => keys.has(key));
        },
        'every expected example',
        60_000,
        () => `(missing ${[...expected.keys()].filter((key) => !seen().has(key)).slice(0, 5).join(', ')}…)`,
      );
      const keys = examples.values().map(exampleKey);
      const offsetsOf = new Map<string, string[]>();
      for (const record of examples.records) if (record.value) offsetsOf.set(exampleKey(record.value), [...(offsetsOf.get(exampleKey(record.value)) ?? []), record.offset]);
      const partitionOf = new Map(stream.sent.map((entry) => [entry.vector.transaction_id, entry.partition]));
      // A repeat is reported with the input partition of its vector and the learner.examples offsets of its copies.
      const repeated = [...offsetsOf].filter(([, offsets]) => offsets.length > 1).map(([key, offsets]) => `${key} p${partitionOf.get(key.split('/')[2]!)} @${offsets.join(',')}`);
      const unexpected = keys.filter((key) => !expected.has(key));
      expect({ repeated, unexpected }).toEqual({ repeated: [], unexpected: [] });
      const labelled = keys.filter((key) => key.startsWith('labelled/')).length;
      await snapshots.waitFor(() => lrSnapshots().some((snapshot) => snapshot.trained_count >= labelled), `${service.name}: a snapshot covering all ${labelled} labelled examples`, 30_000);
      const done = lrSnapshots().find((snapshot) => snapshot.trained_count >= labelled)!;
      expect(done.trained_count).toBe(labelled);
      return done;
    };

    // Phase 1: one learner, four waves, SIGKILL as the fifth starts to come through.
    const first = startService('learner', prefix, LEARNER_ENV);
    await waitUntilReady(first);
    for (let w = 0; w < 4; w++) {
      await sendWave(w);
      await waveJoined(w)();
    }
    await sendWave(4);
    await firstOfWave(4);
    await first.kill('SIGKILL');
    const afterFirst = Date.now();

    // Phase 2: two instances: the join is shared, one trains and one stands by; the trainer is SIGKILLed mid-wave.
    const admin = kafka.admin();
    await admin.connect();
    const trainGroup = `${prefix}sluice-learner-train`;
    const pair = [startService('learner', prefix, LEARNER_ENV), startService('learner', prefix, LEARNER_ENV)];
    await Promise.all(pair.map((service) => waitUntilReady(service)));
    await waveJoined(4)();
    await sendWave(5);
    await waveJoined(5)();
    const publishedBy = (service: RunningService) =>
      Math.max(0, ...service.logs.filter((line) => line.msg === 'model snapshot published' && line.model === LR).map((line) => Number(line.version)));
    await snapshots.waitFor(() => pair.some((service) => publishedBy(service) > 0), 'a snapshot from the pair');
    const [group] = (await admin.describeGroups([trainGroup])).groups;
    const owned = group!.members.map((member) => AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment[topics.learnerExamples] ?? []);
    expect(owned.map((partitions) => partitions.length).sort()).toEqual([0, 1]); // one instance trains, the other stands by
    const [trainer, standby] = publishedBy(pair[0]!) > publishedBy(pair[1]!) ? [pair[0]!, pair[1]!] : [pair[1]!, pair[0]!];
    await sendWave(6);
    await firstOfWave(6);
    const killedAt = Date.now();
    await trainer.kill('SIGKILL');
    await waveJoined(6)();
    // The standby gets the training partition once the group drops the dead trainer, and resumes on its first
    // example: keep examples coming (the trainer may have finished the wave before it was killed).
    const tookOver = () => standby.logs.find((line) => line.msg === 'resuming model from its changelog' && line.model === LR && Date.parse(String(line.time)) > killedAt);
    for (let attempt = 0; !tookOver(); attempt++) {
      if (attempt >= 40) throw new Error('the standby did not take the training over');
      await sendVectors([stream.flushVector('cust-0')]);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const flushed = await flush(standby);
    const afterSecond = Date.now();

    // Wait until the training stage has committed past everything on learner.examples, then SIGKILL and lose its changelog.
    const lastExample = BigInt(examples.records.at(-1)!.offset);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [committed] = await admin.fetchOffsets({ groupId: trainGroup, topics: [topics.learnerExamples] });
      if (BigInt(committed!.partitions[0]!.offset) > lastExample) break;
      if (Date.now() > deadline) throw new Error('the training stage did not commit past the last example');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await standby.kill('SIGKILL');
    const modelChangelog = changelogTopic(prefix, 'learner', 'model');
    await admin.deleteTopics({ topics: [modelChangelog] });
    for (let attempt = 0; ; attempt++) {
      if (!(await admin.listTopics()).includes(modelChangelog)) break;
      if (attempt > 100) throw new Error(`${modelChangelog} not deleted`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const declaration = pipelineTopics({ SLUICE_TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: PARTITIONS }).filter((topic) => topic.name === modelChangelog);
    for (let attempt = 0; ; attempt++) {
      try {
        await createTopics(kafka, declaration);
        break;
      } catch (error) {
        if (attempt > 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }

    // Phase 3: a learner with an empty model changelog resumes from the latest snapshot.
    const third = startService('learner', prefix, LEARNER_ENV);
    await waitUntilReady(third);
    for (const w of [7, 8]) {
      await sendWave(w);
      await waveJoined(w)();
    }
    const last = await flush(third);
    const afterThird = Date.now();
    // The pending store reports its size: the never-labelled vectors whose horizon has not passed.
    const stillPending = stream.sent.filter((entry) => !entry.labelled && !stream.expectedExamples().has(`labelled/label_horizon_passed/${entry.vector.transaction_id}`)).length;
    expect(stillPending).toBeGreaterThan(0);
    expect(metricValue(await scrape(third), 'sluice_learner_pending_vectors')).toBe(stillPending);

    // The join: every example exactly once, as the ground truth says.
    const keys = examples.values().map(exampleKey);
    expect(keys.length).toBe(new Set(keys).size);
    const expected = stream.expectedExamples();
    expect(new Set(keys)).toEqual(new Set(expected.keys()));
    for (const example of examples.values()) expect(example.is_fraud).toBe(expected.get(exampleKey(example)));
    expect([...expected.keys()].filter((key) => key.startsWith('labelled/label_horizon_passed/')).length).toBeGreaterThan(50);
    // Labels sent a wave before their vector are established after it in event time: they wait in the join's
    // buffer (not in the early-labels store, which holds labels established before their transaction) until the
    // watermark passes them, and were matched (above).
    const earlyIds = stream.sent.filter((entry) => entry.early).map((entry) => entry.vector.transaction_id);
    expect(earlyIds.length).toBeGreaterThan(100);
    // Left waiting: exactly the early labels sent for wave 9, whose vectors never came (the watermark never passed
    // them). The join holds them in memory only: on labels.valid the group's committed offset stays at or before the
    // oldest of them, with the position processed through beside it (shared's held-positions.ts), and those read
    // from there that are after their partition's applied frontier are what a new owner would hold again.
    const released = new Map(joinClocksLog.records.map((record) => [record.partition, record.value?.released ?? -Infinity]));
    const [committed] = await admin.fetchOffsets({ groupId: `${prefix}sluice-learner-join`, topics: [topics.labelsValid] });
    const ranges = committed!.partitions.map(({ partition, offset, metadata }) => ({ topic: topics.labelsValid, partition, from: offset, to: BigInt(processedPosition(offset, metadata)) }));
    expect(ranges.some((range) => BigInt(range.from) < range.to)).toBe(true);
    const reread: { partition: number; value: Buffer | null }[] = [];
    await readPartitions(kafka, admin, ranges, (_topic, partition, message) => message.headers?.[WATERMARK_HEADER] === undefined && reread.push({ partition, value: message.value }), testLogger);
    const waiting: string[] = [];
    for (const { partition, value } of reread) {
      const label = await serde.decode<Label>(value);
      if (label.labeled_at > released.get(partition)!) waiting.push(label.transaction_id);
    }
    const neverSent = stream.wave(9).filter((entry) => entry.early).map((entry) => entry.vector.transaction_id);
    expect(neverSent.length).toBeGreaterThan(0);
    expect(new Set(waiting)).toEqual(new Set(neverSent));

    // Snapshots: versions increasing from 1, without a reset or repeat (gaps allowed: versionsGoingBack);
    // feature names in order; counts growing; metrics.
    const all = snapshots.values();
    for (const name of [LR, HST]) {
      const mine = all.filter((snapshot) => snapshot.model_name === name);
      expect(mine.length).toBeGreaterThan(5);
      const versions = mine.map((snapshot) => snapshot.version);
      expect(versions[0]).toBe(1);
      expect(versionsGoingBack(versions), 'versions repeated or going back').toEqual([]);
      for (const snapshot of mine) {
        expect(snapshot.feature_names).toEqual(FEATURE_NAMES);
        expect(snapshot.feature_set_version).toBe(FEATURE_SET_VERSION);
        expect(snapshot.algorithm).toBe(name === LR ? 'logistic_regression' : 'half_space_trees');
        expect(snapshot.metrics.window_size).toBe(METRICS_WINDOW);
        expect(snapshot.metrics.positives + snapshot.metrics.negatives).toBeLessThanOrEqual(METRICS_WINDOW);
      }
      for (let i = 1; i < mine.length; i++) {
        if (name === LR) expect(mine[i]!.trained_count).toBeGreaterThan(mine[i - 1]!.trained_count);
        else expect(mine[i]!.trained_count).toBeGreaterThanOrEqual(mine[i - 1]!.trained_count);
      }
      const final = mine.at(-1)!;
      expect(final.metrics.positives).toBeGreaterThan(20);
      expect(final.metrics.negatives).toBeGreaterThan(20);
      expect(final.metrics.roc_auc).not.toBeNull();
      expect(final.metrics.average_precision).not.toBeNull();
      expect(final.metrics.log_loss).toBeGreaterThan(0);
    }
    const lrAll = lrSnapshots();
    const finalLr = lrAll.at(-1)!;
    expect(finalLr.version).toBe(last.version);
    expect(finalLr.metrics.roc_auc!).toBeGreaterThan(0.8);
    const baseRate = finalLr.metrics.positives / (finalLr.metrics.positives + finalLr.metrics.negatives);
    expect(finalLr.metrics.average_precision!).toBeGreaterThan(baseRate + 0.2);

    // Restarts: every resumption from the changelog (the pair's first pick-up, any rebalance, the standby's takeover)
    // carried on from the last published version and training count, never from zero.
    const resumptions = [first, ...pair, third].flatMap((service) => service.logs.filter((line) => line.msg === 'resuming model from its changelog' && line.model === LR));
    expect(resumptions.length).toBeGreaterThanOrEqual(2);
    for (const line of resumptions) {
      const version = Number(line.version);
      const trainedThen = Number(line.trained);
      expect(version).toBeGreaterThan(0);
      expect(lrAll.find((snapshot) => snapshot.version === version)!.trained_count).toBeLessThanOrEqual(trainedThen);
      expect(lrAll.find((snapshot) => snapshot.version === version + 1)!.trained_count).toBeGreaterThan(trainedThen);
    }
    const fromSnapshot = await third.waitForLog((line) => line.msg === 'resuming model from its latest snapshot: no changelog state' && line.model === LR);
    expect(fromSnapshot).toMatchObject({ version: flushed.version, trained: flushed.trained_count });
    expect(logLine(third, 'resuming model from its latest snapshot: no changelog state', HST)).toBeDefined();
    expect(logLine(third, 'resuming model from its changelog', LR)).toBeUndefined();
    expect(lrAll.find((snapshot) => snapshot.version === flushed.version + 1)!.trained_count).toBeGreaterThan(flushed.trained_count);

    // The last snapshot's logistic regression points where the truth does and ranks fresh draws like it.
    const model = snapshotToModel(finalLr) as LogisticRegression;
    const weights = model.coefficients();
    const dot = weights.reduce((sum, w, i) => sum + w * TRUE_WEIGHTS[i]!, 0);
    const cosine = dot / (Math.hypot(...weights) * Math.hypot(...TRUE_WEIGHTS));
    expect(cosine).toBeGreaterThan(0.95);
    expect(weights.slice(0, 3).map(Math.sign)).toEqual(TRUE_WEIGHTS.slice(0, 3).map(Math.sign));
    expect(Math.abs(weights[3]!)).toBeLessThan(0.25 * Math.min(...weights.slice(0, 3).map(Math.abs)));
    const probe = new LearnerStream({ ...stream.options, seed: 99 }).wave(0);
    const modelAuc = pairAuc(probe.map((entry) => model.predict(entry.vector.feature_values)), probe.map((entry) => entry.fraud));
    const truthAuc = pairAuc(probe.map((entry) => truthLogit(entry.vector.feature_values)), probe.map((entry) => entry.fraud));
    expect(modelAuc).toBeGreaterThan(truthAuc - 0.03);

    // Nothing was dead-lettered.
    for (const dlq of [topics.transactionsDlq, topics.labelsDlq]) {
      const offsets = await admin.fetchTopicOffsets(dlq);
      expect(offsets.reduce((sum, partition) => sum + Number(partition.high), 0)).toBe(0);
    }
    await admin.disconnect();
    await producer.disconnect();
    console.log(
      `learner integration: ${stream.sent.length} vectors, ${examples.values().filter((e) => e.kind === 'labelled').length} labelled examples, ` +
        `${lrAll.length} LR snapshots (final AUC ${finalLr.metrics.roc_auc?.toFixed(3)}, AP ${finalLr.metrics.average_precision?.toFixed(3)}, cosine ${cosine.toFixed(3)}, ` +
        `held-out AUC ${modelAuc.toFixed(3)} vs truth ${truthAuc.toFixed(3)}); phases ${((afterFirst - started) / 1000).toFixed(1)} s, ` +
        `${((afterSecond - afterFirst) / 1000).toFixed(1)} s, ${((afterThird - afterSecond) / 1000).toFixed(1)} s`,
    );
  });
});
