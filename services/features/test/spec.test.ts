import { describe, expect, it } from 'vitest';
import { handbookFeatureSpec } from '../src/handbook.js';
import { compileSpec } from '../src/plan.js';
import { validateSpec, type FeatureDef, type FeatureSpec } from '../src/spec.js';

const count: FeatureDef = { kind: 'window', name: 'n', entity: 'k', windowMs: 1000, aggregation: 'count' };

function specWith(...features: unknown[]): FeatureSpec {
  return { version: 'v', features: features as FeatureDef[] };
}

describe('feature spec validation', () => {
  it('accepts the handbook set, with or without a time zone', () => {
    expect(() => validateSpec(handbookFeatureSpec())).not.toThrow();
    expect(() => validateSpec(handbookFeatureSpec({ timeZone: 'Europe/Brussels' }))).not.toThrow();
  });

  it.each([
    ['an empty version', { version: '', features: [count] }],
    ['no features', { version: 'v', features: [] }],
    ['a duplicate name', specWith(count, count)],
    ['an unknown aggregation', specWith({ ...count, aggregation: 'median' })],
    ['a zero window', specWith({ ...count, windowMs: 0 })],
    ['a fractional delay', specWith({ ...count, delayMs: 1.5 })],
    ['a mean without field', specWith({ ...count, aggregation: 'mean' })],
    ['a field on time_since_last', specWith({ ...count, aggregation: 'time_since_last', field: 'x' })],
    ['an ewm without half-life', specWith({ ...count, aggregation: 'ewm', field: 'x' })],
    ['a half-life on a mean', specWith({ ...count, aggregation: 'mean', field: 'x', halfLifeMs: 5 })],
    ['a ratio without numerator', specWith({ ...count, aggregation: 'ratio' })],
    ['a ratio with a field of its own', specWith({ ...count, aggregation: 'ratio', field: 'x', numerator: {} })],
    ['a numerator on a count', specWith({ ...count, numerator: {} })],
    ['an unknown filter op', specWith({ ...count, filter: [{ field: 'x', op: 'like', value: 1 }] })],
    ['an unknown source', specWith({ ...count, source: 'clicks' })],
    ['an unknown calendar part', specWith({ kind: 'calendar', name: 'c', part: 'moon' })],
    ['an unknown kind', specWith({ kind: 'sql', name: 'q' })],
    ['an unknown time zone', { version: 'v', features: [count], timeZone: 'Mars/Olympus' }],
    ['a negative grace', { version: 'v', features: [count], graceMs: -1 }],
    ['a non-finite empty value', specWith({ ...count, empty: Number.NaN })],
  ])('rejects %s', (_what, spec) => {
    expect(() => compileSpec(spec as FeatureSpec)).toThrow(RangeError);
  });

  it('shares one window between features over the same channel, window and delay', () => {
    const plan = compileSpec(handbookFeatureSpec());
    const customers = plan.entities.get('customer_id')!;
    const terminals = plan.entities.get('terminal_id')!;
    expect(customers.channels).toHaveLength(1);
    expect(customers.groups).toHaveLength(3);
    expect(terminals.channels.map((c) => c.source)).toEqual(['events', 'labels']);
    expect(terminals.groups).toHaveLength(6);
    expect(terminals.usesLabels).toBe(true);
    expect(customers.usesLabels).toBe(false);
  });
});
