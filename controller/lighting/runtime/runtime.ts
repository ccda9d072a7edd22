import type { Config, ProgramConfig } from '../../../config/schema';
import type { Driver, Health, Sample } from '../../../drivers/driver';
import type { Messaging } from '../../../drivers/messaging';
import type { Bus } from '../../bus';
import type { Clock, Timer } from '../../../core/clock';
import type { Component } from '../../../core/lifecycle';
import type { Logger } from '../../../core/logger';
import { Arbiter } from '../arbiter';
import { PRIORITY } from '../slots';
import {
  epochDay,
  fromEpochDay,
  nightOf,
  parseCivilDate,
  timeZone,
  type CivilDate,
} from '../../../core/localTime';
import { PresenceGroup, levelForClass, presenceOptions } from '../presence';
import { LightingTopology, type Target, type TargetSpec } from '../topology';
import { ZoneSchedule } from '../zoneSchedule';
import { LightingAccounting } from './accounting';
import {
  LightingError,
  type CalendarEntry,
  type CommandAccepted,
  type CommandProgress,
  type CommandRecord,
  type LightingChange,
  type LightingService,
  type LightingStats,
  type LuminaireView,
  type OverrideRequest,
  type PreviewRequest,
  type ProgramEntry,
  type ProgramPreview,
  type ProgramSource,
  type RelightRequest,
  type ValidationIssue,
  type WaitOptions,
  type YearCost,
  type YearCostRequest,
  type ZoneDetail,
  type ZoneView,
} from './lightingService';
import { coversAny, outsideOf, type Actor } from '../../scope';
import { buildBindings, type DeviceBinding } from './bindings';
import { ChangeFeed } from './changeFeed';
import { commandChangedEvent, commandSettledEvent, definitionChangedEvent } from './commandEvents';
import { LightingDefinitions } from './definitions';
import type { LightingParts } from './parts';
import { communeOfZone, luminaireView, zoneContext, zoneView } from './views';
import { checkExpiry, checkId, checkLevel, checkReason, invalid, show } from './requestChecks';
import {
  arbiterCommand,
  commandInForce,
  commandRecord,
  countOf,
  describeSpec,
  persistedCommand,
  type CommandInForce,
} from './commandRecords';
import type { DeviceReports } from './deviceReports';
import { Dispatcher, type DispatcherOptions } from './dispatcher';
import { compileClassPath, MalformedLog, readDetection } from './presenceInput';
import { previewNight, yearCost } from './preview';
import { CommandTracker, ProgressBoard } from './progress';
import { ReportPoller, type ReportPollerOptions } from './reportPoller';
import { LightingStore, STATE_VERSION, type PersistedCommand, type PersistedState } from './store';
import { lightingTopics, readTarget, type LightingTopics } from './topics';
import { validateProgram } from './validation';
import { ZoneStatePublisher } from './zoneState';

export interface LightingRuntimeOptions {
  /** Dispatch to the devices, and the polling of their reports (both checked every `tickMs`). */
  dispatch?: DispatcherOptions & ReportPollerOptions;
  /** Change events (console, telemetry, zone state topics) are batched over this interval. Default 250 ms. */
  batchMs?: number;
  /** A zone's retained state topic is republished at most this often. Default 1 s. */
  zoneStateMs?: number;
  /** Progress of this many recent commands stays readable. Default 64. */
  keepProgress?: number;
  /** Progress events of a moving command at most this often. Default 100 ms. */
  progressEveryMs?: number;
  /** A failed state write is retried this often until it succeeds. Default 10 s. */
  saveRetryMs?: number;
  /** Malformed presence messages are logged at most once per kind per interval. Default 10 s. */
  malformedLogMs?: number;
}

export interface ResolvedLightingRuntimeOptions {
  dispatch: DispatcherOptions & ReportPollerOptions;
  batchMs: number;
  zoneStateMs: number;
  keepProgress: number;
  progressEveryMs: number;
  saveRetryMs: number;
  malformedLogMs: number;
}

export function coerceLightingRuntimeOptions(
  options: LightingRuntimeOptions = {},
): ResolvedLightingRuntimeOptions {
  return {
    dispatch: options.dispatch ?? {},
    batchMs: options.batchMs ?? 250,
    zoneStateMs: options.zoneStateMs ?? 1_000,
    keepProgress: options.keepProgress ?? 64,
    progressEveryMs: options.progressEveryMs ?? 100,
    saveRetryMs: options.saveRetryMs ?? 10_000,
    malformedLogMs: options.malformedLogMs ?? 10_000,
  };
}

export interface LightingRuntimeDeps {
  config: Config;
  /** Absolute; the state file is `<stateDir>/lighting/state.json`. */
  stateDir: string;
  logger: Logger;
  clock: Clock;
  bus: Bus;
  mqtt: Messaging;
  /** The device registry (drivers appear when their protocol's component starts). */
  devices: { get(deviceId: string): Driver | undefined };
}

const MAX_TIMER_MS = 2_147_000_000;
const HOUR_MS = 3_600_000;

/**
 * The lighting runtime: the pure decision modules (docs/lighting.md) wired to the devices, MQTT, the
 * state file and the API. docs/lighting-runtime.md describes the order of start, dispatch, read-back,
 * reconciliation, persistence and failure behaviour.
 */
