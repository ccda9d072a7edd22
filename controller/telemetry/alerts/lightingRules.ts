import type { ZoneConfig } from '../../../config/schema';
import type {
  LightingCommandEvent,
  LightingDispatchFailed,
  LightingReported,
  LuminaireFaultChanged,
  LuminaireReport,
} from '../../lighting/runtime/events';
import { sunAltitude, type GeoPoint } from '../../../core/sun';
import type { MessageFields } from './messages';
import { COMMAND_NAMES, type AlertText } from './texts';
import { luminairesInScope, zonesInScope, type ScopedLuminaire } from './scope';
import { Runner, type RuleHost, type RuleOf, type Tracker } from './rule';

/**
 * Rules on luminaires, zones and commands, from the lighting runtime's reports: lamp by day, level
 * mismatch, lamp failure and cycling, relights and overrides the devices did not confirm.
 */

/** Burning: output (or level in effect) above 0, or measured power above the floor. */
export function burning(report: LuminaireReport, minPowerW: number): boolean {
  const measured = !report.estimated && report.powerW !== undefined && report.powerW > minPowerW;
  return measured || (report.output ?? report.inEffect ?? 0) > 0;
}

export abstract class ZoneRunner extends Runner {
  protected readonly luminaires: Map<string, ScopedLuminaire>;
  protected readonly zones: Map<string, ZoneConfig>;

  constructor(rule: RuleOf<'lamp-by-day' | 'level-mismatch'>, engine: RuleHost) {
    super(rule, engine);
    this.zones = new Map(zonesInScope(rule.scope, engine.deps.config).map((z) => [z.id, z]));
    this.luminaires = luminairesInScope(rule.scope, engine.deps.config);
  }

  protected override locationOf(source: string): GeoPoint {
    return this.zones.get(source)?.location ?? this.engine.deps.config.site.location;
  }

  /** Luminaires of a zone that met the condition for at least for_s, and whether any meets it now. */
  protected evaluateZone(
    zone: ZoneConfig,
    since: Map<string, number>,
    now: number,
    lastExample: string[],
  ): void {
    let lasting = 0;
    let any = false;
    for (const luminaire of zone.luminaires) {
      const from = since.get(luminaire.id);
      if (from === undefined) continue;
      any = true;
      if (now - from >= this.forMs) {
        lasting++;
        if (lastExample.length < 5) lastExample.push(luminaire.id);
      }
    }
    this.report(zone.id, zone.commune, lasting > 0, !any, lasting > 0 ? lasting : undefined, now, 0);
  }

  fields(tracker: Tracker): MessageFields {
    const zone = this.zones.get(tracker.source);
    return {
      source: tracker.source,
      name: zone?.name ?? tracker.source,
      value: tracker.value,
      rule: this.rule.name ?? this.rule.id,
      commune: tracker.commune,
    };
  }
}

export class LampByDayRunner extends ZoneRunner {
  declare readonly rule: RuleOf<'lamp-by-day'>;
  private readonly burning = new Set<string>();
  /** Luminaire → since when it burns in daylight. */
  private readonly byDaySince = new Map<string, number>();
  private readonly examples = new Map<string, string[]>();

  override onLighting(report: LightingReported): void {
    for (const lum of report.luminaires) {
      if (!this.luminaires.has(lum.luminaire)) continue;
      const excused = (this.rule.ignore_sources as string[]).includes(lum.source);
      if (!excused && burning(lum, this.rule.min_power_w)) this.burning.add(lum.luminaire);
      else this.burning.delete(lum.luminaire);
    }
    this.tick(report.at);
  }

  override tick(now: number): void {
    for (const zone of this.zones.values()) {
      const day = isDay(zone, this.engine.deps.config.site.location, now, this.rule.sun_altitude_deg);
      for (const luminaire of zone.luminaires) {
        if (day && this.burning.has(luminaire.id)) {
          if (!this.byDaySince.has(luminaire.id)) this.byDaySince.set(luminaire.id, now);
        } else this.byDaySince.delete(luminaire.id);
      }
      const examples: string[] = [];
      this.examples.set(zone.id, examples);
      this.evaluateZone(zone, this.byDaySince, now, examples);
    }
  }

  text(tracker: Tracker, fields: MessageFields): AlertText {
    return {
      code: 'lamp-by-day',
      params: {
        count: tracker.value,
        zone: fields.name,
        examples: [...(this.examples.get(tracker.source) ?? [])],
      },
    };
  }
}

