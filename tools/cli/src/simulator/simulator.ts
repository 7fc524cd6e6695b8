/**
 * The Fraud Detection Handbook's transaction data simulator (Le Borgne et
 * al., §3.2) as a lazy, seeded stream: transactions day by day in event-time
 * order, with fraud labels following each transaction after a delay. Memory
 * holds the profiles, one day of transactions and the labels in flight,
 * whatever the number of days.
 */
import { SluiceError } from '@sluice/shared';
import type { FraudRules } from './frauds.js';
import { FraudInjector, HANDBOOK_FRAUD_RULES } from './frauds.js';
import type { LabelEvent, SimulatedEvent, TransactionEvent } from './events.js';
import { LabelQueue } from './label-queue.js';
import type { CustomerProfile, TerminalProfile } from './profiles.js';
import { attachTerminals, generateCustomerDraws, generateTerminalProfiles, TerminalIndex } from './profiles.js';
import { Rng } from './random.js';
import { drawDayTransactions } from './transactions.js';

const MS_PER_DAY = 86_400_000;

export interface SimulatorConfig {
  nCustomers: number;
  nTerminals: number;
  /** Midnight of day 0, epoch milliseconds. */
  startMs: number;
  nbDays: number;
  /** Customers use the terminals strictly closer than this (on a 100 × 100 square). */
  radius: number;
  seed: number;
  /** Event-time delay between a transaction and its label. */
  labelDelayMs: number;
  /** Share of genuine transactions that get a label; frauds always do. */
  labelGenuineFraction: number;
  /** Prepended to the sequential transaction ids, so that separate runs do not collide. */
  transactionIdPrefix: string;
  fraud: FraudRules;
}

export type SimulatorOptions = Partial<Omit<SimulatorConfig, 'fraud'>> & { fraud?: Partial<FraudRules> };

/** The handbook's parameters (§3.2.6). */
export const DEFAULT_SIMULATOR_CONFIG: Readonly<SimulatorConfig> = {
  nCustomers: 5_000,
  nTerminals: 10_000,
  startMs: Date.UTC(2018, 3, 1),
  nbDays: 183,
  radius: 5,
  seed: 0,
  labelDelayMs: 7 * MS_PER_DAY,
  labelGenuineFraction: 1,
  transactionIdPrefix: '',
  fraud: HANDBOOK_FRAUD_RULES,
};

export function resolveSimulatorConfig(options: SimulatorOptions = {}): SimulatorConfig {
  const config: SimulatorConfig = {
    ...DEFAULT_SIMULATOR_CONFIG,
    ...options,
    fraud: { ...HANDBOOK_FRAUD_RULES, ...options.fraud },
  };
  const { fraud } = config;
  requireInteger('nCustomers', config.nCustomers, 0);
  requireInteger('nTerminals', config.nTerminals, 0);
  requireInteger('nbDays', config.nbDays, 0);
  requireInteger('startMs', config.startMs, Number.MIN_SAFE_INTEGER);
  requireInteger('seed', config.seed, 0);
  requireInRange('radius', config.radius, Number.MIN_VALUE, Infinity);
  requireInRange('labelDelayMs', config.labelDelayMs, 0, Infinity);
  requireInRange('labelGenuineFraction', config.labelGenuineFraction, 0, 1);
  requireInRange('fraud.amountThreshold', fraud.amountThreshold, -Infinity, Infinity);
  requireInteger('fraud.terminalsPerDay', fraud.terminalsPerDay, 0);
  requireInteger('fraud.terminalWindowDays', fraud.terminalWindowDays, 1);
  requireInteger('fraud.customersPerDay', fraud.customersPerDay, 0);
  requireInteger('fraud.customerWindowDays', fraud.customerWindowDays, 1);
  requireInRange('fraud.customerFraudShare', fraud.customerFraudShare, 0, 1);
  requireInRange('fraud.amountMultiplier', fraud.amountMultiplier, 0, Infinity);
  return config;
}

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new SluiceError('CONFIG_INVALID', `simulator: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
}

function requireInRange(name: string, value: number, min: number, max: number): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max || !Number.isFinite(value)) {
    throw new SluiceError('CONFIG_INVALID', `simulator: ${name} must be a finite number in [${min}, ${max}], got ${value}`);
  }
}

export class Simulation {
  readonly config: SimulatorConfig;
  readonly customers: readonly CustomerProfile[];
  readonly terminals: readonly TerminalProfile[];

  constructor(options: SimulatorOptions = {}) {
    this.config = resolveSimulatorConfig(options);
    const { seed } = this.config;
    this.terminals = generateTerminalProfiles(this.config.nTerminals, new Rng(seed, 'terminals'));
    const draws = generateCustomerDraws(this.config.nCustomers, new Rng(seed, 'customers'));
    this.customers = attachTerminals(draws, new TerminalIndex(this.terminals, this.config.radius));
  }

  /**
   * Every call replays the same stream from the start. Events are in
   * non-decreasing `at`; a label due at the same millisecond as a transaction
   * comes first.
   */
  *events(): Generator<SimulatedEvent, void, undefined> {
    const { config } = this;
    const transactionRng = new Rng(config.seed, 'transactions');
    const labelRng = new Rng(config.seed, 'labels');
    const injector = new FraudInjector(config.fraud, config.nTerminals, config.nCustomers, new Rng(config.seed, 'frauds'));
    const pending = new LabelQueue();
    let nextId = 0;
    for (let day = 0; day < config.nbDays; day++) {
      injector.startDay(day, day < config.nbDays - 1);
      for (const drawn of drawDayTransactions(this.customers, day, transactionRng)) {
        const truth = injector.apply(drawn);
        const at = config.startMs + drawn.seconds * 1000;
        for (let label = pending.shiftDue(at); label; label = pending.shiftDue(at)) yield label;
        const transaction: TransactionEvent = {
          kind: 'transaction',
          at,
          payload: {
            transaction_id: `${config.transactionIdPrefix}${nextId++}`,
            customer_id: String(drawn.customerId),
            terminal_id: String(drawn.terminalId),
            amount: drawn.amount,
            timestamp: at,
          },
          truth,
        };
        yield transaction;
        if (truth.is_fraud || config.labelGenuineFraction >= 1 || labelRng.uniform() < config.labelGenuineFraction) {
          pending.push(labelFor(transaction, config.labelDelayMs));
        }
      }
    }
    for (let label = pending.shiftDue(Infinity); label; label = pending.shiftDue(Infinity)) yield label;
  }
}

function labelFor(transaction: TransactionEvent, delayMs: number): LabelEvent {
  const { payload } = transaction;
  const labeledAt = transaction.at + delayMs;
  return {
    kind: 'label',
    at: labeledAt,
    payload: {
      transaction_id: payload.transaction_id,
      customer_id: payload.customer_id,
      terminal_id: payload.terminal_id,
      tx_timestamp: payload.timestamp,
      is_fraud: transaction.truth.is_fraud,
      labeled_at: labeledAt,
    },
  };
}

/** Shorthand for `new Simulation(options).events()`. */
export function simulate(options: SimulatorOptions = {}): Generator<SimulatedEvent, void, undefined> {
  return new Simulation(options).events();
}
