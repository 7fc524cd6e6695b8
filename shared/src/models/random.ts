/**
 * A tiny seeded PRNG (mulberry32, Tommy Ettinger's 32-bit mixer): models that
 * draw random structure (Half-Space Trees) must build the same structure on
 * every instance and after every restart, which Math.random cannot give.
 * Statistical quality is ample for picking splits and for synthetic test data;
 * it is not for cryptography.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The generator's whole state: `new Random(state)` continues exactly where this one is. */
  saveState(): number {
    return this.state;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Standard normal draw (Box–Muller; the second variate is discarded to keep the state one integer). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
