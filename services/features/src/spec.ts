/**
 * A feature set declared as data. Three kinds of feature:
 * - `field`: a numeric field of the event itself (the handbook's TX_AMOUNT);
 * - `calendar`: a calendar fact about the event time (weekend, night, ...);
 * - `window`: an aggregation over one entity's recent points — events keyed by
 *   `entity` and, for the `labels` source, labels placed at the labelled
 *   transaction's event time.
 *
 * A window covers (t − delay − window, t − delay] in event time, t being the
 * event's time: the far edge is excluded, the near edge included. Aggregations
 * are named in the registry in aggregations.ts; calendar parts in calendar.ts.
 */

import { aggregations, type AggregationName } from './aggregations.js';
import { calendarParts, type CalendarPart } from './calendar.js';

export type PointSource = 'events' | 'labels';

export type ConditionOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

/** `record[field] op value`; numeric ops hold only when both sides are numbers. */
export interface Condition {
  field: string;
  op: ConditionOp;
  value: string | number | boolean;
}

/** Which points a window aggregates: a source, the conditions all must meet, the field aggregated. */
export interface WindowInput {
  source?: PointSource;
  /** Conditions that must all hold. */
  filter?: Condition[];
  /** The numeric field aggregated; a point without a finite value there is not counted. */
  field?: string;
}

export interface FieldFeature {
  kind: 'field';
  name: string;
  field: string;
}

export interface CalendarFeature {
  kind: 'calendar';
  name: string;
  part: CalendarPart;
}

export interface WindowFeature extends WindowInput {
  kind: 'window';
  name: string;
  /** The event field naming the entity whose state holds this window (e.g. customer_id). */
  entity: string;
  windowMs: number;
  /** Shifts the window back in time. */
  delayMs?: number;
  aggregation: AggregationName;
  /** Half-life of the exponential weights (aggregation `ewm`). */
  halfLifeMs?: number;
  /** Ratio numerator (aggregation `ratio`): the sum of its field, or its point count. */
  numerator?: WindowInput;
  /** Ratio denominator; all events of the entity when absent. */
  denominator?: WindowInput;
  /** The value when the window has nothing to aggregate (defaults per aggregation, see aggregations.ts). */
  empty?: number;
}

export type FeatureDef = FieldFeature | CalendarFeature | WindowFeature;

export interface FeatureSpec {
  version: string;
  features: FeatureDef[];
  /** How far behind the entity's newest event an event may arrive and still be placed in its windows. */
  graceMs?: number;
  /** IANA time zone of the calendar features; UTC when absent. */
  timeZone?: string;
  /** Exact points an entity channel keeps before it degrades to time buckets. */
  exactCap?: number;
  /** Bucket width once degraded; by default the smallest round width that keeps a channel within exactCap buckets. */
  bucketMs?: number;
  /** Event-time field of events. */
  eventTimeField?: string;
  /** Field of a label holding the labelled transaction's event time. */
  labelTimeField?: string;
}

/**
 * One hour: enough for producer retries, buffered terminals and the skew
 * between customer partitions merged into the terminal repartition topic, and
 * cheap — it adds grace / (window + delay) to what an entity retains (0.1 %
 * for the handbook's 37-day reach) and only events that actually arrive out of
 * order pay the rescan of their windows.
 */
export const DEFAULT_GRACE_MS = 60 * 60 * 1000;
export const DEFAULT_EXACT_CAP = 4096;
export const DEFAULT_EVENT_TIME_FIELD = 'event_time';
export const DEFAULT_LABEL_TIME_FIELD = 'tx_event_time';

const conditionOps: ReadonlySet<string> = new Set<ConditionOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

function fail(message: string): never {
  throw new RangeError(`invalid feature spec: ${message}`);
}

function checkPositiveInteger(value: unknown, what: string, allowZero = false): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    fail(`${what} must be ${allowZero ? 'a non-negative' : 'a positive'} integer, got ${String(value)}`);
  }
}

