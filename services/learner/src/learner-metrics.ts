import { Counter, Gauge, type Registry } from 'prom-client';

/** The events a stage holds on this instance: over all its tasks, and in its fullest one. */
export interface BufferedEvents {
  total: number;
  largestTask: number;
}

const NO_EVENTS: BufferedEvents = { total: 0, largestTask: 0 };

/** What a stage's tasks hold, from each task's count. */
export function bufferedEventsOf(perTask: Iterable<number>): BufferedEvents {
  let total = 0;
  let largestTask = 0;
  for (const events of perTask) {
    total += events;
    largestTask = Math.max(largestTask, events);
  }
  return { total, largestTask };
}

export class LearnerMetrics {
  readonly labels: Counter<'outcome'>;
  readonly pending: Gauge;
  readonly trained: Counter<'model'>;
  readonly modelVersion: Gauge<'model'>;
  readonly rocAuc: Gauge<'model'>;
  readonly averagePrecision: Gauge<'model'>;
  readonly logLoss: Gauge<'model'>;
  readonly drift: Counter<'model'>;
  readonly snapshots: Counter<'model'>;
  readonly lastSnapshot: Gauge<'model'>;
  readonly champion: Gauge<'model'>;
  readonly championSwitches: Counter;
  readonly buffered: Gauge<'stage'>;
  readonly largestTaskBuffered: Gauge<'stage'>;

  /**
   * Read at each scrape, over the tasks this instance holds now: `pendingVectors`, the vectors waiting for their
   * label; `bufferedEvents`, the events a stage holds until the watermarks pass them, in all and in its fullest task.
   */
  constructor(registry: Registry, pendingVectors: () => number = () => 0, bufferedEvents: (stage: 'join' | 'train') => BufferedEvents = () => NO_EVENTS) {
    const registers = [registry];
    this.labels = new Counter({
      name: 'sluice_learner_labels_total',
      help: 'Labels and vectors joined, in event time: matched (label met its vector), early (label established before its transaction, held until its vector), unknown (vector expired, evicted or never seen), horizon_passed (no label within the TTL: trained as genuine), early_evicted (memory bound), early_expired (its transaction never came), late (older than the frontier already applied: applied at once), late_example (the same at the training stage).',
      labelNames: ['outcome'],
      registers,
    });
    this.pending = new Gauge({
      name: 'sluice_learner_pending_vectors',
      help: 'Feature vectors waiting for their label on this instance (all its join partitions).',
      registers,
      collect() {
        this.set(pendingVectors());
      },
    });
    this.buffered = new Gauge({
      name: 'sluice_learner_buffered_events',
      help: 'Events held until every upstream partition has passed their event time (the watermark), by stage: join (vectors and labels), train (examples).',
      labelNames: ['stage'],
      registers,
      collect() {
        for (const stage of ['join', 'train'] as const) this.set({ stage }, bufferedEvents(stage).total);
      },
    });
    this.largestTaskBuffered = new Gauge({
      name: 'sluice_learner_largest_task_buffered_events',
      help: 'Events held by the fullest task of a stage on this instance: what LEARNER_BUFFER_MAX_EVENTS bounds, per task (plus what a fetch brought before the pause).',
      labelNames: ['stage'],
      registers,
      collect() {
        for (const stage of ['join', 'train'] as const) this.set({ stage }, bufferedEvents(stage).largestTask);
      },
    });
    this.trained = new Counter({ name: 'sluice_learner_trained_examples_total', help: 'Examples learned (test-then-train), by model.', labelNames: ['model'], registers });
    this.modelVersion = new Gauge({ name: 'sluice_learner_model_version', help: 'Version of the last snapshot published, by model.', labelNames: ['model'], registers });
    this.rocAuc = new Gauge({ name: 'sluice_learner_roc_auc', help: 'Prequential ROC AUC over the recent labelled window.', labelNames: ['model'], registers });
    this.averagePrecision = new Gauge({ name: 'sluice_learner_average_precision', help: 'Prequential average precision over the recent labelled window.', labelNames: ['model'], registers });
    this.logLoss = new Gauge({ name: 'sluice_learner_log_loss', help: 'Prequential log loss over the recent labelled window.', labelNames: ['model'], registers });
    this.drift = new Counter({ name: 'sluice_learner_drift_detections_total', help: 'Drift detected on the error stream, by model.', labelNames: ['model'], registers });
    this.snapshots = new Counter({ name: 'sluice_learner_snapshots_total', help: 'Model snapshots published to model.updates.', labelNames: ['model'], registers });
    this.champion = new Gauge({
      name: 'sluice_learner_champion',
      help: 'The champion rule\'s choice at the last snapshot round: 1 for the champion, 0 for the other supervised models.',
      labelNames: ['model'],
      registers,
    });
    this.championSwitches = new Counter({ name: 'sluice_learner_champion_switches_total', help: 'Rounds at which the champion rule chose another model (the first choice included).', registers });
    this.lastSnapshot = new Gauge({ name: 'sluice_learner_last_snapshot_timestamp_seconds', help: 'When the last snapshot was published (Unix time).', labelNames: ['model'], registers });
  }
}
