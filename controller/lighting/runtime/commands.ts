import type { Clock, Timer } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import type { Bus } from '../../bus';
import { coversAny, type Actor } from '../../scope';
import { PRIORITY } from '../slots';
import type { Target, TargetSpec } from '../topology';
import type { ChangeFeed } from './changeFeed';
import { commandChangedEvent, commandSettledEvent } from './commandEvents';
import {
  arbiterCommand,
  commandInForce,
  commandRecord,
  countOf,
  describeSpec,
  persistedCommand,
  type CommandInForce,
} from './commandRecords';
import {
  LightingError,
  type CommandAccepted,
  type CommandProgress,
  type CommandRecord,
  type OverrideRequest,
  type RelightRequest,
  type ValidationIssue,
  type WaitOptions,
} from './lightingService';
import type { LightingParts } from './parts';
import { CommandTracker } from './progress';
import { checkExpiry, checkId, checkLevel, checkReason, checkScope, invalid, show } from './requestChecks';
import type { PersistedCommand } from './store';
import { readTarget } from './topics';

/** What the commands need of the runtime. */
export interface CommandsHost {
  /** The parts, or LightingError 'unavailable' when the runtime does not run. */
  running(): LightingParts;
  isRunning(): boolean;
  /** Sends what the arbiter decided since the last call. */
  dispatchChanges(): void;
  /** Sets the timer for the arbiter's next expiry. */
  armArbiterTimer(): void;
  /** Writes the state file. */
  save(): Promise<void>;
}

export interface LightingCommandsDeps {
  clock: Clock;
  logger: Logger;
  bus: Bus;
  feed: ChangeFeed;
  /** A failed state write is retried this often until it succeeds. */
  saveRetryMs: number;
  host: CommandsHost;
}

type Slot = 'emergency' | 'override';

/**
 * Emergency relights and overrides: their checks, the arbiter, their tracking until the devices confirm,
 * their end (cleared, released, expired), and the state file written before a command is acknowledged.
 */
export class LightingCommands {
  private readonly byId = new Map<string, CommandInForce>();
  private saveRetryTimer?: Timer;

  constructor(private readonly deps: LightingCommandsDeps) {}

  get size(): number {
    return this.byId.size;
  }

  async relight(request: RelightRequest, actor: Actor): Promise<CommandAccepted> {
    this.deps.host.running(); // unavailable outranks invalid: a stopped service says so first
    const now = this.deps.clock.now();
    const issues: ValidationIssue[] = [];
    const body = (request ?? {}) as unknown as Record<string, unknown>;
    const target = this.resolve(body.target, issues);
    const level = body.level === undefined ? 100 : checkLevel(body.level, issues);
    const reason = checkReason(body.reason, issues);
    const expiresAt = checkExpiry(body.expiresAt, now, issues, 'expiresAt');
    const id = checkId(body.id, 'relight', issues);
    if (issues.length > 0 || !target) throw invalid('emergency relight', issues);
    return this.accept('emergency', { id, target, level: level!, reason: reason!, expiresAt }, actor);
  }

  clearRelight(id: string, actor: Actor): Promise<CommandRecord> {
    return this.end(id, 'emergency', actor, 'cleared');
  }

  async override(request: OverrideRequest, actor: Actor): Promise<CommandAccepted> {
    this.deps.host.running(); // unavailable outranks invalid: a stopped service says so first
    const now = this.deps.clock.now();
    const issues: ValidationIssue[] = [];
    const body = (request ?? {}) as unknown as Record<string, unknown>;
    const target = this.resolve(body.target, issues);
    const level = checkLevel(body.level, issues);
    const reason = checkReason(body.reason, issues);
    const expiresAt = checkExpiry(body.expiresAt, now, issues, 'expiresAt');
    const untilReleased = body.untilReleased === true;
    if (body.untilReleased !== undefined && typeof body.untilReleased !== 'boolean')
      issues.push({
        path: ['untilReleased'],
        message: `must be true or false (is ${show(body.untilReleased)})`,
      });
    if ((expiresAt === undefined) === !untilReleased && !issues.some((i) => i.path[0] === 'expiresAt'))
      issues.push({
        path: ['expiresAt'],
        message: untilReleased
          ? "give either 'expiresAt' or 'untilReleased: true', not both"
          : "an override needs an expiry ('expiresAt') or an explicit 'untilReleased: true'",
      });
    const id = checkId(body.id, 'override', issues);
    if (issues.length > 0 || !target) throw invalid('override', issues);
    return this.accept(
      'override',
      { id, target, level: level!, reason: reason!, expiresAt, untilReleased },
      actor,
    );
  }

