import type { Clock, Timer } from '../../../core/clock';
import type { LightingTopology, Target } from '../topology';
import type { CommandFailure, CommandProgress } from './lightingService';

/** Whether the device holds two levels as the same value (DeviceBinding.matches). */
export type LevelMatcher = (level: number, other: number) => boolean;

/**
 * Confirmation of emergency relights and overrides by the devices: per command, which of its
 * luminaires read back its level. Fed by the dispatcher (confirmed / failed per luminaire) and the
 * runtime (superseded, cleared); read by the API (progress, wait) and the change feed.
 */

const NONE = 0;
const PENDING = 1;
const CONFIRMED = 2;
const FAILED = 3;
const SUPERSEDED = 4;

const FAILURES_LISTED = 50;

export class CommandTracker {
  /** Per luminaire: NONE (not part of it), PENDING, CONFIRMED, FAILED, SUPERSEDED. */
  private readonly states: Uint8Array;
  total = 0;
  confirmed = 0;
  failed = 0;
  superseded = 0;
  doneAt: number | undefined;
  /** The outcome went to the bus (once). */
  reported = false;
  private readonly failures = new Map<string, { error: string; luminaires: Set<number> }>();
  private waiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly slot: 'emergency' | 'override',
    readonly level: number,
    readonly priority: number,
    readonly target: Target,
    /** The communes the target covers, as the command's record lists them. */
    readonly communes: readonly string[],
    readonly acceptedAt: number,
    count: number,
  ) {
    this.states = new Uint8Array(count);
  }

  get pending(): number {
    return this.total - this.confirmed - this.failed - this.superseded;
  }

  get done(): boolean {
    return this.pending === 0;
  }

  /** Luminaire i is decided by this command: it waits for its read-back. */
  track(i: number): void {
    if (this.states[i] !== NONE) return;
    this.states[i] = PENDING;
    this.total++;
  }

  /** A read-back of luminaire i shows `level`; `decided` is its current priority and level. True when it counted. */
  confirm(i: number, level: number, same: LevelMatcher, priority: number, decided: number): boolean {
    const state = this.states[i];
    if (state !== PENDING && state !== FAILED) return false;
    if (priority !== this.priority || !same(decided, this.level)) {
      if (state === PENDING) {
        this.states[i] = SUPERSEDED;
        this.superseded++;
        return true;
      }
      return false;
    }
    if (!same(level, this.level)) return false;
    if (state === FAILED) {
      this.failed--;
      this.forgetFailure(i);
    }
    this.states[i] = CONFIRMED;
    this.confirmed++;
    return true;
  }

  fail(i: number, device: string, error: string): boolean {
    if (this.states[i] !== PENDING) return false;
    this.states[i] = FAILED;
    this.failed++;
    let entry = this.failures.get(device);
    if (!entry) this.failures.set(device, (entry = { error, luminaires: new Set() }));
    entry.error = error;
    entry.luminaires.add(i);
    return true;
  }

  /** The command ended (cleared, released, expired, replaced): what was still pending never will be. */
  supersedeAll(): void {
    for (let i = 0; i < this.states.length; i++) {
      if (this.states[i] !== PENDING) continue;
      this.states[i] = SUPERSEDED;
      this.superseded++;
    }
  }

  isPending(i: number): boolean {
    return this.states[i] === PENDING;
  }

  /** Calls resolve when done, now if already done; returns a function withdrawing the wait. */
  onDone(resolve: () => void): () => void {
    if (this.done) {
      resolve();
      return () => undefined;
    }
    this.waiters.push(resolve);
    return () => {
      this.waiters = this.waiters.filter((w) => w !== resolve);
    };
  }

  /** Call after changes: records when it got done and wakes the waiters. */
  settle(now: number): void {
    if (!this.done) {
      this.doneAt = undefined;
      return;
    }
    this.doneAt ??= now;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  progress(topology: LightingTopology): CommandProgress {
    const failures: CommandFailure[] = [];
    for (const [device, entry] of this.failures) {
      const listed: string[] = [];
      for (const i of entry.luminaires) {
        if (listed.length >= FAILURES_LISTED) break;
        listed.push(topology.ids[i]);
      }
      failures.push({ device, error: entry.error, luminaires: listed, count: entry.luminaires.size });
    }
    const progress: CommandProgress = {
      id: this.id,
      slot: this.slot,
      communes: [...this.communes],
      total: this.total,
      confirmed: this.confirmed,
      failed: this.failed,
      pending: this.pending,
      superseded: this.superseded,
      done: this.done,
      failures,
      acceptedAt: this.acceptedAt,
    };
    if (this.doneAt !== undefined) progress.doneAt = this.doneAt;
    return progress;
  }

  private forgetFailure(i: number): void {
    for (const [device, entry] of this.failures) {
      if (entry.luminaires.delete(i) && entry.luminaires.size === 0) this.failures.delete(device);
    }
  }
}

