/**
 * The Fraud Detection Handbook stream as the learner sees it, computed once
 * and kept in flat arrays: the simulator (tools/cli) with the handbook's
 * parameters, the handbook feature engine (services/features) fed in event
 * order (a label goes into its terminal's risk window when it arrives, 7 days
 * after its transaction), and the order in which transactions and labels
 * happen. Quality benches replay it for each model instead of re-simulating
 * (the simulation and the features take about a minute for 183 days); it is
 * cached under ~/.cache/sluice/bench, keyed by its parameters and the
 * feature-set version.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Simulation } from '../../../tools/cli/src/simulator/index.js';
import { EntityStore } from '../../features/src/entity-store.js';
import { handbookFeatureSpec } from '../../features/src/handbook.js';
import { compileSpec } from '../../features/src/plan.js';
import { assembleVector, eventFeatures } from '../../features/src/vector.js';

export const DAY_MS = 86_400_000;

export interface StreamParameters {
  days: number;
  customers: number;
  terminals: number;
  seed: number;
}

export interface HandbookStreamData {
  parameters: StreamParameters;
  featureNames: string[];
  featureSetVersion: string;
  /** Midnight of day 0. */
  startMs: number;
  /** Transactions, in event order; transaction i's vector is features[i·d, (i+1)·d). */
  count: number;
  features: Float64Array;
  timeMs: Float64Array;
  /** The handbook's TX_TIME_DAYS: whole days since startMs. */
  day: Int32Array;
  customer: Int32Array;
  fraud: Uint8Array;
  /** Everything in the order it happens: i ≥ 0 is transaction i, ~i (−i−1) is the label of transaction i. */
  events: Int32Array;
}

export function buildHandbookStream(parameters: StreamParameters): HandbookStreamData {
  const plan = compileSpec(handbookFeatureSpec());
  const customers = new EntityStore(plan.entities.get('customer_id')!);
  const terminals = new EntityStore(plan.entities.get('terminal_id')!);
  const simulation = new Simulation({ nbDays: parameters.days, nCustomers: parameters.customers, nTerminals: parameters.terminals, seed: parameters.seed });
  const d = plan.names.length;
  const features: number[] = [];
  const timeMs: number[] = [];
  const customer: number[] = [];
  const fraud: number[] = [];
  const events: number[] = [];
  for (const event of simulation.events()) {
    if (event.kind === 'transaction') {
      const tx = { ...event.payload, event_time: event.payload.timestamp };
      const values = assembleVector(plan, eventFeatures(plan, tx), { customer_id: customers.update(tx).values, terminal_id: terminals.update(tx).values });
      if (values.length !== d) throw new Error(`expected ${d} features, got ${values.length}`);
      events.push(timeMs.length);
      for (const v of values) features.push(v);
      timeMs.push(tx.event_time);
      customer.push(Number(tx.customer_id));
      fraud.push(event.truth.is_fraud ? 1 : 0);
      continue;
    }
    const label = event.payload;
    terminals.applyLabel({ terminal_id: label.terminal_id, tx_event_time: label.tx_timestamp, is_fraud: label.is_fraud });
    events.push(~Number(label.transaction_id));
  }
  const startMs = simulation.config.startMs;
  return {
    parameters,
    featureNames: [...plan.names],
    featureSetVersion: plan.version,
    startMs,
    count: timeMs.length,
    features: Float64Array.from(features),
    timeMs: Float64Array.from(timeMs),
    day: Int32Array.from(timeMs, (t) => Math.floor((t - startMs) / DAY_MS)),
    customer: Int32Array.from(customer),
    fraud: Uint8Array.from(fraud),
    events: Int32Array.from(events),
  };
}

interface CacheHeader {
  parameters: StreamParameters;
  featureNames: string[];
  featureSetVersion: string;
  startMs: number;
  count: number;
  events: number;
}

/** The stream from the cache, or built and cached. */
export function loadHandbookStream(parameters: StreamParameters, log: (line: string) => void = () => {}): HandbookStreamData {
  const plan = compileSpec(handbookFeatureSpec());
  const dir = join(homedir(), '.cache', 'sluice', 'bench');
  const file = join(dir, `handbook-${parameters.days}d-${parameters.customers}c-${parameters.terminals}t-s${parameters.seed}-${plan.version}.bin`);
  if (existsSync(file)) return readCache(file);
  const began = performance.now();
  const data = buildHandbookStream(parameters);
  log(`built the stream (simulator + features, ${data.count.toLocaleString('en-US')} transactions) in ${((performance.now() - began) / 1000).toFixed(0)} s; cached in ${file}`);
  mkdirSync(dir, { recursive: true });
  writeCache(`${file}.tmp`, data);
  renameSync(`${file}.tmp`, file);
  return data;
}

function writeCache(file: string, data: HandbookStreamData): void {
  const header: CacheHeader = {
    parameters: data.parameters,
    featureNames: data.featureNames,
    featureSetVersion: data.featureSetVersion,
    startMs: data.startMs,
    count: data.count,
    events: data.events.length,
  };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  const pad = Buffer.alloc((8 - ((4 + json.length) % 8)) % 8);
  const arrays = [data.features, data.timeMs, data.day, data.customer, data.events, data.fraud];
  writeFileSync(file, Buffer.concat([length, json, pad, ...arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))]));
}

function readCache(file: string): HandbookStreamData {
  const buffer = readFileSync(file);
  const jsonLength = buffer.readUInt32LE(0);
  const header = JSON.parse(buffer.subarray(4, 4 + jsonLength).toString()) as CacheHeader;
  let offset = 4 + jsonLength;
  offset += (8 - (offset % 8)) % 8;
  const take = (bytes: number): ArrayBuffer => {
    const slice = buffer.buffer.slice(buffer.byteOffset + offset, buffer.byteOffset + offset + bytes);
    offset += bytes;
    return slice;
  };
  const d = header.featureNames.length;
  return {
    parameters: header.parameters,
    featureNames: header.featureNames,
    featureSetVersion: header.featureSetVersion,
    startMs: header.startMs,
    count: header.count,
    features: new Float64Array(take(8 * d * header.count)),
    timeMs: new Float64Array(take(8 * header.count)),
    day: new Int32Array(take(4 * header.count)),
    customer: new Int32Array(take(4 * header.count)),
    events: new Int32Array(take(4 * header.events)),
    fraud: new Uint8Array(take(header.count)),
  };
}
