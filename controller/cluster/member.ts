import type { Clock, Timer } from '../../core/clock';
import type { Component } from '../../core/lifecycle';
import type { Logger } from '../../core/logger';
import {
  STATE_DOCUMENTS,
  type Coordination,
  type SharedFolder,
  type StateDocument,
} from '../../drivers/coordination';
import { Leadership, type LeadershipTiming } from './leadership';

export interface ClusterMemberDeps {
  coordination: Coordination;
  timing: LeadershipTiming;
  /** Writes a version of a document of the shard's state as its local file, the one a start restores from. */
  keepLocalCopy(document: StateDocument, text: string): Promise<void>;
  /** Monotonic milliseconds (performance.now): the fencing deadline must not move with the wall clock. */
  now(): number;
  /** For the fencing timer. */
  clock: Clock;
  logger: Logger;
  /** Leadership ended for good: this process commands nothing more and should leave (its supervisor restarts it as a standby). */
  fenced(reason: string): void;
}

/** Campaign retries after etcd could not be reached. */
const RETRY_MS = 1_000;

/**
 * One instance of a shard (docs/deploy.md, "Two instances"). It connects to etcd and campaigns: the
 * standby keeps a local copy of every version of the state the leader writes and waits for the leader
 * key to go; the leader restores that state and starts the leader components, as a restart does
 * (relights written first), and writes the state to etcd before a command is acknowledged. Every device
 * write batch asks `mayCommand()`; past the fencing deadline (leadership.ts) the answer is no, the
 * leader components stop and the process is told to leave.
 */
export class ClusterMember {
  readonly leadership: Leadership;
  private leaderComponents: readonly Component[] = [];
  private readonly started: Component[] = [];
  private copying: Promise<void> = Promise.resolve();
  private fenceTimer?: Timer;
  private campaigning?: Promise<void>;
  private abort = new AbortController();
  private stopping?: Promise<void>;

  constructor(private readonly deps: ClusterMemberDeps) {
    this.leadership = new Leadership(deps.timing);
  }

  /**
   * What only the leader runs (the telemetry recorder, the lighting runtime and its MQTT bridge, the
   * sensors' sources, the alerts and the sampler): started in this order on taking the shard, stopped
   * in reverse when leadership ends or the instance stops.
   */
  lead(components: readonly Component[]): void {
    this.leaderComponents = components;
  }

  /** Connects to etcd and keeps the standby's copy of the state; stopping it ends leadership. */
  component(): Component {
    return { name: 'cluster member', start: (signal) => this.start(signal), stop: () => this.stop() };
  }

  /**
   * The campaign, added last to the service's lifecycle: loading and starting everything else blocks
   * the event loop for up to a second here, long enough to delay a keep-alive past the fencing deadline.
   * The leader components (lighting, which relights first) start once the shard is won.
   */
  campaignComponent(): Component {
    return { name: 'cluster campaign', start: () => this.startCampaign(), stop: () => Promise.resolve() };
  }

  /** Whether this instance leads its shard now: the API handles that shard's commands itself. */
  leading(): boolean {
    return this.leadership.state === 'leader';
  }

  /** The API address the leader of `shard` published with its leadership (docs/deploy.md, "Shards by commune"). */
  leaderUrl(shard: string): Promise<string | undefined> {
    return this.deps.coordination.leaderUrl(shard);
  }

  /** The territory's records of one folder, which every instance reads and writes whatever its role. */
  sharedFolder(folder: string): SharedFolder {
    return this.deps.coordination.sharedFolder(folder);
  }

  /** Whether a device write batch may go out now (the dispatcher's gate). */
  mayCommand(): boolean {
    if (this.leadership.mayCommand(this.deps.now())) return true;
    if (this.leadership.state === 'fenced') this.onFenced();
    return false;
  }

  /** A document of the state as the leader writes it, before an acknowledgement. */
  replicate(document: StateDocument, text: string): Promise<void> {
    return this.deps.coordination.writeState(document, text);
  }

  async start(signal: AbortSignal): Promise<void> {
    const { coordination } = this.deps;
    signal.addEventListener('abort', () => this.abort.abort(signal.reason), { once: true });
    await coordination.start(signal);
    // The watched copies: every version the leader writes lands on this instance's disk, in order.
    for (const document of STATE_DOCUMENTS)
      await coordination.watchState(document, (text) => {
        if (this.leadership.state === 'standby' || this.leadership.state === 'candidate')
          this.copy(document, text);
      });
  }

