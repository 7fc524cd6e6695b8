/**
 * The two stages of the features service, each a processor of one input's
 * partitions (see README "Features: two stages"):
 *
 * 1. Customer stage, on transactions.valid and labels.valid (keyed by
 *    customer_id): computes the transaction's own features and its customer's
 *    windows where the customer's state lives, and routes the transaction —
 *    with those values — and every label to transactions.by-terminal, keyed by
 *    terminal_id. Without terminal features it writes the vector directly.
 * 2. Terminal stage, on transactions.by-terminal: applies labels to terminal
 *    risk windows, computes the terminal's windows for each transaction,
 *    assembles the full vector in spec order and re-keys it by customer_id on
 *    transactions.features.
 *
 * Entity states live in the partition's changelogged store, so the state,
 * the outputs and the input offsets commit in one transaction.
 */

import { SluiceError, type FeatureVector, type InputMessage, type KeyValueStore, type Label, type ProcessingContext, type RoutedEvent, type Transaction } from '@sluice/shared';
import { CUSTOMER_KEY, TERMINAL_KEY } from './config.js';
import type { EntityState } from './entity-state.js';
import { EntityStore } from './entity-store.js';
import type { FeatureStageName, FeaturesMetrics } from './features-metrics.js';
import type { EntityPlan, FeaturePlan } from './plan.js';
import { assembleVector, eventFeatures } from './vector.js';

export const CUSTOMERS_STORE = 'customers';
export const TERMINALS_STORE = 'terminals';

export interface FeatureStageTopics {
  transactionsValid: string;
  labelsValid: string;
  transactionsByTerminal: string;
  transactionsFeatures: string;
}

interface PartitionEntities {
  store: EntityStore;
  /** Newest event time on this partition: entities older than every window's reach from here are dropped. */
  watermark: number;
  lastEvictionAt: number;
}

/**
 * One stage's entity stores, one per assigned partition, built on the
 * processor's changelogged store the first time a batch of that partition
 * arrives (after its restore), and forgotten with it.
 */
class StageEntities {
  private readonly partitions = new WeakMap<KeyValueStore<EntityState>, PartitionEntities>();
  private readonly bytesByPartition = new Map<number, number>();
  private readonly entitiesByPartition = new Map<number, number>();
  private newestEventTime = -Infinity;

  constructor(
    readonly stage: FeatureStageName,
    private readonly storeName: string,
    private readonly plan: EntityPlan,
    private readonly evictIntervalMs: number,
    private readonly metrics: FeaturesMetrics,
  ) {}

  of(context: ProcessingContext): PartitionEntities {
    const kv = context.store<EntityState>(this.storeName);
    let entities = this.partitions.get(kv);
    if (entities === undefined) {
      const store = new EntityStore(this.plan, kv);
      entities = { store, watermark: store.watermark(), lastEvictionAt: context.now };
      this.partitions.set(kv, entities);
    }
    return entities;
  }

  update(context: ProcessingContext, transaction: Transaction): number[] {
    const entities = this.of(context);
    const { outcome, values } = guard(() => entities.store.update(transaction));
    context.afterCommit(() => this.metrics.events.inc({ stage: this.stage, outcome }));
    if (transaction.event_time > entities.watermark) entities.watermark = transaction.event_time;
    if (transaction.event_time > this.newestEventTime) {
      this.newestEventTime = transaction.event_time;
      this.metrics.watermarkLag.set({ stage: this.stage }, (Date.now() - transaction.event_time) / 1000);
    }
    return values;
  }

  applyLabel(context: ProcessingContext, label: Label): void {
    const { outcome } = guard(() => this.of(context).store.applyLabel(label));
    context.afterCommit(() => this.metrics.labels.inc({ stage: this.stage, outcome }));
  }

  /** Drops the partition's expired entities (tombstones in the same transaction) at most once per interval. */
  maybeEvict(context: ProcessingContext): void {
    const entities = this.of(context);
    if (context.now - entities.lastEvictionAt < this.evictIntervalMs && this.entitiesByPartition.has(context.partition)) return;
    entities.lastEvictionAt = context.now;
    const evicted = entities.store.evictExpired(entities.watermark);
    if (evicted.length > 0) context.afterCommit(() => this.metrics.evicted.inc({ stage: this.stage }, evicted.length));
    this.entitiesByPartition.set(context.partition, entities.store.size);
    this.bytesByPartition.set(context.partition, entities.store.estimateBytes());
    this.metrics.entities.set({ stage: this.stage }, sum(this.entitiesByPartition.values()));
    this.metrics.stateBytes.set({ stage: this.stage }, sum(this.bytesByPartition.values()));
  }
}

function countVector(metrics: FeaturesMetrics, context: ProcessingContext, transaction: Transaction): void {
  context.afterCommit(() => {
    metrics.vectors.inc();
    metrics.outputLatency.observe(Math.max(0, context.now - transaction.ingested_at) / 1000);
  });
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** The engine rejects records it cannot place (no id, no integer time, no finite amount): dead-lettered with the reason. */
function guard<T>(compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw new SluiceError('FEATURE_INPUT_INVALID', error.message);
    throw error;
  }
}

