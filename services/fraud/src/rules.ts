import { z } from 'zod';
import { SluiceError, type FeatureVector, type FiredRule } from '@sluice/shared';

/**
 * Alerting rules declared as data (JSON, from a file or an environment
 * variable), e.g.
 *
 *   [{ "name": "large-amount", "severity": "high", "description": "...",
 *      "condition": { "field": "amount", "op": ">", "value": 1000 } },
 *    { "name": "night-burst", "severity": "medium", "description": "...",
 *      "condition": { "all": [ { "field": "is_night", "op": "==", "value": 1 },
 *                              { "not": { "field": "customer_tx_count_1d", "op": "<", "value": 5 } } ] } }]
 *
 * A field is `amount` or any feature name of the vector.
 */

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const OPERATORS = ['>', '>=', '<', '<=', '==', '!='] as const;
export type Operator = (typeof OPERATORS)[number];

export type Condition =
  | { field: string; op: Operator; value: number }
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition };

export interface Rule {
  name: string;
  severity: Severity;
  description: string;
  condition: Condition;
}

export const DEFAULT_RULES: readonly Rule[] = [
  {
    name: 'large-amount',
    // High, with the default minimum alerting severity also high: before any
    // model exists the seed's classic rule alone raises alerts, as it did.
    severity: 'high',
    description: 'amount above 1000',
    condition: { field: 'amount', op: '>', value: 1000 },
  },
];

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

const comparisonSchema = z.strictObject({
  field: z.string().min(1),
  op: z.enum(OPERATORS),
  value: z.number(),
});

const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    comparisonSchema,
    z.strictObject({ all: z.array(conditionSchema).min(1) }),
    z.strictObject({ any: z.array(conditionSchema).min(1) }),
    z.strictObject({ not: conditionSchema }),
  ]),
);

const ruleSchema = z.strictObject({
  // Rule names become values of a metric label and of `rules_fired`: keep them tame.
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit'),
  severity: z.enum(SEVERITIES),
  description: z.string().min(1),
  condition: conditionSchema,
});

const rulesSchema = z.array(ruleSchema, { error: 'expected a JSON array of rules' }).superRefine((rules, ctx) => {
  const first = new Map<string, number>();
  rules.forEach((rule, i) => {
    const earlier = first.get(rule.name);
    if (earlier === undefined) first.set(rule.name, i);
    else ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate rule name "${rule.name}" (also rule ${earlier})` });
  });
});

const CONDITION_FORMS = '{"field", "op", "value"}, {"all": [...]}, {"any": [...]} or {"not": {...}}';

/**
 * Parses rules from JSON text. Throws SluiceError `RULES_INVALID` whose reason
 * names the source, the rule (by name when it has one) and the path of each
 * problem, e.g. `rule "night-burst" (#1) at condition.all[1].op: ...`.
 */
export function parseRules(json: string, source: string): Rule[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    throw new SluiceError('RULES_INVALID', `${source}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const result = rulesSchema.safeParse(data);
  if (result.success) return result.data;
  const problems = flattenIssues(result.error.issues, []).map(({ path, message }) => `${locate(data, path)}: ${message}`);
  throw new SluiceError('RULES_INVALID', `${source}: ${problems.join('; ')}`);
}

/**
 * Zod reports a failed union as one issue per branch. The branch meant is
 * the one that only failed below its top level (right keys, bad contents):
 * report its issues; when no branch is clearly meant, say which forms exist.
 */
function flattenIssues(issues: readonly z.core.$ZodIssue[], base: PropertyKey[]): { path: PropertyKey[]; message: string }[] {
  return issues.flatMap((issue) => {
    const path = [...base, ...issue.path];
    if (issue.code !== 'invalid_union') return [{ path, message: issue.message }];
    const meant = issue.errors.filter((branch) => branch.every((inner) => inner.path.length > 0));
    if (meant.length === 1 && meant[0]) return flattenIssues(meant[0], path);
    return [{ path, message: `expected a condition: one of ${CONDITION_FORMS}` }];
  });
}

function locate(data: unknown, path: PropertyKey[]): string {
  const [index, ...rest] = path;
  if (typeof index !== 'number') return 'rules';
  const name = Array.isArray(data) ? (data[index] as { name?: unknown } | undefined)?.name : undefined;
  const rule = typeof name === 'string' ? `rule "${name}" (#${index})` : `rule #${index}`;
  if (rest.length === 0) return rule;
  const where = rest.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
  return `${rule} at ${where}`;
}

/** Every field name the rules read: to warn about a rule that can never fire on the current feature set. */
export function ruleFields(rules: readonly Rule[]): Set<string> {
  const fields = new Set<string>();
  const visit = (c: Condition): void => {
    if ('field' in c) fields.add(c.field);
    else if ('all' in c) c.all.forEach(visit);
    else if ('any' in c) c.any.forEach(visit);
    else visit(c.not);
  };
  for (const rule of rules) visit(rule.condition);
  return fields;
}

/** The fields rules can read for a vector: `amount` and every feature by name. */
export function vectorFields(vector: Pick<FeatureVector, 'amount' | 'feature_names' | 'feature_values'>): Record<string, number> {
  const fields: Record<string, number> = Object.create(null);
  vector.feature_names.forEach((name, i) => {
    const value = vector.feature_values[i];
    if (value !== undefined) fields[name] = value;
  });
  fields.amount = vector.amount;
  return fields;
}

export function evaluateRules(rules: readonly Rule[], fields: Readonly<Record<string, number>>): FiredRule[] {
  return rules
    .filter((rule) => holds(rule.condition, fields) === true)
    .map((rule) => ({ name: rule.name, severity: rule.severity, description: rule.description }));
}

/**
 * Three-valued: a comparison on a field the vector lacks (or that is NaN) is
 * unknown, not false, so `not` over it does not fire either. `all` is false
 * if any part is false, `any` true if any part is true, unknown otherwise.
 */
function holds(condition: Condition, fields: Readonly<Record<string, number>>): boolean | undefined {
  if ('field' in condition) {
    const x = Object.hasOwn(fields, condition.field) ? fields[condition.field] : undefined;
    if (x === undefined || Number.isNaN(x)) return undefined;
    return compare(x, condition.op, condition.value);
  }
  if ('not' in condition) {
    const inner = holds(condition.not, fields);
    return inner === undefined ? undefined : !inner;
  }
  const parts = 'all' in condition ? condition.all : condition.any;
  const decisive = 'all' in condition ? false : true;
  let unknown = false;
  for (const part of parts) {
    const value = holds(part, fields);
    if (value === decisive) return decisive;
    if (value === undefined) unknown = true;
  }
  return unknown ? undefined : !decisive;
}

function compare(x: number, op: Operator, value: number): boolean {
  switch (op) {
    case '>':
      return x > value;
    case '>=':
      return x >= value;
    case '<':
      return x < value;
    case '<=':
      return x <= value;
    case '==':
      return x === value;
    case '!=':
      return x !== value;
  }
}
