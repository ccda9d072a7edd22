import { createHash, randomInt } from 'node:crypto';
import path from 'node:path';

/**
 * The adversarial suite's randomness: one seed per run, from NOCTURNE_ADVERSARIAL_SEED or drawn at
 * random, and a mulberry32 stream per test derived from it and the test's name, so that a failing test
 * replays the same inputs whatever the other tests did. Every failure names the seed (`seeded`).
 */

export const SEED_VARIABLE = 'NOCTURNE_ADVERSARIAL_SEED';

export const SEED: number = seedFromEnv(process.env[SEED_VARIABLE]);

function seedFromEnv(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return randomInt(0, 2 ** 32);
  const seed = Number(value);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new Error(`${SEED_VARIABLE} must be an integer from 0 to 4294967295 (is '${value}')`);
  return seed;
}

/** How to run a failing case again: the seed, and the test file it was drawn for. */
export function seedNote(): string {
  const testPath = expect.getState().testPath;
  const file = testPath ? path.relative(process.cwd(), testPath) : 'test/adversarial';
  return `adversarial seed ${SEED} — reproduce with ${SEED_VARIABLE}=${SEED} npx jest ${file}`;
}

/** Runs a test body and puts the seed in front of whatever it throws, so every failure says how to replay it. */
export async function seeded(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (error) {
    if (error instanceof Error) {
      error.message = `[${seedNote()}]\n${error.message}`;
      throw error;
    }
    throw new Error(`[${seedNote()}] ${String(error)}`);
  }
}

/** mulberry32: 32 bits of state, good enough to pick inputs, and trivially reproducible. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A stream for one test: the run's seed mixed with a label, independent of the order tests run in. */
  static for(label: string, seed = SEED): Random {
    const digest = createHash('sha256').update(`${seed}:${label}`).digest();
    return new Random(digest.readUInt32LE(0));
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer from min to max, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Random.pick: nothing to pick from');
    return items[this.int(0, items.length - 1)];
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length + 3);
    for (let i = 0; i < length; i += 4) out.writeUInt32LE(Math.floor(this.next() * 4294967296), i);
    return out.subarray(0, length);
  }

  /** Characters drawn from an alphabet. */
  text(length: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_'): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.int(0, alphabet.length - 1)];
    return out;
  }
}
