/**
 * Leadership of one shard, as this instance may act on it: pure, fed the instants of what happened (on
 * a monotonic clock), so that the fencing arithmetic is tested with a fake clock.
 *
 *   candidate ──elected──▶ leader ──deadline passed / lease lost / stopped──▶ fenced
 *       ▲                                                                  (final: the process
 *       └─────── standby: another instance holds the key, watched ────      leaves, its supervisor
 *                                                                            starts it again as a candidate)
 *
 * The leader may command devices only while `now < deadline`, where deadline = the instant the last
 * keep-alive that etcd acknowledged was *sent* + TTL − safety margin. etcd extends the lease to the
 * instant it *receives* the keep-alive + TTL, which is never earlier than its sending: so the lease
 * cannot expire before `sent + TTL` in real time, and the margin covers this clock running slow (drift)
 * and the last write batch still on the wire (docs/deploy.md, "Timing").
 */

export type LeadershipState = 'candidate' | 'standby' | 'leader' | 'fenced';

export interface LeadershipTiming {
  /** The lease's time to live. */
  ttlMs: number;
  /** Taken off the deadline: clock drift over one TTL plus the longest write batch in flight. */
  marginMs: number;
}

export class Leadership {
  private current: LeadershipState = 'candidate';
  private keptAliveSentAt = Number.NEGATIVE_INFINITY;
  private why = '';

  constructor(private readonly timing: LeadershipTiming) {
    if (!(timing.marginMs >= 0 && timing.marginMs < timing.ttlMs))
      throw new Error(
        `leadership: the safety margin (${timing.marginMs} ms) must be at least 0 and less than the lease TTL (${timing.ttlMs} ms)`,
      );
  }

  get state(): LeadershipState {
    return this.current;
  }

  /** Why leadership ended (for the log), once fenced. */
  get fencedBecause(): string {
    return this.why;
  }

  /** The last instant this instance may start a device write batch (−∞ unless leader). */
  get deadline(): number {
    return this.current === 'leader'
      ? this.keptAliveSentAt + this.timing.ttlMs - this.timing.marginMs
      : Number.NEGATIVE_INFINITY;
  }

  /** Another instance holds the shard: stay ready, command nothing. */
  watching(): void {
    if (this.current === 'candidate') this.current = 'standby';
  }

  /** Another instance's key is gone: campaign again. */
  vacant(): void {
    if (this.current === 'standby') this.current = 'candidate';
  }

  /**
   * The leader key was created with our lease. `leaseSentAt`: when the request that granted or last
   * kept that lease alive was sent, so the deadline starts from there.
   */
  elected(leaseSentAt: number): void {
    if (this.current !== 'candidate') throw new Error(`leadership: elected while ${this.current}`);
    this.current = 'leader';
    this.keptAliveSentAt = leaseSentAt;
  }

  /** etcd acknowledged a keep-alive sent at `sentAt`: the deadline moves on (never back). */
  keptAlive(sentAt: number): void {
    if (this.current === 'leader') this.keptAliveSentAt = Math.max(this.keptAliveSentAt, sentAt);
  }

  /** Whether a device write batch may start now; past the deadline, leadership ends for good. */
  mayCommand(now: number): boolean {
    if (this.current !== 'leader') return false;
    if (now < this.deadline) return true;
    this.fence(`no keep-alive acknowledged for ${Math.round(now - this.keptAliveSentAt)} ms`);
    return false;
  }

  /** The lease is lost, revoked, or the instance stops: no device command from now on. */
  fence(reason: string): void {
    if (this.current === 'fenced') return;
    this.current = 'fenced';
    this.why = reason;
  }
}