export interface ProgressBoardOptions {
  /** Trackers kept for progress() once done. */
  keep: number;
  /** Progress events of one command at most this often while it moves (plus one when done). */
  reportEveryMs: number;
}

/**
 * The trackers of recent commands. Active ones (not done) are scanned for every confirmation, so the
 * list stays short; done ones stay readable until `keep` newer commands pushed them out.
 */
export class ProgressBoard {
  private readonly byId = new Map<string, CommandTracker>();
  private active: CommandTracker[] = [];
  private readonly changed = new Set<CommandTracker>();
  private timer: Timer | undefined;
  private timerAt = 0;
  private lastRelightDoneAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly topology: LightingTopology,
    private readonly clock: Clock,
    private readonly options: ProgressBoardOptions,
    private readonly report: (tracker: CommandTracker, progress: CommandProgress) => void,
  ) {}

  get hasActive(): boolean {
    return this.active.length > 0;
  }

  /** An emergency relight has luminaires still waiting for their read-back. */
  get relightPending(): boolean {
    return this.active.some((t) => t.slot === 'emergency' && !t.done);
  }

  /** When an emergency relight last had nothing left pending (confirmed, failed or superseded). */
  get relightDoneAt(): number {
    return this.lastRelightDoneAt;
  }

  /** A new tracker for a command (replacing one with the same id: its pending luminaires are superseded). */
  begin(tracker: CommandTracker): void {
    this.end(tracker.id);
    this.byId.set(tracker.id, tracker);
    this.active.push(tracker);
    if (this.byId.size > this.options.keep) {
      for (const [id, old] of this.byId) {
        if (this.byId.size <= this.options.keep) break;
        if (old.done) this.byId.delete(id);
      }
    }
    this.touch(tracker);
  }

  /** The command is gone: whatever was pending is superseded. */
  end(id: string): void {
    const tracker = this.byId.get(id);
    if (!tracker || tracker.done) return;
    tracker.supersedeAll();
    this.touch(tracker);
  }

  get(id: string): CommandTracker | undefined {
    return this.byId.get(id);
  }

  confirm(i: number, level: number, same: LevelMatcher, priority: number, decided: number): void {
    // Indexed: runs once per read-back luminaire (10,000 for a relight of 10,000).
    const active = this.active;
    for (let k = 0; k < active.length; k++)
      if (active[k].confirm(i, level, same, priority, decided)) this.touch(active[k]);
  }

  fail(i: number, device: string, error: string): void {
    const active = this.active;
    for (let k = 0; k < active.length; k++) if (active[k].fail(i, device, error)) this.touch(active[k]);
  }

  /**
   * A tracker moved: waiters wake at once when it is done (the console's "confirmed by the devices"),
   * progress events go out batched, at most every reportEveryMs while it moves. Runs once per confirmed
   * luminaire: a report already due comes no later than now + reportEveryMs, so it is left as it is.
   */
  private touch(tracker: CommandTracker): void {
    this.changed.add(tracker);
    if (tracker.done) {
      const now = this.clock.now();
      tracker.settle(now);
      if (tracker.slot === 'emergency') this.lastRelightDoneAt = now;
      this.schedule(0);
    } else if (!this.timer) this.schedule(this.options.reportEveryMs);
  }

  private schedule(delayMs: number): void {
    const at = this.clock.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(this.flush, delayMs);
  }

  /** Reports what moved and retires trackers with nothing left to hear (done trackers with failures keep listening). */
  readonly flush = (): void => {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.clock.now();
    for (const tracker of this.changed) {
      tracker.settle(now);
      this.report(tracker, tracker.progress(this.topology));
    }
    this.changed.clear();
    this.active = this.active.filter((t) => (!t.done || t.failed > 0) && this.byId.get(t.id) === t);
  };

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
