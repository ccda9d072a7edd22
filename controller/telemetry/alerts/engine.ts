import type { IANAZone } from 'luxon';
import type { AlertRuleConfig, Config, ZoneConfig } from '../../../config/schema';
import type { Health } from '../../../drivers/driver';
import { coversAny, type Actor } from '../../scope';
import type { LightingReported, LuminaireFaultChanged, LuminaireReport } from '../../lighting/runtime/events';
import { localDateTime, parseClockTime, timeZone } from '../../../core/localTime';
import { sunAltitude, type GeoPoint } from '../../../core/sun';
import { AlertError, type AlertState, type AlertView } from '../services';
import { OpeningHours } from '../openingHours';
import type { CatalogPoint, PointCatalog } from '../points';
import { fillTemplate, formatDuration, formatNumber, withUnit, type MessageFields } from './messages';
import {
  devicesInScope,
  luminairesInScope,
  pointsInScope,
  zonesInScope,
  type ScopedLuminaire,
} from './scope';

/**
 * The alert engine: rules from configuration, evaluated over readings, lighting reports, device health
 * and time. Pure: no I/O, no clock of its own; every input carries its time and `tick(now)` moves the
 * durations, windows and the sun along. Changes go to `onChange`; persistence and outputs are the
 * caller's (AlertManager).
 *
 * Each rule watches sources (a point, a zone, a luminaire, a device, InfluxDB). Per (rule, source) there
 * is at most one open alert (deduplication). A condition must hold `for_s` before the alert is raised,
 * and its clearing condition `clear_for_s` before it clears; between the two (hysteresis) nothing moves.
 * Lifecycle: raised → acknowledged (by a person) → cleared (by the condition going away), or raised →
 * cleared. A condition that comes back after a clear raises a new alert, with a new id.
 */

export type AlertChange = AlertState;

export interface AlertEngineDeps {
  config: Pick<Config, 'alerts' | 'buildings' | 'zones' | 'devices' | 'site'>;
  catalog: PointCatalog;
  /** Commune each device serves ('*' when several or none). */
  deviceCommune: (deviceId: string) => string;
  /** When the device went down; undefined while it answers. For staleness of OPC UA points. */
  deviceDownSince: (deviceId: string) => number | undefined;
  /** No InfluxDB configured: its absence is a choice, not an alert. */
  influxConfigured: boolean;
  onChange: (alert: AlertView, change: AlertChange) => void;
}

export type TelemetrySignal =
  { type: 'health'; health: Health } | { type: 'dropped' | 'quarantined'; points: number };

type RuleOf<K extends AlertRuleConfig['kind']> = Extract<AlertRuleConfig, { kind: K }>;

/** One (rule, source): its condition, its timers and its open alert. */
interface Tracker {
  readonly runner: Runner;
  readonly source: string;
  readonly key: string;
  commune: string;
  forMs: number;
  clearForMs: number;
  raise: boolean;
  clear: boolean;
  pendingSince: number | undefined;
  clearingSince: number | undefined;
  value: number | undefined;
  alert: AlertView | undefined;
}

export class AlertEngine {
  private readonly trackers = new Map<string, Tracker>();
  private readonly runners: Runner[] = [];
  private readonly runnersById = new Map<string, Runner>();
  /** Point rules by catalog index. */
  private readonly pointRunners: (PointRunner[] | undefined)[];
  private readonly cleared: AlertView[] = [];
  readonly zone: IANAZone;

  constructor(readonly deps: AlertEngineDeps) {
    this.zone = timeZone(deps.config.site.timezone);
    this.pointRunners = new Array<PointRunner[] | undefined>(deps.catalog.points.length);
    for (const rule of deps.config.alerts.rules) {
      if (!rule.enabled) continue;
      const runner = createRunner(rule, this);
      this.runners.push(runner);
      this.runnersById.set(rule.id, runner);
      if (runner instanceof PointRunner) {
        for (const point of runner.points) {
          (this.pointRunners[point.index] ??= []).push(runner);
          point.watched = true;
        }
      }
    }
  }

  // ---------------------------------------------------------------- inputs

