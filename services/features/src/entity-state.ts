/**
 * One entity's window state (one customer, one terminal, ...) and the pure
 * functions that move it: an event updates it and yields the entity's
 * features for that event; a label updates it and yields nothing.
 *
 * Time is event time. The entity's watermark is the newest event time it has
 * seen (labels do not move it); all of its windows sit at the watermark.
 * - In order (time ≥ watermark): the point enters its channels, the windows
 *   slide forward, the features are read from the running quantities.
 * - Out of order within grace (watermark − grace ≤ time < watermark): the
 *   point is inserted where it belongs (and counted by the windows that cover
 *   it), and the features are computed as of the event's own time by
 *   re-reading its windows from the points: O(points in those windows).
 * - Late (time < watermark − grace): the state is not touched; the features
 *   are computed as of the event's time over a scratch copy holding the
 *   retained points plus this one. Outcome `late`, for the service's metric.
 *
 * Labels are placed at the labelled transaction's time (label time field) in
 * every label channel whose filter they pass, however old, unless that time
 * is past the retention horizon (outcome `expired`).
 *
 * Retention: a channel keeps the points newer than watermark − grace − reach
 * (reach = its longest window + delay); windows of later events cannot see
 * older ones, and reads ignore them, so when they are physically dropped
 * (in slices, amortised O(1)) changes no output.
 */

import {
  cloneLog,
  dropFront,
  emptyLog,
  insertPoint,
  itemTime,
  resetLog,
  toBuckets,
  upperBound,
  type ChannelLog,
} from './channel-log.js';
import { readField } from './filter.js';
import { emptyQueue, type MonotonicQueue } from './monotonic-queue.js';
import type { ChannelPlan, EntityPlan } from './plan.js';
import { fillGroup, placePoint, Reading, slideGroup } from './window-moments.js';

export interface EntityState {
  /** Newest event time seen; -Infinity before the first event. */
  watermark: number;
  /** Per channel of the plan. */
  logs: ChannelLog[];
  /** Running window quantities, laid out by the plan. */
  win: number[];
  /** Min/max queues, indexed by the plan. */
  queues: MonotonicQueue[];
}

export type EventOutcome = 'in_order' | 'out_of_order' | 'late';

export interface EntityUpdate {
  outcome: EventOutcome;
  /** The entity's feature values for this event, aligned with `plan.names`. */
  values: number[];
}

/**
 * `ignored`: no label channel takes it (e.g. a not-fraud label for a fraud count); `unmatched`: the entity holds
 * no transaction at the labelled time that is not labelled already (it never came through, was too late, or the
 * label is a repeat), so the label would count a transaction the window does not hold.
 */
export type LabelOutcome = 'applied' | 'expired' | 'ignored' | 'unmatched';

export function createEntityState(plan: EntityPlan): EntityState {
  return {
    watermark: -Infinity,
    logs: plan.channels.map(emptyLog),
    win: new Array<number>(plan.windowSlots).fill(0),
    queues: Array.from({ length: plan.queueCount }, emptyQueue),
  };
}

/** The entity id an event or label belongs to (its `plan.key` field). */
export function entityIdOf(plan: EntityPlan, record: object): string {
  const id = readField(record, plan.key);
  if (typeof id !== 'string' || id === '') throw new TypeError(`${plan.key} must be a non-empty string`);
  return id;
}

function readTime(record: object, field: string): number {
  const time = readField(record, field);
  if (typeof time !== 'number' || !Number.isSafeInteger(time)) {
    throw new TypeError(`${field} must be integer epoch milliseconds, got ${String(time)}`);
  }
  return time;
}

/** The point a record contributes to a channel, or undefined when it does not belong there. */
function pointValues(channel: ChannelPlan, record: object): number[] | undefined {
  if (!channel.accepts(record)) return undefined;
  const values = new Array<number>(channel.fields.length);
  for (let f = 0; f < values.length; f++) {
    const value = readField(record, channel.fields[f]!);
    if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
    values[f] = value;
  }
  return values;
}

/** Points at or before this time can no longer be in any window of the channel. */
export function retentionHorizon(plan: EntityPlan, channel: number, watermark: number): number {
  return watermark - plan.graceMs - plan.channels[channel]!.reachMs;
}

