import type { Config } from '../../../config/schema';
import type { Driver, Health } from '../../../drivers/driver';
import type { Messaging } from '../../../drivers/messaging';
import type { Bus } from '../../bus';
import type { Clock, Timer } from '../../../core/clock';
import type { Component } from '../../../core/lifecycle';
import type { Logger } from '../../../core/logger';
import { Arbiter } from '../arbiter';
import { LightingTopology } from '../topology';
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
  type LuminaireLevelStatus,
  type LuminaireView,
  type OverrideRequest,
  type PreviewRequest,
  type ProgramEntry,
  type ProgramPreview,
  type RelightRequest,
  type WaitOptions,
  type YearCost,
  type YearCostRequest,
  type CalendarPreview,
  type CalendarPreviewRequest,
  type ZoneDetail,
  type ZoneView,
} from './lightingService';
import type { Actor } from '../../scope';
import { buildBindings, type DeviceBinding } from './bindings';
import { ChangeFeed } from './changeFeed';
import { definitionChangedEvent } from './commandEvents';
import { LightingDefinitions } from './definitions';
import type { LightingParts } from './parts';
import { communeOfZone, visibleLuminaire, visibleZones, zoneDetail, zoneLevels } from './views';
import type { DeviceReports } from './deviceReports';
import { Dispatcher, type DispatcherOptions } from './dispatcher';
import { ProgressBoard } from './progress';
import { ReportPoller, type ReportPollerOptions } from './reportPoller';
import { LightingStore, STATE_VERSION, type PersistedState } from './store';
import { lightingTopics } from './topics';
import { ZoneStatePublisher } from './zoneState';
import { LightingCommands } from './commands';
import { ZoneSchedules } from './schedules';
import { PresenceSensors } from './presenceSensors';
import { PreviewRequests } from './previewRequests';

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
  /** Set when instances share the shard (controller/cluster/member.ts); absent in single-machine mode. */
  cluster?: {
    /** Asked before every device write batch. */
    mayCommand(): boolean;
    /** Writes the state where the standby reads it, before a command is acknowledged. */
    replicate(text: string): Promise<void>;
  };
}

const MAX_TIMER_MS = 2_147_000_000;

/**
 * The lighting runtime: the pure decision modules (docs/lighting.md) wired to the devices, MQTT, the
 * state file and the API. docs/lighting-runtime.md describes the order of start, dispatch, read-back,
 * reconciliation, persistence and failure behaviour. A facade: commands (commands.ts), programs and
 * calendars (definitions.ts), schedules (schedules.ts), presence (presenceSensors.ts), previews
 * (previewRequests.ts) and views (views.ts) each have their own module; this one starts, stops and wires them.
 */
export class LightingRuntime implements LightingService {
  private readonly options: ResolvedLightingRuntimeOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private parts?: LightingParts;
  private store?: LightingStore;
  private readonly deviceHealth = new Map<string, Health>();
  private readonly feed: ChangeFeed;
  private readonly definitions: LightingDefinitions;
  private readonly commandSlots: LightingCommands;
  private readonly schedules: ZoneSchedules;
  private readonly presence: PresenceSensors;
  private readonly previews: PreviewRequests;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private stopping?: Promise<void>;
  private arbiterTimer?: Timer;
  private zoneStates?: ZoneStatePublisher;