  releaseOverride(id: string, actor: Actor): Promise<CommandRecord> {
    return this.end(id, 'override', actor, 'released');
  }

  list(actor: Actor, slot?: Slot): CommandRecord[] {
    this.deps.host.running(); // unavailable outranks invalid: a stopped service says so first
    const now = this.deps.clock.now();
    return [...this.byId.values()]
      .filter((m) => (slot === undefined || m.slot === slot) && coversAny(actor.communes, m.communes))
      .map((m) => commandRecord(m, now));
  }

  progress(id: string): CommandProgress | undefined {
    const t = this.deps.host.running();
    return t.board.get(id)?.progress(t.topology);
  }

  waitForConfirmation(id: string, options: WaitOptions = {}): Promise<CommandProgress> {
    const t = this.deps.host.running();
    const { clock } = this.deps;
    const tracker = t.board.get(id);
    if (!tracker) return Promise.reject(new LightingError('not-found', `no recent command '${id}'`));
    return new Promise((resolve) => {
      if (tracker.done) {
        resolve(tracker.progress(t.topology));
        return;
      }
      const finish = (): void => {
        clock.clearTimeout(timer);
        options.signal?.removeEventListener('abort', finish);
        withdraw();
        resolve(tracker.progress(t.topology));
      };
      const timer = clock.setTimeout(finish, options.timeoutMs ?? 30_000);
      const withdraw = tracker.onDone(finish);
      options.signal?.addEventListener('abort', finish, { once: true });
    });
  }

  /** Puts the persisted commands back in the arbiter; those expired or no longer valid are logged and left. */
  restore(commands: readonly PersistedCommand[], parts: LightingParts, now: number): void {
    const { logger } = this.deps;
    for (const c of commands) {
      const what = `${slotName(c.slot)} '${c.id}'`;
      if (c.expiresAt !== undefined && c.expiresAt <= now) {
        logger.info(
          `lighting: ${what} expired at ${new Date(c.expiresAt).toISOString()} while the service was down; not restored`,
        );
        continue;
      }
      const restored = commandInForce(c, parts.topology);
      if (!restored.ok) {
        logger.error(`lighting: ${what} not restored: ${restored.error} (the configuration changed?)`);
        continue;
      }
      const command = arbiterCommand(c, 'restore', Math.min(c.start, now));
      const result =
        c.slot === 'emergency' ? parts.arbiter.relight(command, now) : parts.arbiter.override(command, now);
      if (!result.ok) {
        logger.error(`lighting: ${what} not restored: ${result.error}`);
        continue;
      }
      this.byId.set(c.id, restored.value);
      logger.warn(
        `lighting: ${what} restored (${c.level} %, ${describeSpec(c.target)}, by ${c.actor}: ${c.reason})`,
      );
    }
  }

  /** Follows every command in force like a new one (restored commands: their progress answers at once). */
  trackAll(parts: LightingParts, now: number): void {
    for (const meta of this.byId.values()) this.track(parts, meta, now);
  }

  persisted(): PersistedCommand[] {
    return [...this.byId.values()].map(persistedCommand);
  }

  /** Ends the commands the arbiter let expire (after its decide), and writes the state if any did. */
  expire(parts: LightingParts, now: number): void {
    const live = new Set(
      [...parts.arbiter.records('emergency'), ...parts.arbiter.records('override')].map((r) => r.id),
    );
    let expired = 0;
    for (const meta of [...this.byId.values()]) {
      if (live.has(meta.id)) continue;
      expired++;
      this.byId.delete(meta.id);
      parts.board.end(meta.id);
      this.deps.logger.info(`lighting: ${slotName(meta.slot)} '${meta.id}' expired`);
      this.changed(meta, 'expired', 'nocturne', 'expiry', 'nocturne', now);
    }
    if (expired > 0)
      this.deps.host.save().catch((error: unknown) => {
        this.deps.logger.error(`lighting: state file not written after expiry: ${(error as Error).message}`);
        this.scheduleSaveRetry();
      });
  }

  /** The emergency relight in force on part of zone z, if any. */
  emergencyIn(parts: LightingParts, z: number): string | undefined {
    const zone = parts.topology.zones[z];
    for (const meta of this.byId.values()) {
      if (meta.slot !== 'emergency') continue;
      for (let i = zone.start; i < zone.end; i++) if (parts.topology.covers(meta.resolved, i)) return meta.id;
    }
    return undefined;
  }

