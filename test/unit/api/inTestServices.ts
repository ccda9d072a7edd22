import {
  AlertError,
  type AlertService,
  type AlertView,
  type BuildingView,
  type EnergyService,
} from '../../../controller/telemetry/services';
import {
  LightingError,
  type CommandProgress,
  type CommandRecord,
  type LightingChange,
  type LightingService,
  type ZoneView,
} from '../../../controller/lighting/runtime/lightingService';
import type { Actor } from '../../../controller/scope';
import type { TargetSpec } from '../../../controller/lighting/topology';
import type { ApiServices } from '../../../controller/http/routes';
import type { ReportService, UsageService } from '../../../controller/evaluation/services';
import { MapLayout } from '../../../controller/http/mapLayout';
import { OfficialsBoard } from '../../../controller/http/officials';
import { systemClock } from '../../../core/clock';

/**
 * Small in-test services for the HTTP layer's unit tests only (authentication, validation, error
 * mapping, audit, events): two communes with one zone each, scope checks as the real services do
 * them. The role × endpoint × commune matrix runs against the real service (test/integration/api).
 */

export const ZONES: Record<string, { commune: string; luminaires: number }> = {
  'metz-a': { commune: 'metz', luminaires: 3 },
  'montigny-a': { commune: 'montigny-les-metz', luminaires: 2 },
};

const inScope = (actor: Actor, commune: string): boolean =>
  actor.communes.includes('*') || actor.communes.includes(commune);

export class InTestServices implements ApiServices {
  readonly calls: { method: string; args: unknown[] }[] = [];
  /** The next lighting call fails with this, once. */
  failNext?: Error;
  healthStatus: 'up' | 'degraded' | 'down' = 'up';
  /** Unwired unless a test sets them (a real UsageLog, for instance). */
  usage?: UsageService;
  reports?: ReportService;
  private readonly records = new Map<string, CommandRecord>();
  private readonly listeners = new Set<(change: LightingChange) => void>();
  private readonly alertListeners = new Set<(alert: AlertView) => void>();
  private seq = 0;
  readonly alertList: AlertView[] = [
    alert('a-1', 'metz', 'raised'),
    alert('a-2', 'montigny-les-metz', 'raised'),
    alert('a-3', 'metz', 'cleared'),
  ];

  /** Nothing placed: the map's own tests run against the real service. */
  readonly map = new MapLayout({ zones: [], buildings: [], sensors: [], users: [], http: {} });
  /** Over these services; its scope and figures are tested against the real service. */
  readonly officials = new OfficialsBoard(
    {
      communes: [
        { id: 'metz', name: 'Metz' },
        { id: 'montigny-les-metz', name: 'Montigny-lès-Metz' },
      ],
      tariffs: [],
      site: { name: 'test', timezone: 'Europe/Paris', location: { lat: 49.1, lon: 6.2 } },
    },
    this,
    systemClock,
  );

