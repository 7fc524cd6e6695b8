/**
 * The features of the event itself, and the assembly of the full vector from
 * the parts computed where each entity's state lives (customer partition,
 * then terminal partition after the repartition).
 */

import { calendarParts } from './calendar.js';
import { readField } from './filter.js';
import type { FeaturePlan } from './plan.js';

/** Values of the spec's field and calendar features, in spec order among themselves. */
export function eventFeatures(plan: FeaturePlan, event: object): number[] {
  const time = readField(event, plan.eventTimeField);
  if (typeof time !== 'number' || !Number.isSafeInteger(time)) {
    throw new TypeError(`${plan.eventTimeField} must be integer epoch milliseconds, got ${String(time)}`);
  }
  const values = new Array<number>(plan.eventFeatures.length);
  for (let k = 0; k < values.length; k++) {
    const feature = plan.eventFeatures[k]!;
    if (feature.kind === 'calendar') {
      values[k] = calendarParts[feature.part](plan.localTime(time));
      continue;
    }
    const value = readField(event, feature.field);
    if (typeof value === 'boolean') {
      values[k] = value ? 1 : 0;
    } else if (typeof value === 'number' && Number.isFinite(value)) {
      values[k] = value;
    } else {
      throw new TypeError(`feature ${feature.name}: ${feature.field} must be a finite number, got ${String(value)}`);
    }
  }
  return values;
}

/**
 * The full vector in spec order, from the event features and each entity's
 * values (as returned by updateEntity, keyed by entity key).
 */
export function assembleVector(
  plan: FeaturePlan,
  event: readonly number[],
  entities: Readonly<Record<string, readonly number[]>>,
): number[] {
  if (event.length !== plan.eventFeatures.length) {
    throw new RangeError(`expected ${plan.eventFeatures.length} event feature values, got ${event.length}`);
  }
  for (const [key, entity] of plan.entities) {
    const part = entities[key];
    if (part === undefined || part.length !== entity.names.length) {
      throw new RangeError(`expected ${entity.names.length} values for ${key}, got ${part?.length ?? 'none'}`);
    }
  }
  const vector = new Array<number>(plan.order.length);
  for (let k = 0; k < vector.length; k++) {
    const { entity, index } = plan.order[k]!;
    vector[k] = entity === undefined ? event[index]! : entities[entity]![index]!;
  }
  return vector;
}