export function isDay(zone: ZoneConfig, site: GeoPoint, now: number, altitudeDeg: number): boolean {
  return sunAltitude(now, zone.location ?? site) > altitudeDeg;
}

export class LevelMismatchRunner extends ZoneRunner {
  declare readonly rule: RuleOf<'level-mismatch'>;
  private readonly since = new Map<string, number>();
  private readonly examples = new Map<string, string[]>();

  override onLighting(report: LightingReported): void {
    const tolerance = this.rule.tolerance;
    for (const lum of report.luminaires) {
      if (!this.luminaires.has(lum.luminaire)) continue;
      const { level, inEffect, output } = lum;
      const disagree =
        (level !== undefined && inEffect !== undefined && Math.abs(level - inEffect) > tolerance) ||
        (inEffect !== undefined && output !== undefined && Math.abs(inEffect - output) > tolerance);
      if (!disagree) this.since.delete(lum.luminaire);
      else if (!this.since.has(lum.luminaire)) this.since.set(lum.luminaire, report.at);
    }
    this.tick(report.at);
  }

  override tick(now: number): void {
    for (const zone of this.zones.values()) {
      const examples: string[] = [];
      this.examples.set(zone.id, examples);
      this.evaluateZone(zone, this.since, now, examples);
    }
  }

  text(tracker: Tracker, fields: MessageFields): AlertText {
    return {
      code: 'level-mismatch',
      params: {
        count: tracker.value,
        zone: fields.name,
        forMs: this.forMs,
        examples: [...(this.examples.get(tracker.source) ?? [])],
      },
    };
  }
}

export abstract class LuminaireRunner extends Runner {
  protected readonly luminaires: Map<string, ScopedLuminaire>;

  constructor(rule: RuleOf<'lamp-failure' | 'lamp-cycling'>, engine: RuleHost) {
    super(rule, engine);
    this.luminaires = luminairesInScope(rule.scope, engine.deps.config);
  }

  protected override locationOf(source: string): GeoPoint {
    return this.luminaires.get(source)?.zone.location ?? this.engine.deps.config.site.location;
  }

  fields(tracker: Tracker): MessageFields {
    const scoped = this.luminaires.get(tracker.source);
    return {
      source: tracker.source,
      name: tracker.source,
      value: tracker.value,
      rule: this.rule.name ?? this.rule.id,
      building: scoped?.zone.name ?? scoped?.zone.id,
      commune: tracker.commune,
    };
  }
}

export class LampFailureRunner extends LuminaireRunner {
  declare readonly rule: RuleOf<'lamp-failure'>;
  private readonly active = new Map<string, Set<string>>();

  override onFault(event: LuminaireFaultChanged): void {
    const scoped = this.luminaires.get(event.luminaire);
    if (!scoped || !(this.rule.faults as string[]).includes(event.kind)) return;
    const faults = this.active.get(event.luminaire) ?? new Set<string>();
    if (event.state === 'raised') faults.add(event.kind);
    else faults.delete(event.kind);
    if (faults.size > 0) this.active.set(event.luminaire, faults);
    else this.active.delete(event.luminaire);
    this.report(
      event.luminaire,
      scoped.zone.commune,
      faults.size > 0,
      faults.size === 0,
      event.powerW,
      event.at,
    );
  }

  override revisit(now: number): void {
    for (const id of this.active.keys())
      this.report(id, this.luminaires.get(id)!.zone.commune, true, false, undefined, now);
  }

  text(tracker: Tracker, fields: MessageFields): AlertText {
    const faults = [...(this.active.get(tracker.source) ?? [])];
    return {
      code: 'lamp-failure',
      params: {
        luminaire: tracker.source,
        zone: fields.building,
        faults: faults.length > 0 ? faults : ['unknown'],
      },
    };
  }
}

interface CyclingState {
  burning: boolean | undefined;
  level: number | undefined;
  transitions: number[];
}

export class LampCyclingRunner extends LuminaireRunner {
  declare readonly rule: RuleOf<'lamp-cycling'>;
  private readonly states = new Map<string, CyclingState>();
  private watchingSince: number | undefined;