  readonly lighting: LightingService = {
    relight: (request, actor) => this.command('emergency', request, actor),
    override: (request, actor) => this.command('override', request, actor),
    clearRelight: (id, actor) => this.end(id, 'emergency', actor),
    releaseOverride: (id, actor) => this.end(id, 'override', actor),
    commands: (actor, slot) =>
      [...this.records.values()].filter(
        (r) => (slot === undefined || r.slot === slot) && r.communes.some((c) => inScope(actor, c)),
      ),
    progress: (id) => (this.records.has(id) ? progressOf(this.records.get(id)!) : undefined),
    waitForConfirmation: (id) => {
      const record = this.records.get(id);
      if (!record) return Promise.reject(new LightingError('not-found', `no command '${id}'`));
      return Promise.resolve({ ...progressOf(record), confirmed: record.luminaires, pending: 0, done: true });
    },
    zones: (actor) =>
      Object.keys(ZONES)
        .filter((id) => inScope(actor, ZONES[id].commune))
        .map(zoneView),
    zone: (id, actor) => ({ ...zoneView(this.zoneIn(id, actor)), luminaireStates: [] }),
    zoneLevels: (id, actor) => {
      this.zoneIn(id, actor);
      return [];
    },
    luminaire: (id) => {
      throw new LightingError('not-found', `no luminaire '${id}'`);
    },
    programs: () => [{ program: PROGRAM, origin: 'config', usedBy: ['cal'] }],
    program: (id) => {
      if (id !== PROGRAM.id)
        throw new LightingError('not-found', `no program '${id}' (known: ${PROGRAM.id})`);
      return { program: PROGRAM, origin: 'config', usedBy: ['cal'] };
    },
    putProgram: (program) => {
      this.calls.push({ method: 'putProgram', args: [program] });
      return this.maybeFail({ program: program as typeof PROGRAM, origin: 'runtime', usedBy: [] });
    },
    deleteProgram: (id) => {
      if (id === PROGRAM.id)
        return Promise.reject(new LightingError('conflict', `program '${id}' is used by calendar 'cal'`));
      return Promise.reject(new LightingError('not-found', `no program '${id}'`));
    },
    calendars: () => [],
    calendar: (id) => {
      throw new LightingError('not-found', `no calendar '${id}'`);
    },
    putCalendar: () => Promise.reject(new LightingError('unavailable', 'state could not be persisted')),
    deleteCalendar: (id) => Promise.reject(new LightingError('not-found', `no calendar '${id}'`)),
    assignCalendar: (zone, _calendar, actor) => Promise.resolve(zoneView(this.zoneIn(zone, actor))),
    previewProgram: (request, actor) => {
      this.calls.push({ method: 'previewProgram', args: [request] });
      this.zoneIn(request.zone, actor);
      throw new LightingError('invalid', 'the program has problems', [
        { path: ['steps', 0, 'at'], message: "must be 'HH:MM'" },
      ]);
    },
    yearCost: (request, actor) => {
      this.calls.push({ method: 'yearCost', args: [request] });
      this.zoneIn(request.zone, actor);
      throw new LightingError('unavailable', 'not started');
    },
    previewCalendar: (request, actor) => {
      this.calls.push({ method: 'previewCalendar', args: [request] });
      this.zoneIn(request.zone, actor);
      throw new LightingError('unavailable', 'not started');
    },
    subscribe: (_actor, listener) => {
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    },
    stats: () => ({
      luminaires: 5,
      devices: 2,
      presence: { received: 10, malformed: 1, accepted: 8, debounced: 1 },
      dispatch: { cycles: 3, confirmed: 5, retries: 0, failed: 0, reconciled: 0 },
    }),
  };

  readonly energy: EnergyService = {
    buildings: (actor) =>
      [building('b-metz', 'metz'), building('b-montigny', 'montigny-les-metz')].filter((b) =>
        inScope(actor, b.commune),
      ),
    building: (id, actor) => {
      const found = [building('b-metz', 'metz'), building('b-montigny', 'montigny-les-metz')].find(
        (b) => b.id === id,
      );
      if (!found) throw new AlertError('not-found', `no building '${id}'`);
      if (!inScope(actor, found.commune))
        throw new AlertError('forbidden', `building '${id}' is in ${found.commune}`);
      return found;
    },
    history: (id, point, actor) => {
      const found = this.energy.building(id, actor);
      return {
        building: id,
        commune: found.commune,
        point: {
          id: point,
          quantity: 'temperature',
          unit: '°C',
          value: undefined,
          at: undefined,
          stale: false,
        },
        bucketMs: 300_000,
        buckets: [],
      };
    },
  };

  readonly alerts: AlertService = {
    list: (actor, options) =>
      this.alertList.filter(
        (a) => inScope(actor, a.commune) && (options?.includeCleared || a.state !== 'cleared'),
      ),
    acknowledge: (id, actor) => {
      const found = this.alertList.find((a) => a.id === id);
      if (!found) return Promise.reject(new AlertError('not-found', `no alert '${id}'`));
      if (!inScope(actor, found.commune))
        return Promise.reject(new AlertError('forbidden', `alert '${id}' is in ${found.commune}`));
      if (found.state === 'cleared')
        return Promise.reject(new AlertError('conflict', `alert '${id}' is already cleared`));
      found.state = 'acknowledged';
      found.acknowledgedBy = actor.user;
      return Promise.resolve(found);
    },
    subscribe: (_actor, listener) => {
      this.alertListeners.add(listener);
      return () => this.alertListeners.delete(listener);
    },
  };

  health(): ReturnType<ApiServices['health']> {
    return {
      status: this.healthStatus,
      degraded: this.healthStatus === 'degraded' ? ['influx'] : [],
      devices: [{ id: 'metz-sc-01', commune: 'metz', protocol: 'modbus-tcp', health: 'up' }],
      mqtt: 'up',
      influx: 'down',
    };
  }

  emit(change: LightingChange): void {
    for (const listener of this.listeners) listener(change);
  }

