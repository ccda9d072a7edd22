import { createHmac, randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Clock } from '../../core/clock';

/** Windows remembered at most (one per address, one per credential); beyond it the oldest is forgotten. */
const MAX_TRACKED = 10_000;

interface Window {
  count: number;
  resetAt: number;
}

/**
 * Throttles failing authentications, and only those. Each failure counts, in fixed windows, under the
 * client's address and under a fingerprint of the credential presented; once either reaches the limit,
 * failing attempts under it are refused (429) until its window ends. A valid token is checked before
 * any of this and always gets in: tokens are 256-bit, so a success cannot come from guessing, and
 * neither an address many clients share (a NAT, an undeclared proxy) nor someone sending wrong tokens
 * can lock a colleague out. What this buys is quiet: a script stuck on a stale token, or a flood of
 * guesses, costs a few log lines per window, not one per request.
 */
export class FailedAuthLimiter {
  private readonly windows = new Map<string, Window>();
  /** Keyed, so that the fingerprints kept of wrong tokens (often a typo away from a real one) cannot be tested offline. */
  private readonly fingerprintKey = randomBytes(32);

  constructor(
    private readonly clock: Clock,
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Windows held now, at most MAX_TRACKED. */
  get tracked(): number {
    return this.windows.size;
  }

  /**
   * Milliseconds during which failing attempts from this address, or with this credential, are refused;
   * 0 when they are heard.
   */
  blockedFor(address: string, credential?: string): number {
    let blockedMs = 0;
    for (const key of this.keys(address, credential)) {
      const window = this.current(key);
      if (window && window.count >= this.limit)
        blockedMs = Math.max(blockedMs, window.resetAt - this.clock.now());
    }
    return blockedMs;
  }

  recordFailure(address: string, credential?: string): void {
    for (const key of this.keys(address, credential)) (this.current(key) ?? this.open(key)).count++;
  }

  private keys(address: string, credential: string | undefined): string[] {
    const byAddress = `address ${addressKey(address)}`;
    return credential === undefined ? [byAddress] : [byAddress, `credential ${this.fingerprint(credential)}`];
  }

  private fingerprint(credential: string): string {
    return createHmac('sha256', this.fingerprintKey)
      .update(credential, 'utf8')
      .digest('base64url')
      .slice(0, 22);
  }

  private current(key: string): Window | undefined {
    const window = this.windows.get(key);
    if (window && window.resetAt <= this.clock.now()) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  private open(key: string): Window {
    if (this.windows.size >= MAX_TRACKED) {
      // The oldest window ends first. Forgetting it early only lets failing attempts be heard sooner.
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    const window = { count: 0, resetAt: this.clock.now() + this.windowMs };
    this.windows.set(key, window);
    return window;
  }
}

/**
 * An address as counted: IPv4 as is (also when written IPv4-mapped), IPv6 by its /64, which one host
 * commonly holds whole: counted one by one, a new address per attempt would escape the count.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head, tail] = address.toLowerCase().split('%')[0].split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : Math.max(0, 8 - left.length - right.length);
  const groups = [...left, ...Array<string>(zeros).fill('0'), ...right].slice(0, 4);
  return `${groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
