/**
 * Samples the services' event-time buffers during the pipeline bench's replay: a gauge read only at the end
 * shows a drained buffer, so the peak needs sampling while the replay runs. Reads each service's /metrics every
 * `intervalMs`: the events each buffer holds (its service's gauge: a buffer's store keeps a batch of events to an
 * entry, so its `sluice_state_entries` counts segments), `sluice_state_entries{store}` for the others (set after every
 * committed batch, summed over the processor's tasks), `sluice_paused_inputs` (flow control), and VmRSS from /proc
 * with, at each service's peak, what its process said of its memory in the same scrape (V8 heap used and reserved,
 * memory outside the heap): what the RSS is made of, so that a cut aims at the right part.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { scrapeMetrics, sumByLabel, type BenchService, type ServiceName } from './services.js';

/** The stores that hold events until a watermark passes them (fraud's is another stage's hold, shown for comparison). */
export const EVENT_TIME_BUFFER_STORES: readonly { service: ServiceName; store: string }[] = [
  { service: 'features', store: 'terminal-buffer' },
  { service: 'learner', store: 'join-buffer' },
  { service: 'learner', store: 'train-buffer' },
  { service: 'learner', store: 'pending' },
  { service: 'learner', store: 'early-labels' },
  { service: 'fraud', store: 'buffer' },
];

/** A bounded buffer: the gauge of its fullest task (the bound is per task; the event gauge sums the tasks) and its limit. */
interface Bound {
  metric: string;
  stage: string;
  /** The service's variable and its default: the services inherit the bench's environment, so a limit set there holds. */
  limitVariable: string;
  defaultLimit: number;
}

/** The gauge (and its stage) that counts a buffer store's events, where its entries are segments or names; its bound, if any. */
const EVENT_GAUGES: Record<string, { metric: string; stage?: string; bound?: Bound }> = {
  'features/terminal-buffer': {
    metric: 'sluice_features_buffered_events',
    stage: 'terminal',
    bound: { metric: 'sluice_features_largest_task_buffered_events', stage: 'terminal', limitVariable: 'FEATURES_BUFFER_MAX_EVENTS', defaultLimit: 10_000 },
  },
  'learner/join-buffer': {
    metric: 'sluice_learner_buffered_events',
    stage: 'join',
    bound: { metric: 'sluice_learner_largest_task_buffered_events', stage: 'join', limitVariable: 'LEARNER_BUFFER_MAX_EVENTS', defaultLimit: 10_000 },
  },
  'learner/train-buffer': {
    metric: 'sluice_learner_buffered_events',
    stage: 'train',
    bound: { metric: 'sluice_learner_largest_task_buffered_events', stage: 'train', limitVariable: 'LEARNER_BUFFER_MAX_EVENTS', defaultLimit: 10_000 },
  },
  'learner/pending': { metric: 'sluice_learner_pending_vectors' },
  'fraud/buffer': { metric: 'sluice_fraud_held_vectors' },
};

/** A bounded buffer's limit per task, as its service reads it; undefined for a store without a bound. */
export function bufferLimit(service: ServiceName, store: string): number | undefined {
  const bound = EVENT_GAUGES[`${service}/${store}`]?.bound;
  if (bound === undefined) return undefined;
  const set = process.env[bound.limitVariable];
  return set === undefined ? bound.defaultLimit : Number(set);
}

/** A gauge's value in a scrape: the sample with that stage, or the one without (its only labels the service's defaults). */
function gaugeValue(metrics: string, metric: string, stage: string | undefined): number | undefined {
  if (stage !== undefined) return sumByLabel(metrics, metric, 'stage').get(stage);
  const line = metrics.split('\n').find((each) => each.startsWith(`${metric} `) || each.startsWith(`${metric}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** What the process's memory was made of at its RSS peak, in MiB, from prom-client's default metrics. */
export interface MemoryAtPeak {
  rss: number;
  heapUsed: number;
  /** V8's reservation for the heap: used, plus what it keeps to grow into before the next full collection. */
  heapTotal: number;
  /** Memory V8 tracks outside its heap: Buffers (the Kafka client's fetches and requests) and other array buffers. */
  external: number;
}

const MiB = 1024 * 1024;

export class BufferSampler {
  private readonly entries = new Map<string, number>();
  private readonly inOneTask = new Map<string, number>();
  private readonly memoryPeaks = new Map<string, MemoryAtPeak>();
  private readonly paused = new Map<string, number>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly services: readonly BenchService[],
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await Promise.all(this.services.map((service) => this.sample(service).catch(() => undefined)));
        await sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    // One last sample: the final state counts too.
    await Promise.all(this.services.map((service) => this.sample(service).catch(() => undefined)));
  }

  peakEntries(service: ServiceName, store: string): number {
    return this.entries.get(`${service}/${store}`) ?? 0;
  }

  /** The peak of a bounded buffer's fullest task; undefined for a store without that gauge. */
  peakInOneTask(service: ServiceName, store: string): number | undefined {
    const key = `${service}/${store}`;
    return EVENT_GAUGES[key]?.bound === undefined ? undefined : (this.inOneTask.get(key) ?? 0);
  }

  peakRss(service: ServiceName): number {
    return this.memoryPeaks.get(service)?.rss ?? NaN;
  }

  memoryAtPeak(service: ServiceName): MemoryAtPeak | undefined {
    return this.memoryPeaks.get(service);
  }

  peakPaused(service: ServiceName): number {
    return this.paused.get(service) ?? 0;
  }

  private async sample(service: BenchService): Promise<void> {
    const rss = rssMiB(service.child.pid!);
    // A failed scrape (a service between restarts) still leaves its RSS counted, with no breakdown.
    const metrics = await scrapeMetrics(service).catch(() => '');
    if (!(rss <= (this.memoryPeaks.get(service.name)?.rss ?? 0))) {
      const mib = (metric: string) => (gaugeValue(metrics, metric, undefined) ?? NaN) / MiB;
      this.memoryPeaks.set(service.name, {
        rss,
        heapUsed: mib('sluice_nodejs_heap_size_used_bytes'),
        heapTotal: mib('sluice_nodejs_heap_size_total_bytes'),
        external: mib('sluice_nodejs_external_memory_bytes'),
      });
    }
    for (const [store, count] of sumByLabel(metrics, 'sluice_state_entries', 'store')) {
      const key = `${service.name}/${store}`;
      const events = EVENT_GAUGES[key];
      raise(this.entries, key, events === undefined ? count : (gaugeValue(metrics, events.metric, events.stage) ?? 0));
      const bound = events?.bound;
      if (bound !== undefined) raise(this.inOneTask, key, gaugeValue(metrics, bound.metric, bound.stage) ?? 0);
    }
    let paused = 0;
    for (const count of sumByLabel(metrics, 'sluice_paused_inputs', 'topic').values()) paused += count;
    raise(this.paused, service.name, paused);
  }
}

function raise(peaks: Map<string, number>, key: string, value: number): void {
  if (value > (peaks.get(key) ?? -Infinity)) peaks.set(key, value);
}
