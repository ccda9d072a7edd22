import { backoffDelay, coerceBackoff, type ResolvedBackoff } from '../../../drivers/backoff';
import type { Clock, Timer } from '../../../core/clock';
import type { Logger } from '../../../core/logger';

/** One attempt's outcome: a permanent failure (a refusal) is not retried. */
export type AttemptOutcome =
  { ok: true } | { ok: false; permanent: boolean; reason: string; retryAfterMs?: number };

export interface DeliveryStats {
  delivered: number;
  /** Attempts that failed (each retry counts). */
  failedAttempts: number;
  /** Items given up after the retries, refused, or dropped from a full queue or at stop. */
  abandoned: number;
  /** Waiting, and the one in flight. */
  queued: number;
}

export interface DeliveryQueueOptions<T> {
  /** Names the output in log lines: "webhook 'astreinte'", 'e-mail'. */
  name: string;
  retries: number;
  backoffMs: number;
  maxQueue: number;
  clock: Clock;
  logger: Logger;
  /** One attempt; the signal aborts it at stop. */
  attempt: (item: T, signal: AbortSignal) => Promise<AttemptOutcome>;
  /** The item as a log line names it. */
  describe: (item: T) => string;
  /** Told once per item when it is delivered or given up (not when dropped from a full queue). */
  settled?: (item: T, outcome: { delivered: true } | { delivered: false; reason: string }) => void;
}

/**
 * An output's bounded in-memory queue: items sent in order, one at a time, each retried with backoff
 * (drivers/backoff.ts) up to `retries` times unless refused for good. Enqueuing never blocks: when
 * `maxQueue` items wait besides the one in flight, the oldest waiting one is dropped and counted. What is still queued at stop is counted and lost.
 */
export class DeliveryQueue<T> {
  private readonly queue: T[] = [];
  private readonly backoff: ResolvedBackoff;
  private sending = false;
  private stopped = false;
  private retryTimer: Timer | undefined;
  private wakeRetry: (() => void) | undefined;
  private readonly abort = new AbortController();
  private idle: Promise<void> = Promise.resolve();
  private readonly counters = { delivered: 0, failedAttempts: 0, abandoned: 0 };

  constructor(private readonly options: DeliveryQueueOptions<T>) {
    this.backoff = coerceBackoff({
      initialMs: options.backoffMs,
      maxMs: Math.max(options.backoffMs, 60_000),
    });
  }

  enqueue(item: T): void {
    if (this.stopped) return;
    // The item in flight (queue[0] while sending) is not waiting: the oldest waiting one goes.
    const first = this.sending ? 1 : 0;
    if (this.queue.length - first >= this.options.maxQueue) {
      this.queue.splice(first, 1);
      this.counters.abandoned++;
      this.options.logger.warn(`${this.options.name}: queue full (${this.options.maxQueue}), oldest dropped`);
    }
    this.queue.push(item);
    if (!this.sending) this.idle = this.drain();
  }

  stats(): DeliveryStats {
    return { ...this.counters, queued: this.queue.length };
  }

  /** Ends the attempt in flight and any wait; what is queued is counted as abandoned. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) this.options.clock.clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    this.abort.abort(new Error('service stopping'));
    await this.idle;
    if (this.queue.length > 0) {
      this.options.logger.warn(`${this.options.name}: ${this.queue.length} not delivered at stop`);
      this.counters.abandoned += this.queue.length;
      this.queue.length = 0;
    }
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const item = this.queue[0];
        const outcome = await this.deliver(item);
        if (this.stopped && !outcome.delivered) break;
        this.queue.shift();
        if (outcome.delivered) this.counters.delivered++;
        else this.counters.abandoned++;
        try {
          this.options.settled?.(item, outcome);
        } catch (error) {
          this.options.logger.error(`${this.options.name}: ${(error as Error).message}`);
        }
      }
    } finally {
      this.sending = false;
    }
  }

  /** One item, with its retries. */
  private async deliver(item: T): Promise<{ delivered: true } | { delivered: false; reason: string }> {
    for (let attempt = 0; ; attempt++) {
      let outcome: AttemptOutcome;
      try {
        outcome = await this.options.attempt(item, this.abort.signal);
      } catch (error) {
        outcome = { ok: false, permanent: false, reason: (error as Error).message };
      }
      if (outcome.ok) return { delivered: true };
      this.counters.failedAttempts++;
      const what = `${this.options.name}: ${this.options.describe(item)}`;
      if (outcome.permanent) {
        this.options.logger.error(`${what} refused: ${outcome.reason}; not retried`);
        return { delivered: false, reason: outcome.reason };
      }
      if (attempt >= this.options.retries || this.stopped) {
        if (!this.stopped)
          this.options.logger.error(`${what} given up after ${attempt + 1} attempts: ${outcome.reason}`);
        return { delivered: false, reason: outcome.reason };
      }
      const delay = Math.max(outcome.retryAfterMs ?? 0, backoffDelay(attempt, this.backoff));
      this.options.logger.warn(`${what} failed (${outcome.reason}); retry in ${delay} ms`);
      await this.sleep(delay);
      if (this.stopped) return { delivered: false, reason: 'service stopping' };
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeRetry = () => {
        this.wakeRetry = undefined;
        resolve();
      };
      this.retryTimer = this.options.clock.setTimeout(() => {
        this.retryTimer = undefined;
        this.wakeRetry?.();
      }, ms);
    });
  }
}
