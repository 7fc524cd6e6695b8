/**
 * The points of one entity channel, sorted by time, in one of two modes:
 *
 * - exact (b = 0): one item per point, at its exact time, with the raw value
 *   of every channel field (`c[f]`). Windows over exact items are exact to the
 *   millisecond.
 * - bucketed (b > 0): one item per non-empty bucket [s, s + b) on a grid
 *   aligned to the epoch, at time s, holding the point count (`n`) and per
 *   field the columns named in the channel's BucketColumns: the first value
 *   (base), Σ(x − base), Σ(x − base)², min, max. Every aggregate then equals
 *   the exact aggregate of the points moved to their bucket's start.
 *
 * Columns are plain number arrays, so a quiet entity costs a few doubles per
 * point.
 */

import type { ChannelPlan } from './plan.js';

export interface ChannelLog {
  /** Bucket width in ms; 0 in exact mode. */
  b: number;
  /** Item times, non-decreasing. */
  t: number[];
  /** Point count per item (bucketed mode; empty in exact mode). */
  n: number[];
  /** Columns: one value column per field (exact), or the BucketColumns (bucketed). */
  c: number[][];
}

export function emptyLog(channel: ChannelPlan): ChannelLog {
  return { b: 0, t: [], n: [], c: channel.fields.map(() => []) };
}

/** Index of the first item strictly after `time`. */
export function upperBound(times: readonly number[], time: number): number {
  let low = 0;
  let high = times.length;
  if (high === 0 || times[high - 1]! <= time) return high;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (times[mid]! <= time) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The time a point at `time` is stored at. */
export function itemTime(log: ChannelLog, time: number): number {
  return log.b === 0 ? time : time - (((time % log.b) + log.b) % log.b);
}

export function itemCount(log: ChannelLog, index: number): number {
  return log.b === 0 ? 1 : log.n[index]!;
}

function mergeInto(channel: ChannelPlan, log: ChannelLog, index: number, values: readonly number[]): void {
  log.n[index]! += 1;
  channel.bucketColumns.forEach((cols, f) => {
    const x = values[f]!;
    const d = x - log.c[cols.base]![index]!;
    log.c[cols.sum]![index]! += d;
    if (cols.sumsq >= 0) log.c[cols.sumsq]![index]! += d * d;
    if (cols.min >= 0 && x < log.c[cols.min]![index]!) log.c[cols.min]![index] = x;
    if (cols.max >= 0 && x > log.c[cols.max]![index]!) log.c[cols.max]![index] = x;
  });
}

function put(column: number[], index: number, value: number): void {
  if (index === column.length) column.push(value);
  else column.splice(index, 0, value);
}

function insertItem(channel: ChannelPlan, log: ChannelLog, index: number, time: number, values: readonly number[]): void {
  if (log.t.length === 0 && log.b === 0) {
    // Literals get room for exactly one element (a push would reserve 17): most entities are quiet.
    log.t = [time];
    log.c = values.map((value) => [value]);
    return;
  }
  put(log.t, index, time);
  if (log.b === 0) {
    for (let f = 0; f < log.c.length; f++) put(log.c[f]!, index, values[f]!);
    return;
  }
  put(log.n, index, 1);
  for (let f = 0; f < channel.bucketColumns.length; f++) {
    const cols = channel.bucketColumns[f]!;
    const x = values[f]!;
    put(log.c[cols.base]!, index, x);
    put(log.c[cols.sum]!, index, 0);
    if (cols.sumsq >= 0) put(log.c[cols.sumsq]!, index, 0);
    if (cols.min >= 0) put(log.c[cols.min]!, index, x);
    if (cols.max >= 0) put(log.c[cols.max]!, index, x);
  }
}

/**
 * Adds a point; returns the index of its item and whether it joined an
 * existing bucket (the indices of other items are then unchanged).
 */
export function insertPoint(
  channel: ChannelPlan,
  log: ChannelLog,
  time: number,
  values: readonly number[],
): { index: number; merged: boolean } {
  const at = itemTime(log, time);
  const index = upperBound(log.t, at);
  if (log.b !== 0 && index > 0 && log.t[index - 1] === at) {
    mergeInto(channel, log, index - 1, values);
    return { index: index - 1, merged: true };
  }
  insertItem(channel, log, index, at, values);
  return { index, merged: false };
}

/** Re-stores the exact items from index `from` on as buckets of the channel's width. */
export function toBuckets(channel: ChannelPlan, log: ChannelLog, from: number): void {
  const exact = log;
  const bucketed: ChannelLog = { b: channel.bucketMs, t: [], n: [], c: Array.from({ length: channel.bucketColumnCount }, () => []) };
  const values = new Array<number>(channel.fields.length);
  for (let i = from; i < exact.t.length; i++) {
    for (let f = 0; f < values.length; f++) values[f] = exact.c[f]![i]!;
    insertPoint(channel, bucketed, exact.t[i]!, values);
  }
  Object.assign(log, bucketed);
}

/** Drops the first `count` items. */
export function dropFront(log: ChannelLog, count: number): void {
  log.t.splice(0, count);
  if (log.b !== 0) log.n.splice(0, count);
  for (const column of log.c) column.splice(0, count);
}

/** Back to an empty exact log: an entity that went quiet regains exact windows. */
export function resetLog(channel: ChannelPlan, log: ChannelLog): void {
  Object.assign(log, emptyLog(channel));
}

export function cloneLog(log: ChannelLog): ChannelLog {
  return { b: log.b, t: log.t.slice(), n: log.n.slice(), c: log.c.map((column) => column.slice()) };
}
