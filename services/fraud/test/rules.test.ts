import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SluiceError } from '@sluice/shared';
import {
  DEFAULT_RULES,
  OPERATORS,
  SEVERITIES,
  evaluateRules,
  parseRules,
  ruleFields,
  vectorFields,
  type Condition,
  type Operator,
  type Rule,
} from '../src/rules.js';

const JS_COMPARE: Record<Operator, (a: number, b: number) => boolean> = {
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

const rule = (condition: Condition, name = 'r'): Rule => ({ name, severity: 'high', description: 'd', condition });
const fires = (condition: Condition, fields: Record<string, number>): boolean => evaluateRules([rule(condition)], fields).length === 1;

const FIELD_NAMES = ['amount', 'f1', 'f2', 'f3'];

/** Random trees over a few fields; comparison values drawn near the field values so both outcomes occur. */
const conditionArb: fc.Arbitrary<Condition> = fc.letrec<{ cond: Condition }>((tie) => ({
  cond: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ field: fc.constantFrom(...FIELD_NAMES), op: fc.constantFrom(...OPERATORS), value: fc.integer({ min: -2, max: 2 }) }),
    fc.record({ all: fc.array(tie('cond'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ any: fc.array(tie('cond'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ not: tie('cond') }),
  ),
})).cond;

/** Some fields missing, some NaN (both unknown), the rest small integers. */
const fieldsArb = fc.record(
  { amount: fc.integer({ min: -2, max: 2 }), f1: fc.integer({ min: -2, max: 2 }), f2: fc.constantFrom(Number.NaN, 0, 1), f3: fc.integer({ min: -2, max: 2 }) },
  { requiredKeys: ['amount'] },
);

/** Kleene logic as numbers: false 0, unknown 0.5, true 1; all = min, any = max, not = 1 - x. */
function oracle(c: Condition, fields: Record<string, number>): number {
  if ('field' in c) {
    const x = fields[c.field];
    return x === undefined || Number.isNaN(x) ? 0.5 : JS_COMPARE[c.op](x, c.value) ? 1 : 0;
  }
  if ('all' in c) return Math.min(...c.all.map((p) => oracle(p, fields)));
  if ('any' in c) return Math.max(...c.any.map((p) => oracle(p, fields)));
  return 1 - oracle(c.not, fields);
}

describe('evaluateRules', () => {
  it.each(OPERATORS)('compares with %s as JavaScript does', (op) => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), fc.double({ noNaN: true }), fc.boolean(), (x, v, same) => {
        const value = same ? x : v;
        expect(fires({ field: 'amount', op, value }, { amount: x })).toBe(JS_COMPARE[op](x, value));
      }),
    );
  });

  it('evaluates nested all/any/not as three-valued logic', () => {
    fc.assert(
      fc.property(conditionArb, fieldsArb, (condition, fields) => {
        expect(fires(condition, fields)).toBe(oracle(condition, fields) === 1);
      }),
      { numRuns: 1000 },
    );
  });

  it('does not fire on a missing field, even under not', () => {
    expect(fires({ field: 'missing', op: '<', value: 1 }, { amount: 5 })).toBe(false);
    expect(fires({ not: { field: 'missing', op: '<', value: 1 } }, { amount: 5 })).toBe(false);
    expect(fires({ any: [{ field: 'missing', op: '<', value: 1 }, { field: 'amount', op: '==', value: 5 }] }, { amount: 5 })).toBe(true);
    expect(fires({ all: [{ field: 'missing', op: '<', value: 1 }, { field: 'amount', op: '==', value: 5 }] }, { amount: 5 })).toBe(false);
  });

  it('never reads inherited properties as fields', () => {
    for (const field of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(fires({ field, op: '!=', value: 0 }, { amount: 1 })).toBe(false);
      expect(fires({ not: { field, op: '==', value: 0 } }, { amount: 1 })).toBe(false);
    }
  });

  it('returns the fired rules in declaration order with their severity and description', () => {
    const rules: Rule[] = [
      { name: 'a', severity: 'low', description: 'A', condition: { field: 'amount', op: '>', value: 1 } },
      { name: 'b', severity: 'critical', description: 'B', condition: { field: 'amount', op: '<', value: 1 } },
      { name: 'c', severity: 'medium', description: 'C', condition: { field: 'amount', op: '>=', value: 2 } },
    ];
    expect(evaluateRules(rules, { amount: 2 })).toEqual([
      { name: 'a', severity: 'low', description: 'A' },
      { name: 'c', severity: 'medium', description: 'C' },
    ]);
  });

  it('has the classic amount > 1000 as its default', () => {
    expect(evaluateRules(DEFAULT_RULES, { amount: 1000 })).toEqual([]);
    expect(evaluateRules(DEFAULT_RULES, { amount: 1000.01 }).map((r) => [r.name, r.severity])).toEqual([['large-amount', 'high']]);
  });
});

