/**
 * A labelled stream for the learner's integration test, with complete
 * knowledge of what the learner must make of it: feature vectors drawn from a
 * known logistic model, labels (some sent a wave before their vector, some
 * never), and the exact set of examples the join stage must emit.
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { Random, type FeatureVector, type Label, type LabelledExample } from '@sluice/shared';

export const FEATURE_NAMES = ['f0', 'f1', 'f2', 'f3'];
/** The truth: log-odds of fraud = BIAS + Σ TRUE_WEIGHTS · x, x ~ N(0, 1) per feature; f3 is noise. */
export const TRUE_WEIGHTS = [2, -1.5, 1, 0];
export const BIAS = -1;
export const FEATURE_SET_VERSION = 'learner-int-v1';

const MINUTE = 60_000;
const START = Date.UTC(2024, 4, 1);
/** Labels are established this long after their transaction. */
const LABEL_DELAY = 3 * MINUTE;
/**
 * Event time between one wave's last vector and the next wave's first: room
 * for a watermark past the wave's labels (`labelsPassed`), which the learner
 * needs to train them, without making the next wave late.
 */
const WAVE_GAP = 6 * MINUTE;

export interface StreamVector {
  vector: FeatureVector;
  partition: number;
  /** Drawn from the truth. */
  fraud: boolean;
  /** Whether a label is ever sent. */
  labelled: boolean;
  /** Label sent with the previous wave, before this vector exists on the broker. */
  early: boolean;
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

export function truthLogit(x: readonly number[]): number {
  return x.reduce((sum, value, i) => sum + value * (TRUE_WEIGHTS[i] as number), BIAS);
}

const partitioner = Partitioners.DefaultPartitioner();

/** The partition kafkajs's default partitioner (murmur2, as the Java client) gives a key. */
export function partitionOf(topic: string, key: string, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 1 }) as PartitionMetadata);
  return partitioner({ topic, partitionMetadata, message: { key, value: null } });
}

/**
 * Waves of `waveSize` vectors, one per event-time minute, so a wave spans
 * `waveSize` minutes of event time. With the learner's label TTL set to
 * `ttlMs` ≥ one wave, no vector can expire during its own wave: a test that
 * sends a wave only once the previous wave's labels have all been joined
 * knows exactly which vectors pass their label horizon (the unlabelled ones,
 * once a later vector on their partition is `ttlMs` newer).
 */
export class LearnerStream {
  readonly sent: StreamVector[] = [];
  /** The newest watermark the test has written to transactions.features (`TestWatermarks`): the join's frontier once the labels partitions are idle. */
  watermark = -Infinity;
  private readonly waves = new Map<number, StreamVector[]>();
  private readonly random: Random;
  private flushes = 0;

  constructor(
    readonly options: { seed: number; waveSize: number; customers: number; partitions: number; unlabelledRate: number; earlyRate: number; ttlMs: number; featuresTopic: string },
  ) {
    this.random = new Random(options.seed);
    if (options.ttlMs < options.waveSize * MINUTE) throw new Error('the TTL must cover a wave');
  }

  /** Vectors of wave w, generated on first use (the early labels of wave w + 1 are sent with wave w). */
  wave(w: number): StreamVector[] {
    let wave = this.waves.get(w);
    if (!wave) {
      const { waveSize, customers, unlabelledRate, earlyRate, partitions, featuresTopic } = this.options;
      wave = Array.from({ length: waveSize }, (_, i) => {
        const customer = `cust-${Math.floor(this.random.next() * customers)}`;
        const x = FEATURE_NAMES.map(() => this.random.normal());
        const fraud = this.random.next() < sigmoid(truthLogit(x));
        const labelled = this.random.next() >= unlabelledRate;
        const early = labelled && w > 0 && this.random.next() < earlyRate;
        const vector: FeatureVector = {
          transaction_id: `tx-${w}-${i}`,
          customer_id: customer,
          terminal_id: `term-${i % 13}`,
          event_time: START + w * (waveSize * MINUTE + WAVE_GAP) + i * MINUTE,
          amount: Math.round(Math.exp(3 + x[0]!) * 100) / 100,
          feature_set_version: FEATURE_SET_VERSION,
          feature_names: FEATURE_NAMES,
          feature_values: x,
          ingested_at: Date.now(),
        };
        return { vector, partition: partitionOf(featuresTopic, customer, partitions), fraud, labelled, early };
      });
      this.waves.set(w, wave);
    }
    return wave;
  }

