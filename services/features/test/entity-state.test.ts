import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyLabel, createEntityState, isExpired, updateEntity, type EntityState } from '../src/entity-state.js';
import { compileSpec, type EntityPlan } from '../src/plan.js';
import type { FeatureSpec, WindowFeature } from '../src/spec.js';
import { prng } from './synthetic-stream.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const GRACE = 30 * MIN;

interface Ev {
  sensor: string;
  event_time: number;
  value: number;
  kind: string;
}

interface Label {
  sensor: string;
  tx_event_time: number;
  is_fraud: boolean;
  weight: number;
}

function windowFeatures(): WindowFeature[] {
  const features: WindowFeature[] = [];
  const windows: [number, number][] = [
    [HOUR, 0],
    [6 * HOUR, 0],
    [2 * HOUR, 3 * HOUR],
  ];
  for (const [windowMs, delayMs] of windows) {
    const base = { kind: 'window', entity: 'sensor', windowMs, delayMs } as const;
    const tag = `${windowMs / MIN}m_d${delayMs / MIN}`;
    features.push(
      { ...base, name: `count_${tag}`, aggregation: 'count' },
      { ...base, name: `count_b_${tag}`, aggregation: 'count', filter: [{ field: 'kind', op: 'eq', value: 'b' }] },
      { ...base, name: `count_big_${tag}`, aggregation: 'count', filter: [{ field: 'value', op: 'ge', value: 50 }] },
      { ...base, name: `sum_${tag}`, aggregation: 'sum', field: 'value' },
      { ...base, name: `mean_${tag}`, aggregation: 'mean', field: 'value' },
      { ...base, name: `variance_${tag}`, aggregation: 'variance', field: 'value' },
      { ...base, name: `stddev_b_${tag}`, aggregation: 'stddev', field: 'value', filter: [{ field: 'kind', op: 'eq', value: 'b' }] },
      { ...base, name: `min_${tag}`, aggregation: 'min', field: 'value' },
      { ...base, name: `max_${tag}`, aggregation: 'max', field: 'value', empty: -1 },
      { ...base, name: `ewm_${tag}`, aggregation: 'ewm', field: 'value', halfLifeMs: 20 * MIN },
      { ...base, name: `ewm_slow_${tag}`, aggregation: 'ewm', field: 'value', halfLifeMs: 3 * HOUR },
      // Weights span 2^180 over 6 h: the anchor must move.
      { ...base, name: `ewm_fast_${tag}`, aggregation: 'ewm', field: 'value', halfLifeMs: 2 * MIN },
      { ...base, name: `since_${tag}`, aggregation: 'time_since_last' },
      {
        ...base,
        name: `fraud_ratio_${tag}`,
        aggregation: 'ratio',
        numerator: { source: 'labels', filter: [{ field: 'is_fraud', op: 'eq', value: true }] },
      },
      {
        ...base,
        name: `weight_per_b_${tag}`,
        aggregation: 'ratio',
        numerator: { source: 'labels', field: 'weight' },
        denominator: { filter: [{ field: 'kind', op: 'eq', value: 'b' }] },
        empty: -2,
      },
    );
  }
  return features;
}

function spec(extra: Partial<FeatureSpec> = {}, withLabels = true): FeatureSpec {
  const features = windowFeatures().filter((f) => withLabels || f.aggregation !== 'ratio');
  return { version: 't1', features, graceMs: GRACE, ...extra };
}

