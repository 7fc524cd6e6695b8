/**
 * The aggregation registry. An aggregation says which running quantities its
 * window must keep (`needs`) and turns a window reading into a value; adding
 * one is an entry here (plus a quantity in window-moments.ts if it needs a new
 * kind). Windows keep sums shifted by a reference value, exponentially
 * weighted sums and monotonic min/max queues; see window-moments.ts.
 */

/** What an aggregation can read from one window of one input. */
export interface WindowReading {
  /** Event time of the event being processed. */
  readonly time: number;
  /** Points in the window. */
  count(): number;
  /** Sum of the input's field over the window. */
  sum(): number;
  /** Population variance of the input's field (0 for an empty window). */
  variance(): number;
  /** Mean weighted by 2^(−age / halfLife); undefined when empty. */
  ewm(): number | undefined;
  min(): number | undefined;
  max(): number | undefined;
  /** Time of the newest point in the window other than the event being processed. */
  previousTime(): number | undefined;
  /** The sum of the input's field, or its point count when it has none. */
  total(): number;
}

export interface Needs {
  sum?: boolean;
  sumsq?: boolean;
  min?: boolean;
  max?: boolean;
  ewm?: boolean;
}

export interface AggregationDef {
  field: 'required' | 'optional' | 'forbidden';
  needs: Needs;
  /** Reads a numerator and a denominator input instead of one. */
  ratio?: boolean;
  /** The value of an empty window unless the feature sets `empty`. */
  empty(windowMs: number): number;
  /** undefined: nothing to aggregate, the feature takes its empty value. */
  value(inputs: readonly WindowReading[]): number | undefined;
}

function one(inputs: readonly WindowReading[]): WindowReading {
  const input = inputs[0];
  if (input === undefined) throw new RangeError('aggregation called without an input');
  return input;
}

const zero = (): number => 0;

const definitions = {
  count: { field: 'optional', needs: {}, empty: zero, value: (inputs) => one(inputs).count() },
  sum: {
    field: 'required',
    needs: { sum: true },
    empty: zero,
    value: (inputs) => (one(inputs).count() === 0 ? undefined : one(inputs).sum()),
  },
  mean: {
    field: 'required',
    needs: { sum: true },
    empty: zero,
    value: (inputs) => {
      const r = one(inputs);
      const n = r.count();
      return n === 0 ? undefined : r.sum() / n;
    },
  },
  variance: {
    field: 'required',
    needs: { sum: true, sumsq: true },
    empty: zero,
    value: (inputs) => (one(inputs).count() === 0 ? undefined : one(inputs).variance()),
  },
  stddev: {
    field: 'required',
    needs: { sum: true, sumsq: true },
    empty: zero,
    value: (inputs) => (one(inputs).count() === 0 ? undefined : Math.sqrt(one(inputs).variance())),
  },
  min: { field: 'required', needs: { min: true }, empty: zero, value: (inputs) => one(inputs).min() },
  max: { field: 'required', needs: { max: true }, empty: zero, value: (inputs) => one(inputs).max() },
  ewm: { field: 'required', needs: { ewm: true }, empty: zero, value: (inputs) => one(inputs).ewm() },
  /** No previous point in the window reads as the window length: "at least this long ago". */
  time_since_last: {
    field: 'forbidden',
    needs: {},
    empty: (windowMs) => windowMs,
    value: (inputs) => {
      const r = one(inputs);
      const previous = r.previousTime();
      return previous === undefined ? undefined : r.time - previous;
    },
  },
  /** numerator total / denominator total; the handbook's risk reads 0 for a window without transactions. */
  ratio: {
    field: 'forbidden',
    needs: {},
    ratio: true,
    empty: zero,
    value: ([numerator, denominator]) => {
      if (numerator === undefined || denominator === undefined) throw new RangeError('ratio needs two inputs');
      const total = denominator.total();
      return total === 0 ? undefined : numerator.total() / total;
    },
  },
} satisfies Record<string, AggregationDef>;

export type AggregationName = keyof typeof definitions;

export const aggregations: Readonly<Record<AggregationName, AggregationDef>> = definitions;