  constructor(
    private readonly deps: LightingRuntimeDeps,
    options: LightingRuntimeOptions = {},
  ) {
    this.options = coerceLightingRuntimeOptions(options);
    this.logger = deps.logger;
    this.clock = deps.clock;
    const { clock, logger, bus } = deps;
    const running = (): LightingParts => this.running();
    const isRunning = (): boolean => this.state === 'running';
    const dispatchChanges = (): void => this.dispatchChanges();
    this.feed = new ChangeFeed({ bus, clock, logger, batchMs: this.options.batchMs });
    this.commandSlots = new LightingCommands({
      clock,
      logger,
      bus,
      feed: this.feed,
      saveRetryMs: this.options.saveRetryMs,
      host: {
        running,
        isRunning,
        dispatchChanges,
        armArbiterTimer: () => this.armArbiterTimer(),
        save: () => this.store!.save(),
      },
    });
    this.definitions = new LightingDefinitions(deps.config, clock, logger, {
      running,
      rescheduleZones: (zones) => this.schedules.reschedule(zones),
      definitionChanged: (type, id, change, actor, message, zones) =>
        this.definitionChanged(type, id, change, actor, message, zones),
      persist: (what) => this.commandSlots.persist(what),
    });
    this.schedules = new ZoneSchedules(deps.config, clock, logger, this.definitions, {
      parts: () => this.parts,
      isRunning,
      dispatchChanges,
    });
    this.presence = new PresenceSensors({
      clock,
      logger,
      bus,
      mqtt: deps.mqtt,
      malformedLogMs: this.options.malformedLogMs,
      isRunning,
      dispatchChanges,
    });
    this.previews = new PreviewRequests(deps.config, clock, this.definitions, running);
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

    const cluster = this.deps.cluster;
    this.store = new LightingStore(
      this.deps.stateDir,
      () => this.snapshot(),
      cluster && ((text) => cluster.replicate(text)),
    );
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
      (tracker, progress) => this.commandSlots.progressed(this.parts!, tracker, progress),
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
        mayCommand: cluster && (() => cluster.mayCommand()),
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
      darkHours: (zone, from, to) => this.schedules.darkHours(zone, from, to),
      sameLevel: (i, level, other) => dispatcher.matcherOf(i)(level, other),
      commanded: (i) => dispatcher.sentLevelOf(i),
    });
    const parts: LightingParts = {
      topology,
      arbiter,
      bindings,
      schedules: [],
      zoneTimers: topology.zones.map(() => undefined),
      zoneCalendars,
      luxZones: new Map(),
      dispatcher,
      reportPoller,
      board,
      accounting,
    };
    this.parts = parts;
    this.zoneStates = new ZoneStatePublisher(
      {
        topology,
        arbiter,
        topics: lightingTopics(this.deps.mqtt.baseTopic),
        mqtt: this.deps.mqtt,
        clock,
        logger,
        emergencyIn: (z) => this.commandSlots.emergencyIn(parts, z),
      },
      this.options.zoneStateMs,
    );
    this.feed.start(parts, this.zoneStates);

    const now = clock.now();
    this.commandSlots.restore(loaded.state.commands, parts, now);
    for (let z = 0; z < topology.zones.length; z++) this.schedules.rebuild(z);
    for (let z = 0; z < topology.zones.length; z++) this.schedules.apply(z, now);
    this.commandSlots.trackAll(parts, now);
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
    this.presence.start(config, parts);
    this.deps.mqtt.on('connected', this.onMqttConnected);
    await this.presence.subscribe();
    logger.info(
      `lighting: ${topology.count} luminaires in ${topology.zones.length} zones on ${bindings.length} segment controllers; ${this.commandSlots.size} emergency relight(s)/override(s) restored`,
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
      await this.presence.unsubscribe();
    });
    await step('bus', () => this.deps.bus.removeListeners(this));
    const t = this.parts;
    await step('presence', () => this.presence.stop());
    await step('timers', () => {
      if (this.arbiterTimer) this.clock.clearTimeout(this.arbiterTimer);
      this.arbiterTimer = undefined;
      this.commandSlots.stop();
      this.feed.stop();
      this.zoneStates?.stop();
      this.schedules.stop();
      t?.board.stop();
    });
    await step('reports', () => t?.reportPoller.stop());
    await step('dispatch', () => t?.dispatcher.stop());
    await step('state file', () => this.store?.flushed());
  }

  // ======== commands: commands.ts ========

  relight(request: RelightRequest, actor: Actor): Promise<CommandAccepted> {
    return this.commandSlots.relight(request, actor);
  }

  clearRelight(id: string, actor: Actor): Promise<CommandRecord> {
    return this.commandSlots.clearRelight(id, actor);
  }

  override(request: OverrideRequest, actor: Actor): Promise<CommandAccepted> {
    return this.commandSlots.override(request, actor);
  }

  releaseOverride(id: string, actor: Actor): Promise<CommandRecord> {
    return this.commandSlots.releaseOverride(id, actor);
  }

  commands(actor: Actor, slot?: 'emergency' | 'override'): CommandRecord[] {
    return this.commandSlots.list(actor, slot);
  }

  progress(id: string): CommandProgress | undefined {
    return this.commandSlots.progress(id);
  }

  waitForConfirmation(id: string, options: WaitOptions = {}): Promise<CommandProgress> {
    return this.commandSlots.waitForConfirmation(id, options);
  }

  private snapshot(): PersistedState {
    const zoneCalendars: Record<string, string> = {};
    const t = this.parts;
    if (t) {
      t.topology.zones.forEach((zone, z) => {
        if (t.zoneCalendars[z] !== zone.calendar) zoneCalendars[zone.id] = t.zoneCalendars[z];
      });
    }
    return {
      version: STATE_VERSION,
      commands: this.commandSlots.persisted(),
      ...this.definitions.persisted(),
      zoneCalendars,
    };
  }

  // ======== live state: views.ts ========

  zones(actor: Actor): ZoneView[] {
    return visibleZones(this.running(), this.deps.config, this.clock.now(), actor);
  }

  zone(id: string, actor: Actor): ZoneDetail {
    return zoneDetail(this.running(), this.deps.config, this.clock.now(), id, actor);
  }

  luminaire(id: string, actor: Actor): LuminaireView {
    return visibleLuminaire(this.running(), id, actor);
  }

  zoneLevels(id: string, actor: Actor): LuminaireLevelStatus[] {
    return zoneLevels(this.running(), id, actor);
  }

  // ======== programs and calendars: definitions.ts; previews: previewRequests.ts ========

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

  previewProgram(request: PreviewRequest, actor: Actor): ProgramPreview {
    return this.previews.previewProgram(request, actor);
  }

  yearCost(request: YearCostRequest, actor: Actor): YearCost {
    return this.previews.yearCost(request, actor);
  }

  previewCalendar(request: CalendarPreviewRequest, actor: Actor): CalendarPreview {
    return this.previews.previewCalendar(request, actor);
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
      presence: { ...this.presence.counts, malformed: this.presence.malformedCount },
      dispatch,
    };
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
    this.commandSlots.expire(t, now);
    this.dispatchChanges();
    this.armArbiterTimer();
  };

  private readBack(i: number, level: number, at: number): void {
    const t = this.parts!;
    t.accounting.levelInEffect(i, level, at);
    if (t.board.hasActive)
      t.board.confirm(
        i,
        level,
        t.dispatcher.matcherOf(i),
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
    bus.on('samplesReceived', this, ({ samples }) => this.schedules.observeLux(samples));
  }

  private readonly onMqttConnected = (): void => {
    if (this.state === 'running') this.zoneStates?.connectedToBroker();
  };

  private running(): LightingParts {
    if (this.state !== 'running' || !this.parts)
      throw new LightingError(
        'unavailable',
        `the lighting service is ${this.state === 'stopped' ? 'stopped' : 'not started yet'}`,
      );
    return this.parts;
  }
}