  /** Open alerts found on disk at start, and recently cleared ones: no re-raise, nothing forgotten. */
  restore(alerts: readonly AlertView[], now: number): void {
    for (const alert of alerts) {
      if (alert.state === 'cleared') {
        this.cleared.push({ ...alert });
        continue;
      }
      const runner = this.runnersById.get(alert.rule);
      if (!runner || runner.rule.kind !== alert.kind) {
        // The rule was removed, disabled or changed kind: nothing will ever clear it.
        const closed: AlertView = { ...alert, state: 'cleared', clearedAt: now };
        this.cleared.push(closed);
        this.deps.onChange({ ...closed }, 'cleared');
        continue;
      }
      const tracker = this.tracker(runner, alert.source, alert.commune);
      tracker.alert = { ...alert };
      tracker.value = alert.value;
    }
  }

  observePoint(point: CatalogPoint, now: number): void {
    const runners = this.pointRunners[point.index];
    if (runners === undefined) return;
    for (const runner of runners) runner.onPoint(point, now);
  }

  observeLighting(report: LightingReported): void {
    for (const runner of this.runners) runner.onLighting(report);
  }

  observeFault(event: LuminaireFaultChanged): void {
    for (const runner of this.runners) runner.onFault(event);
  }

  observeDevice(deviceId: string, health: Health, at: number): void {
    for (const runner of this.runners) runner.onDevice(deviceId, health, at);
  }

  observeTelemetry(signal: TelemetrySignal, at: number): void {
    for (const runner of this.runners) runner.onTelemetry(signal, at);
  }

  /** Time moves: windows open and close, the sun rises, durations elapse, points go stale. */
  tick(now: number): void {
    for (const runner of this.runners) runner.tick(now);
    for (const tracker of this.trackers.values())
      if (tracker.pendingSince !== undefined || tracker.clearingSince !== undefined) this.apply(tracker, now);
  }

  acknowledge(id: string, actor: Pick<Actor, 'user' | 'communes'>, now: number): AlertView {
    for (const tracker of this.trackers.values()) {
      const alert = tracker.alert;
      if (alert?.id !== id) continue;
      if (!coversAny(actor.communes, [alert.commune]))
        throw new AlertError('forbidden', `alert '${id}' is in commune '${alert.commune}', outside yours`);
      if (alert.state === 'raised') {
        alert.state = 'acknowledged';
        alert.acknowledgedAt = now;
        alert.acknowledgedBy = actor.user;
        this.deps.onChange({ ...alert }, 'acknowledged');
      }
      return { ...alert };
    }
    const cleared = this.cleared.find((a) => a.id === id);
    if (cleared) {
      if (!coversAny(actor.communes, [cleared.commune]))
        throw new AlertError('forbidden', `alert '${id}' is in commune '${cleared.commune}', outside yours`);
      throw new AlertError(
        'conflict',
        `alert '${id}' was cleared at ${new Date(cleared.clearedAt!).toISOString()}`,
      );
    }
    throw new AlertError('not-found', `no alert '${id}'`);
  }

  // ---------------------------------------------------------------- outputs

  /** Open alerts, then recently cleared ones (within `keepClearedMs` of now) when asked. */
  list(now: number, includeCleared: boolean): AlertView[] {
    const open: AlertView[] = [];
    for (const tracker of this.trackers.values()) if (tracker.alert) open.push({ ...tracker.alert });
    open.sort((a, b) => b.raisedAt - a.raisedAt);
    if (!includeCleared) return open;
    this.pruneCleared(now);
    return [...open, ...this.cleared.map((a) => ({ ...a })).sort((a, b) => b.clearedAt! - a.clearedAt!)];
  }

  /** What to persist: open alerts and the recently cleared. */
  snapshot(now: number): AlertView[] {
    return this.list(now, true);
  }

  openCount(): number {
    let count = 0;
    for (const tracker of this.trackers.values()) if (tracker.alert) count++;
    return count;
  }

  // ---------------------------------------------------------------- for runners

  tracker(runner: Runner, source: string, commune: string, forMs = runner.forMs): Tracker {
    const key = `${runner.rule.id}\u0000${source}`;
    let tracker = this.trackers.get(key);
    if (!tracker) {
      tracker = {
        runner,
        source,
        key,
        commune,
        forMs,
        clearForMs: runner.clearForMs,
        raise: false,
        clear: false,
        pendingSince: undefined,
        clearingSince: undefined,
        value: undefined,
        alert: undefined,
      };
      this.trackers.set(key, tracker);
    }
    return tracker;
  }

  existing(runner: Runner, source: string): Tracker | undefined {
    return this.trackers.get(`${runner.rule.id}\u0000${source}`);
  }

  trackersOf(runner: Runner): Tracker[] {
    return [...this.trackers.values()].filter((t) => t.runner === runner);
  }