  /** A tracked command moved: to the change feed, and once settled to the bus (audit, alerts). */
  progressed(parts: LightingParts, tracker: CommandTracker, progress: CommandProgress): void {
    const meta = this.byId.get(tracker.id);
    const communes = meta?.communes ?? parts.topology.communesOf(tracker.target);
    const at = this.deps.clock.now();
    this.deps.feed.publish({ type: 'progress', at, progress }, communes);
    if (!progress.done || !meta || tracker.reported) return;
    tracker.reported = true;
    this.deps.bus.emit('lightingCommandChanged', commandSettledEvent(meta, progress, communes, at));
  }

  /** Writes the state; a failure is reported to the caller and the write retried until it succeeds. */
  async persist(what: string): Promise<void> {
    try {
      await this.deps.host.save();
    } catch (error) {
      this.deps.logger.error(`lighting: state file not written after ${what}: ${(error as Error).message}`);
      this.scheduleSaveRetry();
      throw new LightingError(
        'unavailable',
        `${what} is in force but could not be persisted (${(error as Error).message}); it would not survive a restart — retry`,
      );
    }
  }

  stop(): void {
    if (this.saveRetryTimer) this.deps.clock.clearTimeout(this.saveRetryTimer);
    this.saveRetryTimer = undefined;
  }

  /** What relights and overrides share once their fields are valid: scope, id conflict, the command itself. */
  private accept(
    slot: Slot,
    fields: {
      id: string;
      target: { value: Target; spec: TargetSpec };
      level: number;
      reason: string;
      expiresAt: number | undefined;
      untilReleased?: boolean;
    },
    actor: Actor,
  ): Promise<CommandAccepted> {
    const t = this.deps.host.running();
    const now = this.deps.clock.now();
    const { id, target } = fields;
    const communes = t.topology.communesOf(target.value);
    checkScope(actor, communes, slot === 'emergency' ? 'relight' : 'override');
    const existing = this.byId.get(id);
    if (existing) checkReplaceable(existing, slot, communes, actor);
    const meta: CommandInForce = {
      id,
      slot,
      target: target.spec,
      resolved: target.value,
      communes,
      luminaires: countOf(t.topology, target.value),
      level: fields.level,
      reason: fields.reason,
      actor: actor.user,
      via: actor.via,
      from: actor.from,
      acceptedAt: now,
      start: now,
      untilReleased: fields.untilReleased ?? false,
    };
    if (fields.expiresAt !== undefined) meta.expiresAt = fields.expiresAt;
    return this.give(t, meta, Boolean(existing));
  }

  /** Registers the command in the arbiter, starts dispatch and tracking, then persists (the acknowledgement). */
  private async give(t: LightingParts, meta: CommandInForce, replacing: boolean): Promise<CommandAccepted> {
    const { arbiter, topology, dispatcher } = t;
    const now = meta.acceptedAt;
    const command = arbiterCommand(meta, meta.via, meta.start);
    const result = meta.slot === 'emergency' ? arbiter.relight(command, now) : arbiter.override(command, now);
    if (!result.ok) throw new LightingError('invalid', result.error, [{ path: [], message: result.error }]);
    this.byId.set(meta.id, meta);
    // The levels go out first; tracking and bookkeeping follow (read-backs cannot arrive before this call returns).
    const changes = arbiter.takeChanges();
    dispatcher.dispatch(changes);
    const tracker = this.track(t, meta, now);
    // Luminaires whose decision did not change (the same command given again) are sent again all the same,
    // so that the progress reflects a fresh read-back.
    if (changes.length < tracker.total) {
      const again: number[] = [];
      topology.forEachIn(meta.resolved, (i) => {
        if (tracker.isPending(i)) again.push(i);
      });
      dispatcher.resend(again);
    }
    this.deps.feed.levelsChanged(changes);
    this.deps.host.armArbiterTimer();
    const record = commandRecord(meta, now);
    this.changed(meta, replacing ? 'replaced' : 'created', meta.actor, meta.via, meta.from, now);
    await this.persist(`${slotName(meta.slot)} '${meta.id}'`);
    return { record, progress: tracker.progress(topology) };
  }

  /** Follows the luminaires where the command decides the level, until the devices confirm them. */
  private track(t: LightingParts, meta: CommandInForce, now: number): CommandTracker {
    const { arbiter, topology, board } = t;
    const priority = PRIORITY[meta.slot];
    const tracker = new CommandTracker(
      meta.id,
      meta.slot,
      meta.level,
      priority,
      meta.resolved,
      meta.communes,
      now,
      topology.count,
    );
    topology.forEachIn(meta.resolved, (i) => {
      if (arbiter.priorityOf(i) === priority && arbiter.levelOf(i) === meta.level) tracker.track(i);
    });
    board.begin(tracker);
    return tracker;
  }

