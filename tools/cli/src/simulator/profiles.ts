/**
 * Customer and terminal profiles of the handbook's simulator
 * (generate_customer_profiles_table, generate_terminal_profiles_table,
 * get_list_terminals_within_radius). Ids are the handbook's integer indices.
 */
import type { Rng } from './random.js';

/** Side of the square the customers and terminals are spread on. */
export const GRID_SIZE = 100;

export interface TerminalProfile {
  id: number;
  x: number;
  y: number;
}

export interface CustomerProfile {
  id: number;
  x: number;
  y: number;
  meanAmount: number;
  stdAmount: number;
  meanTxPerDay: number;
  /** Ids of the terminals strictly closer than the radius, ascending. */
  terminals: Int32Array;
}

export type CustomerDraw = Omit<CustomerProfile, 'terminals'>;

export function generateCustomerDraws(count: number, rng: Rng): CustomerDraw[] {
  const customers: CustomerDraw[] = [];
  for (let id = 0; id < count; id++) {
    const x = rng.uniformIn(0, GRID_SIZE);
    const y = rng.uniformIn(0, GRID_SIZE);
    const meanAmount = rng.uniformIn(5, 100);
    const meanTxPerDay = rng.uniformIn(0, 4);
    customers.push({ id, x, y, meanAmount, stdAmount: meanAmount / 2, meanTxPerDay });
  }
  return customers;
}

export function generateTerminalProfiles(count: number, rng: Rng): TerminalProfile[] {
  const terminals: TerminalProfile[] = [];
  for (let id = 0; id < count; id++) {
    const x = rng.uniformIn(0, GRID_SIZE);
    const y = rng.uniformIn(0, GRID_SIZE);
    terminals.push({ id, x, y });
  }
  return terminals;
}

/**
 * Buckets terminals on a grid of cells of side `radius`, so a customer only
 * measures the 3×3 cells around it: the handbook's brute force is
 * customers × terminals distances, far too slow for its own 1M-terminal default.
 */
export class TerminalIndex {
  private readonly cells = new Map<number, number[]>();
  private readonly cellsPerSide: number;

  constructor(
    private readonly terminals: readonly TerminalProfile[],
    private readonly radius: number,
  ) {
    if (!(radius > 0) || !Number.isFinite(radius)) {
      throw new RangeError(`radius must be a positive finite number, got ${radius}`);
    }
    this.cellsPerSide = Math.max(1, Math.ceil(GRID_SIZE / radius));
    for (const terminal of terminals) {
      const key = this.cellKey(this.cellOf(terminal.x), this.cellOf(terminal.y));
      const bucket = this.cells.get(key);
      if (bucket) bucket.push(terminal.id);
      else this.cells.set(key, [terminal.id]);
    }
  }

  within(x: number, y: number): Int32Array {
    const found: number[] = [];
    const cx = this.cellOf(x);
    const cy = this.cellOf(y);
    for (let i = cx - 1; i <= cx + 1; i++) {
      for (let j = cy - 1; j <= cy + 1; j++) {
        if (i < 0 || j < 0 || i >= this.cellsPerSide || j >= this.cellsPerSide) continue;
        for (const id of this.cells.get(this.cellKey(i, j)) ?? []) {
          const terminal = this.terminals[id];
          if (terminal && Math.sqrt((terminal.x - x) ** 2 + (terminal.y - y) ** 2) < this.radius) found.push(id);
        }
      }
    }
    return Int32Array.from(found).sort();
  }

  private cellOf(coordinate: number): number {
    return Math.min(this.cellsPerSide - 1, Math.floor(coordinate / this.radius));
  }

  private cellKey(i: number, j: number): number {
    return i * this.cellsPerSide + j;
  }
}

export function attachTerminals(customers: readonly CustomerDraw[], index: TerminalIndex): CustomerProfile[] {
  return customers.map((customer) => ({ ...customer, terminals: index.within(customer.x, customer.y) }));
}