  /**
   * The condition of one source now: `raise` (it holds), `clear` (it is over), or neither (inside the
   * hysteresis band, or not known). `value` goes with the alert.
   */
  evaluate(tracker: Tracker, raise: boolean, clear: boolean, value: number | undefined, now: number): void {
    tracker.raise = raise;
    tracker.clear = clear && !raise;
    if (value !== undefined) tracker.value = value;
    if (tracker.alert) {
      tracker.pendingSince = undefined;
      if (!tracker.clear) tracker.clearingSince = undefined;
      else tracker.clearingSince ??= now;
    } else {
      tracker.clearingSince = undefined;
      if (!tracker.raise) tracker.pendingSince = undefined;
      else tracker.pendingSince ??= now;
    }
    this.apply(tracker, now);
    // Nothing open and nothing pending: nothing worth keeping.
    if (tracker.alert === undefined && tracker.pendingSince === undefined) this.trackers.delete(tracker.key);
  }

  private apply(tracker: Tracker, now: number): void {
    if (tracker.alert === undefined) {
      if (tracker.pendingSince !== undefined && now - tracker.pendingSince >= tracker.forMs)
        this.raise(tracker, now);
    } else if (tracker.clearingSince !== undefined && now - tracker.clearingSince >= tracker.clearForMs) {
      this.clearAlert(tracker, now);
    }
  }

  private raise(tracker: Tracker, now: number): void {
    const rule = tracker.runner.rule;
    const fields = tracker.runner.fields(tracker);
    const message = rule.message
      ? fillTemplate(rule.message, fields)
      : tracker.runner.message(tracker, fields, now);
    const alert: AlertView = {
      id: alertId(rule.id, tracker.source, now),
      rule: rule.id,
      kind: rule.kind,
      severity: rule.severity,
      state: 'raised',
      commune: tracker.commune,
      source: tracker.source,
      message,
      raisedAt: now,
    };
    if (tracker.value !== undefined && Number.isFinite(tracker.value)) alert.value = tracker.value;
    if (fields.unit) alert.unit = fields.unit;
    if (rule.name) alert.ruleName = rule.name;
    tracker.alert = alert;
    tracker.pendingSince = undefined;
    this.deps.onChange({ ...alert }, 'raised');
  }

  private clearAlert(tracker: Tracker, now: number): void {
    const alert = tracker.alert!;
    alert.state = 'cleared';
    alert.clearedAt = now;
    tracker.alert = undefined;
    tracker.clearingSince = undefined;
    // A cleared source starts again from nothing (its condition is over: `clear` excludes `raise`).
    this.trackers.delete(tracker.key);
    this.cleared.push({ ...alert });
    this.deps.onChange({ ...alert }, 'cleared');
  }

  private pruneCleared(now: number): void {
    const keepMs = this.deps.config.alerts.keep_cleared_h * 3_600_000;
    let drop = 0;
    this.cleared.sort((a, b) => a.clearedAt! - b.clearedAt!);
    while (drop < this.cleared.length && now - this.cleared[drop].clearedAt! > keepMs) drop++;
    this.cleared.splice(0, drop);
  }
}

/** Stable for one occurrence, usable in an MQTT topic level and a URL path segment. */
export function alertId(rule: string, source: string, raisedAt: number): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) {
    hash ^= source.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `${rule}-${(hash >>> 0).toString(16).padStart(8, '0')}-${raisedAt.toString(36)}`;
}

// ------------------------------------------------------------------------------------------------------
// Runners: one per configured rule, the kind's logic.

abstract class Runner {
  readonly forMs: number;
  readonly clearForMs: number;

  constructor(
    readonly rule: AlertRuleConfig,
    protected readonly engine: AlertEngine,
  ) {
    this.forMs = 'for_s' in rule ? rule.for_s * 1000 : 0;
    this.clearForMs = 'clear_for_s' in rule ? rule.clear_for_s * 1000 : 0;
  }

  /**
   * The condition of one source: a tracker is made only when the condition holds (or an alert is
   * open), so that thousands of quiet sources cost nothing.
   */
  protected report(
    source: string,
    commune: string,
    raise: boolean,
    clear: boolean,
    value: number | undefined,
    now: number,
    forMs?: number,
  ): void {
    let tracker = this.engine.existing(this, source);
    if (!tracker) {
      if (!raise) return;
      tracker = this.engine.tracker(this, source, commune, forMs);
    }
    this.engine.evaluate(tracker, raise, clear, value, now);
  }