export class LightingRuntime implements LightingService {
  private readonly options: ResolvedLightingRuntimeOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private parts?: LightingParts;
  /** Per zone, the night its baseline last advanced in (see darkHours). */
  private readonly darkNights: (
    { schedule: ZoneSchedule; start: number; end: number; dusk: number; dawn: number } | undefined
  )[] = [];
  private store?: LightingStore;
  private readonly commandsById = new Map<string, CommandInForce>();
  private readonly unsubscribers: (() => Promise<void>)[] = [];
  private readonly deviceHealth = new Map<string, Health>();
  private readonly malformed: MalformedLog;
  private readonly feed: ChangeFeed;
  private readonly definitions: LightingDefinitions;
  private readonly presenceCounts = { received: 0, accepted: 0, debounced: 0 };
  private topics?: LightingTopics;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private stopping?: Promise<void>;
  private arbiterTimer?: Timer;
  private saveRetryTimer?: Timer;
  private zoneStates?: ZoneStatePublisher;

  constructor(
    private readonly deps: LightingRuntimeDeps,
    options: LightingRuntimeOptions = {},
  ) {
    this.options = coerceLightingRuntimeOptions(options);
    this.logger = deps.logger;
    this.clock = deps.clock;
    this.malformed = new MalformedLog(deps.clock, deps.logger, this.options.malformedLogMs);
    this.feed = new ChangeFeed({
      bus: deps.bus,
      clock: deps.clock,
      logger: deps.logger,
      batchMs: this.options.batchMs,
    });
    this.definitions = new LightingDefinitions(deps.config, deps.clock, deps.logger, {
      running: () => this.running(),
      checkScope: (actor, communes, what) => this.checkScope(actor, communes, what),
      rescheduleZones: (zones) => this.rescheduleZones(zones),
      definitionChanged: (type, id, change, actor, message, zones) =>
        this.definitionChanged(type, id, change, actor, message, zones),
      persist: (what) => this.persist(what),
    });
  }

  /** The runtime as a lifecycle component: started after the Modbus drivers, before MQTT and OPC UA. */
  component(): Component {
    return { name: 'lighting', start: (signal) => this.start(signal), stop: () => this.stop() };
  }

  /**
   * Restores the persisted state and sends the first levels: relights and overrides restored, every
   * zone's schedule applied, then the first dispatch — before presence, MQTT or anything else.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.state !== 'new') throw new Error(`lighting runtime: start() called when ${this.state}`);
    this.state = 'starting';
    const { config, logger, clock } = this.deps;
    const topology = LightingTopology.fromConfig(config);
    for (const problem of topology.problems) logger.warn(`lighting: ${problem}`);
    const { bindings, problems } = buildBindings(config, topology);
    for (const problem of problems) logger.error(`lighting: ${problem}; its luminaires get no commands`);
    this.definitions.loadConfigured();
    const zoneCalendars = topology.zones.map((z) => z.calendar);

    this.store = new LightingStore(this.deps.stateDir, () => this.snapshot());
    const loaded = await this.store.load();
    signal?.throwIfAborted();
    if (loaded.kind === 'corrupt')
      logger.error(
        `lighting: ${this.store.file} is unreadable (${loaded.error}); moved to ${loaded.movedTo}, starting from the configuration`,
      );
    this.definitions.applyPersisted(loaded.state, topology, zoneCalendars);

    const arbiter = new Arbiter(topology);
    // Built in the order they read each other; their callbacks reach the runtime only once it runs.
    const board = new ProgressBoard(
      topology,
      clock,
      { keep: this.options.keepProgress, reportEveryMs: this.options.progressEveryMs },
      (tracker, progress) => this.progressed(tracker, progress),
    );
    const dispatcher = new Dispatcher(
      {
        arbiter,
        topology,
        bindings,
        driver: (id) => this.deps.devices.get(id),
        clock,
        logger: logger.child('dispatch'),
        hooks: {
          readBack: (i, level, _confirmed, at) => this.readBack(i, level, at),
          failed: (binding, luminaires, error, at) => this.dispatchFailed(binding, luminaires, error, at),
        },
      },
      this.options.dispatch,
    );
    const reportPoller = new ReportPoller(
      {
        bindings,
        driver: (id) => this.deps.devices.get(id),
        clock,
        logger: logger.child('dispatch'),
        hooks: { reported: (binding, reports, at) => this.reported(binding, reports, at) },
      },
      this.options.dispatch,
    );
    const accounting = new LightingAccounting({
      topology,
      arbiter,
      darkHours: (zone, from, to) => this.darkHours(zone, from, to),
      tolerance: (i) => dispatcher.toleranceOf(i),
      commanded: (i) => dispatcher.sentLevelOf(i),
    });
    const parts: LightingParts = {
      topology,
      arbiter,
      bindings,
      schedules: [],
      zoneTimers: topology.zones.map(() => undefined),
      zoneCalendars,
      groups: [],
      sensorsByTopic: new Map(),
      luxZones: new Map(),
      dispatcher,
      reportPoller,
      board,
      accounting,
    };
    this.parts = parts;
    this.topics = lightingTopics(this.deps.mqtt.baseTopic);
    this.zoneStates = new ZoneStatePublisher(
      {
        topology,
        arbiter,
        topics: this.topics,
        mqtt: this.deps.mqtt,
        clock,
        logger,
        emergencyIn: (z) => this.emergencyIn(z),
      },
      this.options.zoneStateMs,
    );
    this.feed.start(parts, this.zoneStates);

    const now = clock.now();
    this.restoreCommands(loaded.state.commands, now);
    for (let z = 0; z < topology.zones.length; z++) this.rebuildSchedule(z);
    for (let z = 0; z < topology.zones.length; z++) this.applySchedule(z, now);
    // Restored commands are followed like new ones, so their progress answers as soon as the first writes go out.
    for (const meta of this.commandsById.values()) this.trackCommand(meta, now);
    accounting.start(now);
    for (const binding of bindings)
      this.deviceHealth.set(binding.deviceId, this.deps.devices.get(binding.deviceId)?.health() ?? 'down');
    // The first dispatch: every decided level, relights first in the sense that nothing else went out before.
    arbiter.takeChanges();
    dispatcher.start();
    reportPoller.start();
    this.feed.allLevelsChanged();
    this.armArbiterTimer();
    this.state = 'running';

    this.listenToBus();
    this.startPresence(config, parts);
    await this.listenToMqtt(parts);
    logger.info(
      `lighting: ${topology.count} luminaires in ${topology.zones.length} zones on ${bindings.length} segment controllers; ${this.commandsById.size} emergency relight(s)/override(s) restored`,
    );
  }

  /** Stops timers, presence and subscriptions, and waits for a state write under way; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const wasRunning = this.state !== 'new';
    this.state = 'stopped';
    if (!wasRunning) return;
    const step = async (name: string, work: () => void | Promise<void>): Promise<void> => {
      try {
        await work();
      } catch (error) {
        this.logger.error(`lighting: stop ${name}: ${(error as Error).message}`);
      }
    };
    await step('MQTT', async () => {
      this.deps.mqtt.off('connected', this.onMqttConnected);
      await Promise.all(this.unsubscribers.splice(0).map((u) => u()));
    });
    await step('bus', () => this.deps.bus.removeListeners(this));
    const t = this.parts;
    await step('presence', () => t?.groups.forEach((g) => g.stop()));
    await step('timers', () => {
      for (const timer of [this.arbiterTimer, this.saveRetryTimer]) if (timer) this.clock.clearTimeout(timer);
      this.arbiterTimer = this.saveRetryTimer = undefined;
      this.feed.stop();
      this.zoneStates?.stop();
      t?.zoneTimers.forEach((timer, z) => {
        if (timer) this.clock.clearTimeout(timer);
        t.zoneTimers[z] = undefined;
      });
      t?.board.stop();
    });
    await step('reports', () => t?.reportPoller.stop());
    await step('dispatch', () => t?.dispatcher.stop());
    await step('state file', () => this.store?.flushed());
  }

  // ======== commands ========

  async relight(request: RelightRequest, actor: Actor): Promise<CommandAccepted> {
    this.running(); // unavailable outranks invalid: a stopped service says so first
    const now = this.clock.now();
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

  async clearRelight(id: string, actor: Actor): Promise<CommandRecord> {
    return this.end(id, 'emergency', actor, 'cleared');
  }

  async override(request: OverrideRequest, actor: Actor): Promise<CommandAccepted> {
    this.running(); // unavailable outranks invalid: a stopped service says so first
    const now = this.clock.now();
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

  /** What relights and overrides share once their fields are valid: scope, id conflict, the command itself. */
  private accept(
    slot: 'emergency' | 'override',
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
    const t = this.running();
    const now = this.clock.now();
    const { id, target } = fields;
    const communes = t.topology.communesOf(target.value);
    this.checkScope(actor, communes, slot === 'emergency' ? 'relight' : 'override');
    const existing = this.commandsById.get(id);
    if (existing) this.checkReplaceable(existing, slot, communes, actor);
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
    return this.give(meta, Boolean(existing));
  }

