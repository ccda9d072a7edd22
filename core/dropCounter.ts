import type { Clock } from './clock';
import type { Logger } from './logger';
import { ThrottledLog } from './throttledLog';

/**
 * Inputs dropped, counted by reason (for metrics) and logged at most once per reason and interval with
 * how many were held back: what a source of messages or documents does with what it cannot use.
 */
export class DropCounter<R extends string> {
  readonly counts: Record<R, number>;
  private readonly throttle: ThrottledLog<R>;

  constructor(
    reasons: readonly R[],
    private readonly clock: Clock,
    private readonly logger: Logger,
    logEveryMs = 10_000,
  ) {
    this.counts = Object.fromEntries(reasons.map((r) => [r, 0])) as Record<R, number>;
    this.throttle = new ThrottledLog(logEveryMs);
  }

  get total(): number {
    let total = 0;
    for (const reason in this.counts) total += this.counts[reason];
    return total;
  }

  /** Counts one drop; `line` (what and why, built only when logged) goes to the log unless held back. */
  drop(reason: R, line: () => string): void {
    this.counts[reason]++;
    this.throttle.report(reason, this.clock.now(), (heldBack) =>
      this.logger.warn(
        `${line()}${heldBack > 0 ? ` (${heldBack} more ${reason} since the last report)` : ''}`,
      ),
    );
  }
}