describe('vectorFields and ruleFields', () => {
  it('exposes amount and every feature by name', () => {
    const fields = vectorFields({ amount: 12, feature_names: ['f1', 'amount', 'f2'], feature_values: [1, 12, -3] });
    expect({ ...fields }).toEqual({ f1: 1, amount: 12, f2: -3 });
    expect(fires({ field: 'f2', op: '<', value: 0 }, fields)).toBe(true);
  });

  it('lists every field a rule set reads', () => {
    const rules = [rule({ all: [{ field: 'a', op: '>', value: 1 }, { not: { any: [{ field: 'b', op: '<', value: 0 }, { field: 'a', op: '==', value: 2 }] } }] })];
    expect([...ruleFields(rules)].sort()).toEqual(['a', 'b']);
  });
});

describe('parseRules', () => {
  it('reads back the default rules and random valid rule sets', () => {
    expect(parseRules(JSON.stringify(DEFAULT_RULES), 'default')).toEqual(DEFAULT_RULES);
    const ruleArb = fc.record({
      name: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
      severity: fc.constantFrom(...SEVERITIES),
      description: fc.string({ minLength: 1 }),
      condition: conditionArb,
    });
    fc.assert(
      fc.property(fc.uniqueArray(ruleArb, { selector: (r) => r.name, maxLength: 5 }), (rules) => {
        expect(parseRules(JSON.stringify(rules), 'random')).toEqual(rules);
      }),
    );
  });

  const base = { name: 'night-burst', severity: 'medium', description: 'd' };
  const errors: [string, string, RegExp][] = [
    ['not JSON', '[{', /SLUICE_FRAUD_RULES: not valid JSON/],
    ['an object instead of an array', JSON.stringify({ rules: [] }), /SLUICE_FRAUD_RULES: rules: expected a JSON array of rules/],
    ['a missing name', JSON.stringify([{ ...base, name: undefined, condition: { field: 'amount', op: '>', value: 1 } }]), /rule #0 at name: .*expected string/],
    ['a name with spaces', JSON.stringify([{ ...base, name: 'big spender', condition: { field: 'amount', op: '>', value: 1 } }]), /rule "big spender" \(#0\) at name: expected 1 to 64 letters/],
    ['an unknown severity', JSON.stringify([{ ...base, severity: 'severe', condition: { field: 'amount', op: '>', value: 1 } }]), /rule "night-burst" \(#0\) at severity: .*"low"\|"medium"\|"high"\|"critical"/],
    ['an empty description', JSON.stringify([{ ...base, description: '', condition: { field: 'amount', op: '>', value: 1 } }]), /at description: /],
    [
      'a bad operator deep inside',
      JSON.stringify([
        { ...base, name: 'ok', condition: { field: 'amount', op: '>', value: 1 } },
        { ...base, condition: { all: [{ field: 'amount', op: '>', value: 1 }, { not: { any: [{ field: 'x', op: '=>', value: 2 }] } }] } },
      ]),
      /rule "night-burst" \(#1\) at condition\.all\[1\]\.not\.any\[0\]\.op: /,
    ],
    ['a threshold given as a string', JSON.stringify([{ ...base, condition: { field: 'amount', op: '>', value: '1000' } }]), /at condition\.value: .*expected number/],
    ['an empty field name', JSON.stringify([{ ...base, condition: { field: '', op: '>', value: 1 } }]), /at condition\.field: /],
    ['an empty all', JSON.stringify([{ ...base, condition: { all: [] } }]), /at condition\.all: /],
    ['a typo in a key', JSON.stringify([{ ...base, condition: { feild: 'amount', op: '>', value: 1 } }]), /at condition: expected a condition: one of/],
    ['two forms at once', JSON.stringify([{ ...base, condition: { field: 'amount', op: '>', value: 1, not: { field: 'amount', op: '<', value: 0 } } }]), /at condition: expected a condition/],
    ['an extra key on a comparison', JSON.stringify([{ ...base, condition: { field: 'amount', op: '>', value: 1, unit: 'EUR' } }]), /at condition: .*"unit"/],
    ['an unknown rule key', JSON.stringify([{ ...base, enabled: true, condition: { field: 'amount', op: '>', value: 1 } }]), /rule "night-burst" \(#0\): .*"enabled"/],
    [
      'a duplicate name',
      JSON.stringify([
        { ...base, condition: { field: 'amount', op: '>', value: 1 } },
        { ...base, condition: { field: 'amount', op: '>', value: 2 } },
      ]),
      /rule "night-burst" \(#1\) at name: duplicate rule name "night-burst" \(also rule 0\)/,
    ],
  ];

  it.each(errors)('explains %s', (_name, json, message) => {
    let thrown: unknown;
    try {
      parseRules(json, 'SLUICE_FRAUD_RULES');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SluiceError);
    const error = thrown as SluiceError;
    expect(error.code).toBe('RULES_INVALID');
    expect(error.reason.startsWith('SLUICE_FRAUD_RULES: ')).toBe(true);
    expect(error.reason).toMatch(message);
  });

  it('reports every problem, not just the first', () => {
    const json = JSON.stringify([
      { name: 'a', severity: 'huge', description: 'd', condition: { field: 'amount', op: '>', value: 1 } },
      { name: 'b', severity: 'low', description: 'd', condition: { field: 'amount', op: '~', value: 1 } },
    ]);
    expect(() => parseRules(json, 'file rules.json')).toThrow(/rule "a" \(#0\) at severity: .*; rule "b" \(#1\) at condition\.op: /);
  });
});
