import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The processor's metrics (deploy/README lists them). */
export class ProcessorMetrics {
  readonly consumed: Counter<'topic' | 'outcome'>;
  readonly produced: Counter<'topic'>;
  readonly deadLetters: Counter<'topic' | 'code'>;
  readonly batchSeconds: Histogram<'topic'>;
  readonly transactions: Counter<'group' | 'outcome'>;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly restoreSeconds: Histogram<'group'>;
  readonly restoredRecords: Counter<'group'>;
  readonly stateEntries: Gauge<'store'>;
  readonly rebalances: Counter<'group'>;
  readonly assignedPartitions: Gauge<'group'>;
  readonly watermarkRecords: Counter<'topic' | 'direction'>;
  readonly pausedInputs: Gauge<'topic'>;

  private static readonly byRegistry = new WeakMap<Registry, ProcessorMetrics>();

  /** One set per registry: a service may run several processors (e.g. two stages), each labelling by its own topics and group. */
  static of(registry: Registry): ProcessorMetrics {
    let metrics = ProcessorMetrics.byRegistry.get(registry);
    if (metrics === undefined) {
      metrics = new ProcessorMetrics(registry);
      ProcessorMetrics.byRegistry.set(registry, metrics);
    }
    return metrics;
  }

  private constructor(registry: Registry) {
    const registers = [registry];
    this.consumed = new Counter({ name: 'sluice_messages_consumed_total', help: 'Input messages handled, by topic and outcome.', labelNames: ['topic', 'outcome'], registers });
    this.produced = new Counter({ name: 'sluice_messages_produced_total', help: 'Output messages committed, by topic.', labelNames: ['topic'], registers });
    this.deadLetters = new Counter({ name: 'sluice_dead_letters_total', help: 'Messages sent to a dead-letter topic, by source topic and error code.', labelNames: ['topic', 'code'], registers });
    this.batchSeconds = new Histogram({
      name: 'sluice_batch_processing_seconds',
      help: 'Time to process and commit one batch of one partition.',
      labelNames: ['topic'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.transactions = new Counter({ name: 'sluice_kafka_transactions_total', help: 'Kafka transactions, by consumer group and outcome.', labelNames: ['group', 'outcome'], registers });
    this.lag = new Gauge({ name: 'sluice_consumer_lag_messages', help: 'Messages behind the end of each input partition, as of the last batch.', labelNames: ['topic', 'partition'], registers });
    this.restoreSeconds = new Histogram({ name: 'sluice_state_restore_seconds', help: 'Time to restore state from changelogs after an assignment, by consumer group.', labelNames: ['group'], buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers });
    this.restoredRecords = new Counter({ name: 'sluice_state_restored_records_total', help: 'Changelog records read while restoring state, by consumer group.', labelNames: ['group'], registers });
    this.stateEntries = new Gauge({ name: 'sluice_state_entries', help: 'Entries held in memory, by store.', labelNames: ['store'], registers });
    this.rebalances = new Counter({ name: 'sluice_rebalances_total', help: 'Consumer group assignments received, by consumer group.', labelNames: ['group'], registers });
    this.assignedPartitions = new Gauge({ name: 'sluice_assigned_partitions', help: 'Input partitions this instance owns, by consumer group.', labelNames: ['group'], registers });
    this.watermarkRecords = new Counter({
      name: 'sluice_watermark_records_total',
      help: 'Watermark records (event-time progress, no data) written and read, by topic and direction; not in the message counters.',
      labelNames: ['topic', 'direction'],
      registers,
    });
    this.pausedInputs = new Gauge({ name: 'sluice_paused_inputs', help: 'Task inputs paused by their handler (flow control), by topic.', labelNames: ['topic'], registers });
  }
}

/** Moves this processor's share of a gauge shared by processors of one registry to `counts`, from what it last added. */
export function publishShare(gauge: Gauge<'topic'>, published: Map<string, number>, counts: ReadonlyMap<string, number>): void {
  for (const [topic, count] of counts) {
    const previous = published.get(topic);
    if (previous === count) continue;
    gauge.inc({ topic }, count - (previous ?? 0));
    published.set(topic, count);
  }
}