/** Window aggregates by definition over the given points; `time` maps a point to the time it counts at. */
function bruteForce(
  features: readonly WindowFeature[],
  current: Ev,
  events: readonly Ev[],
  labels: readonly Label[],
  time: (t: number) => number = (t) => t,
): number[] {
  const t = current.event_time;
  // Every window here lies within 6 h of t (a point counts only if its time, or its bucket start, does).
  const recent = events.filter((e) => e.event_time > t - 6 * HOUR);
  const holds = (record: object, filter: WindowFeature['filter']) =>
    (filter ?? []).every((c) => {
      const v = (record as Record<string, unknown>)[c.field];
      if (c.op === 'eq') return v === c.value;
      if (c.op === 'ge') return typeof v === 'number' && v >= (c.value as number);
      throw new Error('op not used here');
    });
  return features.map((f) => {
    const hi = t - (f.delayMs ?? 0);
    const lo = hi - f.windowMs;
    const inWindow = (pointTime: number) => time(pointTime) > lo && time(pointTime) <= hi;
    const evs = recent.filter((e) => inWindow(e.event_time) && holds(e, f.filter));
    const xs = evs.map((e) => e.value);
    const empty = f.empty ?? (f.aggregation === 'time_since_last' ? f.windowMs : 0);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const variance = (v: number[]) => {
      const m = mean(v);
      return mean(v.map((x) => (x - m) ** 2));
    };
    switch (f.aggregation) {
      case 'count':
        return evs.length;
      case 'sum':
        return xs.reduce((a, b) => a + b, 0);
      case 'mean':
        return xs.length ? mean(xs) : empty;
      case 'variance':
        return xs.length ? variance(xs) : empty;
      case 'stddev':
        return xs.length ? Math.sqrt(variance(xs)) : empty;
      case 'min':
        return xs.length ? Math.min(...xs) : empty;
      case 'max':
        return xs.length ? Math.max(...xs) : empty;
      case 'ewm': {
        if (!evs.length) return empty;
        const w = evs.map((e) => 2 ** ((time(e.event_time) - t) / f.halfLifeMs!));
        return evs.reduce((a, e, i) => a + w[i]! * e.value, 0) / w.reduce((a, b) => a + b, 0);
      }
      case 'time_since_last': {
        const others = evs.filter((e) => e !== current).map((e) => time(e.event_time));
        return others.length ? t - Math.max(...others) : empty;
      }
      case 'ratio': {
        const den = recent.filter((e) => inWindow(e.event_time) && holds(e, f.denominator?.filter));
        const num = labels.filter((l) => inWindow(l.tx_event_time) && holds(l, f.numerator!.filter));
        const numerator = f.numerator!.field ? num.reduce((a, l) => a + l.weight, 0) : num.length;
        return den.length ? numerator / den.length : empty;
      }
    }
  });
}

function expectClose(actual: readonly number[], expected: readonly number[], names: readonly string[], what: string): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, k) => {
    const want = expected[k]!;
    if (!(Math.abs(value - want) <= 1e-9 * Math.max(1, Math.abs(want)))) {
      expect.fail(`${what} ${names[k]}: engine ${value}, brute force ${want}`);
    }
  });
}

/** Events drifting forward with jitter backwards inside grace, labels interleaved. */
function randomStream(seed: number, count: number) {
  const random = prng(seed);
  const items: ({ type: 'event'; e: Ev } | { type: 'label'; l: Label })[] = [];
  let clock = Date.UTC(2024, 4, 1);
  const sent: Ev[] = [];
  const labelled = new Set<Ev>();
  for (let i = 0; i < count; i++) {
    clock += Math.floor(random() * 6 * MIN);
    // A label is one event's label: of an event still inside every window's reach, at most once.
    const targets = random() < 0.15 ? sent.filter((e) => e.event_time >= clock - 4 * HOUR && !labelled.has(e)) : [];
    if (targets.length > 0) {
      const target = targets[Math.floor(random() * targets.length)]!;
      labelled.add(target);
      items.push({
        type: 'label',
        l: { sensor: 's', tx_event_time: target.event_time, is_fraud: random() < 0.5, weight: Math.round(random() * 10) },
      });
      continue;
    }
    const roll = random();
    const jitter = roll < 0.25 ? Math.floor(random() * (GRACE - MIN)) : 0;
    const e: Ev = {
      sensor: 's',
      event_time: roll > 0.95 && sent.length > 0 ? sent[sent.length - 1]!.event_time : clock - jitter,
      value: random() < 0.2 ? 42 : Math.round(random() * 10000) / 100,
      kind: random() < 0.5 ? 'a' : 'b',
    };
    sent.push(e);
    items.push({ type: 'event', e });
  }
  return items;
}

function run(plan: EntityPlan, features: WindowFeature[], seed: number, time?: (t: number) => number): { outcomes: Set<string> } {
  const state = createEntityState(plan);
  const events: Ev[] = [];
  const labels: Label[] = [];
  const outcomes = new Set<string>();
  for (const item of randomStream(seed, 1500)) {
    if (item.type === 'label') {
      expect(applyLabel(plan, state, item.l)).toMatch(/applied|ignored/);
      labels.push(item.l);
      continue;
    }
    events.push(item.e);
    const update = updateEntity(plan, state, item.e);
    outcomes.add(update.outcome);
    expectClose(update.values, bruteForce(features, item.e, events, labels, time), plan.names, `event ${events.length}`);
  }
  return { outcomes };
}