  override onLighting(report: LightingReported): void {
    for (const lum of report.luminaires) {
      const scoped = this.luminaires.get(lum.luminaire);
      if (!scoped) continue;
      let state = this.states.get(lum.luminaire);
      if (!state) {
        state = { burning: undefined, level: undefined, transitions: [] };
        this.states.set(lum.luminaire, state);
      }
      const now = burning(lum, 1);
      if (lum.level !== state.level) {
        // A change of command explains any change of output.
        state.transitions.length = 0;
        state.level = lum.level;
      } else if (state.burning !== undefined && now !== state.burning) {
        state.transitions.push(report.at);
      }
      state.burning = now;
      this.evaluateLuminaire(lum.luminaire, scoped.zone.commune, state, report.at);
    }
  }

  override tick(now: number): void {
    this.watchingSince ??= now;
    for (const [id, state] of this.states) {
      const scoped = this.luminaires.get(id)!;
      this.evaluateLuminaire(id, scoped.zone.commune, state, now);
    }
    // Alerts restored from disk for luminaires no report has mentioned since: quiet for a whole window.
    if (now - this.watchingSince >= this.windowMs())
      for (const tracker of this.engine.trackersOf(this))
        if (!this.states.has(tracker.source)) this.engine.evaluate(tracker, false, true, undefined, now);
  }

  private windowMs(): number {
    return this.rule.window_s * 1000;
  }

  private evaluateLuminaire(id: string, commune: string, state: CyclingState, now: number): void {
    const windowStart = now - this.windowMs();
    while (state.transitions.length > 0 && state.transitions[0] < windowStart) state.transitions.shift();
    const count = state.transitions.length;
    this.report(id, commune, count >= this.rule.transitions, count === 0, count, now);
  }

  text(tracker: Tracker, fields: MessageFields): AlertText {
    return {
      code: 'lamp-cycling',
      params: {
        luminaire: tracker.source,
        zone: fields.building,
        count: tracker.value,
        windowMs: this.windowMs(),
      },
    };
  }
}

/** A relight or override whose settlement said some luminaires failed, and which are not covered yet. */
interface FailedCommand {
  kind: 'relight' | 'override';
  id: string;
  /** The command's target as the runtime describes it ('zone metz-rue-x', 'commune metz'). */
  target: string;
  commune: string;
  /** Its luminaires reported failed by the devices and not read back since; empty when not known. */
  luminaires: Set<string>;
  /** Devices that failed, with their last error. */
  devices: Map<string, string>;
}

interface DispatchFailure {
  at: number;
  commune: string;
  device: string;
  error: string;
}

const DEVICES_LISTED = 5;

/**
 * Relights and overrides the devices refused or did not confirm. The runtime settles a command once no
 * luminaire is pending (`lightingCommandChanged` confirmed or failed); the luminaires that failed are
 * those of `lightingDispatchFailed` since the command was accepted, in its communes. One alert per command
 * (source `relight/<id>` or `override/<id>`), raised on a failed settlement; cleared by a later settlement
 * of the same id that is confirmed (the command given again), by the end of the command (cleared, released,
 * expired), or once every failed luminaire reads back its decided level within `tolerance` (the
 * reconciler got through, or a later command covers it). An acknowledgement does not clear it.
 */
export class LightingCommandFailedRunner extends Runner {
  declare readonly rule: RuleOf<'lighting-command-failed'>;
  /** Source → when its command was last accepted (commands restored at start were not seen). */
  private readonly acceptedAt = new Map<string, number>();
  /** Luminaire → its latest dispatch failure, until it reads back its decided level. */
  private readonly failures = new Map<string, DispatchFailure>();
  private readonly failed = new Map<string, FailedCommand>();
  /** Luminaire → sources of the failed commands waiting for it. */
  private readonly waiting = new Map<string, Set<string>>();

  override onCommand(event: LightingCommandEvent): void {
    if (event.kind !== 'relight' && event.kind !== 'override') return;
    if (!this.inScope(event.kind, event.communes)) return;
    const source = `${event.kind}/${event.id}`;
    switch (event.state) {
      case 'accepted':
        this.acceptedAt.set(source, event.at);
        return;
      case 'failed':
        this.settledFailed(source, event.kind, event);
        return;
      case 'confirmed':
      case 'cleared':
      case 'released':
      case 'expired':
        this.acceptedAt.delete(source);
        this.resolve(source, event.at);
        return;
      case 'changed':
      case 'deleted':
        return;
    }
  }

