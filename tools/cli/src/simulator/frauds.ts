/**
 * The handbook's add_frauds, applied one day at a time. Its three passes
 * (scenario 1 on the whole table, then 2, then 3) each only look at a
 * transaction's amount, terminal, customer and day, so applying them in the
 * same order to each transaction as it is drawn gives the same labels; the
 * compromised sets are small (rate × window) whatever the number of days.
 */
import type { DrawnTransaction } from './transactions.js';
import { roundCents } from './transactions.js';
import type { Rng } from './random.js';

export type FraudScenario = 1 | 2 | 3;

export interface FraudRules {
  /** Scenario 1: a transaction above this amount is a fraud. */
  amountThreshold: number;
  /** Scenario 2: terminals compromised each day... */
  terminalsPerDay: number;
  /** ...whose transactions are all frauds on that day and the following ones, this many days in all. */
  terminalWindowDays: number;
  /** Scenario 3: customers compromised each day... */
  customersPerDay: number;
  /** ...over this many days... */
  customerWindowDays: number;
  /** ...this share of their transactions... */
  customerFraudShare: number;
  /** ...get their amount multiplied by this. */
  amountMultiplier: number;
}

export const HANDBOOK_FRAUD_RULES: Readonly<FraudRules> = {
  amountThreshold: 220,
  terminalsPerDay: 2,
  terminalWindowDays: 28,
  customersPerDay: 3,
  customerWindowDays: 14,
  customerFraudShare: 1 / 3,
  amountMultiplier: 5,
};

export interface FraudTruth {
  is_fraud: boolean;
  /** The handbook's TX_FRAUD_SCENARIO: the last scenario that marked it (0 = genuine). */
  scenario: 0 | FraudScenario;
  /**
   * Every scenario that marked it, in the order applied. The first is the one
   * the handbook's per-scenario totals count it under (they count only
   * transactions not already fraudulent).
   */
  scenarios: FraudScenario[];
}

/** What was compromised on one day. */
export interface Compromises {
  terminals: number[];
  customers: number[];
}

export class FraudInjector {
  /** Terminal id → first day it is no longer compromised. */
  private readonly terminals = new Map<number, number>();
  /** Customer id → end day of each running compromise (they can overlap, as in the handbook). */
  private readonly customers = new Map<number, number[]>();

  constructor(
    private readonly rules: Readonly<FraudRules>,
    private readonly nTerminals: number,
    private readonly nCustomers: number,
    private readonly rng: Rng,
  ) {}

  /**
   * Call once per day, in order, before that day's transactions. The handbook
   * draws compromises for days 0 … last-1 (range(TX_TIME_DAYS.max())), so the
   * caller skips the draw on the last day.
   */
  startDay(day: number, drawCompromises: boolean): Compromises {
    for (const [terminal, end] of this.terminals) if (end <= day) this.terminals.delete(terminal);
    for (const [customer, ends] of this.customers) {
      const running = ends.filter((end) => end > day);
      if (running.length === 0) this.customers.delete(customer);
      else this.customers.set(customer, running);
    }
    if (!drawCompromises) return { terminals: [], customers: [] };
    const terminals = this.rng.sampleDistinct(this.nTerminals, this.rules.terminalsPerDay);
    for (const terminal of terminals) {
      const end = day + this.rules.terminalWindowDays;
      this.terminals.set(terminal, Math.max(end, this.terminals.get(terminal) ?? end));
    }
    const customers = this.rng.sampleDistinct(this.nCustomers, this.rules.customersPerDay);
    for (const customer of customers) {
      const ends = this.customers.get(customer) ?? [];
      ends.push(day + this.rules.customerWindowDays);
      this.customers.set(customer, ends);
    }
    return { terminals, customers };
  }

  /**
   * Labels the transaction and, for scenario 3, multiplies its amount in place.
   * The handbook picks exactly floor(n/3) of the n transactions a compromised
   * customer makes in the 14-day window, which needs the whole window up
   * front; streaming, each transaction is picked with probability 1/3 per
   * running compromise instead: same share in expectation (slightly more, as
   * floor(n/3) rounds down), independent picks rather than an exact count.
   */
  apply(tx: DrawnTransaction): FraudTruth {
    const scenarios: FraudScenario[] = [];
    if (tx.amount > this.rules.amountThreshold) scenarios.push(1);
    if (this.terminals.has(tx.terminalId)) scenarios.push(2);
    let picked = false;
    for (const _ of this.customers.get(tx.customerId) ?? []) {
      if (this.rng.uniform() < this.rules.customerFraudShare) {
        tx.amount = roundCents(tx.amount * this.rules.amountMultiplier);
        picked = true;
      }
    }
    if (picked) scenarios.push(3);
    return { is_fraud: scenarios.length > 0, scenario: scenarios.at(-1) ?? 0, scenarios };
  }
}