  onPoint(_point: CatalogPoint, _now: number): void {}
  onLighting(_report: LightingReported): void {}
  onFault(_event: LuminaireFaultChanged): void {}
  onDevice(_deviceId: string, _health: Health, _at: number): void {}
  onTelemetry(_signal: TelemetrySignal, _at: number): void {}
  tick(_now: number): void {}

  /** What the template placeholders and the default message say about a source. */
  abstract fields(tracker: Tracker): MessageFields;
  abstract message(tracker: Tracker, fields: MessageFields, now: number): string;
}

// ---- point rules

abstract class PointRunner extends Runner {
  readonly points: CatalogPoint[];

  constructor(
    rule: RuleOf<'threshold' | 'outside-opening-hours' | 'stale' | 'night-flow'>,
    engine: AlertEngine,
  ) {
    super(rule, engine);
    this.points = pointsInScope(rule, engine.deps.catalog);
  }

  protected reportPoint(
    point: CatalogPoint,
    raise: boolean,
    clear: boolean,
    value: number | undefined,
    now: number,
  ): void {
    this.report(point.source, point.commune, raise, clear, value, now);
  }

  fields(tracker: Tracker): MessageFields {
    const point = this.engine.deps.catalog.bySource.get(tracker.source);
    const building = point && this.engine.deps.config.buildings.find((b) => b.id === point.buildingId);
    return {
      source: tracker.source,
      name: point?.config.name ?? point?.config.id ?? tracker.source,
      value: tracker.value,
      unit: point ? unitOf(point) : undefined,
      rule: this.rule.name ?? this.rule.id,
      building: building?.name ?? building?.id,
      commune: tracker.commune,
    };
  }
}

/** The value rules look at: sensors their value, meters their rate per hour; undefined when unusable. */
export function ruleValue(point: CatalogPoint): number | undefined {
  if (point.quality === 'bad' || point.value === undefined) return undefined;
  if (point.isMeter) return Number.isFinite(point.rate) ? point.rate : undefined;
  return typeof point.value === 'boolean' ? (point.value ? 1 : 0) : point.value;
}

function unitOf(point: CatalogPoint): string {
  return point.isMeter ? (point.config.unit ? `${point.config.unit}/h` : '/h') : point.config.unit;
}

class ThresholdRunner extends PointRunner {
  declare readonly rule: RuleOf<'threshold'>;

  override onPoint(point: CatalogPoint, now: number): void {
    const value = ruleValue(point);
    if (value === undefined) return;
    const { above, below, hysteresis } = this.rule;
    const raise = (above !== undefined && value > above) || (below !== undefined && value < below);
    const clear =
      (above === undefined || value <= above - hysteresis) &&
      (below === undefined || value >= below + hysteresis);
    this.reportPoint(point, raise, clear, value, now);
  }

  message(tracker: Tracker, fields: MessageFields): string {
    const { above, below } = this.rule;
    const value = tracker.value ?? Number.NaN;
    const limit =
      above !== undefined && value > above
        ? `au-dessus du seuil de ${withUnit(above, fields.unit)}`
        : `en dessous du seuil de ${withUnit(below, fields.unit)}`;
    return `${fields.name} (${fields.building ?? fields.source}) : ${withUnit(value, fields.unit)}, ${limit}`;
  }
}

class NightFlowRunner extends PointRunner {
  declare readonly rule: RuleOf<'night-flow'>;
  private readonly from: number;
  private readonly to: number;

  constructor(rule: RuleOf<'night-flow'>, engine: AlertEngine) {
    super(rule, engine);
    this.from = parseClockTime(rule.from) ?? 60;
    this.to = parseClockTime(rule.to) ?? 300;
  }

  inWindow(now: number): boolean {
    const minutes = localDateTime(this.engine.zone, now).minutes;
    return this.from <= this.to
      ? minutes >= this.from && minutes < this.to
      : minutes >= this.from || minutes < this.to;
  }

  override onPoint(point: CatalogPoint, now: number): void {
    this.evaluatePoint(point, now, this.inWindow(now));
  }

  override tick(now: number): void {
    const night = this.inWindow(now);
    for (const point of this.points) this.evaluatePoint(point, now, night);
  }