  label(entry: StreamVector): Label {
    const { vector } = entry;
    return {
      transaction_id: vector.transaction_id,
      customer_id: vector.customer_id,
      terminal_id: vector.terminal_id,
      tx_event_time: vector.event_time,
      is_fraud: entry.fraud,
      labeled_at: vector.event_time + LABEL_DELAY,
      ingested_at: Date.now(),
    };
  }

  /**
   * What to send for wave w, in order: the early labels of wave w + 1 first
   * (so that the labels of this wave, later on the same partitions, prove them
   * processed once joined), then this wave's vectors, then its other labels.
   */
  plan(w: number): { earlyLabels: Label[]; vectors: StreamVector[]; labels: Label[] } {
    const next = this.wave(w + 1).filter((entry) => entry.early);
    const vectors = this.wave(w);
    const labels = vectors.filter((entry) => entry.labelled && !entry.early).map((entry) => this.label(entry));
    // Every early label must be followed on its partition by a label of this wave (see above).
    const laterPartitions = new Set(vectors.filter((entry) => entry.labelled && !entry.early).map((entry) => entry.partition));
    const uncovered = next.filter((entry) => !laterPartitions.has(entry.partition));
    if (uncovered.length > 0) throw new Error(`wave ${w}: early labels on partitions without a later label: ${uncovered.map((e) => e.partition).join(',')}`);
    return { earlyLabels: next.map((entry) => this.label(entry)), vectors, labels };
  }

  markSent(vectors: StreamVector[]): void {
    this.sent.push(...vectors);
  }

  /** The newest event time sent: the watermark to write after a batch of vectors. */
  get newestSent(): number {
    return Math.max(...this.sent.map((entry) => entry.vector.event_time));
  }

  /** A watermark past every label of what was sent (each established LABEL_DELAY after its vector), still before the next wave. */
  get labelsPassed(): number {
    return this.newestSent + LABEL_DELAY + MINUTE;
  }

  /** A vector that is never labelled and moves no watermark: at the newest event time already on its partition. */
  flushVector(customer: string): StreamVector {
    const partition = partitionOf(this.options.featuresTopic, customer, this.options.partitions);
    const newest = Math.max(...this.sent.filter((entry) => entry.partition === partition).map((entry) => entry.vector.event_time));
    if (!Number.isFinite(newest)) throw new Error(`no vector on partition ${partition} yet`);
    const vector: FeatureVector = {
      ...this.sent.find((entry) => entry.partition === partition)!.vector,
      transaction_id: `flush-${this.flushes++}`,
      customer_id: customer,
      event_time: newest,
      feature_values: FEATURE_NAMES.map(() => this.random.normal()),
    };
    return { vector, partition, fraud: false, labelled: false, early: false };
  }

  /**
   * The examples the join stage must have emitted for everything sent, once
   * each: every vector unlabelled; every labelled vector with its label; every
   * never-labelled vector whose horizon passed (event time + TTL at or before
   * the watermark: the join decides in event time) as genuine. Keyed
   * `kind/label_source/transaction_id`, with the expected is_fraud.
   */
  expectedExamples(): Map<string, boolean> {
    const expected = new Map<string, boolean>();
    for (const entry of this.sent) {
      const id = entry.vector.transaction_id;
      expected.set(`unlabelled/none/${id}`, false);
      if (entry.labelled) expected.set(`labelled/label/${id}`, entry.fraud);
      else if (entry.vector.event_time + this.options.ttlMs <= this.watermark) expected.set(`labelled/label_horizon_passed/${id}`, false);
    }
    return expected;
  }
}

export function exampleKey(example: LabelledExample): string {
  return `${example.kind}/${example.label_source}/${example.vector.transaction_id}`;
}
