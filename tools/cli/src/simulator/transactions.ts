/**
 * One day of genuine transactions, as the handbook's generate_transactions_table
 * draws them, but for all customers at once so the stream can be produced day
 * by day in event-time order.
 */
import type { CustomerProfile } from './profiles.js';
import type { Rng } from './random.js';

export const SECONDS_PER_DAY = 86_400;
const TIME_OF_DAY_MEAN = SECONDS_PER_DAY / 2;
const TIME_OF_DAY_STD = 20_000;

export interface DrawnTransaction {
  /** Seconds since the start of the simulation (the handbook's TX_TIME_SECONDS). */
  seconds: number;
  /** Day index since the start (TX_TIME_DAYS). */
  day: number;
  customerId: number;
  terminalId: number;
  amount: number;
}

export function roundCents(amount: number): number {
  return Math.round(amount * 100) / 100;
}

/** Sorted by time; ties keep customer order (the sort is stable). */
export function drawDayTransactions(customers: readonly CustomerProfile[], day: number, rng: Rng): DrawnTransaction[] {
  const drawn: DrawnTransaction[] = [];
  for (const customer of customers) {
    const count = rng.poisson(customer.meanTxPerDay);
    for (let n = 0; n < count; n++) {
      // The handbook truncates (int()) and drops times outside the day rather than clamping them.
      const timeOfDay = Math.trunc(rng.normal(TIME_OF_DAY_MEAN, TIME_OF_DAY_STD));
      if (timeOfDay <= 0 || timeOfDay >= SECONDS_PER_DAY) continue;
      let amount = rng.normal(customer.meanAmount, customer.stdAmount);
      if (amount < 0) amount = rng.uniformIn(0, customer.meanAmount * 2);
      if (customer.terminals.length === 0) continue;
      const terminalId = customer.terminals[rng.intBelow(customer.terminals.length)]!;
      drawn.push({
        seconds: day * SECONDS_PER_DAY + timeOfDay,
        day,
        customerId: customer.id,
        terminalId,
        amount: roundCents(amount),
      });
    }
  }
  return drawn.sort((a, b) => a.seconds - b.seconds);
}
