import type { Condition } from './spec.js';

export type Predicate = (record: object) => boolean;

export function readField(record: object, field: string): unknown {
  return (record as Record<string, unknown>)[field];
}

function holds(actual: unknown, condition: Condition): boolean {
  const expected = condition.value;
  switch (condition.op) {
    case 'eq':
      return actual === expected;
    case 'ne':
      return actual !== expected;
    default: {
      if (typeof actual !== 'number' || typeof expected !== 'number') return false;
      if (condition.op === 'lt') return actual < expected;
      if (condition.op === 'le') return actual <= expected;
      if (condition.op === 'gt') return actual > expected;
      return actual >= expected;
    }
  }
}

/** True when every condition holds (an empty filter accepts everything). */
export function compileFilter(conditions: readonly Condition[]): Predicate {
  if (conditions.length === 0) return () => true;
  return (record) => conditions.every((condition) => holds(readField(record, condition.field), condition));
}