  /**
   * A command in force keeps its id for its communes: replacing it needs the right to its old target,
   * and an id is never taken over for other communes, so nobody can end another commune's relight by
   * reusing its id.
   */
  private checkReplaceable(
    existing: CommandInForce,
    slot: 'emergency' | 'override',
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
    this.checkScope(
      actor,
      existing.communes,
      `replace ${slot === 'emergency' ? 'relight' : 'override'} '${id}'`,
    );
  }

  async releaseOverride(id: string, actor: Actor): Promise<CommandRecord> {
    return this.end(id, 'override', actor, 'released');
  }

  commands(actor: Actor, slot?: 'emergency' | 'override'): CommandRecord[] {
    this.running(); // unavailable outranks invalid: a stopped service says so first
    const now = this.clock.now();
    return [...this.commandsById.values()]
      .filter((m) => (slot === undefined || m.slot === slot) && coversAny(actor.communes, m.communes))
      .map((m) => commandRecord(m, now));
  }

  progress(id: string): CommandProgress | undefined {
    const t = this.running();
    return t.board.get(id)?.progress(t.topology);
  }

  waitForConfirmation(id: string, options: WaitOptions = {}): Promise<CommandProgress> {
    const t = this.running();
    const tracker = t.board.get(id);
    if (!tracker) return Promise.reject(new LightingError('not-found', `no recent command '${id}'`));
    return new Promise((resolve) => {
      if (tracker.done) {
        resolve(tracker.progress(t.topology));
        return;
      }
      const finish = (): void => {
        this.clock.clearTimeout(timer);
        options.signal?.removeEventListener('abort', finish);
        withdraw();
        resolve(tracker.progress(t.topology));
      };
      const timer = this.clock.setTimeout(finish, options.timeoutMs ?? 30_000);
      const withdraw = tracker.onDone(finish);
      options.signal?.addEventListener('abort', finish, { once: true });
    });
  }

