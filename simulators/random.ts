/**
 * Seeded randomness for the simulators: the same seed gives the same territory, so a demo, a test or a
 * benchmark run can be replayed. Nothing here reads Math.random or the wall clock.
 */

/** A uniform generator in [0, 1): mulberry32, small and good enough for simulated noise and arrivals. */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit hash of a text (FNV-1a), to give every point its own noise stream. */
export function hashText(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Mixes a key and an integer into a uniform value in [0, 1) (murmur3 finaliser). */
export function hashUnit(key: number, n: number): number {
  let h = (key ^ Math.imul(n | 0, 0x9e3779b1) ^ Math.floor(n / 4294967296)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * Smooth noise in [-1, 1] as a pure function of time: random values at knots `periodMs` apart,
 * joined by cosine interpolation, so the curve has no corners and the same key and time give the same value.
 */
export function smoothNoise(key: number, time: number, periodMs: number): number {
  const x = time / periodMs;
  const k = Math.floor(x);
  const a = hashUnit(key, k) * 2 - 1;
  const b = hashUnit(key, k + 1) * 2 - 1;
  const w = (1 - Math.cos((x - k) * Math.PI)) / 2;
  return a + (b - a) * w;
}

/** Exponentially distributed waiting time (ms) for a Poisson process of `ratePerSecond`. */
export function exponentialDelayMs(random: Random, ratePerSecond: number): number {
  return (-Math.log(1 - random()) / ratePerSecond) * 1000;
}