  /** The first attempt is awaited (a leader has relit when the start ends); a standby campaigns on in the background. */
  private async startCampaign(): Promise<void> {
    let firstAttempt!: () => void;
    const attempted = new Promise<void>((resolve) => (firstAttempt = resolve));
    this.campaigning = this.campaign(firstAttempt);
    await attempted;
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.abort.abort(new Error('stopping'));
    this.leadership.fence('stopping');
    this.clearFenceTimer();
    await this.stopLeaderComponents();
    // Revokes the lease: the standby takes over without waiting for the TTL.
    await this.deps.coordination.stop();
    await this.copying;
    await this.campaigning;
  }

  private async campaign(firstAttempt: () => void): Promise<void> {
    const { coordination, logger } = this.deps;
    let lastHolder = '';
    while (!this.abort.signal.aborted && this.leadership.state !== 'fenced') {
      try {
        const attempt = await coordination.tryToLead({
          keptAlive: (sentAt) => {
            this.leadership.keptAlive(sentAt);
            this.armFenceTimer();
          },
          leaseLost: (reason) => this.fence(reason),
        });
        if (this.abort.signal.aborted) break;
        if (attempt.won) {
          this.leadership.elected(attempt.leaseSentAt);
          this.armFenceTimer();
          await this.takeOver().catch((error: Error) => this.fence(`taking over: ${error.message}`));
          break;
        }
        this.leadership.watching();
        if (attempt.holder !== lastHolder)
          logger.info(`cluster: standby, '${attempt.holder}' leads the shard`);
        lastHolder = attempt.holder;
        firstAttempt();
        await attempt.vacated;
        this.leadership.vacant();
      } catch (error) {
        if (this.abort.signal.aborted) break;
        logger.warn(`cluster: campaign: ${(error as Error).message}; again in ${RETRY_MS} ms`);
        firstAttempt();
        await new Promise<void>((resolve) => this.deps.clock.setTimeout(resolve, RETRY_MS));
      }
    }
    firstAttempt();
  }

  /**
   * The latest state on disk, then the leader components: the telemetry recorder, the lighting runtime,
   * which restores its state and relights first, then the sensors, alerts (restored) and the sampler.
   */
  private async takeOver(): Promise<void> {
    const { logger } = this.deps;
    const texts = await Promise.all(
      STATE_DOCUMENTS.map((document) => this.deps.coordination.readState(document)),
    );
    await this.copying;
    for (const [index, text] of texts.entries())
      if (text !== undefined) await this.deps.keepLocalCopy(STATE_DOCUMENTS[index], text);
    logger.info('cluster: leading the shard, restoring its state');
    for (const component of this.leaderComponents) {
      // Starting lighting on a large territory holds the event loop (10,000 luminaires: about a
      // second), keep-alives included: the lease is renewed just before, so the deadline covers it.
      this.leadership.keptAlive(await this.deps.coordination.keepAliveNow());
      this.armFenceTimer();
      if (this.leadership.state !== 'leader') return;
      this.started.push(component);
      await component.start(this.abort.signal);
    }
  }

  private copy(document: StateDocument, text: string): void {
    this.copying = this.copying
      .then(() => this.deps.keepLocalCopy(document, text))
      .catch((error: unknown) =>
        this.deps.logger.error(`cluster: local copy of the ${document}: ${(error as Error).message}`),
      );
  }

  private armFenceTimer(): void {
    this.clearFenceTimer();
    if (this.leadership.state !== 'leader') return;
    const wait = Math.max(0, this.leadership.deadline - this.deps.now()) + 1;
    this.fenceTimer = this.deps.clock.setTimeout(() => {
      this.fenceTimer = undefined;
      this.mayCommand();
    }, wait);
  }

  private clearFenceTimer(): void {
    if (this.fenceTimer) this.deps.clock.clearTimeout(this.fenceTimer);
    this.fenceTimer = undefined;
  }

  private fence(reason: string): void {
    if (this.leadership.state !== 'leader') return;
    this.leadership.fence(reason);
    this.onFenced();
  }

  /** Once: the leader components stop (nothing more is sent anyway) and the process is told to leave. */
  private onFenced(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort(new Error('fenced'));
    this.clearFenceTimer();
    const reason = this.leadership.fencedBecause;
    this.deps.logger.error(`cluster: leadership ended (${reason}): no device command from now on`);
    void this.stopLeaderComponents().then(() => this.deps.fenced(reason));
  }

  private async stopLeaderComponents(): Promise<void> {
    while (this.started.length > 0) {
      const component = this.started.pop()!;
      try {
        await component.stop();
      } catch (error) {
        this.deps.logger.error(`cluster: stop ${component.name}: ${(error as Error).message}`);
      }
    }
  }
}