describe('window aggregations against brute force', () => {
  it('compute every aggregation exactly, with out-of-order events inside grace placed where they belong', () => {
    const features = windowFeatures();
    const plan = compileSpec(spec()).entities.get('sensor')!;
    expect(new Set(features.map((f) => f.aggregation))).toEqual(
      new Set(['count', 'sum', 'mean', 'variance', 'stddev', 'min', 'max', 'ewm', 'time_since_last', 'ratio']),
    );
    for (const seed of [1, 2, 3]) {
      const { outcomes } = run(plan, features, seed);
      expect(outcomes).toEqual(new Set(['in_order', 'out_of_order']));
    }
  });

  it('degraded to buckets, equal the aggregates of points moved to their bucket start', () => {
    const features = windowFeatures().filter((f) => f.aggregation !== 'ratio');
    const bucketMs = 5 * MIN;
    const plan = compileSpec(spec({ exactCap: 1, bucketMs }, false)).entities.get('sensor')!;
    for (const seed of [4, 5]) run(plan, features, seed, (t) => Math.floor(t / bucketMs) * bucketMs);
  });

  it('derive the bucket width from reach, grace and the exact cap', () => {
    const plan = compileSpec(spec({ exactCap: 64 })).entities.get('sensor')!;
    // 6 h + 30 min grace over 64 buckets = 6.1 min, rounded up to 10 min.
    expect(plan.channels.map((c) => c.bucketMs)).toContain(600_000);
  });
});

describe('window edges', () => {
  const plan = compileSpec({
    version: 'e',
    graceMs: GRACE,
    features: [
      { kind: 'window', name: 'n', entity: 'sensor', windowMs: HOUR, aggregation: 'count' },
      { kind: 'window', name: 'n_delayed', entity: 'sensor', windowMs: HOUR, delayMs: 2 * HOUR, aggregation: 'count' },
    ],
  }).entities.get('sensor')!;
  const ev = (event_time: number): Ev => ({ sensor: 's', event_time, value: 1, kind: 'a' });
  const t0 = Date.UTC(2024, 0, 1);

  it('exclude the far edge and include the near edge, delayed or not', () => {
    const state = createEntityState(plan);
    updateEntity(plan, state, ev(t0));
    expect(updateEntity(plan, state, ev(t0 + HOUR - 1)).values).toEqual([2, 0]);
    expect(updateEntity(plan, state, ev(t0 + HOUR)).values).toEqual([2, 0]);
    // Delayed window (t − 3h, t − 2h]: t0 sits on its near edge.
    expect(updateEntity(plan, state, ev(t0 + 2 * HOUR)).values).toEqual([1, 1]);
    expect(updateEntity(plan, state, ev(t0 + 3 * HOUR)).values).toEqual([1, 2]);
  });

  it('place an out-of-order event inside grace and flag it', () => {
    const state = createEntityState(plan);
    updateEntity(plan, state, ev(t0));
    updateEntity(plan, state, ev(t0 + 20 * MIN));
    const late = updateEntity(plan, state, ev(t0 + 10 * MIN));
    expect(late.outcome).toBe('out_of_order');
    expect(late.values[0]).toBe(2);
    // Counted by later windows: t0 + 10 min is inside (t0 + 10 min + 1 ms − 1 h, ...].
    expect(updateEntity(plan, state, ev(t0 + HOUR + 10 * MIN - 1)).values[0]).toBe(3);
  });

  it('compute a late event as of its own time without keeping it', () => {
    const state = createEntityState(plan);
    updateEntity(plan, state, ev(t0));
    updateEntity(plan, state, ev(t0 + 2 * HOUR));
    const before = JSON.stringify(state);
    const late = updateEntity(plan, state, ev(t0 + 20 * MIN));
    expect(late.outcome).toBe('late');
    // Its own window (t0 − 40 min, t0 + 20 min] holds t0 and itself.
    expect(late.values).toEqual([2, 0]);
    expect(JSON.stringify(state)).toBe(before);
    expect(updateEntity(plan, state, ev(t0 + 2 * HOUR + 1)).values).toEqual([2, 1]);
  });
});