  private evaluatePoint(point: CatalogPoint, now: number, night: boolean): void {
    const value = ruleValue(point);
    if (value === undefined) return;
    const raise = night && value > this.rule.above;
    const clear = value <= this.rule.above - this.rule.hysteresis;
    this.reportPoint(point, raise, clear, value, now);
  }

  message(tracker: Tracker, fields: MessageFields): string {
    return `Débit nocturne de ${withUnit(tracker.value, fields.unit)} à ${fields.building ?? fields.source} (${fields.name}) entre ${this.rule.from} et ${this.rule.to} : fuite probable`;
  }
}

class OutsideOpeningHoursRunner extends PointRunner {
  declare readonly rule: RuleOf<'outside-opening-hours'>;
  private readonly hours = new Map<string, OpeningHours>();

  constructor(rule: RuleOf<'outside-opening-hours'>, engine: AlertEngine) {
    super(rule, engine);
    for (const building of engine.deps.config.buildings)
      this.hours.set(building.id, new OpeningHours(building, engine.zone));
  }

  override onPoint(point: CatalogPoint, now: number): void {
    this.evaluatePoint(point, now);
  }

  override tick(now: number): void {
    for (const point of this.points) this.evaluatePoint(point, now);
  }

  private evaluatePoint(point: CatalogPoint, now: number): void {
    const value = ruleValue(point);
    if (value === undefined) return;
    const open = this.hours.get(point.buildingId)?.isOpen(now, this.rule.grace_min) ?? false;
    const raise = !open && value > this.rule.above;
    const clear = open || value <= this.rule.above - this.rule.hysteresis;
    this.reportPoint(point, raise, clear, value, now);
  }

  message(tracker: Tracker, fields: MessageFields): string {
    const what = this.rule.above === 0.5 ? 'allumé' : withUnit(tracker.value, fields.unit);
    return `${fields.name} : ${what} hors des heures d'ouverture de ${fields.building ?? fields.source}`;
  }
}

class StaleRunner extends PointRunner {
  declare readonly rule: RuleOf<'stale'>;

  override onPoint(point: CatalogPoint, now: number): void {
    this.evaluatePoint(point, now);
  }

  override tick(now: number): void {
    for (const point of this.points) this.evaluatePoint(point, now);
  }

  private evaluatePoint(point: CatalogPoint, now: number): void {
    const downSince = this.engine.deps.deviceDownSince(point.config.device);
    const stale =
      this.rule.after_s !== undefined
        ? isStaleAfter(point, now, downSince, this.rule.after_s * 1000)
        : point.isStale(now, downSince);
    this.reportPoint(point, stale, !stale, undefined, now);
  }

  message(_tracker: Tracker, fields: MessageFields, now: number): string {
    const point = this.engine.deps.catalog.bySource.get(fields.source);
    const since = point ? formatDuration(now - point.lastGoodAt) : '?';
    const why = point?.refused ? ` (refusé par l'équipement : ${point.refused})` : '';
    return `${fields.name} (${fields.building ?? fields.source}) : aucune valeur valide depuis ${since}${why}`;
  }
}

function isStaleAfter(
  point: CatalogPoint,
  now: number,
  downSince: number | undefined,
  afterMs: number,
): boolean {
  let freshAt = point.lastGoodAt;
  if (point.byException && point.quality === 'good')
    freshAt = downSince === undefined ? now : Math.max(freshAt, downSince);
  return now - freshAt > afterMs;
}

// ---- luminaire and zone rules, from the lighting runtime's reports

/** Burning: output (or level in effect) above 0, or measured power above the floor. */
function burning(report: LuminaireReport, minPowerW: number): boolean {
  const measured = !report.estimated && report.powerW !== undefined && report.powerW > minPowerW;
  return measured || (report.output ?? report.inEffect ?? 0) > 0;
}

abstract class ZoneRunner extends Runner {
  protected readonly luminaires: Map<string, ScopedLuminaire>;
  protected readonly zones: Map<string, ZoneConfig>;

