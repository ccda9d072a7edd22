import type { DriverError, Health } from '../driver';
import { isUnanswered } from './errors';

export interface HealthOptions {
  /** Health stays degraded this long after the last failed request. */
  degradedHoldMs: number;
  /** Consecutive unanswered requests (after their retries) before the device counts as down. */
  downAfterUnanswered: number;
}

type LinkState = 'idle' | 'open' | 'reconnecting' | 'unreachable';

/**
 * The health of one device from what happened to its connection and its requests. Pure: time comes
 * in as arguments, so it is tested without a clock.
 *
 * - down: never connected, the last connection attempt failed, or the device stopped answering
 *   (timeouts, or its gateway says it failed to respond) while the connection stays up;
 * - degraded: the connection was lost and is being re-established, or a request failed within `degradedHoldMs`
 *   (connection failures themselves do not hold it degraded once the connection is back);
 * - up: otherwise.
 */
export class HealthTracker {
  private link: LinkState = 'idle';
  private unanswered = 0;
  private lastFailureAt = Number.NEGATIVE_INFINITY;
  private lastError?: DriverError;

  constructor(private readonly options: HealthOptions) {}

  linkOpened(): void {
    this.link = 'open';
    this.unanswered = 0;
  }

  /** Connection trouble shows in the link state only: once reconnected, the device is up again. */
  linkLost(error: DriverError): void {
    this.link = 'reconnecting';
    this.lastError = error;
  }

  connectFailed(error: DriverError): void {
    this.link = 'unreachable';
    this.lastError = error;
  }

  /** The device answered (with data or with an exception). True when it had been counted as down. */
  answered(): boolean {
    const wasDown = this.unanswered >= this.options.downAfterUnanswered;
    this.unanswered = 0;
    return wasDown;
  }

  /** A request failed for good (retries spent). Returns true when the device answered nonetheless. */
  failed(error: DriverError, now: number): boolean {
    this.noteFailure(error, now);
    if (isUnanswered(error)) {
      this.unanswered++;
      return false;
    }
    return error.code === 'exception' ? this.answered() : false;
  }

  current(now: number): { health: Health; error?: DriverError } {
    switch (this.link) {
      case 'idle':
      case 'unreachable':
        return { health: 'down', error: this.lastError };
      case 'reconnecting':
        return { health: 'degraded', error: this.lastError };
      case 'open':
        if (this.unanswered >= this.options.downAfterUnanswered)
          return { health: 'down', error: this.lastError };
        if (now - this.lastFailureAt < this.options.degradedHoldMs)
          return { health: 'degraded', error: this.lastError };
        return { health: 'up' };
    }
  }

  /** When a degraded health will turn back to up if nothing else fails, for a re-evaluation timer. */
  degradedUntil(): number | undefined {
    if (this.link !== 'open' || this.unanswered >= this.options.downAfterUnanswered) return undefined;
    const until = this.lastFailureAt + this.options.degradedHoldMs;
    return Number.isFinite(until) ? until : undefined;
  }

  private noteFailure(error: DriverError, now: number): void {
    this.lastFailureAt = now;
    this.lastError = error;
  }
}
