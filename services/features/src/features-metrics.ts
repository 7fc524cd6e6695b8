import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Stage label values: `customer` (transactions.valid) and `terminal` (transactions.by-terminal). */
export type FeatureStageName = 'customer' | 'terminal';

export class FeaturesMetrics {
  readonly events: Counter<'stage' | 'outcome'>;
  readonly labels: Counter<'stage' | 'outcome'>;
  readonly vectors: Counter;
  readonly evicted: Counter<'stage'>;
  readonly entities: Gauge<'stage'>;
  readonly stateBytes: Gauge<'stage'>;
  readonly watermarkLag: Gauge<'stage'>;
  readonly outputLatency: Histogram;
  readonly buffered: Gauge<'stage'>;
  readonly largestTaskBuffered: Gauge<'stage'>;
  readonly behindWatermark: Counter<'stage'>;
  readonly sources: Gauge<'stage' | 'state'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.events = new Counter({
      name: 'sluice_features_events_total',
      help: 'Transactions applied to entity windows, by stage and outcome: in_order, out_of_order (within the grace period, placed where it belongs), late (beyond grace: scored on the retained windows, state untouched).',
      labelNames: ['stage', 'outcome'],
      registers,
    });
    this.labels = new Counter({
      name: 'sluice_features_labels_total',
      help: 'Labels fed back into entity windows, by stage and outcome: applied, expired (older than any window can see), ignored (no window reads it), unmatched (no unlabelled transaction of the entity at its time: never seen, too late, or a repeat).',
      labelNames: ['stage', 'outcome'],
      registers,
    });
    this.vectors = new Counter({ name: 'sluice_features_vectors_total', help: 'Feature vectors written to transactions.features.', registers });
    this.evicted = new Counter({ name: 'sluice_features_evicted_entities_total', help: 'Entity states dropped because no window can see them any more.', labelNames: ['stage'], registers });
    this.entities = new Gauge({ name: 'sluice_features_entities', help: 'Entity states held by this instance, by stage.', labelNames: ['stage'], registers });
    this.stateBytes = new Gauge({ name: 'sluice_features_state_bytes', help: 'Estimated heap held by entity states on this instance, by stage (sampled at each eviction pass).', labelNames: ['stage'], registers });
    this.outputLatency = new Histogram({
      name: 'sluice_features_output_latency_seconds',
      help: "From the transaction's acceptance by ingest (ingested_at) to its feature vector being queued for transactions.features.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.buffered = new Gauge({
      name: 'sluice_features_buffered_events',
      help: 'Events held until every upstream partition has passed their event time (the watermark), by stage.',
      labelNames: ['stage'],
      registers,
    });
    this.largestTaskBuffered = new Gauge({
      name: 'sluice_features_largest_task_buffered_events',
      help: 'Events held by the fullest task of a stage on this instance: what FEATURES_BUFFER_MAX_EVENTS bounds, per task (plus what the customer tasks wrote before they paused).',
      labelNames: ['stage'],
      registers,
    });
    this.behindWatermark = new Counter({
      name: 'sluice_features_behind_watermark_total',
      help: 'Events that arrived older than the watermark already passed (a source back from idle, or disorder beyond FEATURES_WATERMARK_DISORDER_MS): applied at once, as late data, by stage.',
      labelNames: ['stage'],
      registers,
    });
    this.sources = new Gauge({
      name: 'sluice_features_upstream_sources',
      help: 'Upstream partitions whose watermarks the stage follows, by state: active, idle (not waited for), missing (not heard from yet: nothing is released).',
      labelNames: ['stage', 'state'],
      registers,
    });
    this.watermarkLag = new Gauge({
      name: 'sluice_features_event_time_lag_seconds',
      help: 'Wall clock minus the newest event time seen, by stage (large for replayed history, growing when input stalls).',
      labelNames: ['stage'],
      registers,
    });
  }
}
