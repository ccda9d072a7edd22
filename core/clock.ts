/** Time as components see it: injected so that tests run on a manual clock and never sleep. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
}

/** Opaque handle: Node's Timeout for the system clock, a record for the manual one. */
export type Timer = object;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/** A clock that moves only when told: timers fire in time order as it advances. */
export class ManualClock implements Clock {
  private timers: { at: number; seq: number; callback: () => void; cancelled: boolean }[] = [];
  private seq = 0;

  constructor(private current: number) {}

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const timer = { at: this.current + Math.max(0, ms), seq: this.seq++, callback, cancelled: false };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(timer: Timer): void {
    (timer as { cancelled: boolean }).cancelled = true;
  }

  /** Moves time forward, firing every timer that falls due, including ones set by callbacks. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const next = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.current = next.at;
      next.cancelled = true;
      next.callback();
    }
    this.current = target;
  }

  set(time: number): void {
    if (time < this.current) throw new Error('ManualClock cannot go back in time');
    this.advance(time - this.current);
  }

  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