  /** Registers the command in the arbiter, starts dispatch and tracking, then persists (the acknowledgement). */
  private async give(meta: CommandInForce, replacing: boolean): Promise<CommandAccepted> {
    const t = this.running();
    const { arbiter, topology, dispatcher } = t;
    const now = meta.acceptedAt;
    const command = arbiterCommand(meta, meta.via, meta.start);
    const result = meta.slot === 'emergency' ? arbiter.relight(command, now) : arbiter.override(command, now);
    if (!result.ok) throw new LightingError('invalid', result.error, [{ path: [], message: result.error }]);
    this.commandsById.set(meta.id, meta);
    // The levels go out first; tracking and bookkeeping follow (read-backs cannot arrive before this call returns).
    const changes = arbiter.takeChanges();
    dispatcher.dispatch(changes);
    const tracker = this.trackCommand(meta, now);
    // Luminaires whose decision did not change (the same command given again) are sent again all the same,
    // so that the progress reflects a fresh read-back.
    if (changes.length < tracker.total) {
      const again: number[] = [];
      topology.forEachIn(meta.resolved, (i) => {
        if (tracker.isPending(i)) again.push(i);
      });
      dispatcher.resend(again);
    }
    this.feed.levelsChanged(changes);
    this.armArbiterTimer();
    const record = commandRecord(meta, now);
    this.commandChanged(meta, replacing ? 'replaced' : 'created', meta.actor, meta.via, meta.from, now);
    await this.persist(`${meta.slot === 'emergency' ? 'emergency relight' : 'override'} '${meta.id}'`);
    return { record, progress: tracker.progress(topology) };
  }

  /** Follows the luminaires where the command decides the level, until the devices confirm them. */
  private trackCommand(meta: CommandInForce, now: number): CommandTracker {
    const { arbiter, topology, board } = this.parts!;
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
    slot: 'emergency' | 'override',
    actor: Actor,
    change: 'cleared' | 'released',
  ): Promise<CommandRecord> {
    const t = this.running();
    const what = slot === 'emergency' ? 'emergency relight' : 'override';
    const meta = this.commandsById.get(id);
    if (!meta || meta.slot !== slot) {
      const active = [...this.commandsById.values()].filter(
        (m) => m.slot === slot && coversAny(actor.communes, m.communes),
      );
      throw new LightingError(
        'not-found',
        `no ${what} '${id}' (active: ${active.length > 0 ? active.map((m) => `'${m.id}'`).join(', ') : 'none'})`,
      );
    }
    this.checkScope(actor, meta.communes, change === 'cleared' ? 'clear' : 'release');
    const now = this.clock.now();
    const result =
      slot === 'emergency' ? t.arbiter.clearRelight(id, now) : t.arbiter.releaseOverride(id, now);
    if (!result.ok) throw new LightingError('not-found', result.error);
    this.commandsById.delete(id);
    t.board.end(id);
    this.dispatchChanges();
    this.armArbiterTimer();
    const record = commandRecord(meta, now);
    this.commandChanged(meta, change, actor.user, actor.via, actor.from, now);
    await this.persist(`${what} '${id}' ${change}`);
    return record;
  }

  /** Writes the state; a failure is reported to the caller and the write retried until it succeeds. */
  private async persist(what: string): Promise<void> {
    try {
      await this.store!.save();
    } catch (error) {
      this.logger.error(`lighting: state file not written after ${what}: ${(error as Error).message}`);
      this.scheduleSaveRetry();
      throw new LightingError(
        'unavailable',
        `${what} is in force but could not be persisted (${(error as Error).message}); it would not survive a restart — retry`,
      );
    }
  }

  private scheduleSaveRetry(): void {
    if (this.saveRetryTimer || this.state !== 'running') return;
    this.saveRetryTimer = this.clock.setTimeout(() => {
      this.saveRetryTimer = undefined;
      this.store!.save().then(
        () => this.logger.info('lighting: state file written again'),
        (error: unknown) => {
          this.logger.error(`lighting: state file still not written: ${(error as Error).message}`);
          this.scheduleSaveRetry();
        },
      );
    }, this.options.saveRetryMs);
  }

  private restoreCommands(commands: PersistedCommand[], now: number): void {
    const t = this.parts!;
    for (const c of commands) {
      const what = `${c.slot === 'emergency' ? 'emergency relight' : 'override'} '${c.id}'`;
      if (c.expiresAt !== undefined && c.expiresAt <= now) {
        this.logger.info(
          `lighting: ${what} expired at ${new Date(c.expiresAt).toISOString()} while the service was down; not restored`,
        );
        continue;
      }
      const restored = commandInForce(c, t.topology);
      if (!restored.ok) {
        this.logger.error(`lighting: ${what} not restored: ${restored.error} (the configuration changed?)`);
        continue;
      }
      const command = arbiterCommand(c, 'restore', Math.min(c.start, now));
      const result =
        c.slot === 'emergency' ? t.arbiter.relight(command, now) : t.arbiter.override(command, now);
      if (!result.ok) {
        this.logger.error(`lighting: ${what} not restored: ${result.error}`);
        continue;
      }
      this.commandsById.set(c.id, restored.value);
      this.logger.warn(
        `lighting: ${what} restored (${c.level} %, ${describeSpec(c.target)}, by ${c.actor}: ${c.reason})`,
      );
    }
  }

  private snapshot(): PersistedState {
    const commands = [...this.commandsById.values()].map(persistedCommand);
    const zoneCalendars: Record<string, string> = {};
    const t = this.parts;
    if (t) {
      t.topology.zones.forEach((zone, z) => {
        if (t.zoneCalendars[z] !== zone.calendar) zoneCalendars[zone.id] = t.zoneCalendars[z];
      });
    }
    return {
      version: STATE_VERSION,
      commands,
      ...this.definitions.persisted(),
      zoneCalendars,
    };
  }

