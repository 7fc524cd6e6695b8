/**
 * Running quantities of one window group, kept in the entity's flat `win`
 * array at the group's offsets (see plan.ts), and the reading of them.
 *
 * - Sums are shifted by a reference value K (the first value that entered the
 *   window since it was last empty): Σ(x − K), Σ(x − K)². They are
 *   Neumaier-compensated, so adding and removing points for months does not
 *   drift, and an emptied window resets every quantity to exactly 0.
 *   The variance n·var = Σ(x − K)² − (Σ(x − K))²/n cancels when K is far from
 *   the mean or when far more spread left the window than is in it (the mass
 *   removed from Σ(x − K)² is tracked). Then K is moved to the item mean
 *   nearest the window mean and the sums recomputed from the items
 *   (O(window items)); afterwards Σ(x − K)² ≤ 2·n·var, so this recurs only
 *   after the data drift ~1000 standard deviations or 2^20 times the current
 *   spread has left — and a window of equal values reads exactly 0.
 * - Exponential weights are 2^((t − A)/halfLife) for an anchor A moved forward
 *   (rescaling the sums) whenever a newer point would weigh more than 2^64.
 *   The anchor cancels in the weighted mean.
 * - Minima and maxima live in monotonic queues (monotonic-queue.ts).
 *
 * Items enter when the window's near edge passes them and leave when its far
 * edge does, each once: O(1) amortised per event and window.
 */

import type { WindowReading } from './aggregations.js';
import { itemCount, itemTime, upperBound, type ChannelLog } from './channel-log.js';
import { clearQueue, queueEvict, queueFront, queueInsert, type MonotonicQueue } from './monotonic-queue.js';
import type { ChannelPlan, FieldSlots, GroupPlan, InputPlan } from './plan.js';

const REBASE_EXPONENT = 64;
const RECENTRE_RATIO = 2 ** -20;

function compensatedAdd(win: number[], at: number, x: number): void {
  const sum = win[at]!;
  const next = sum + x;
  win[at + 1]! += Math.abs(sum) >= Math.abs(x) ? sum - next + x : x - next + sum;
  win[at] = next;
}

function zeroQuantities(group: GroupPlan, win: number[]): void {
  win[group.offset + 2] = 0;
  for (const slots of group.fields) {
    if (slots.sum >= 0) win.fill(0, slots.sum, slots.sum + 3);
    if (slots.sumsq >= 0) win.fill(0, slots.sumsq, slots.sumsq + 3);
    for (const { offset } of slots.ewm) win.fill(0, offset, offset + 5);
  }
}

/**
 * Adds (sign 1) or removes (sign −1) n points at `time` whose field values
 * have first value `base`, Σ(x − base) = s, Σ(x − base)² = q, extremes min/max.
 * Queues take additions only: removals leave them through eviction.
 */
function accumulateField(
  slots: FieldSlots,
  win: number[],
  queues: MonotonicQueue[],
  wasEmpty: boolean,
  time: number,
  n: number,
  base: number,
  s: number,
  q: number,
  min: number,
  max: number,
  sign: number,
): void {
  if (slots.sum >= 0) {
    if (wasEmpty) win[slots.sum] = base;
    const d = base - win[slots.sum]!;
    compensatedAdd(win, slots.sum + 1, sign * (s + n * d));
    if (slots.sumsq >= 0) {
      const dq = q + 2 * d * s + n * d * d;
      compensatedAdd(win, slots.sumsq, sign * dq);
      if (sign < 0) win[slots.sumsq + 2]! += Math.abs(dq);
    }
  }
  for (const { halfLifeMs, offset } of slots.ewm) {
    if (wasEmpty) win[offset] = time;
    let exponent = (time - win[offset]!) / halfLifeMs;
    if (sign > 0 && exponent > REBASE_EXPONENT) {
      const scale = 2 ** -exponent;
      for (let k = 1; k < 5; k++) win[offset + k]! *= scale;
      win[offset] = time;
      exponent = 0;
    }
    const weight = 2 ** exponent;
    compensatedAdd(win, offset + 1, sign * weight * (n * base + s));
    compensatedAdd(win, offset + 3, sign * weight * n);
  }
  if (sign > 0) {
    if (slots.minQueue >= 0) queueInsert(queues[slots.minQueue]!, time, min);
    if (slots.maxQueue >= 0) queueInsert(queues[slots.maxQueue]!, time, -max);
  }
}

