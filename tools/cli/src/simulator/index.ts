export type { RawLabel, RawTransaction, LabelEvent, SimulatedEvent, TransactionEvent } from './events.js';
export type { FraudRules, FraudScenario, FraudTruth } from './frauds.js';
export { HANDBOOK_FRAUD_RULES } from './frauds.js';
export type { CustomerProfile, TerminalProfile } from './profiles.js';
export type { SimulatorConfig, SimulatorOptions } from './simulator.js';
export { DEFAULT_SIMULATOR_CONFIG, Simulation, resolveSimulatorConfig, simulate } from './simulator.js';
