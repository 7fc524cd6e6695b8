/**
 * Seeded pseudo-random numbers for the simulator: xoshiro128** for uniforms,
 * Box-Muller for normals and numpy's Poisson algorithms (multiplication below
 * λ = 10, Hörmann's PTRS above). The handbook relies on numpy's global stream;
 * we only reproduce the distributions, never numpy's exact numbers.
 */

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;
const PTRS_THRESHOLD = 10;

/** FNV-1a, used to derive independent named streams from one seed. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitMix32(state: number): { state: number; value: number } {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return { state: next, value: (z ^ (z >>> 16)) >>> 0 };
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  /**
   * Streams with different names are independent, so that e.g. changing the
   * label fraction does not change the transactions drawn from the same seed.
   */
  constructor(seed: number, stream = '') {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
    }
    const low = seed >>> 0;
    const high = Math.floor(seed / 2 ** 32) >>> 0;
    let state = (low ^ Math.imul(high, 0x27d4eb2f) ^ hashString(stream)) | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const step = splitMix32(state);
      state = step.state;
      words.push(step.value);
    }
    const [a = 0, b = 0, c = 0, d = 0] = words;
    // An all-zero state is the one fixed point of xoshiro.
    this.s0 = a | b | c | d ? a : 1;
    this.s1 = b;
    this.s2 = c;
    this.s3 = d;
  }

  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform on [0, 1) with 53 random bits, like numpy's doubles. */
  uniform(): number {
    return ((this.nextUint32() >>> 5) * TWO_POW_26 + (this.nextUint32() >>> 6)) / TWO_POW_53;
  }

  uniformIn(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  intBelow(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  normal(mean: number, std: number): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    // 1 - u lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.spareNormal = radius * Math.sin(angle);
    return mean + std * radius * Math.cos(angle);
  }

  poisson(lambda: number): number {
    if (!(lambda >= 0) || !Number.isFinite(lambda)) {
      throw new RangeError(`Poisson mean must be finite and non-negative, got ${lambda}`);
    }
    if (lambda === 0) return 0;
    return lambda < PTRS_THRESHOLD ? this.poissonMultiplication(lambda) : this.poissonPtrs(lambda);
  }

  /** k distinct integers from [0, n) (Floyd's algorithm: O(k), no array of n). */
  sampleDistinct(n: number, k: number): number[] {
    const chosen = new Set<number>();
    for (let j = n - Math.min(k, n); j < n; j++) {
      const t = this.intBelow(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    return [...chosen];
  }

  private poissonMultiplication(lambda: number): number {
    const limit = Math.exp(-lambda);
    let count = 0;
    let product = this.uniform();
    while (product > limit) {
      count++;
      product *= this.uniform();
    }
    return count;
  }

  /** Hörmann (1993), "The transformed rejection method for generating Poisson random variables". */
  private poissonPtrs(lambda: number): number {
    const sqrtLambda = Math.sqrt(lambda);
    const logLambda = Math.log(lambda);
    const b = 0.931 + 2.53 * sqrtLambda;
    const a = -0.059 + 0.02483 * b;
    const logInvAlpha = Math.log(1.1239 + 1.1328 / (b - 3.4));
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.uniform() - 0.5;
      const v = this.uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + logInvAlpha - Math.log(a / (us * us) + b) <= -lambda + k * logLambda - logGamma(k + 1)) {
        return k;
      }
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const STIRLING_COEFFICIENTS = [
  8.333333333333333e-2, -2.777777777777778e-3, 7.936507936507937e-4, -5.952380952380952e-4,
  8.417508417508418e-4, -1.917526917526918e-3, 6.41025641025641e-3, -2.955065359477124e-2,
  1.796443723688307e-1, -1.3924322169059,
];

/** log Γ(x) for x > 0 by Stirling's series, shifted up to x ≥ 7 for accuracy (numpy's random_loggam). */
export function logGamma(x: number): number {
  if (x === 1 || x === 2) return 0;
  const shift = x < 7 ? Math.floor(7 - x) : 0;
  let x0 = x + shift;
  const inverseSquare = 1 / (x0 * x0);
  let series = 0;
  for (let k = STIRLING_COEFFICIENTS.length - 1; k >= 0; k--) {
    series = series * inverseSquare + (STIRLING_COEFFICIENTS[k] ?? 0);
  }
  let result = series / x0 + 0.5 * Math.log(2 * Math.PI) + (x0 - 0.5) * Math.log(x0) - x0;
  for (let k = 0; k < shift; k++) {
    x0 -= 1;
    result -= Math.log(x0);
  }
  return result;
}
