import { localDateTime, parseClockTime } from '../../../core/localTime';
import { OpeningHours } from '../openingHours';
import type { CatalogPoint } from '../points';
import { formatDuration, withUnit, type MessageFields } from './messages';
import { pointsInScope } from './scope';
import { Runner, type RuleHost, type RuleOf, type Tracker } from './rule';

/** Rules on building points: thresholds, night flow, use outside opening hours, silence. */

export abstract class PointRunner extends Runner {
  readonly points: CatalogPoint[];

  constructor(
    rule: RuleOf<'threshold' | 'outside-opening-hours' | 'stale' | 'night-flow'>,
    engine: RuleHost,
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

export function unitOf(point: CatalogPoint): string {
  return point.isMeter ? (point.config.unit ? `${point.config.unit}/h` : '/h') : point.config.unit;
}

export class ThresholdRunner extends PointRunner {
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

export class NightFlowRunner extends PointRunner {
  declare readonly rule: RuleOf<'night-flow'>;
  private readonly from: number;
  private readonly to: number;

  constructor(rule: RuleOf<'night-flow'>, engine: RuleHost) {
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

export class OutsideOpeningHoursRunner extends PointRunner {
  declare readonly rule: RuleOf<'outside-opening-hours'>;
  private readonly hours = new Map<string, OpeningHours>();

  constructor(rule: RuleOf<'outside-opening-hours'>, engine: RuleHost) {
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

export class StaleRunner extends PointRunner {
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

export function isStaleAfter(
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