function checkInput(input: WindowInput, where: string, fieldRule: 'required' | 'optional' | 'forbidden'): void {
  if (input.source !== undefined && input.source !== 'events' && input.source !== 'labels') {
    fail(`${where}: source must be 'events' or 'labels'`);
  }
  for (const condition of input.filter ?? []) {
    if (typeof condition.field !== 'string' || condition.field === '') fail(`${where}: filter field must be a name`);
    if (!conditionOps.has(condition.op)) fail(`${where}: unknown filter op '${String(condition.op)}'`);
    if (!['string', 'number', 'boolean'].includes(typeof condition.value)) {
      fail(`${where}: filter value must be a string, number or boolean`);
    }
  }
  if (input.field !== undefined && (typeof input.field !== 'string' || input.field === '')) {
    fail(`${where}: field must be a name`);
  }
  if (fieldRule === 'required' && input.field === undefined) fail(`${where}: needs a field`);
  if (fieldRule === 'forbidden' && input.field !== undefined) fail(`${where}: takes no field`);
}

function checkWindow(feature: WindowFeature): void {
  const where = `feature '${feature.name}'`;
  if (typeof feature.entity !== 'string' || feature.entity === '') fail(`${where}: entity must be a field name`);
  checkPositiveInteger(feature.windowMs, `${where}: windowMs`);
  if (feature.delayMs !== undefined) checkPositiveInteger(feature.delayMs, `${where}: delayMs`, true);
  const aggregation = Object.hasOwn(aggregations, feature.aggregation) ? aggregations[feature.aggregation] : undefined;
  if (aggregation === undefined) fail(`${where}: unknown aggregation '${String(feature.aggregation)}'`);
  if (feature.empty !== undefined && !Number.isFinite(feature.empty)) fail(`${where}: empty must be a finite number`);
  if (aggregation.needs.ewm === true) {
    checkPositiveInteger(feature.halfLifeMs, `${where}: halfLifeMs`);
  } else if (feature.halfLifeMs !== undefined) {
    fail(`${where}: halfLifeMs applies to ewm only`);
  }
  if (aggregation.ratio === true) {
    if (feature.source !== undefined || feature.filter !== undefined || feature.field !== undefined) {
      fail(`${where}: a ratio takes its points from numerator and denominator`);
    }
    if (feature.numerator === undefined) fail(`${where}: a ratio needs a numerator`);
    checkInput(feature.numerator, `${where} numerator`, 'optional');
    checkInput(feature.denominator ?? {}, `${where} denominator`, 'optional');
  } else {
    if (feature.numerator !== undefined || feature.denominator !== undefined) {
      fail(`${where}: numerator and denominator apply to ratio only`);
    }
    checkInput(feature, where, aggregation.field);
  }
}

/** Throws a RangeError naming the first problem; a spec that passes compiles. */
export function validateSpec(spec: FeatureSpec): void {
  if (typeof spec.version !== 'string' || spec.version === '') fail('version must be a non-empty string');
  if (!Array.isArray(spec.features) || spec.features.length === 0) fail('features must be a non-empty list');
  const names = new Set<string>();
  for (const feature of spec.features) {
    if (typeof feature.name !== 'string' || feature.name === '') fail('every feature needs a name');
    if (names.has(feature.name)) fail(`duplicate feature name '${feature.name}'`);
    names.add(feature.name);
    switch (feature.kind) {
      case 'field':
        if (typeof feature.field !== 'string' || feature.field === '') fail(`feature '${feature.name}': field must be a name`);
        break;
      case 'calendar':
        if (!Object.hasOwn(calendarParts, feature.part)) fail(`feature '${feature.name}': unknown calendar part '${String(feature.part)}'`);
        break;
      case 'window':
        checkWindow(feature);
        break;
      default:
        fail(`feature '${(feature as { name: string }).name}': unknown kind '${String((feature as { kind: unknown }).kind)}'`);
    }
  }
  if (spec.graceMs !== undefined) checkPositiveInteger(spec.graceMs, 'graceMs', true);
  if (spec.exactCap !== undefined) checkPositiveInteger(spec.exactCap, 'exactCap');
  if (spec.bucketMs !== undefined) checkPositiveInteger(spec.bucketMs, 'bucketMs');
  if (spec.timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: spec.timeZone });
    } catch {
      fail(`unknown time zone '${spec.timeZone}'`);
    }
  }
}