  emitAlert(view: AlertView): void {
    for (const listener of this.alertListeners) listener(view);
  }

  get subscribers(): number {
    return this.listeners.size + this.alertListeners.size;
  }

  private async command(
    slot: 'emergency' | 'override',
    request: {
      id?: string;
      target: TargetSpec;
      level?: number;
      reason: string;
      expiresAt?: number;
      untilReleased?: boolean;
    },
    actor: Actor,
  ): Promise<{ record: CommandRecord; progress: CommandProgress }> {
    this.calls.push({ method: slot, args: [request, actor] });
    const target = request.target as { zone?: string; commune?: string; all?: true };
    const communes = target.all
      ? ['metz', 'montigny-les-metz']
      : target.commune
        ? [target.commune]
        : target.zone
          ? [this.zoneIn(target.zone, undefined).commune]
          : [];
    for (const commune of communes)
      if (!inScope(actor, commune))
        throw new LightingError('forbidden', `commune '${commune}' is outside your communes`);
    await this.maybeFail(undefined);
    const id = request.id ?? `c-${++this.seq}`;
    const record: CommandRecord = {
      id,
      slot,
      target: request.target,
      communes,
      luminaires: target.zone ? ZONES[target.zone].luminaires : 5,
      level: request.level ?? 100,
      reason: request.reason,
      actor: actor.user,
      via: actor.via,
      from: actor.from,
      acceptedAt: 1,
      start: 1,
      ...(request.expiresAt !== undefined ? { expiresAt: request.expiresAt } : {}),
      untilReleased: request.untilReleased ?? false,
      pending: false,
    };
    this.records.set(id, record);
    return { record, progress: progressOf(record) };
  }

  private end(id: string, slot: 'emergency' | 'override', actor: Actor): Promise<CommandRecord> {
    const record = this.records.get(id);
    if (!record || record.slot !== slot)
      return Promise.reject(new LightingError('not-found', `no ${slot} '${id}'`));
    if (!record.communes.every((c) => inScope(actor, c)))
      return Promise.reject(new LightingError('forbidden', `'${id}' reaches communes outside yours`));
    this.records.delete(id);
    return Promise.resolve(record);
  }

  private zoneIn(id: string, actor: Actor | undefined): { id: string; commune: string; luminaires: number } {
    const zone = ZONES[id];
    if (!zone)
      throw new LightingError('invalid', `unknown zone '${id}'`, [
        { path: ['target', 'zone'], message: `unknown zone '${id}'` },
      ]);
    if (actor && !inScope(actor, zone.commune))
      throw new LightingError('forbidden', `zone '${id}' is in ${zone.commune}`);
    return { id, ...zone };
  }

  private maybeFail<T>(value: T): Promise<T> {
    const error = this.failNext;
    this.failNext = undefined;
    return error ? Promise.reject(error) : Promise.resolve(value);
  }
}

const PROGRAM = {
  id: 'eco',
  twilight: 'civil' as const,
  min_burn_min: 0,
  steps: [{ at: 'dusk', level: 100 }],
};

function zoneView(zone: string | { id: string }): ZoneView {
  const id = typeof zone === 'string' ? zone : zone.id;
  return {
    id,
    commune: ZONES[id].commune,
    calendar: 'cal',
    luminaires: ZONES[id].luminaires,
    schedule: undefined,
    level: { min: 50, max: 50 },
    slots: { emergency: 0, override: 0, presence: 0, schedule: ZONES[id].luminaires, undecided: 0 },
    confirmed: ZONES[id].luminaires,
    powerW: 100,
  };
}

function progressOf(record: CommandRecord): CommandProgress {
  return {
    id: record.id,
    slot: record.slot,
    communes: [...record.communes],
    total: record.luminaires,
    confirmed: 0,
    failed: 0,
    pending: record.luminaires,
    superseded: 0,
    done: false,
    failures: [],
    acceptedAt: record.acceptedAt,
  };
}

function alert(id: string, commune: string, state: AlertView['state']): AlertView {
  return {
    id,
    rule: 'leak',
    kind: 'night-flow',
    severity: 'warning',
    state,
    commune,
    source: `${commune}-school/eau`,
    code: 'rule-message',
    params: { text: 'Débit d’eau la nuit' },
    message: 'Débit d’eau la nuit',
    raisedAt: 1000,
  };
}

function building(id: string, commune: string): BuildingView {
  return { id, commune, kind: 'school', openNow: false, points: [] };
}
