import { describe, it, expect } from 'vitest';
import { FraudInjector, HANDBOOK_FRAUD_RULES, type Compromises, type FraudRules } from '../../src/simulator/frauds.js';
import { Rng } from '../../src/simulator/random.js';
import type { DrawnTransaction } from '../../src/simulator/transactions.js';

function tx(day: number, customerId: number, terminalId: number, amount: number): DrawnTransaction {
  return { seconds: day * 86_400 + 1, day, customerId, terminalId, amount };
}

/** Replays the injector over `days`, recording what it compromised each day. */
function run(rules: FraudRules, nTerminals: number, nCustomers: number, days: number, seed: number) {
  const injector = new FraudInjector(rules, nTerminals, nCustomers, new Rng(seed, 'frauds'));
  const history: Compromises[] = [];
  const results: { tx: DrawnTransaction; original: number; truth: ReturnType<FraudInjector['apply']> }[] = [];
  for (let day = 0; day < days; day++) {
    history.push(injector.startDay(day, day < days - 1));
    for (let customerId = 0; customerId < nCustomers; customerId++) {
      for (let terminalId = 0; terminalId < nTerminals; terminalId++) {
        const drawn = tx(day, customerId, terminalId, 10 + ((customerId * 7 + terminalId * 3 + day) % 300));
        const original = drawn.amount;
        results.push({ tx: drawn, original, truth: injector.apply(drawn) });
      }
    }
  }
  return { history, results };
}

const startDaysCovering = (history: Compromises[], day: number, window: number, pick: (c: Compromises) => number[], id: number): number =>
  history.filter((c, start) => start <= day && day < start + window && pick(c).includes(id)).length;

describe('scenario 1: amount threshold', () => {
  it('marks amounts strictly above 220, and only those, when nothing is compromised', () => {
    const rules = { ...HANDBOOK_FRAUD_RULES, terminalsPerDay: 0, customersPerDay: 0 };
    const injector = new FraudInjector(rules, 10, 10, new Rng(1));
    injector.startDay(0, true);
    expect(injector.apply(tx(0, 1, 1, 220)).is_fraud).toBe(false);
    expect(injector.apply(tx(0, 1, 1, 220.01))).toEqual({ is_fraud: true, scenario: 1, scenarios: [1] });
  });
});

describe('scenario 2: compromised terminals', () => {
  const { history, results } = run(HANDBOOK_FRAUD_RULES, 40, 2, 90, 21);

  it('draws 2 distinct terminals a day, none on the last day', () => {
    history.slice(0, -1).forEach((c) => expect(new Set(c.terminals).size).toBe(2));
    expect(history.at(-1)).toEqual({ terminals: [], customers: [] });
  });

  it('marks every transaction at a terminal compromised within the last 28 days (day of the draw included)', () => {
    let marked = 0;
    for (const { tx, truth } of results) {
      const covered = startDaysCovering(history, tx.day, 28, (c) => c.terminals, tx.terminalId) > 0;
      expect(truth.scenarios.includes(2)).toBe(covered);
      if (covered) marked++;
    }
    expect(marked).toBeGreaterThan(0);
    expect(marked).toBeLessThan(results.length);
  });
});

describe('scenario 3: compromised customers', () => {
  it('multiplies the amount by 5 per running 14-day compromise when every transaction is picked', () => {
    const rules = { ...HANDBOOK_FRAUD_RULES, customerFraudShare: 1, terminalsPerDay: 0 };
    const { history, results } = run(rules, 2, 12, 80, 22);
    let overlapping = 0;
    for (const { tx, original, truth } of results) {
      const running = startDaysCovering(history, tx.day, 14, (c) => c.customers, tx.customerId);
      if (running > 1) overlapping++;
      expect(tx.amount).toBeCloseTo(original * 5 ** running, 6);
      expect(truth.scenarios.includes(3)).toBe(running > 0);
      if (running > 0) expect(truth.scenario).toBe(3);
    }
    expect(overlapping).toBeGreaterThan(0);
  });

  it('picks about one third of a compromised customer’s transactions', () => {
    const { history, results } = run(HANDBOOK_FRAUD_RULES, 2, 30, 200, 23);
    let exposed = 0;
    let picked = 0;
    for (const { tx, original, truth } of results) {
      const running = startDaysCovering(history, tx.day, 14, (c) => c.customers, tx.customerId);
      if (running !== 1) {
        if (running === 0) expect(truth.scenarios.includes(3)).toBe(false);
        continue;
      }
      exposed++;
      if (truth.scenarios.includes(3)) {
        picked++;
        expect(tx.amount).toBeCloseTo(original * 5, 6);
      } else {
        expect(tx.amount).toBe(original);
      }
    }
    expect(Math.abs(picked / exposed - 1 / 3)).toBeLessThan(5 * Math.sqrt(2 / 9 / exposed));
  });
});

describe('order of application', () => {
  it('keeps the last scenario as TX_FRAUD_SCENARIO: 2 over 1, 3 over both', () => {
    const rules = { ...HANDBOOK_FRAUD_RULES, customerFraudShare: 1, terminalsPerDay: 1, customersPerDay: 1 };
    const injector = new FraudInjector(rules, 1, 2, new Rng(1));
    const { customers } = injector.startDay(0, true);
    const victim = customers[0]!;
    const other = 1 - victim;
    expect(injector.apply(tx(0, other, 0, 500))).toEqual({ is_fraud: true, scenario: 2, scenarios: [1, 2] });
    const picked = tx(0, victim, 0, 50);
    expect(injector.apply(picked)).toEqual({ is_fraud: true, scenario: 3, scenarios: [2, 3] });
    // Scenario 1 looks at the amount before scenario 3 multiplies it, as in the handbook.
    expect(picked.amount).toBe(250);
  });
});
