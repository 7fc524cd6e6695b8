/**
 * Throughput of the training stage in process, as the service runs it: batches
 * of labelled and unlabelled examples through TrainStage.process, then
 * afterBatch (snapshots when due, the models' state put in the store) and the
 * store's changelog serialisation, which the processor does before each commit.
 * Kafka and Avro are left out. Prints figures, asserts nothing.
 * Run: node --conditions=sluice-source --import tsx services/learner/bench/train-stage.ts
 */
import { performance } from 'node:perf_hooks';
import { createLogger, PartitionStore, Random, Registry, type FeatureVector, type InputRecord, type LabelledExample, type ProcessingContext } from '@sluice/shared';
import { LearnerMetrics } from '../src/learner-metrics.js';
import { MODEL_STORE, TRAIN_BUFFER_STORE, TRAIN_CLOCKS_STORE, type TrainInputs } from '../src/topology.js';
import { exampleOrder, TrainStage } from '../src/train-stage.js';

const NAMES = Array.from({ length: 15 }, (_, i) => `F${i}`);
const EXAMPLES = 60_000;
const logger = createLogger('bench', 'silent');

function stream(): LabelledExample[] {
  const r = new Random(7);
  const out: LabelledExample[] = [];
  for (let t = 0; t < EXAMPLES; t++) {
    const x = NAMES.map(() => r.normal());
    const vector: FeatureVector = {
      transaction_id: `tx${t}`,
      customer_id: `c${t % 500}`,
      terminal_id: 't',
      event_time: 1_700_000_000_000 + t * 1000,
      amount: 10,
      feature_set_version: 'v1',
      feature_names: NAMES,
      feature_values: x,
      ingested_at: 0,
    };
    // As on learner.examples: every vector once unlabelled, and (later) once labelled.
    out.push({ kind: 'unlabelled', label_source: 'none', is_fraud: false, labeled_at: null, vector });
    out.push({ kind: 'labelled', label_source: 'label', is_fraud: r.next() < 1 / (1 + Math.exp(-(x[0]! * 2 - 4))), labeled_at: vector.event_time, vector });
  }
  return out;
}

async function run(examples: LabelledExample[], batchSize: number, metricsWindow: number): Promise<void> {
  const stage = new TrainStage(
    'model.updates',
    {
      models: [{ name: 'lr', algorithm: 'logistic_regression' }],
      anomalyModelName: 'hst',
      learningRate: 0.1,
      l2: 1e-4,
      metricsWindow,
      drift: { kind: 'adwin' },
      driftReaction: 'shrink',
      shrinkKeep: 0.3,
      snapshotEveryLabels: 500,
      snapshotIntervalMs: 30_000,
      champion: { metric: 'average_precision', margin: 0.02, minLabels: 50_000 },
    },
    new LearnerMetrics(new Registry()),
    logger,
    async () => new Map(),
  );
  const stores = new Map([MODEL_STORE, TRAIN_BUFFER_STORE, TRAIN_CLOCKS_STORE].map((name) => [name, new PartitionStore<unknown>({ name, changelogTopic: 'changelog' }, 0)]));
  const store = <V>(name: string) => stores.get(name) as unknown as PartitionStore<V>;
  const task = { partition: 0, lagAtAssignment: new Map() };
  stage.onRestored({ partition: 0, task, logger, now: 0, store });
  let changelogBytes = 0;
  let snapshots = 0;
  const context = (now: number): ProcessingContext => ({
    partition: 0,
    logger,
    now,
    batch: undefined,
    task,
    store,
    sendWatermark: () => undefined,
    send: () => void (snapshots += 1),
    sendBytes: () => undefined,
    // Every batch commits here.
    // Flow control changes only when input is read; here every input is handed over in order.
    pauseInput: () => undefined,
    resumeInput: () => undefined,
    isInputPaused: () => false,
    afterCommit: (effect) => effect(),
    deadLetter: () => undefined,
  });
  const start = performance.now();
  for (let i = 0; i < examples.length; i += batchSize) {
    const ctx = context(i);
    for (const [j, example] of examples.slice(i, i + batchSize).entries()) {
      const message: InputRecord<TrainInputs> = { input: 'examples', topic: 'learner.examples', partition: 0, offset: String(i + j), timestamp: '0', key: null, value: example, rawValue: null, headers: {} };
      stage.process(message, ctx);
    }
    // One join task whose watermark follows its batch: everything read is released and trained.
    const last = examples[Math.min(i + batchSize, examples.length) - 1]!;
    const time = exampleOrder(last).time;
    stage.process({ input: 'examples', topic: 'learner.examples', partition: 0, offset: '0', timestamp: '0', key: null, value: null, rawValue: null, headers: {}, watermark: { source: 0, sources: 1, time, idle: false } }, ctx);
    await stage.afterBatch(ctx);
    for (const store of stores.values()) for (const record of store.drainChanges()) changelogBytes += record.value?.length ?? 0;
  }
  const seconds = (performance.now() - start) / 1000;
  const batches = Math.ceil(examples.length / batchSize);
  console.log(
    `batch ${String(batchSize).padStart(5)}, window ${String(metricsWindow).padStart(5)}: ` +
      `${Math.round(EXAMPLES / seconds).toLocaleString('en-US').padStart(8)} labels/s (plus as many unlabelled vectors), ` +
      `changelog ${Math.round(changelogBytes / batches / 1024)} kB per batch, ${snapshots} snapshots`,
  );
}

const examples = stream();
console.log(`${EXAMPLES.toLocaleString('en-US')} vectors, each once unlabelled and once labelled, ${NAMES.length} features; both models (LR + HST)`);
for (const metricsWindow of [2_000, 10_000]) for (const batchSize of [10, 100, 1_000]) await run(examples, batchSize, metricsWindow);