  // ======== live state ========

  zones(actor: Actor): ZoneView[] {
    const t = this.running();
    const out: ZoneView[] = [];
    for (let z = 0; z < t.topology.zones.length; z++) {
      if (coversAny(actor.communes, [communeOfZone(t, z)]))
        out.push(zoneView(t, this.deps.config, this.clock.now(), z));
    }
    return out;
  }

  zone(id: string, actor: Actor): ZoneDetail {
    const t = this.running();
    const z = t.topology.zoneIndex(id);
    if (z === undefined) throw new LightingError('not-found', `unknown zone '${id}'`);
    this.checkVisible(actor, communeOfZone(t, z), `zone '${id}'`);
    const zone = t.topology.zones[z];
    const luminaireStates: LuminaireView[] = [];
    for (let i = zone.start; i < zone.end; i++) luminaireStates.push(luminaireView(t, i));
    return { ...zoneView(t, this.deps.config, this.clock.now(), z), luminaireStates };
  }

  luminaire(id: string, actor: Actor): LuminaireView {
    const t = this.running();
    const i = t.topology.indexOf(id);
    if (i === undefined) throw new LightingError('not-found', `unknown luminaire '${id}'`);
    this.checkVisible(actor, t.topology.communes[t.topology.communeOf[i]], `luminaire '${id}'`);
    return luminaireView(t, i);
  }

  // ======== programs and calendars: controller/lighting/runtime/definitions.ts ========

  programs(): ProgramEntry[] {
    return this.definitions.programs();
  }

  program(id: string): ProgramEntry {
    return this.definitions.program(id);
  }

  putProgram(body: unknown, actor: Actor): Promise<ProgramEntry> {
    return this.definitions.putProgram(body, actor);
  }

  deleteProgram(id: string, actor: Actor): Promise<void> {
    return this.definitions.deleteProgram(id, actor);
  }

  calendars(): CalendarEntry[] {
    return this.definitions.calendars();
  }

  calendar(id: string): CalendarEntry {
    return this.definitions.calendar(id);
  }

  putCalendar(body: unknown, actor: Actor): Promise<CalendarEntry> {
    return this.definitions.putCalendar(body, actor);
  }

  deleteCalendar(id: string, actor: Actor): Promise<void> {
    return this.definitions.deleteCalendar(id, actor);
  }

  assignCalendar(zoneId: string, calendarId: string, actor: Actor): Promise<ZoneView> {
    return this.definitions.assignCalendar(zoneId, calendarId, actor);
  }

  /** New schedules for the zones, applied now and dispatched (within the call: well under a second). */
  private rescheduleZones(zones: readonly number[]): void {
    const now = this.clock.now();
    for (const z of zones) {
      this.rebuildSchedule(z);
      this.applySchedule(z, now);
    }
    this.dispatchChanges();
  }

  private rebuildSchedule(z: number): void {
    const t = this.parts!;
    const zone = t.topology.zones[z];
    const calendar = this.definitions.calendarsById.get(t.zoneCalendars[z])?.calendar;
    if (!calendar) {
      this.logger.error(`lighting: zone '${zone.id}': unknown calendar '${t.zoneCalendars[z]}'; no schedule`);
      t.schedules[z] = undefined;
      return;
    }
    const programs = new Map([...this.definitions.programsById].map(([id, p]) => [id, p.program]));
    t.schedules[z] = ZoneSchedule.create({
      zone: zone.id,
      calendar,
      programs,
      location: zone.location ?? this.deps.config.site.location,
      timeZone: zone.timeZone ?? this.deps.config.site.timezone,
    });
    for (const point of t.schedules[z].luxPoints()) {
      const list = t.luxZones.get(point) ?? [];
      if (!list.includes(z)) list.push(z);
      t.luxZones.set(point, list);
    }
  }

