/**
 * Just enough of PromQL to say which series an expression reads: metric names
 * with the label names they match on, and the label names it groups or joins by.
 * For checking that dashboards and rules only use metrics and labels that exist.
 */

export interface Selector {
  /** Null for a selector without a name ({__name__=~"..."}). */
  name: string | null;
  /** Label names matched in braces. */
  labels: string[];
}

export interface PromqlReferences {
  selectors: Selector[];
  /** Label names after by, without, on, ignoring, group_left and group_right. */
  groupingLabels: string[];
  /** Label names after `by` only: what an aggregation keeps. */
  byLabels: string[];
  /** Aggregation operators used (sum, max, ...). */
  aggregations: string[];
  /** Functions used (rate, histogram_quantile, ...). */
  functions: string[];
}

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'atan2']);
const IDENTIFIER = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const NUMBER = /^(0x[0-9a-fA-F]+|([0-9]+(ms|[smhdwy]))+|[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?)/;

export function parsePromql(expr: string): PromqlReferences {
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  const byLabels: string[] = [];
  const aggregations: string[] = [];
  const functions: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < expr.length) {
      if (/\s/.test(expr[i]!)) i++;
      else if (expr[i] === '#') while (i < expr.length && expr[i] !== '\n') i++;
      else break;
    }
  };
  const skipString = () => {
    const quote = expr[i]!;
    i++;
    while (i < expr.length && expr[i] !== quote) i += expr[i] === '\\' && quote !== '`' ? 2 : 1;
    if (i >= expr.length) throw new Error(`unterminated string in ${expr}`);
    i++;
  };
  /** Label names inside {...}, from i at '{' to after '}'. */
  const matchers = (): string[] => {
    const names: string[] = [];
    i++;
    for (;;) {
      skipSpace();
      if (i >= expr.length) throw new Error(`unterminated {} in ${expr}`);
      const c = expr[i]!;
      if (c === '}') {
        i++;
        return names;
      }
      if (c === '"' || c === "'" || c === '`') skipString();
      else {
        const match = IDENTIFIER.exec(expr.slice(i));
        if (match) {
          i += match[0].length;
          skipSpace();
          if (/^(=~|!~|!=|=)/.test(expr.slice(i))) names.push(match[0]);
        } else i++;
      }
    }
  };
  /** Label names inside (...) after a grouping keyword, from i at '(' to after ')'. */
  const labelList = (): string[] => {
    const names: string[] = [];
    i++;
    for (;;) {
      skipSpace();
      if (i >= expr.length) throw new Error(`unterminated label list in ${expr}`);
      if (expr[i] === ')') {
        i++;
        return names;
      }
      const match = IDENTIFIER.exec(expr.slice(i));
      if (match) {
        names.push(match[0]);
        i += match[0].length;
      } else i++;
    }
  };

  while (i < expr.length) {
    skipSpace();
    if (i >= expr.length) break;
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      skipString();
      continue;
    }
    if (c === '[') {
      // A range or subquery: durations only.
      const end = expr.indexOf(']', i);
      if (end < 0) throw new Error(`unterminated [] in ${expr}`);
      i = end + 1;
      continue;
    }
    if (c === '{') {
      selectors.push({ name: null, labels: matchers() });
      continue;
    }
    if (/[0-9.]/.test(c)) {
      const number = NUMBER.exec(expr.slice(i));
      i += number ? number[0].length : 1;
      continue;
    }
    const identifier = IDENTIFIER.exec(expr.slice(i));
    if (!identifier) {
      i++;
      continue;
    }
    const word = identifier[0];
    i += word.length;
    skipSpace();
    if (GROUPING.has(word)) {
      if (expr[i] === '(') {
        const labels = labelList();
        groupingLabels.push(...labels);
        if (word === 'by') byLabels.push(...labels);
      }
      continue;
    }
    if (KEYWORDS.has(word.toLowerCase())) continue;
    if (expr[i] === '(' || (AGGREGATIONS.has(word) && /^(by|without)\b/.test(expr.slice(i)))) {
      (AGGREGATIONS.has(word) ? aggregations : functions).push(word);
      continue;
    }
    selectors.push({ name: word, labels: expr[i] === '{' ? matchers() : [] });
  }
  return { selectors, groupingLabels, byLabels, aggregations, functions };
}

/** Grafana's built-in interval variables, replaced by a duration so the expression is plain PromQL. */
export function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g, '5m');
}

/** Label names a legend template uses: {{ service }} → service. */
export function legendLabels(legend: string): string[] {
  return [...legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((match) => match[1]!);
}

/** Series Prometheus itself makes: any label goes (alerts carry their rule's labels). */
const OPEN_SERIES = new Set(['ALERTS', 'ALERTS_FOR_STATE']);

/**
 * What an expression reads that does not exist: unknown metric names, label
 * names no matched series has, grouping and legend labels none of its series
 * carries. `known` maps series names (and recording rule names) to their labels.
 */
export function unknownReferences(expr: string, known: Map<string, Set<string>>, legend = ''): string[] {
  const problems: string[] = [];
  const { selectors, groupingLabels } = parsePromql(expr);
  const available = new Set<string>();
  let open = false;
  for (const selector of selectors) {
    if (selector.name === null) {
      problems.push(`a selector without a metric name: ${expr}`);
      continue;
    }
    if (OPEN_SERIES.has(selector.name)) {
      open = true;
      continue;
    }
    const labels = known.get(selector.name);
    if (!labels) {
      problems.push(`unknown metric ${selector.name}`);
      continue;
    }
    for (const label of labels) available.add(label);
    for (const label of selector.labels) if (label !== '__name__' && !labels.has(label)) problems.push(`${selector.name} has no label ${label}`);
  }
  if (!open) {
    for (const label of groupingLabels) if (!available.has(label)) problems.push(`grouping by ${label}, which none of ${expr} carries`);
    for (const label of legendLabels(legend)) if (!available.has(label)) problems.push(`legend {{${label}}}, which none of ${expr} carries`);
  }
  return problems;
}

/**
 * Known series extended by recording rules, in order. A rule's labels: with an
 * aggregation, the labels it aggregates by plus those of the recording rules it
 * reads (joins keep the left side's); without one, those of everything it reads.
 * histogram_quantile drops `le`. An approximation that errs towards more labels.
 */
export function withRecordingRules(known: Map<string, Set<string>>, rules: { record: string; expr: string }[]): Map<string, Set<string>> {
  const extended = new Map(known);
  for (const rule of rules) {
    const { selectors, byLabels, aggregations, functions } = parsePromql(rule.expr);
    const aggregated = aggregations.length > 0 && !/\bwithout\b/.test(rule.expr);
    const labels = new Set<string>(aggregated ? byLabels : []);
    for (const selector of selectors) {
      if (aggregated && !selector.name?.includes(':')) continue;
      for (const label of extended.get(selector.name ?? '') ?? []) labels.add(label);
    }
    if (functions.includes('histogram_quantile')) labels.delete('le');
    extended.set(rule.record, labels);
  }
  return extended;
}
