import type { Clock } from '../clock';

/** Most client addresses remembered; beyond it the oldest window is forgotten. */
const MAX_TRACKED = 10_000;

/**
 * Counts failed authentications per client address in fixed windows. Once an address reaches the
 * limit it is refused, even with a good token, until its window ends: guessing tokens stays slow
 * while a mistyped token costs a legitimate user nothing more than a retry.
 */
export class FailedAuthLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until the address may try again; 0 when it may now. */
  blockedFor(address: string): number {
    const window = this.current(address);
    return window && window.count >= this.limit ? window.resetAt - this.clock.now() : 0;
  }

  recordFailure(address: string): void {
    const window = this.current(address);
    if (window) {
      window.count++;
      return;
    }
    if (this.windows.size >= MAX_TRACKED) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    this.windows.set(address, { count: 1, resetAt: this.clock.now() + this.windowMs });
  }

  private current(address: string): { count: number; resetAt: number } | undefined {
    const window = this.windows.get(address);
    if (window && window.resetAt <= this.clock.now()) {
      this.windows.delete(address);
      return undefined;
    }
    return window;
  }
}