  private applySchedule(z: number, now: number): void {
    const t = this.parts!;
    const schedule = t.schedules[z];
    if (t.zoneTimers[z]) this.clock.clearTimeout(t.zoneTimers[z]);
    t.zoneTimers[z] = undefined;
    if (!schedule) {
      t.arbiter.clearSchedule(z, now);
      return;
    }
    let next: number;
    try {
      const result = t.arbiter.applySchedule(z, schedule.at(now), now);
      if (!result.ok) this.logger.error(`lighting: ${result.error}`);
      next = schedule.nextDeadlineAfter(now);
    } catch (error) {
      this.logger.error(
        `lighting: zone '${t.topology.zones[z].id}': schedule failed: ${(error as Error).message}`,
      );
      next = now + HOUR_MS;
    }
    if (!Number.isFinite(next)) next = now + HOUR_MS;
    t.zoneTimers[z] = this.clock.setTimeout(
      () => {
        t.zoneTimers[z] = undefined;
        if (this.state !== 'running') return;
        this.applySchedule(z, this.clock.now());
        this.dispatchChanges();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, next - now)),
    );
  }

  // ======== previews ========

  previewProgram(request: PreviewRequest, actor: Actor): ProgramPreview {
    const t = this.running(); // unavailable outranks invalid: a stopped service says so first
    const issues: ValidationIssue[] = [];
    const z = this.zoneOf(request?.zone, actor, issues);
    const night = typeof request?.night === 'string' ? parseCivilDate(request.night) : undefined;
    if (!night)
      issues.push({ path: ['night'], message: `must be a date 'YYYY-MM-DD' (is ${show(request?.night)})` });
    const program = this.programOf(request?.program, issues);
    if (issues.length > 0 || z === undefined || !night || !program) throw invalid('preview', issues);
    return previewNight(zoneContext(t, this.deps.config, z), program, night);
  }

  yearCost(request: YearCostRequest, actor: Actor): YearCost {
    this.running(); // unavailable outranks invalid: a stopped service says so first
    const issues: ValidationIssue[] = [];
    const z = this.zoneOf(request?.zone, actor, issues);
    const program = this.programOf(request?.program, issues);
    let from: CivilDate | undefined;
    if (request?.from !== undefined) {
      from = typeof request.from === 'string' ? parseCivilDate(request.from) : undefined;
      if (!from)
        issues.push({ path: ['from'], message: `must be a date 'YYYY-MM-DD' (is ${show(request.from)})` });
    }
    const nights = request?.nights ?? 365;
    if (!Number.isInteger(nights) || nights < 1 || nights > 731)
      issues.push({ path: ['nights'], message: `must be a whole number from 1 to 731 (is ${show(nights)})` });
    if (issues.length > 0 || z === undefined || !program) throw invalid('year cost', issues);
    const t = this.parts!;
    const context = zoneContext(t, this.deps.config, z);
    const calendar = this.definitions.calendarsById.get(t.zoneCalendars[z])!.calendar;
    return yearCost({
      zone: context,
      proposed: program,
      calendar,
      programs: new Map([...this.definitions.programsById].map(([id, p]) => [id, p.program])),
      from: from ?? nightOf(timeZone(context.timeZone), this.clock.now()),
      nights,
      tariffs: this.deps.config.tariffs,
      emissionFactors: this.deps.config.emission_factors,
    });
  }

  private zoneOf(id: unknown, actor: Actor, issues: ValidationIssue[]): number | undefined {
    const t = this.parts!;
    const z = typeof id === 'string' ? t.topology.zoneIndex(id) : undefined;
    if (z === undefined) {
      issues.push({ path: ['zone'], message: `unknown zone ${show(id)}` });
      return undefined;
    }
    this.checkVisible(actor, communeOfZone(t, z), `zone '${String(id)}'`);
    return z;
  }

  private programOf(source: ProgramSource | undefined, issues: ValidationIssue[]): ProgramConfig | undefined {
    if (typeof source === 'string') {
      const found = this.definitions.programsById.get(source)?.program;
      if (!found)
        issues.push({
          path: ['program'],
          message: `unknown program '${source}' (known: ${[...this.definitions.programsById.keys()].join(', ')})`,
        });
      return found;
    }
    if (typeof source === 'object' && source !== null && 'program' in source) {
      const checked = validateProgram(source.program, { luxPoints: this.definitions.luxPoints() });
      if (checked.ok) return checked.value;
      for (const issue of checked.issues)
        issues.push({ path: ['program', 'program', ...issue.path], message: issue.message });
      return undefined;
    }
    issues.push({ path: ['program'], message: 'must be a program id or {program: {...}}' });
    return undefined;
  }

  // ======== events ========

  subscribe(actor: Actor, listener: (change: LightingChange) => void): () => void {
    return this.feed.subscribe(actor, listener);
  }

  stats(): LightingStats {
    const t = this.parts;
    const dispatch = t?.dispatcher.stats() ?? {
      cycles: 0,
      confirmed: 0,
      retries: 0,
      failed: 0,
      reconciled: 0,
    };
    return {
      luminaires: t?.topology.count ?? 0,
      devices: t?.bindings.length ?? 0,
      presence: { ...this.presenceCounts, malformed: this.malformed.counts.total },
      dispatch,
    };
  }

  private commandChanged(
    meta: CommandInForce,
    change: 'created' | 'replaced' | 'cleared' | 'released' | 'expired',
    actor: string,
    via: string,
    from: string,
    at: number,
  ): void {
    this.feed.publish({ type: 'command', at, change, record: commandRecord(meta, at), actor }, meta.communes);
    this.deps.bus.emit(
      'lightingCommandChanged',
      commandChangedEvent(meta, change, { actor, via, from }, at, this.parts!.topology.communes.length),
    );
  }

  private progressed(tracker: CommandTracker, progress: CommandProgress): void {
    const meta = this.commandsById.get(tracker.id);
    const communes = meta?.communes ?? this.parts!.topology.communesOf(tracker.target);
    const at = this.clock.now();
    this.feed.publish({ type: 'progress', at, progress }, communes);
    if (!progress.done || !meta || tracker.reported) return;
    tracker.reported = true;
    this.deps.bus.emit('lightingCommandChanged', commandSettledEvent(meta, progress, communes, at));
  }

  private definitionChanged(
    type: 'program' | 'calendar' | 'zone-calendar',
    id: string,
    change: 'put' | 'deleted',
    actor: Actor,
    message: string,
    zones: readonly number[],
  ): void {
    const at = this.clock.now();
    const t = this.parts!;
    const communes = zones.length > 0 ? [...new Set(zones.map((z) => communeOfZone(t, z)))] : ['*'];
    this.feed.publish(
      { type, at, change, id, actor: actor.user },
      communes.includes('*') ? t.topology.communes : communes,
    );
    this.deps.bus.emit(
      'lightingCommandChanged',
      definitionChangedEvent(type, id, change, actor, message, communes, at),
    );
  }

  // ======== decisions → dispatch ========

  private dispatchChanges(): void {
    const t = this.parts;
    if (!t || this.state !== 'running') return;
    const changes = t.arbiter.takeChanges();
    if (changes.length === 0) return;
    t.dispatcher.dispatch(changes);
    this.feed.levelsChanged(changes);
  }

  private armArbiterTimer(): void {
    const t = this.parts!;
    if (this.arbiterTimer) this.clock.clearTimeout(this.arbiterTimer);
    this.arbiterTimer = undefined;
    const next = t.arbiter.nextExpiry();
    if (next === undefined || this.state === 'stopped') return;
    const now = this.clock.now();
    this.arbiterTimer = this.clock.setTimeout(
      this.onArbiterTimer,
      Math.min(MAX_TIMER_MS, Math.max(0, next - now)),
    );
  }

  private readonly onArbiterTimer = (): void => {
    this.arbiterTimer = undefined;
    const t = this.parts;
    if (!t || this.state !== 'running') return;
    const now = this.clock.now();
    t.arbiter.decide(now);
    const live = new Set(
      [...t.arbiter.records('emergency'), ...t.arbiter.records('override')].map((r) => r.id),
    );
    let expired = 0;
    for (const meta of [...this.commandsById.values()]) {
      if (live.has(meta.id)) continue;
      expired++;
      this.commandsById.delete(meta.id);
      t.board.end(meta.id);
      this.logger.info(
        `lighting: ${meta.slot === 'emergency' ? 'emergency relight' : 'override'} '${meta.id}' expired`,
      );
      this.commandChanged(meta, 'expired', 'nocturne', 'expiry', 'nocturne', now);
    }
    this.dispatchChanges();
    this.armArbiterTimer();
    if (expired > 0)
      this.store!.save().catch((error: unknown) => {
        this.logger.error(`lighting: state file not written after expiry: ${(error as Error).message}`);
        this.scheduleSaveRetry();
      });
  };

  private readBack(i: number, level: number, at: number): void {
    const t = this.parts!;
    t.accounting.levelInEffect(i, level, at);
    if (t.board.hasActive)
      t.board.confirm(
        i,
        level,
        t.dispatcher.toleranceOf(i),
        t.arbiter.priorityOf(i) ?? 0,
        t.arbiter.levelOf(i),
      );
    this.feed.levelChanged(i);
  }

  private dispatchFailed(binding: DeviceBinding, luminaires: number[], error: string, at: number): void {
    const t = this.parts!;
    if (t.board.hasActive) for (const i of luminaires) t.board.fail(i, binding.deviceId, error);
    this.deps.bus.emit('lightingDispatchFailed', {
      at,
      deviceId: binding.deviceId,
      commune: binding.commune,
      luminaires: luminaires.map((i) => t.topology.ids[i]),
      error,
    });
  }

  private reported(binding: DeviceBinding, reports: DeviceReports, at: number): void {
    const t = this.parts!;
    t.accounting.advance(at);
    for (const change of t.accounting.reported(binding, reports, at))
      this.deps.bus.emit('luminaireFaultChanged', change);
    if (this.deps.bus.listenerCount('lightingReported') === 0) return;
    const luminaires = Array.from(binding.luminaires, (i) => t.accounting.report(i, at));
    this.deps.bus.emit('lightingReported', { at, kind: 'snapshot', luminaires });
  }

  private darkHours(z: number, from: number, to: number): number {
    const schedule = this.parts!.schedules[z];
    if (!schedule || !(to > from)) return 0;
    // Called for every zone at every device report: within one night it is arithmetic on the night's
    // bounds, kept per zone; only crossing into another night looks the plans up (a time zone lookup).
    const night = this.darkNights[z];
    if (night?.schedule === schedule && from >= night.start && to <= night.end)
      return darkOverlap(night, from, to);
    let hours = 0;
    try {
      const last = epochDay(schedule.nightOf(to));
      for (let day = epochDay(schedule.nightOf(from)); day <= last; day++) {
        const plan = schedule.planFor(fromEpochDay(day));
        hours += darkOverlap(plan, from, to);
        if (day === last)
          this.darkNights[z] = {
            schedule,
            start: plan.start,
            end: plan.end,
            dusk: plan.dusk,
            dawn: plan.dawn,
          };
      }
    } catch (error) {
      this.logger.debug(() => `lighting: no baseline for zone #${z}: ${(error as Error).message}`);
      return 0;
    }
    return hours;
  }

  // ======== MQTT: presence, relight requests, zone state ========

  private startPresence(config: Config, t: LightingParts): void {
    const sensors = new Map(config.presence_sensors.map((s) => [s.id, s]));
    t.groups = t.topology.groups.map((g, k) => {
      const sensor = sensors.get(g.sensor)!;
      const group = new PresenceGroup(
        presenceOptions(sensor, k),
        this.clock,
        (output) => {
          if (this.state !== 'running') return;
          const result = t.arbiter.applyPresence(output);
          if (!result.ok) this.logger.error(`lighting: ${result.error}`);
          this.dispatchChanges();
        },
        this.logger.child(`presence:${g.sensor}`),
      );
      const zone = t.topology.zones[g.zone];
      t.sensorsByTopic.set(sensor.topic, {
        group,
        path: compileClassPath(sensor.class_path),
        sensor: sensor.id,
        zone: zone.id,
        commune: t.topology.communes[zone.commune],
        levels: sensor.levels,
      });
      return group;
    });
    for (const group of t.groups) group.start();
  }

  private async listenToMqtt(t: LightingParts): Promise<void> {
    const { mqtt } = this.deps;
    mqtt.on('connected', this.onMqttConnected);
    const subscriptions: Promise<() => Promise<void>>[] = [];
    for (const topic of t.sensorsByTopic.keys())
      subscriptions.push(mqtt.subscribe(topic, 0, this.onPresence));
    const settled = await Promise.allSettled(subscriptions);
    for (const result of settled) {
      if (result.status === 'fulfilled') this.unsubscribers.push(result.value);
      else this.logger.error(`lighting: MQTT subscription failed: ${(result.reason as Error).message}`);
    }
  }

  private readonly onPresence = (topic: string, payload: Buffer): void => {
    const t = this.parts;
    if (!t || this.state !== 'running') return;
    this.presenceCounts.received++;
    const input = t.sensorsByTopic.get(topic);
    if (!input) {
      this.malformed.record('unknown-topic', topic, 'no presence sensor has this topic');
      return;
    }
    const detection = readDetection(payload, input.path);
    if (!detection.ok) {
      this.malformed.record(detection.problem, topic, `sensor '${input.sensor}': ${detection.detail}`);
      // Still a sign of life from the sensor (a status uplink), which keeps it out of the silent fault.
      if (detection.problem === 'no-class') input.group.heard();
      return;
    }
    const result = input.group.detect(detection.class);
    if (result === 'accepted') this.presenceCounts.accepted++;
    else if (result === 'debounced') this.presenceCounts.debounced++;
    this.deps.bus.emit('presenceDetected', {
      at: this.clock.now(),
      sensor: input.sensor,
      zone: input.zone,
      commune: input.commune,
      class: detection.class,
      level: levelForClass(input.levels, detection.class),
      result,
    });
  };

  private readonly onMqttConnected = (): void => {
    if (this.state === 'running') this.zoneStates?.connectedToBroker();
  };

  /** The emergency relight in force on part of zone z, if any. */
  private emergencyIn(z: number): string | undefined {
    const t = this.parts!;
    const zone = t.topology.zones[z];
    for (const meta of this.commandsById.values()) {
      if (meta.slot !== 'emergency') continue;
      for (let i = zone.start; i < zone.end; i++) if (t.topology.covers(meta.resolved, i)) return meta.id;
    }
    return undefined;
  }

  // ======== bus: devices and light sensors ========

  private listenToBus(): void {
    const { bus } = this.deps;
    bus.on('deviceHealthChanged', this, ({ deviceId, health }) => {
      const before = this.deviceHealth.get(deviceId);
      if (before === undefined) return;
      this.deviceHealth.set(deviceId, health);
      if (health === 'up' && before !== 'up') this.parts?.dispatcher.resyncDevice(deviceId);
    });
    bus.on('deviceReconnected', this, ({ deviceId }) => {
      if (this.deviceHealth.has(deviceId)) this.parts?.dispatcher.resyncDevice(deviceId);
    });
    bus.on('samplesReceived', this, ({ samples }) => this.observeLux(samples));
  }

  /** Light-sensor readings (sample key 'building/point') for the zones whose programs follow them. */
  private observeLux(samples: readonly Sample[]): void {
    const t = this.parts;
    if (!t || t.luxZones.size === 0) return;
    let touched = false;
    for (const sample of samples) {
      const zones = t.luxZones.get(sample.key);
      if (!zones || sample.quality !== 'good' || typeof sample.value !== 'number') continue;
      for (const z of zones) {
        t.schedules[z]?.observeLux(sample.key, sample.time, sample.value);
        this.applySchedule(z, this.clock.now());
        touched = true;
      }
    }
    if (touched) this.dispatchChanges();
  }

  // ======== helpers ========

  private running(): LightingParts {
    if (this.state !== 'running' || !this.parts)
      throw new LightingError(
        'unavailable',
        `the lighting service is ${this.state === 'stopped' ? 'stopped' : 'not started yet'}`,
      );
    return this.parts;
  }

  private resolve(raw: unknown, issues: ValidationIssue[]): { value: Target; spec: TargetSpec } | undefined {
    const problems: string[] = [];
    const spec = readTarget(raw, problems);
    for (const message of problems) issues.push({ path: ['target'], message });
    if (!spec) return undefined;
    const resolved = this.running().topology.resolveTarget(spec);
    if (!resolved.ok) {
      issues.push({ path: ['target', Object.keys(spec)[0]], message: resolved.error });
      return undefined;
    }
    return { value: resolved.value, spec };
  }

  private checkScope(actor: Actor, communes: readonly string[], what: string): void {
    const outside = outsideOf(actor.communes, communes);
    if (outside.length > 0)
      throw new LightingError(
        'forbidden',
        `${actor.user} may not ${what} in commune(s) ${outside.map((c) => `'${c}'`).join(', ')} (allowed: ${actor.communes.map((c) => `'${c}'`).join(', ') || 'none'})`,
      );
  }

  private checkVisible(actor: Actor, commune: string, what: string): void {
    if (!coversAny(actor.communes, [commune]))
      throw new LightingError(
        'forbidden',
        `${what} is in commune '${commune}', outside ${actor.user}'s communes`,
      );
  }
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c) => b.includes(c));
}

/** Hours of darkness (dusk to dawn) of one night between two instants. */
function darkOverlap(
  night: { start: number; end: number; dusk: number; dawn: number },
  from: number,
  to: number,
): number {
  const a = Math.max(from, night.start, night.dusk);
  const b = Math.min(to, night.end, night.dawn);
  return b > a ? (b - a) / HOUR_MS : 0;
}