function degradeIfHot(plan: EntityPlan, state: EntityState, c: number): void {
  const log = state.logs[c]!;
  if (log.b !== 0 || log.t.length <= plan.exactCap) return;
  const live = upperBound(log.t, retentionHorizon(plan, c, state.watermark));
  if (log.t.length - live <= plan.exactCap) return;
  const channel = plan.channels[c]!;
  toBuckets(channel, log, live);
  for (const g of channel.groups) {
    const group = plan.groups[g]!;
    const near = state.watermark - group.delayMs;
    fillGroup(group, channel, log, state.win, state.queues, near - group.windowMs, near);
  }
}

function insertIntoChannel(plan: EntityPlan, state: EntityState, c: number, time: number, values: readonly number[]): void {
  const channel = plan.channels[c]!;
  const log = state.logs[c]!;
  const { index, merged } = insertPoint(channel, log, time, values);
  for (const g of channel.groups) {
    const group = plan.groups[g]!;
    const near = state.watermark - group.delayMs;
    placePoint(group, channel, log, state.win, state.queues, near - group.windowMs, near, index, merged, values);
  }
  degradeIfHot(plan, state, c);
}

function expire(plan: EntityPlan, state: EntityState): void {
  for (let c = 0; c < plan.channels.length; c++) {
    const channel = plan.channels[c]!;
    const log = state.logs[c]!;
    const horizon = retentionHorizon(plan, c, state.watermark);
    if (log.t.length === 0 || log.t[0]! > horizon) continue;
    const count = upperBound(log.t, horizon);
    if (count === log.t.length) resetLog(channel, log);
    else if (count > log.t.length >> 4) dropFront(log, count);
    else continue;
    for (const g of channel.groups) {
      const o = plan.groups[g]!.offset;
      state.win[o]! -= count;
      state.win[o + 1]! -= count;
    }
  }
}

function evaluate(
  plan: EntityPlan,
  logs: readonly ChannelLog[],
  win: readonly number[],
  queues: readonly MonotonicQueue[],
  time: number,
  points: readonly (number[] | undefined)[],
): number[] {
  const values = new Array<number>(plan.features.length);
  for (let k = 0; k < values.length; k++) {
    const feature = plan.features[k]!;
    const readings = new Array<Reading>(feature.inputs.length);
    for (let i = 0; i < readings.length; i++) {
      const input = feature.inputs[i]!;
      const group = plan.groups[input.group]!;
      const current = points[group.channel] !== undefined && group.delayMs === 0;
      readings[i] = new Reading(input, group, logs[group.channel]!, win, queues, time, current);
    }
    values[k] = feature.aggregation.value(readings) ?? feature.empty;
  }
  return values;
}

/** Features as of `time` computed afresh from the points (windows clipped at the retention horizon). */
function evaluateAt(
  plan: EntityPlan,
  logs: readonly ChannelLog[],
  watermark: number,
  time: number,
  points: readonly (number[] | undefined)[],
): number[] {
  const win = new Array<number>(plan.windowSlots).fill(0);
  const queues = Array.from({ length: plan.queueCount }, emptyQueue);
  for (const group of plan.groups) {
    const near = time - group.delayMs;
    const far = Math.max(near - group.windowMs, retentionHorizon(plan, group.channel, watermark));
    fillGroup(group, plan.channels[group.channel]!, logs[group.channel]!, win, queues, far, near);
  }
  return evaluate(plan, logs, win, queues, time, points);
}