function vectorOf(plan: FeaturePlan, transaction: Transaction, values: number[]): FeatureVector {
  return {
    transaction_id: transaction.transaction_id,
    customer_id: transaction.customer_id,
    terminal_id: transaction.terminal_id,
    event_time: transaction.event_time,
    amount: transaction.amount,
    feature_set_version: plan.version,
    feature_names: plan.names,
    feature_values: values,
    ingested_at: transaction.ingested_at,
  };
}

export class CustomerStage {
  private readonly customers: StageEntities | undefined;
  private readonly customerUsesLabels: boolean;
  private readonly routesToTerminals: boolean;
  private readonly routesLabels: boolean;

  constructor(
    private readonly plan: FeaturePlan,
    private readonly topics: FeatureStageTopics,
    evictIntervalMs: number,
    private readonly metrics: FeaturesMetrics,
  ) {
    const customerPlan = plan.entities.get(CUSTOMER_KEY);
    this.customers = customerPlan && new StageEntities('customer', CUSTOMERS_STORE, customerPlan, evictIntervalMs, metrics);
    this.customerUsesLabels = customerPlan?.usesLabels ?? false;
    const terminalPlan = plan.entities.get(TERMINAL_KEY);
    this.routesToTerminals = terminalPlan !== undefined;
    this.routesLabels = terminalPlan?.usesLabels ?? false;
  }

  process(message: InputMessage, context: ProcessingContext): void {
    if (message.topic === this.topics.labelsValid) {
      const label = message.value as Label;
      if (this.customerUsesLabels) this.customers!.applyLabel(context, label);
      if (this.routesLabels) {
        const routed: RoutedEvent = { feature_set_version: this.plan.version, transaction: null, label, event_values: [], customer_values: [] };
        context.send(this.topics.transactionsByTerminal, label.terminal_id, routed);
      }
      return;
    }
    const transaction = message.value as Transaction;
    const eventValues = guard(() => eventFeatures(this.plan, transaction));
    const customerValues = this.customers ? this.customers.update(context, transaction) : [];
    if (this.routesToTerminals) {
      const routed: RoutedEvent = {
        feature_set_version: this.plan.version,
        transaction,
        label: null,
        event_values: eventValues,
        customer_values: customerValues,
      };
      context.send(this.topics.transactionsByTerminal, transaction.terminal_id, routed);
      return;
    }
    const values = assembleVector(this.plan, eventValues, this.customers ? { [CUSTOMER_KEY]: customerValues } : {});
    context.send(this.topics.transactionsFeatures, transaction.customer_id, vectorOf(this.plan, transaction, values));
    countVector(this.metrics, context, transaction);
  }

  afterBatch(context: ProcessingContext): void {
    this.customers?.maybeEvict(context);
  }
}

export class TerminalStage {
  private readonly terminals: StageEntities;

  constructor(
    private readonly plan: FeaturePlan,
    private readonly topics: FeatureStageTopics,
    evictIntervalMs: number,
    private readonly metrics: FeaturesMetrics,
  ) {
    const terminalPlan = plan.entities.get(TERMINAL_KEY);
    if (terminalPlan === undefined) throw new SluiceError('NO_TERMINAL_FEATURES', 'the terminal stage needs terminal features in the spec');
    this.terminals = new StageEntities('terminal', TERMINALS_STORE, terminalPlan, evictIntervalMs, metrics);
  }

  process(message: InputMessage, context: ProcessingContext): void {
    const routed = message.value as RoutedEvent;
    if (routed.feature_set_version !== this.plan.version) {
      // During a rolling change of the spec, old-stage values cannot be mixed with new-stage ones.
      throw new SluiceError(
        'FEATURE_SET_MISMATCH',
        `routed by feature set ${routed.feature_set_version}, this instance computes ${this.plan.version}: replay it after the rollout`,
      );
    }
    if (routed.label !== null) {
      this.terminals.applyLabel(context, routed.label);
      return;
    }
    const transaction = routed.transaction;
    if (transaction === null) throw new SluiceError('ROUTED_EVENT_EMPTY', 'a routed event carries neither a transaction nor a label');
    const terminalValues = this.terminals.update(context, transaction);
    const parts: Record<string, readonly number[]> = { [TERMINAL_KEY]: terminalValues };
    if (this.plan.entities.has(CUSTOMER_KEY)) parts[CUSTOMER_KEY] = routed.customer_values;
    const values = guard(() => assembleVector(this.plan, routed.event_values, parts));
    context.send(this.topics.transactionsFeatures, transaction.customer_id, vectorOf(this.plan, transaction, values));
    countVector(this.metrics, context, transaction);
  }

  afterBatch(context: ProcessingContext): void {
    this.terminals.maybeEvict(context);
  }
}
