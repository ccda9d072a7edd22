import type { ZoneConfig } from '../../../config/schema';
import type { LightingReported, LuminaireFaultChanged, LuminaireReport } from '../../lighting/runtime/events';
import { sunAltitude, type GeoPoint } from '../../../core/sun';
import { formatDuration, formatNumber, type MessageFields } from './messages';
import { luminairesInScope, zonesInScope, type ScopedLuminaire } from './scope';
import { Runner, type RuleHost, type RuleOf, type Tracker } from './rule';

/** Rules on luminaires and zones, from the lighting runtime's reports: lamp by day, level mismatch, lamp failure and cycling. */

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

  message(tracker: Tracker, fields: MessageFields): string {
    const examples = this.examples.get(tracker.source) ?? [];
    return `${formatNumber(tracker.value)} luminaire(s) allumé(s) en plein jour dans ${fields.name} (${examples.join(', ')})`;
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

  message(tracker: Tracker, fields: MessageFields): string {
    const examples = this.examples.get(tracker.source) ?? [];
    return `${formatNumber(tracker.value)} luminaire(s) de ${fields.name} : niveaux commandé, appliqué et mesuré en désaccord depuis plus de ${formatDuration(this.forMs)} (${examples.join(', ')})`;
  }
}

export abstract class LuminaireRunner extends Runner {
  protected readonly luminaires: Map<string, ScopedLuminaire>;

  constructor(rule: RuleOf<'lamp-failure' | 'lamp-cycling'>, engine: RuleHost) {
    super(rule, engine);
    this.luminaires = luminairesInScope(rule.scope, engine.deps.config);
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

const FAULT_TEXT: Record<string, string> = {
  'lamp-failure': 'lampe en panne',
  'driver-failure': 'driver en panne',
  'no-power': 'commandé allumé, aucune puissance mesurée',
};

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

  message(tracker: Tracker, fields: MessageFields): string {
    const faults = [...(this.active.get(tracker.source) ?? [])].map((f) => FAULT_TEXT[f] ?? f);
    return `Luminaire ${tracker.source} (${fields.building ?? '?'}) : ${faults.join(', ') || 'panne'}`;
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

  message(tracker: Tracker, fields: MessageFields): string {
    return `Luminaire ${tracker.source} (${fields.building ?? '?'}) : ${formatNumber(tracker.value)} allumages ou extinctions en ${formatDuration(this.windowMs())} sans changement de commande`;
  }
}