/** Applies an event to its entity's state and returns that entity's features for it. */
export function updateEntity(plan: EntityPlan, state: EntityState, event: object): EntityUpdate {
  const time = readTime(event, plan.timeField);
  const channels = plan.channels;
  const points = new Array<number[] | undefined>(channels.length);
  for (let c = 0; c < channels.length; c++) {
    points[c] = channels[c]!.source === 'events' ? pointValues(channels[c]!, event) : undefined;
  }
  if (time < state.watermark - plan.graceMs) {
    const logs = state.logs.map(cloneLog);
    for (let c = 0; c < channels.length; c++) {
      const values = points[c];
      if (values !== undefined) insertPoint(channels[c]!, logs[c]!, time, values);
    }
    return { outcome: 'late', values: evaluateAt(plan, logs, state.watermark, time, points) };
  }
  for (let c = 0; c < channels.length; c++) {
    const values = points[c];
    if (values !== undefined) insertIntoChannel(plan, state, c, time, values);
  }
  if (time < state.watermark) {
    return { outcome: 'out_of_order', values: evaluateAt(plan, state.logs, state.watermark, time, points) };
  }
  state.watermark = time;
  for (const group of plan.groups) {
    const near = time - group.delayMs;
    const channel = group.channel;
    slideGroup(group, channels[channel]!, state.logs[channel]!, state.win, state.queues, near - group.windowMs, near);
  }
  const values = evaluate(plan, state.logs, state.win, state.queues, time, points);
  expire(plan, state);
  return { outcome: 'in_order', values };
}

/**
 * True when applyLabel would neither throw nor change the state ('ignored': no label channel takes it, e.g. a
 * genuine label where only fraud labels are counted), whatever the state: the label need not reach the entity.
 */
export function ignoresLabel(plan: EntityPlan, label: object): boolean {
  const id = readField(label, plan.key);
  const time = readField(label, plan.labelTimeField);
  if (typeof id !== 'string' || id === '' || typeof time !== 'number' || !Number.isSafeInteger(time)) return false;
  return plan.channels.every((channel) => channel.source !== 'labels' || pointValues(channel, label) === undefined);
}

/** Places a label at the labelled transaction's time in the entity's label channels. */
export function applyLabel(plan: EntityPlan, state: EntityState, label: object): LabelOutcome {
  const time = readTime(label, plan.labelTimeField);
  let outcome: LabelOutcome = 'ignored';
  plan.channels.forEach((channel, c) => {
    if (channel.source !== 'labels') return;
    const values = pointValues(channel, label);
    if (values === undefined) return;
    if (time <= retentionHorizon(plan, c, state.watermark)) {
      if (outcome === 'ignored') outcome = 'expired';
      return;
    }
    if (channel.matches >= 0 && !hasUnlabelledTransaction(plan, state, channel.matches, c, time)) {
      if (outcome === 'ignored') outcome = 'unmatched';
      return;
    }
    insertIntoChannel(plan, state, c, time, values);
    outcome = 'applied';
  });
  return outcome;
}

/** Points of a log whose items lie in [from, to), after `horizon` (items at or before it are dead, even if not dropped yet). */
function pointsIn(log: ChannelLog, from: number, to: number, horizon: number): number {
  let count = 0;
  for (let i = upperBound(log.t, Math.max(from - 1, horizon)); i < log.t.length && log.t[i]! < to; i++) count += log.b === 0 ? 1 : log.n[i]!;
  return count;
}

/**
 * True when the live transactions stored where a point at `time` is stored outnumber the labels stored there:
 * then every window, whose edges fall on item boundaries, counts at most as many labels as transactions, and a
 * ratio of the two stays in [0, 1] whatever labels arrive (repeats, labels of transactions it never saw).
 */
function hasUnlabelledTransaction(plan: EntityPlan, state: EntityState, transactionsChannel: number, labelsChannel: number, time: number): boolean {
  const transactions = state.logs[transactionsChannel]!;
  const labels = state.logs[labelsChannel]!;
  const from = Math.min(itemTime(transactions, time), itemTime(labels, time));
  const to = Math.max(itemTime(transactions, time) + Math.max(1, transactions.b), itemTime(labels, time) + Math.max(1, labels.b));
  const live = pointsIn(transactions, from, to, retentionHorizon(plan, transactionsChannel, state.watermark));
  return live > pointsIn(labels, from, to, retentionHorizon(plan, labelsChannel, state.watermark));
}

/**
 * True when the state holds nothing a window could still see for events at or
 * after `watermark − grace` (a partition's watermark): dropping it, and
 * starting afresh if the entity returns, changes no output for events and
 * labels newer than watermark − grace − reach.
 */
export function isExpired(plan: EntityPlan, state: EntityState, watermark: number): boolean {
  const horizon = watermark - plan.graceMs - plan.reachMs;
  return state.watermark <= horizon && state.logs.every((log) => log.t.length === 0 || log.t[log.t.length - 1]! <= horizon);
}
