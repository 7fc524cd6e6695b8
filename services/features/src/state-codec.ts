/**
 * An entity state as a compact JSON value, for the compacted changelog keyed
 * by entity id, and back. Restoring gives a state whose subsequent outputs are
 * identical to the original's: the running sums are written as they are
 * (JSON numbers round-trip doubles exactly), and only points past the
 * retention horizon — which no read sees — are left out.
 *
 * Layout: [1, watermark | null, logs, win, queues]; a log is
 * [bucketMs, time deltas (first absolute), counts, columns]; a queue is its
 * live (time, value) pairs.
 */

import { upperBound, type ChannelLog } from './channel-log.js';
import { retentionHorizon, type EntityState } from './entity-state.js';
import type { EntityPlan } from './plan.js';

type SerializedLog = [number, number[], number[], number[][]];

export type SerializedEntityState = [1, number | null, SerializedLog[], number[], number[][]];

function encodeTimes(times: readonly number[]): number[] {
  return times.map((time, i) => (i === 0 ? time : time - times[i - 1]!));
}

function decodeTimes(deltas: readonly number[]): number[] {
  const times = new Array<number>(deltas.length);
  let time = 0;
  deltas.forEach((delta, i) => {
    time = i === 0 ? delta : time + delta;
    times[i] = time;
  });
  return times;
}

export function serializeEntityState(plan: EntityPlan, state: EntityState): SerializedEntityState {
  const win = state.win.slice();
  const logs = state.logs.map((log, c): SerializedLog => {
    const dead = upperBound(log.t, retentionHorizon(plan, c, state.watermark));
    for (const g of plan.channels[c]!.groups) {
      const o = plan.groups[g]!.offset;
      win[o]! -= dead;
      win[o + 1]! -= dead;
    }
    return [log.b, encodeTimes(log.t.slice(dead)), log.n.slice(dead), log.c.map((column) => column.slice(dead))];
  });
  const queues = state.queues.map((queue) => queue.slice(queue[0]!));
  return [1, Number.isFinite(state.watermark) ? state.watermark : null, logs, win, queues];
}

function fail(reason: string): never {
  throw new RangeError(`entity state does not fit the feature plan: ${reason}`);
}

function numbers(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    fail(`${what} must be a list of finite numbers`);
  }
  return value as number[];
}

function restoreLog(plan: EntityPlan, c: number, value: unknown): ChannelLog {
  const channel = plan.channels[c]!;
  if (!Array.isArray(value) || value.length !== 4) fail(`log ${c} must be a 4-element list`);
  const [b, deltas, n, columns] = value as unknown[];
  if (typeof b !== 'number' || !Number.isSafeInteger(b) || b < 0) fail(`log ${c} bucket width`);
  const t = decodeTimes(numbers(deltas, `log ${c} times`));
  if (!t.every((time, i) => Number.isSafeInteger(time) && (i === 0 || time >= t[i - 1]!))) fail(`log ${c} times must be sorted integers`);
  const counts = numbers(n, `log ${c} counts`);
  if (!Array.isArray(columns)) fail(`log ${c} columns`);
  const cols = columns.map((column, k) => numbers(column, `log ${c} column ${k}`));
  const expectedColumns = b === 0 ? channel.fields.length : channel.bucketColumnCount;
  if (cols.length !== expectedColumns) fail(`log ${c} has ${cols.length} columns, expected ${expectedColumns}`);
  if (counts.length !== (b === 0 ? 0 : t.length)) fail(`log ${c} counts do not match its items`);
  if (!cols.every((column) => column.length === t.length)) fail(`log ${c} columns do not match its items`);
  return { b, t, n: counts, c: cols };
}

/** Throws a RangeError when the value was not written for this plan's layout. */
export function deserializeEntityState(plan: EntityPlan, value: unknown): EntityState {
  if (!Array.isArray(value) || value.length !== 5 || value[0] !== 1) fail('expected [1, watermark, logs, win, queues]');
  const [, watermark, logs, win, queues] = value as unknown[];
  if (watermark !== null && (typeof watermark !== 'number' || !Number.isSafeInteger(watermark))) fail('watermark');
  if (!Array.isArray(logs) || logs.length !== plan.channels.length) fail(`expected ${plan.channels.length} logs`);
  if (!Array.isArray(queues) || queues.length !== plan.queueCount) fail(`expected ${plan.queueCount} queues`);
  const state: EntityState = {
    watermark: watermark ?? -Infinity,
    logs: logs.map((log, c) => restoreLog(plan, c, log)),
    win: numbers(win, 'win'),
    queues: queues.map((queue, k) => {
      const entries = numbers(queue, `queue ${k}`);
      if (entries.length % 2 !== 0) fail(`queue ${k} must hold (time, value) pairs`);
      return [1, ...entries];
    }),
  };
  if (state.win.length !== plan.windowSlots) fail(`expected ${plan.windowSlots} window slots`);
  for (const group of plan.groups) {
    const start = state.win[group.offset]!;
    const end = state.win[group.offset + 1]!;
    if (!Number.isSafeInteger(start) || start < 0 || end < start || end > state.logs[group.channel]!.t.length) {
      fail('window bounds outside the log');
    }
  }
  return state;
}

const NUMBER_BYTES = 8;
const ARRAY_BYTES = 48;
const OBJECT_BYTES = 56;

/** Rough heap footprint (V8, 64-bit): 8 bytes per number plus object and array headers. */
export function estimateEntityStateBytes(state: EntityState): number {
  let bytes = OBJECT_BYTES + 3 * ARRAY_BYTES + NUMBER_BYTES * state.win.length;
  for (const log of state.logs) {
    bytes += OBJECT_BYTES + (3 + log.c.length) * ARRAY_BYTES;
    bytes += NUMBER_BYTES * (log.t.length + log.n.length + log.c.reduce((sum, column) => sum + column.length, 0));
  }
  for (const queue of state.queues) bytes += ARRAY_BYTES + NUMBER_BYTES * queue.length;
  return bytes;
}