  override onDispatchFailed(event: LightingDispatchFailed): void {
    const failure: DispatchFailure = {
      at: event.at,
      commune: event.commune,
      device: event.deviceId,
      error: event.error,
    };
    for (const luminaire of event.luminaires) this.failures.set(luminaire, failure);
  }

  override onLighting(report: LightingReported): void {
    const tolerance = this.rule.tolerance;
    for (const lum of report.luminaires) {
      if (lum.level === undefined || lum.inEffect === undefined) continue;
      if (Math.abs(lum.level - lum.inEffect) > tolerance) continue;
      this.failures.delete(lum.luminaire);
      const sources = this.waiting.get(lum.luminaire);
      if (!sources) continue;
      this.waiting.delete(lum.luminaire);
      for (const source of sources) {
        const command = this.failed.get(source);
        if (!command) continue;
        command.luminaires.delete(lum.luminaire);
        if (command.luminaires.size === 0) this.resolve(source, report.at);
      }
    }
  }

  override revisit(now: number): void {
    for (const [source, command] of this.failed)
      this.report(source, command.commune, true, false, failedCount(command), now);
  }

  private inScope(kind: 'relight' | 'override', communes: readonly string[]): boolean {
    const scope = this.rule.scope;
    if (scope.commands !== undefined && !scope.commands.includes(kind)) return false;
    const wanted = scope.communes;
    return wanted === undefined || communes.some((c) => c === '*' || wanted.includes(c));
  }

  private settledFailed(source: string, kind: 'relight' | 'override', event: LightingCommandEvent): void {
    const since = this.acceptedAt.get(source) ?? Number.NEGATIVE_INFINITY;
    const everywhere = event.communes.includes('*');
    const command: FailedCommand = {
      kind,
      id: event.id,
      target: event.source,
      commune: event.communes.length === 1 ? event.communes[0] : '*',
      luminaires: new Set(),
      devices: new Map(),
    };
    for (const [luminaire, failure] of this.failures) {
      if (failure.at < since || !(everywhere || event.communes.includes(failure.commune))) continue;
      command.luminaires.add(luminaire);
      command.devices.set(failure.device, failure.error);
    }
    this.forget(source);
    this.failed.set(source, command);
    for (const luminaire of command.luminaires) {
      let sources = this.waiting.get(luminaire);
      if (!sources) this.waiting.set(luminaire, (sources = new Set()));
      sources.add(source);
    }
    this.report(source, command.commune, true, false, failedCount(command), event.at);
  }

  private resolve(source: string, at: number): void {
    const command = this.failed.get(source);
    this.forget(source);
    this.report(source, command?.commune ?? '*', false, true, undefined, at);
  }

  private forget(source: string): void {
    const command = this.failed.get(source);
    if (!command) return;
    this.failed.delete(source);
    for (const luminaire of command.luminaires) {
      const sources = this.waiting.get(luminaire);
      sources?.delete(source);
      if (sources?.size === 0) this.waiting.delete(luminaire);
    }
  }

  fields(tracker: Tracker): MessageFields {
    const command = this.failed.get(tracker.source);
    const [kind, ...rest] = tracker.source.split('/');
    const text = COMMAND_NAMES[kind as 'relight' | 'override'] ?? COMMAND_NAMES.other;
    return {
      source: tracker.source,
      name: `${text} '${command?.id ?? rest.join('/')}'`,
      value: tracker.value,
      rule: this.rule.name ?? this.rule.id,
      building: command?.target,
      commune: tracker.commune,
    };
  }

  text(tracker: Tracker): AlertText {
    const command = this.failed.get(tracker.source);
    const [kind, ...rest] = tracker.source.split('/');
    const params = { id: command?.id ?? rest.join('/'), target: command?.target };
    const relight = kind === 'relight';
    if (!command || command.luminaires.size === 0)
      return { code: relight ? 'relight-unconfirmed' : 'override-unconfirmed', params };
    const devices = [...command.devices]
      .slice(0, DEVICES_LISTED)
      .map(([device, error]) => `${device} : ${error}`);
    if (command.devices.size > DEVICES_LISTED) devices.push('…');
    return {
      code: relight ? 'relight-unconfirmed-count' : 'override-unconfirmed-count',
      params: { ...params, count: command.luminaires.size, devices },
    };
  }
}

function failedCount(command: FailedCommand): number | undefined {
  return command.luminaires.size > 0 ? command.luminaires.size : undefined;
}