  private async end(
    id: string,
    slot: Slot,
    actor: Actor,
    change: 'cleared' | 'released',
  ): Promise<CommandRecord> {
    const t = this.deps.host.running();
    const what = slotName(slot);
    const meta = this.byId.get(id);
    if (!meta || meta.slot !== slot) {
      const active = [...this.byId.values()].filter(
        (m) => m.slot === slot && coversAny(actor.communes, m.communes),
      );
      throw new LightingError(
        'not-found',
        `no ${what} '${id}' (active: ${active.length > 0 ? active.map((m) => `'${m.id}'`).join(', ') : 'none'})`,
      );
    }
    checkScope(actor, meta.communes, change === 'cleared' ? 'clear' : 'release');
    const now = this.deps.clock.now();
    const result =
      slot === 'emergency' ? t.arbiter.clearRelight(id, now) : t.arbiter.releaseOverride(id, now);
    if (!result.ok) throw new LightingError('not-found', result.error);
    this.byId.delete(id);
    t.board.end(id);
    this.deps.host.dispatchChanges();
    this.deps.host.armArbiterTimer();
    const record = commandRecord(meta, now);
    this.changed(meta, change, actor.user, actor.via, actor.from, now);
    await this.persist(`${what} '${id}' ${change}`);
    return record;
  }

  private changed(
    meta: CommandInForce,
    change: 'created' | 'replaced' | 'cleared' | 'released' | 'expired',
    actor: string,
    via: string,
    from: string,
    at: number,
  ): void {
    this.deps.feed.publish(
      { type: 'command', at, change, record: commandRecord(meta, at), actor },
      meta.communes,
    );
    this.deps.bus.emit(
      'lightingCommandChanged',
      commandChangedEvent(
        meta,
        change,
        { actor, via, from },
        at,
        this.deps.host.running().topology.communes.length,
      ),
    );
  }

  private scheduleSaveRetry(): void {
    if (this.saveRetryTimer || !this.deps.host.isRunning()) return;
    const { clock, logger } = this.deps;
    this.saveRetryTimer = clock.setTimeout(() => {
      this.saveRetryTimer = undefined;
      this.deps.host.save().then(
        () => logger.info('lighting: state file written again'),
        (error: unknown) => {
          logger.error(`lighting: state file still not written: ${(error as Error).message}`);
          this.scheduleSaveRetry();
        },
      );
    }, this.deps.saveRetryMs);
  }

  private resolve(raw: unknown, issues: ValidationIssue[]): { value: Target; spec: TargetSpec } | undefined {
    const problems: string[] = [];
    const spec = readTarget(raw, problems);
    for (const message of problems) issues.push({ path: ['target'], message });
    if (!spec) return undefined;
    const resolved = this.deps.host.running().topology.resolveTarget(spec);
    if (!resolved.ok) {
      issues.push({ path: ['target', Object.keys(spec)[0]], message: resolved.error });
      return undefined;
    }
    return { value: resolved.value, spec };
  }
}

/**
 * A command in force keeps its id for its communes: replacing it needs the right to its old target,
 * and an id is never taken over for other communes, so nobody can end another commune's relight by
 * reusing its id.
 */
function checkReplaceable(
  existing: CommandInForce,
  slot: Slot,
  communes: readonly string[],
  actor: Actor,
): void {
  const id = existing.id;
  if (!coversAny(actor.communes, existing.communes) || !sameMembers(existing.communes, communes))
    throw new LightingError(
      'conflict',
      coversAny(actor.communes, existing.communes)
        ? `'${id}' is in force in ${existing.communes.map((c) => `'${c}'`).join(', ')}; an id is never reused for other communes — choose another id`
        : `'${id}' is already in use outside your communes — choose another id`,
    );
  if (existing.slot !== slot)
    throw new LightingError(
      'conflict',
      slot === 'emergency'
        ? `'${id}' is an override, not an emergency relight`
        : `'${id}' is an emergency relight, not an override`,
    );
  checkScope(actor, existing.communes, `replace ${slot === 'emergency' ? 'relight' : 'override'} '${id}'`);
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c) => b.includes(c));
}

function slotName(slot: Slot): string {
  return slot === 'emergency' ? 'emergency relight' : 'override';
}
