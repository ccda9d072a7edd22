import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * scrypt cost, as stored with each hash so that it can be raised later without locking anyone out.
 * N=2^15, r=8, p=3 is one of OWASP's equivalent settings (Password Storage Cheat Sheet: N=2^17, p=1
 * or N=2^15, p=3): 32 MiB per hash instead of 128 MiB, so that a few sign-ins at once cannot exhaust
 * the memory of a small server; about 0.1–0.25 s per hash on this 2-core machine.
 */
export interface ScryptCost {
  log2N: number;
  r: number;
  p: number;
}
export const SCRYPT_COST: ScryptCost = { log2N: 15, r: 8, p: 3 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

/** `scrypt$<log2 N>$<r>$<p>$<salt>$<key>` (base64url), with a new random salt. */
export async function hashPassword(password: string, cost: ScryptCost = SCRYPT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, cost);
  return ['scrypt', cost.log2N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join(
    '$',
  );
}

const HASH_PATTERN = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([\w-]{16,})\$([\w-]{32,})$/;

/** Whether a stored hash has the shape hashPassword writes (checked when the state file is read). */
export function isPasswordHash(stored: string): boolean {
  return HASH_PATTERN.test(stored);
}

/**
 * Whether the password matches the stored hash, compared in constant time. With no stored hash (an
 * unknown name, or a user without a password) a hash is still computed, so that the answer takes as
 * long and does not tell which names exist.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const match = stored === undefined ? null : HASH_PATTERN.exec(stored);
  if (!match) {
    await derive(password, randomBytes(SALT_BYTES), SCRYPT_COST);
    return false;
  }
  const [, log2N, r, p, salt, key] = match;
  const expected = Buffer.from(key, 'base64url');
  const cost = { log2N: Number(log2N), r: Number(r), p: Number(p) };
  const presented = await derive(password, Buffer.from(salt, 'base64url'), cost, expected.length);
  return timingSafeEqual(presented, expected);
}

/**
 * Hashes waiting at most. scrypt runs on libuv's thread pool, which file writes share (the state file a
 * relight is persisted to): one hash at a time leaves the other threads free, and beyond this many
 * waiting, sign-ins are turned away rather than queued without end.
 */
const MAX_WAITING = 16;
let waiting = 0;
let previous: Promise<unknown> = Promise.resolve();

/** Too many sign-ins at once: try again in a moment. */
export class PasswordHashingBusy extends Error {
  constructor() {
    super(`${MAX_WAITING} password checks are already waiting: try again in a moment`);
    this.name = 'PasswordHashingBusy';
  }
}

/** One hash at a time, in order of arrival. */
function derive(password: string, salt: Buffer, cost: ScryptCost, length = KEY_BYTES): Promise<Buffer> {
  if (waiting >= MAX_WAITING) return Promise.reject(new PasswordHashingBusy());
  waiting++;
  const mine = previous.then(() => scryptKey(password, salt, cost, length));
  previous = mine.catch(() => undefined);
  return mine.finally(() => {
    waiting--;
  });
}

function scryptKey(password: string, salt: Buffer, cost: ScryptCost, length: number): Promise<Buffer> {
  const N = 2 ** cost.log2N;
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize('NFC'),
      salt,
      length,
      // scrypt needs 128·N·r bytes; twice that leaves room for Node's own accounting.
      { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r },
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
}