/** Adds or removes item `index` of the group's channel log. */
function accumulateItem(
  group: GroupPlan,
  channel: ChannelPlan,
  log: ChannelLog,
  win: number[],
  queues: MonotonicQueue[],
  index: number,
  sign: 1 | -1,
): void {
  const countAt = group.offset + 2;
  const wasEmpty = win[countAt] === 0;
  const time = log.t[index]!;
  const n = itemCount(log, index);
  for (const slots of group.fields) {
    if (log.b === 0) {
      const x = log.c[slots.field]![index]!;
      accumulateField(slots, win, queues, wasEmpty, time, 1, x, 0, 0, x, x, sign);
    } else {
      const cols = channel.bucketColumns[slots.field]!;
      const base = log.c[cols.base]![index]!;
      accumulateField(
        slots,
        win,
        queues,
        wasEmpty,
        time,
        n,
        base,
        log.c[cols.sum]![index]!,
        cols.sumsq >= 0 ? log.c[cols.sumsq]![index]! : 0,
        cols.min >= 0 ? log.c[cols.min]![index]! : base,
        cols.max >= 0 ? log.c[cols.max]![index]! : base,
        sign,
      );
    }
  }
  win[countAt]! += sign * n;
  if (win[countAt] === 0) zeroQuantities(group, win);
}

/** Adds one point that joined an existing bucket item at `time`. */
function accumulatePoint(group: GroupPlan, win: number[], queues: MonotonicQueue[], time: number, values: readonly number[]): void {
  const countAt = group.offset + 2;
  const wasEmpty = win[countAt] === 0;
  for (const slots of group.fields) {
    const x = values[slots.field]!;
    accumulateField(slots, win, queues, wasEmpty, time, 1, x, 0, 0, x, x, 1);
  }
  win[countAt]! += 1;
}

function itemMean(channel: ChannelPlan, log: ChannelLog, field: number, index: number): number {
  if (log.b === 0) return log.c[field]![index]!;
  const cols = channel.bucketColumns[field]!;
  return log.c[cols.base]![index]! + log.c[cols.sum]![index]! / log.n[index]!;
}

function recentre(group: GroupPlan, slots: FieldSlots, channel: ChannelPlan, log: ChannelLog, win: number[]): void {
  const start = win[group.offset]!;
  const end = win[group.offset + 1]!;
  const n = win[group.offset + 2]!;
  const mean = win[slots.sum]! + (win[slots.sum + 1]! + win[slots.sum + 2]!) / n;
  let reference = itemMean(channel, log, slots.field, start);
  for (let i = start + 1; i < end; i++) {
    const candidate = itemMean(channel, log, slots.field, i);
    if (Math.abs(candidate - mean) < Math.abs(reference - mean)) reference = candidate;
  }
  win.fill(0, slots.sum + 1, slots.sum + 3);
  win.fill(0, slots.sumsq, slots.sumsq + 3);
  win[slots.sum] = reference;
  for (let i = start; i < end; i++) {
    let count = 1;
    let s = 0;
    let q = 0;
    let base: number;
    if (log.b === 0) {
      base = log.c[slots.field]![i]!;
    } else {
      const cols = channel.bucketColumns[slots.field]!;
      count = log.n[i]!;
      base = log.c[cols.base]![i]!;
      s = log.c[cols.sum]![i]!;
      q = log.c[cols.sumsq]![i]!;
    }
    const d = base - reference;
    compensatedAdd(win, slots.sum + 1, s + count * d);
    compensatedAdd(win, slots.sumsq, q + 2 * d * s + count * d * d);
  }
}

/** Re-centres the variance sums of the group's fields when they have started to cancel (see above). */
function keepCentred(group: GroupPlan, channel: ChannelPlan, log: ChannelLog, win: number[]): void {
  const n = win[group.offset + 2]!;
  if (n === 0) return;
  for (const slots of group.fields) {
    if (slots.sumsq < 0) continue;
    const s = win[slots.sum + 1]! + win[slots.sum + 2]!;
    const q = win[slots.sumsq]! + win[slots.sumsq + 1]!;
    if (q - (s * s) / n < RECENTRE_RATIO * (q + win[slots.sumsq + 2]!)) recentre(group, slots, channel, log, win);
  }
}

/**
 * Tells a group sitting at (far, near] about a new point of its channel, now
 * item `index` of the log (`merged`: it joined that existing bucket item).
 */
