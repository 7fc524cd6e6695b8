/**
 * Feature engine benchmark: prints figures, asserts nothing.
 *   npx tsx services/features/bench/engine.ts
 * (re-runs itself with --expose-gc for the heap measurements).
 *
 * 1. Throughput: one core, handbook feature set, ~1M transactions in event
 *    time order with fraud labels interleaved 7 days after their transaction:
 *    event features + customer stage + terminal stage + vector assembly.
 * 2. Heap per entity: 1M customer states and 1M terminal states (one
 *    transaction each, plus one fraud label per terminal), then 100k of each
 *    holding a realistic 60 transactions in their windows.
 * 3. Serialised (changelog) size per entity state, as JSON text.
 * 4. One hot customer: 3M transactions over 40 days (75k a day), to show the
 *    degradation to buckets keeps its state bounded.
 */

import { spawnSync } from 'node:child_process';
import type { EntityState } from '../src/entity-state.js';
import { EntityStore, entityStateCodec, MemoryStateMap } from '../src/entity-store.js';
import { handbookFeatureSpec } from '../src/handbook.js';
import { compileSpec, type EntityPlan } from '../src/plan.js';
import { estimateEntityStateBytes } from '../src/state-codec.js';
import { assembleVector, eventFeatures } from '../src/vector.js';
import { prng as random } from '../test/synthetic-stream.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  const child = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=12288', ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  process.exit(child.status ?? 1);
}

const DAY = 86_400_000;
const START = Date.UTC(2024, 0, 1);
const BATCH = 500;

const plan = compileSpec(handbookFeatureSpec());
const customerPlan = plan.entities.get('customer_id')!;
const terminalPlan = plan.entities.get('terminal_id')!;

interface Tx {
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  amount: number;
  event_time: number;
}

interface Label {
  transaction_id: string;
  terminal_id: string;
  tx_event_time: number;
  is_fraud: boolean;
  labeled_at: number;
}

function throughput(transactions: number): void {
  const next = random(1);
  const customers = 50_000;
  const terminals = 10_000;
  const days = 60;
  const txs: Tx[] = [];
  for (let i = 0; i < transactions; i++) {
    txs.push({
      transaction_id: `tx${i}`,
      customer_id: `C${Math.floor(next() * customers)}`,
      terminal_id: `T${Math.floor(next() * terminals)}`,
      amount: Math.round(next() * 20_000) / 100,
      event_time: START + Math.floor(next() * days * DAY),
    });
  }
  txs.sort((a, b) => a.event_time - b.event_time);
  const labels: Label[] = txs
    .filter(() => next() < 0.3)
    .map((tx) => ({
      transaction_id: tx.transaction_id,
      terminal_id: tx.terminal_id,
      tx_event_time: tx.event_time,
      is_fraud: next() < 0.1,
      labeled_at: tx.event_time + 7 * DAY,
    }));
  for (const withChangelog of [false, true]) {
    const customerMap = new TouchedMap();
    const terminalMap = new TouchedMap();
    const customerStore = new EntityStore(customerPlan, customerMap);
    const terminalStore = new EntityStore(terminalPlan, terminalMap);
    const changelogs = [
      { map: customerMap, codec: entityStateCodec(customerPlan) },
      { map: terminalMap, codec: entityStateCodec(terminalPlan) },
    ];
    let checksum = 0;
    let changelogBytes = 0;
    let l = 0;
    let i = 0;
    const began = process.hrtime.bigint();
    for (const tx of txs) {
      while (l < labels.length && labels[l]!.labeled_at <= tx.event_time) terminalStore.applyLabel(labels[l++]!);
      const own = eventFeatures(plan, tx);
      const customer = customerStore.update(tx).values;
      const terminal = terminalStore.update(tx).values;
      const vector = assembleVector(plan, own, { customer_id: customer, terminal_id: terminal });
      checksum += vector[14]!;
      // The service commits in batches: each batch writes the states it touched to the changelog.
      if (++i % BATCH === 0) {
        for (const { map, codec } of changelogs) {
          for (const id of map.takeTouched()) {
            if (withChangelog) changelogBytes += codec.serialize(map.get(id)!).length;
          }
        }
      }
    }
    const seconds = Number(process.hrtime.bigint() - began) / 1e9;
    console.log(
      `throughput${withChangelog ? ' incl. changelog serialisation' : ''}: ${transactions} transactions + ${l} labels ` +
        `in ${seconds.toFixed(2)} s = ${Math.round(transactions / seconds).toLocaleString('en-US')} transactions/s on one core ` +
        `(${customers} customers, ${terminals} terminals, ${days} days, batches of ${BATCH}` +
        `${withChangelog ? `, ${(changelogBytes / 1e6).toFixed(0)} MB of JSON` : ''}; checksum ${checksum.toFixed(3)})`,
    );
  }
}