describe('labels and expiry', () => {
  const riskSpec: FeatureSpec = {
    version: 'l',
    graceMs: GRACE,
    features: [
      {
        kind: 'window',
        name: 'risk',
        entity: 'sensor',
        windowMs: HOUR,
        delayMs: HOUR,
        aggregation: 'ratio',
        numerator: { source: 'labels', filter: [{ field: 'is_fraud', op: 'eq', value: true }] },
      },
    ],
  };
  const plan = compileSpec(riskSpec).entities.get('sensor')!;
  const t0 = Date.UTC(2024, 0, 1);
  const ev = (event_time: number) => ({ sensor: 's', event_time });
  const label = (tx_event_time: number, is_fraud: boolean) => ({ sensor: 's', tx_event_time, is_fraud });

  it('counts a label at its transaction time, ignores non-matching labels and expires labels beyond retention', () => {
    const state: EntityState = createEntityState(plan);
    updateEntity(plan, state, ev(t0));
    updateEntity(plan, state, ev(t0 + 10 * MIN));
    expect(applyLabel(plan, state, label(t0, true))).toBe('applied');
    expect(applyLabel(plan, state, label(t0 + 10 * MIN, false))).toBe('ignored');
    expect(updateEntity(plan, state, ev(t0 + HOUR + 5 * MIN)).values).toEqual([1]);
    expect(updateEntity(plan, state, ev(t0 + HOUR + 10 * MIN)).values).toEqual([0.5]);
    // Retention reaches back window + delay + grace = 2.5 h from the newest event.
    updateEntity(plan, state, ev(t0 + 5 * HOUR));
    expect(applyLabel(plan, state, label(t0 + 2 * HOUR + 30 * MIN, true))).toBe('expired');
    // Inside retention but no event there: it would count a transaction the window does not hold.
    expect(applyLabel(plan, state, label(t0 + 2 * HOUR + 30 * MIN + 1, true))).toBe('unmatched');
    expect(applyLabel(plan, state, label(t0 + 5 * HOUR, true))).toBe('applied');
    // The one event at that time is labelled already: a repeat cannot push the ratio past 1.
    expect(applyLabel(plan, state, label(t0 + 5 * HOUR, true))).toBe('unmatched');
  });

  it('keeps the ratio in [0, 1] whatever labels arrive, exact or bucketed', () => {
    fc.assert(
      fc.property(
        // Labels crowd a few instants (repeats, instants without an event), events move on past them.
        fc.array(fc.record({ label: fc.boolean(), minutes: fc.integer({ min: 0, max: 200 }), fraud: fc.boolean() }), { maxLength: 120 }),
        fc.boolean(),
        (steps, bucketed) => {
          const compiled = bucketed ? compileSpec({ ...riskSpec, exactCap: 4, bucketMs: 10 * MIN }).entities.get('sensor')! : plan;
          const state = createEntityState(compiled);
          let clock = t0;
          for (const step of steps) {
            if (step.label) {
              applyLabel(compiled, state, label(t0 + (step.minutes % 12) * 5 * MIN, step.fraud));
              continue;
            }
            clock = Math.max(clock, t0 + step.minutes * MIN);
            const [risk] = updateEntity(compiled, state, ev(clock)).values;
            expect(risk).toBeGreaterThanOrEqual(0);
            expect(risk).toBeLessThanOrEqual(1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is expired once a partition watermark leaves everything behind its retention', () => {
    const state = createEntityState(plan);
    expect(isExpired(plan, state, t0)).toBe(true);
    updateEntity(plan, state, ev(t0));
    applyLabel(plan, state, label(t0, true));
    const reach = 2 * HOUR + GRACE;
    expect(isExpired(plan, state, t0 + reach - 1)).toBe(false);
    expect(isExpired(plan, state, t0 + reach)).toBe(true);
  });

  it('drops points past retention without changing any output', () => {
    const state = createEntityState(plan);
    const fresh = createEntityState(plan);
    for (let k = 0; k < 200; k++) {
      const time = t0 + k * 7 * MIN;
      expect(updateEntity(plan, state, ev(time)).values).toEqual(updateEntity(plan, fresh, ev(time)).values);
      applyLabel(plan, state, label(time, k % 3 === 0));
      applyLabel(plan, fresh, label(time, k % 3 === 0));
    }
    expect(state.logs[0]!.t.length).toBeLessThan(40);
  });
});