  constructor(rule: RuleOf<'lamp-by-day' | 'level-mismatch'>, engine: AlertEngine) {
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

class LampByDayRunner extends ZoneRunner {
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

function isDay(zone: ZoneConfig, site: GeoPoint, now: number, altitudeDeg: number): boolean {
  return sunAltitude(now, zone.location ?? site) > altitudeDeg;
}

class LevelMismatchRunner extends ZoneRunner {
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

abstract class LuminaireRunner extends Runner {
  protected readonly luminaires: Map<string, ScopedLuminaire>;

  constructor(rule: RuleOf<'lamp-failure' | 'lamp-cycling'>, engine: AlertEngine) {
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

class LampFailureRunner extends LuminaireRunner {
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

class LampCyclingRunner extends LuminaireRunner {
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

// ---- devices and the telemetry path

class DeviceUnreachableRunner extends Runner {
  declare readonly rule: RuleOf<'device-unreachable'>;
  private readonly devices: Set<string>;

  constructor(rule: RuleOf<'device-unreachable'>, engine: AlertEngine) {
    super(rule, engine);
    this.devices = devicesInScope(rule.scope, engine.deps.config, engine.deps.deviceCommune);
  }

  override onDevice(deviceId: string, health: Health, at: number): void {
    if (!this.devices.has(deviceId)) return;
    this.report(
      deviceId,
      this.engine.deps.deviceCommune(deviceId),
      health === 'down',
      health !== 'down',
      undefined,
      at,
    );
  }

  fields(tracker: Tracker): MessageFields {
    const device = this.engine.deps.config.devices.find((d) => d.id === tracker.source);
    return {
      source: tracker.source,
      name: device?.name ?? tracker.source,
      rule: this.rule.name ?? this.rule.id,
      commune: tracker.commune,
    };
  }

  message(_tracker: Tracker, fields: MessageFields): string {
    return `Équipement injoignable depuis ${formatDuration(this.forMs)} : ${fields.name} (${fields.source})`;
  }
}

class TelemetryStorageRunner extends Runner {
  declare readonly rule: RuleOf<'telemetry-storage'>;
  private readonly lastAt = new Map<string, number>();
  private watchingSince: number | undefined;

  override onTelemetry(signal: TelemetrySignal, at: number): void {
    if (signal.type === 'health') {
      if (!this.engine.deps.influxConfigured) return;
      this.report('influx', '*', signal.health === 'down', signal.health !== 'down', undefined, at);
      return;
    }
    const source = signal.type === 'dropped' ? 'spool' : 'quarantine';
    const tracker = this.engine.tracker(this, source, '*', 0);
    this.lastAt.set(source, at);
    // An open alert counts every point lost since it was raised.
    const total = (tracker.alert ? (tracker.value ?? 0) : 0) + signal.points;
    if (tracker.alert) tracker.alert.value = total;
    this.engine.evaluate(tracker, true, false, total, at);
  }

  override tick(now: number): void {
    const quietMs = this.rule.quiet_s * 1000;
    this.watchingSince ??= now;
    for (const tracker of this.engine.trackersOf(this)) {
      if (tracker.source === 'influx') continue;
      const last = this.lastAt.get(tracker.source) ?? this.watchingSince;
      if (now - last >= quietMs) this.engine.evaluate(tracker, false, true, undefined, now);
    }
  }

  fields(tracker: Tracker): MessageFields {
    return {
      source: tracker.source,
      name: tracker.source,
      value: tracker.value,
      rule: this.rule.name ?? this.rule.id,
      commune: tracker.commune,
    };
  }

  message(tracker: Tracker): string {
    switch (tracker.source) {
      case 'influx':
        return `InfluxDB injoignable depuis ${formatDuration(this.forMs)} : les mesures attendent dans le spool`;
      case 'spool':
        return `${formatNumber(tracker.value)} mesures perdues : spool plein (augmenter influx.spool_max_mb ou rétablir InfluxDB)`;
      default:
        return `${formatNumber(tracker.value)} mesures refusées par InfluxDB, gardées dans quarantine.lp`;
    }
  }
}

function createRunner(rule: AlertRuleConfig, engine: AlertEngine): Runner {
  switch (rule.kind) {
    case 'threshold':
      return new ThresholdRunner(rule, engine);
    case 'night-flow':
      return new NightFlowRunner(rule, engine);
    case 'outside-opening-hours':
      return new OutsideOpeningHoursRunner(rule, engine);
    case 'stale':
      return new StaleRunner(rule, engine);
    case 'lamp-by-day':
      return new LampByDayRunner(rule, engine);
    case 'level-mismatch':
      return new LevelMismatchRunner(rule, engine);
    case 'lamp-failure':
      return new LampFailureRunner(rule, engine);
    case 'lamp-cycling':
      return new LampCyclingRunner(rule, engine);
    case 'device-unreachable':
      return new DeviceUnreachableRunner(rule, engine);
    case 'telemetry-storage':
      return new TelemetryStorageRunner(rule, engine);
  }
}