export function placePoint(
  group: GroupPlan,
  channel: ChannelPlan,
  log: ChannelLog,
  win: number[],
  queues: MonotonicQueue[],
  far: number,
  near: number,
  index: number,
  merged: boolean,
  values: readonly number[],
): void {
  const at = log.t[index]!;
  const o = group.offset;
  if (merged) {
    if (far >= at || at > near) return;
    accumulatePoint(group, win, queues, at, values);
  } else if (at <= far) {
    win[o]! += 1;
    win[o + 1]! += 1;
    return;
  } else if (at <= near) {
    win[o + 1]! += 1;
    accumulateItem(group, channel, log, win, queues, index, 1);
  } else {
    return;
  }
  keepCentred(group, channel, log, win);
}

function evictQueues(group: GroupPlan, queues: MonotonicQueue[], edge: number): void {
  for (const slots of group.fields) {
    if (slots.minQueue >= 0) queueEvict(queues[slots.minQueue]!, edge);
    if (slots.maxQueue >= 0) queueEvict(queues[slots.maxQueue]!, edge);
  }
}

/** Moves the group's window forward to (far, near]. */
export function slideGroup(
  group: GroupPlan,
  channel: ChannelPlan,
  log: ChannelLog,
  win: number[],
  queues: MonotonicQueue[],
  far: number,
  near: number,
): void {
  const times = log.t;
  let start = win[group.offset]!;
  let end = win[group.offset + 1]!;
  while (start < end && times[start]! <= far) accumulateItem(group, channel, log, win, queues, start++, -1);
  if (start === end) {
    while (start < times.length && times[start]! <= far) start++;
    end = start;
  }
  while (end < times.length && times[end]! <= near) accumulateItem(group, channel, log, win, queues, end++, 1);
  win[group.offset] = start;
  win[group.offset + 1] = end;
  evictQueues(group, queues, far);
  keepCentred(group, channel, log, win);
}

/** Recomputes the group from scratch over the items in (far, near]. */
export function fillGroup(
  group: GroupPlan,
  channel: ChannelPlan,
  log: ChannelLog,
  win: number[],
  queues: MonotonicQueue[],
  far: number,
  near: number,
): void {
  zeroQuantities(group, win);
  for (const slots of group.fields) {
    if (slots.minQueue >= 0) clearQueue(queues[slots.minQueue]!);
    if (slots.maxQueue >= 0) clearQueue(queues[slots.maxQueue]!);
  }
  const start = upperBound(log.t, far);
  win[group.offset] = start;
  win[group.offset + 1] = start;
  slideGroup(group, channel, log, win, queues, far, near);
}

/** One input of one feature, read from a group's quantities. */
export class Reading implements WindowReading {
  constructor(
    private readonly input: InputPlan,
    private readonly group: GroupPlan,
    private readonly log: ChannelLog,
    private readonly win: readonly number[],
    private readonly queues: readonly MonotonicQueue[],
    readonly time: number,
    /** The event being processed joined this input's channel and the window is not delayed. */
    private readonly current: boolean,
  ) {}

  count(): number {
    return this.win[this.group.offset + 2]!;
  }

  sum(): number {
    const at = this.slots().sum;
    return this.count() * this.win[at]! + (this.win[at + 1]! + this.win[at + 2]!);
  }

  variance(): number {
    const slots = this.slots();
    const n = this.count();
    const s = this.win[slots.sum + 1]! + this.win[slots.sum + 2]!;
    const q = this.win[slots.sumsq]! + this.win[slots.sumsq + 1]!;
    return Math.max(0, (q - (s * s) / n) / n);
  }

  ewm(): number | undefined {
    const at = this.input.ewmOffset;
    const weights = this.win[at + 3]! + this.win[at + 4]!;
    return weights > 0 ? (this.win[at + 1]! + this.win[at + 2]!) / weights : undefined;
  }

  min(): number | undefined {
    return queueFront(this.queues[this.slots().minQueue]!);
  }

  max(): number | undefined {
    const front = queueFront(this.queues[this.slots().maxQueue]!);
    return front === undefined ? undefined : -front;
  }

  previousTime(): number | undefined {
    const start = this.win[this.group.offset]!;
    let last = this.win[this.group.offset + 1]! - 1;
    if (last < start) return undefined;
    const times = this.log.t;
    if (this.current && times[last] === itemTime(this.log, this.time) && itemCount(this.log, last) === 1) last--;
    return last < start ? undefined : times[last];
  }

  total(): number {
    return this.input.slots === undefined ? this.count() : this.sum();
  }

  private slots(): FieldSlots {
    const slots = this.input.slots;
    if (slots === undefined) throw new RangeError('this input has no field');
    return slots;
  }
}
