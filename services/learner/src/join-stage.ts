import type { FeatureVector, InputMessage, KeyValueStore, Label, LabelledExample, ProcessingContext } from '@sluice/shared';
import { PendingFeatures, type PendingFeaturesOptions } from './label-join.js';
import type { LearnerMetrics } from './learner-metrics.js';

export const PENDING_STORE = 'pending';
export const EARLY_LABELS_STORE = 'early-labels';

interface PartitionJoin {
  pending: PendingFeatures;
  watermark: number;
}

/** What became of a label or vector in the join (`sluice_learner_labels_total{outcome}`). */
type LabelOutcome = 'matched' | 'horizon_passed' | 'early' | 'early_evicted';

/**
 * Stage one of the learner, partition-local (vectors and labels are both keyed
 * by customer_id): joins each label with the vector its transaction was scored
 * on and sends the pair to learner.examples. A label that arrives before its
 * vector (the two topics are not ordered with respect to each other) waits in
 * a bounded store. Vectors whose label does not come within the TTL of event
 * time are sent as genuine (the chargeback-horizon policy of label-join.ts).
 * Every vector also goes on unlabelled, for the label-free anomaly model.
 */
export class JoinStage {
  private readonly joins = new WeakMap<KeyValueStore<FeatureVector>, PartitionJoin>();

  constructor(
    private readonly topics: { transactionsFeatures: string; learnerExamples: string },
    private readonly options: PendingFeaturesOptions & { maxEarlyLabels: number },
    private readonly metrics: LearnerMetrics,
  ) {}

  process(message: InputMessage, context: ProcessingContext): void {
    const pendingStore = context.store<FeatureVector>(PENDING_STORE);
    const earlyLabels = context.store<Label>(EARLY_LABELS_STORE);
    const join = this.joinFor(pendingStore);
    if (message.topic === this.topics.transactionsFeatures) {
      const vector = message.value as FeatureVector;
      this.emit(context, { kind: 'unlabelled', label_source: 'none', is_fraud: false, labeled_at: null, vector });
      const early = earlyLabels.get(vector.transaction_id);
      if (early) {
        earlyLabels.delete(vector.transaction_id);
        this.count(context, 'matched');
        this.emit(context, { kind: 'labelled', label_source: 'label', is_fraud: early.is_fraud, labeled_at: early.labeled_at, vector });
      } else {
        const added = join.pending.addVector(vector);
        if (added.status === 'added') {
          pendingStore.put(vector.transaction_id, vector);
          if (added.evicted) pendingStore.delete(added.evicted.transaction_id);
        }
      }
      if (vector.event_time > join.watermark) join.watermark = vector.event_time;
      for (const expired of join.pending.expire(join.watermark)) {
        pendingStore.delete(expired.transaction_id);
        this.count(context, 'horizon_passed');
        this.emit(context, { kind: 'labelled', label_source: 'label_horizon_passed', is_fraud: false, labeled_at: null, vector: expired });
      }
    } else {
      const label = message.value as Label;
      const vector = join.pending.takeForLabel(label);
      if (vector) {
        pendingStore.delete(label.transaction_id);
        this.count(context, 'matched');
        this.emit(context, { kind: 'labelled', label_source: 'label', is_fraud: label.is_fraud, labeled_at: label.labeled_at, vector });
      } else {
        this.holdEarlyLabel(context, earlyLabels, label);
      }
    }
  }

  private holdEarlyLabel(context: ProcessingContext, earlyLabels: KeyValueStore<Label>, label: Label): void {
    this.count(context, 'early');
    earlyLabels.put(label.transaction_id, label);
    // Insertion order is age order: the oldest waiting label goes first.
    while (earlyLabels.size > this.options.maxEarlyLabels) {
      const oldest = earlyLabels.keys().next().value;
      if (oldest === undefined) break;
      earlyLabels.delete(oldest);
      this.count(context, 'early_evicted');
    }
  }

  private count(context: ProcessingContext, outcome: LabelOutcome): void {
    context.afterCommit(() => this.metrics.labels.inc({ outcome }));
  }

  private emit(context: ProcessingContext, example: LabelledExample): void {
    context.send(this.topics.learnerExamples, example.vector.transaction_id, example);
  }

  private joinFor(store: KeyValueStore<FeatureVector>): PartitionJoin {
    let join = this.joins.get(store);
    if (!join) {
      join = { pending: new PendingFeatures({ ttlMs: this.options.ttlMs, maxEntries: this.options.maxEntries }), watermark: -Infinity };
      for (const [, vector] of store.entries()) {
        join.pending.addVector(vector);
        if (vector.event_time > join.watermark) join.watermark = vector.event_time;
      }
      this.joins.set(store, join);
    }
    return join;
  }
}