/** Remembers the ids put since the last take, as the service's changelogged store does. */
class TouchedMap extends MemoryStateMap<EntityState> {
  private readonly touched = new Set<string>();
  override put(key: string, value: EntityState): void {
    this.touched.add(key);
    super.put(key, value);
  }
  takeTouched(): string[] {
    const ids = [...this.touched];
    this.touched.clear();
    return ids;
  }
}

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

function memory(plan: EntityPlan, kind: string, entities: number, pointsEach: number, withLabel: boolean): void {
  const before = heapUsed();
  const map = new MemoryStateMap<EntityState>();
  const store = new EntityStore(plan, map);
  for (let e = 0; e < entities; e++) {
    const id = `${kind[0]}${e}`;
    for (let p = 0; p < pointsEach; p++) {
      // Half a day apart: 60 points span 30 days, all inside the longest window.
      const event_time = START + p * (DAY / 2) + (e % 1000);
      store.update({ customer_id: id, terminal_id: id, amount: 10 + (e % 97), event_time });
    }
    if (withLabel) store.applyLabel({ terminal_id: id, tx_event_time: START, is_fraud: true });
  }
  const after = heapUsed();
  let estimated = 0;
  let serialised = 0;
  let sampled = 0;
  const codec = entityStateCodec(plan);
  for (const [, state] of map.entries()) {
    estimated += estimateEntityStateBytes(state);
    if (sampled < 20_000) {
      serialised += codec.serialize(state).length;
      sampled++;
    }
  }
  console.log(
    `${kind} states: ${entities.toLocaleString('en-US')} entities x ${pointsEach} tx${withLabel ? ' + 1 fraud label' : ''}: ` +
      `heap ${Math.round((after - before) / entities)} B/entity (incl. Map entry and id string; ` +
      `estimateEntityStateBytes ${Math.round(estimated / entities)} B), ` +
      `serialised ${Math.round(serialised / sampled)} B/entity (JSON)`,
  );
  if (store.size !== entities) throw new Error('store lost entities');
}

function hotEntity(transactions: number, days: number): void {
  const store = new EntityStore(customerPlan);
  const began = process.hrtime.bigint();
  for (let i = 0; i < transactions; i++) {
    const event_time = START + Math.floor((i * days * DAY) / transactions);
    store.update({ customer_id: 'hot', terminal_id: 't', amount: i % 500, event_time });
  }
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  const state = store.get('hot')!;
  console.log(
    `hot customer: ${transactions.toLocaleString('en-US')} transactions over ${days} days at ` +
      `${Math.round(transactions / seconds).toLocaleString('en-US')} transactions/s; state ${state.logs[0]!.t.length} items ` +
      `of ${state.logs[0]!.b / 60_000}-minute buckets, estimateEntityStateBytes ${Math.round(estimateEntityStateBytes(state) / 1024)} KiB, ` +
      `serialised ${Math.round(entityStateCodec(customerPlan).serialize(state).length / 1024)} KiB`,
  );
}

throughput(1_000_000);
memory(customerPlan, 'customer', 1_000_000, 1, false);
memory(terminalPlan, 'terminal', 1_000_000, 1, true);
memory(customerPlan, 'customer', 100_000, 60, false);
memory(terminalPlan, 'terminal', 100_000, 60, true);
hotEntity(3_000_000, 40);
