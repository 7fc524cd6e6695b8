import { SingleBar, Presets } from 'cli-progress';
import { connect } from '../connection.js';
import { FileEventSink, KafkaEventSink, RateLimiter, type EventSink } from '../event-sink.js';
import { Simulation, type SimulatorOptions } from '../simulator/index.js';

export interface SimulateOptions {
  customers: number;
  terminals: number;
  days: number;
  seed: number;
  radius: number;
  labelDelayDays: number;
  labelFraction: number;
  idPrefix: string;
  out?: string;
  rate: number;
  progress: boolean;
}

export function simulatorOptions(options: Pick<SimulateOptions, 'customers' | 'terminals' | 'days' | 'seed' | 'radius' | 'labelDelayDays' | 'labelFraction' | 'idPrefix'>): SimulatorOptions {
  return {
    nCustomers: options.customers,
    nTerminals: options.terminals,
    nbDays: options.days,
    seed: options.seed,
    radius: options.radius,
    labelDelayMs: options.labelDelayDays * 86_400_000,
    labelGenuineFraction: options.labelFraction,
    transactionIdPrefix: options.idPrefix,
  };
}

/** Expected events: customers average 2 transactions a day, and each may get a label. */
export function expectedEvents(options: Pick<SimulateOptions, 'customers' | 'days' | 'labelFraction'>): number {
  return Math.round(options.customers * 2 * options.days * (1 + options.labelFraction));
}

export async function simulateCommand(options: SimulateOptions): Promise<void> {
  const simulation = new Simulation(simulatorOptions(options));
  let sink: EventSink;
  if (options.out) sink = new FileEventSink(options.out);
  else sink = await new KafkaEventSink(connect({ waitForBroker: true })).open();
  const limiter = new RateLimiter(options.rate);
  const bar = new SingleBar({ format: 'simulate |{bar}| {value} events · {rate} events/s · {day}', hideCursor: true, stream: process.stderr }, Presets.shades_classic);
  if (options.progress) bar.start(expectedEvents(options), 0, { rate: 0, day: '' });
  const started = performance.now();
  let count = 0;
  let frauds = 0;
  let transactions = 0;
  for (const event of simulation.events()) {
    await sink.write(event);
    await limiter.tick();
    count += 1;
    if (event.kind === 'transaction') {
      transactions += 1;
      if (event.truth.is_fraud) frauds += 1;
    }
    if (options.progress && count % 1000 === 0) {
      bar.setTotal(Math.max(bar.getTotal(), count));
      bar.update(count, { rate: Math.round(count / ((performance.now() - started) / 1000)), day: new Date(event.at).toISOString().slice(0, 10) });
    }
  }
  await sink.close();
  if (options.progress) {
    bar.setTotal(count);
    bar.update(count);
    bar.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `${count} events (${transactions} transactions, ${frauds} frauds, ${count - transactions} labels) in ${seconds.toFixed(1)} s: ${Math.round(count / seconds)} events/s → ${options.out ?? 'Kafka'}\n`,
  );
}
