import { localDateTime, parseClockTime } from '../../../core/localTime';
import type { GeoPoint } from '../../../core/sun';
import { OpeningHours } from '../openingHours';
import type { CatalogPoint } from '../points';
import type { MessageFields } from './messages';
import type { AlertText } from './texts';
import { pointsInScope } from './scope';
import { Runner, type RuleHost, type RuleOf, type Tracker } from './rule';

/** Rules on building points: thresholds, rates of change, night flow, use outside opening hours, silence. */

export abstract class PointRunner extends Runner {
  readonly points: CatalogPoint[];

  constructor(
    rule: RuleOf<'threshold' | 'outside-opening-hours' | 'stale' | 'night-flow' | 'rate-of-change'>,
    engine: RuleHost,
  ) {
    super(rule, engine);
    this.points = pointsInScope(rule, engine.deps.catalog);
  }

  /** The building's location when it has one, else the site's. */
  protected override locationOf(source: string): GeoPoint {
    const point = this.engine.deps.catalog.bySource.get(source);
    const building = point && this.engine.deps.config.buildings.find((b) => b.id === point.buildingId);
    return building?.location ?? this.engine.deps.config.site.location;
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

  /** The latest values again, for a window that opens on a value already past the limit. */
  override revisit(now: number): void {
    for (const point of this.points) this.onPoint(point, now);
  }

  text(tracker: Tracker, fields: MessageFields): AlertText {
    const { above, below } = this.rule;
    const value = tracker.value ?? Number.NaN;
    const over = above !== undefined && value > above;
    return {
      code: over ? 'threshold-above' : 'threshold-below',
      params: { ...pointParams(fields), value, threshold: over ? above : below },
    };
  }
}

/** A point's good values within the window of a rate-of-change rule, oldest first. */
interface RateHistory {
  times: number[];
  values: number[];
  /** Reception time of the latest value, for gaps while nothing arrives. */
  receivedAt: number;
  /** The change per hour last measured; undefined until the history spans the window. */
  rate: number | undefined;
}

export class RateOfChangeRunner extends PointRunner {
  declare readonly rule: RuleOf<'rate-of-change'>;
  private readonly overMs: number;
  private readonly histories = new Map<CatalogPoint, RateHistory>();

  constructor(rule: RuleOf<'rate-of-change'>, engine: RuleHost) {
    super(rule, engine);
    this.overMs = rule.over_min * 60_000;
  }

  override onPoint(point: CatalogPoint, now: number): void {
    const value = ruleValue(point);
    if (value === undefined) return;
    const at = point.at ?? now;
    let history = this.histories.get(point);
    if (!history) {
      history = { times: [], values: [], receivedAt: now, rate: undefined };
      this.histories.set(point, history);
    }
    const last = history.times.length - 1;
    // The same sample seen again (a window's revisit) or one older than the latest: nothing new.
    if (last >= 0 && at <= history.times[last]) return;
    // A gap longer than the window: no change is measured across it.
    if (last >= 0 && at - history.times[last] > this.overMs) forget(history);
    history.times.push(at);
    history.values.push(value);
    history.receivedAt = now;
    history.rate = this.measure(history);
    this.evaluatePoint(point, history, now);
  }

  override tick(now: number): void {
    // Silent longer than the window: no change is known until the history spans it again (the stale
    // rule is for silence); an open alert neither clears nor is raised again meanwhile.
    for (const history of this.histories.values())
      if (history.times.length > 0 && now - history.receivedAt > this.overMs) forget(history);
  }

  override revisit(now: number): void {
    for (const [point, history] of this.histories) this.evaluatePoint(point, history, now);
  }

  /**
   * The change per hour over the window: the latest value against the value `over_min` before it,
   * interpolated between the two samples around that instant. Samples older than needed are dropped.
   */
  private measure(history: RateHistory): number | undefined {
    const { times, values } = history;
    const last = times.length - 1;
    const start = times[last] - this.overMs;
    // The last sample at or before the start of the window anchors the measure.
    let anchor = -1;
    for (let i = last; i >= 0; i--) {
      if (times[i] <= start) {
        anchor = i;
        break;
      }
    }
    if (anchor < 0) return undefined;
    if (anchor > 0) {
      times.splice(0, anchor);
      values.splice(0, anchor);
    }
    const t0 = times[0];
    const v0 = values[0];
    const reference = times[0] === start ? v0 : v0 + ((values[1] - v0) * (start - t0)) / (times[1] - t0);
    return ((values[values.length - 1] - reference) * 3_600_000) / this.overMs;
  }

  private evaluatePoint(point: CatalogPoint, history: RateHistory, now: number): void {
    const rate = history.rate;
    if (rate === undefined) return;
    const { per_hour: limit, hysteresis } = this.rule;
    const change = this.rule.direction === 'rise' ? rate : -rate;
    this.reportPoint(point, change > limit, change <= limit - hysteresis, rate, now);
  }

  override fields(tracker: Tracker): MessageFields {
    const fields = super.fields(tracker);
    const point = this.engine.deps.catalog.bySource.get(tracker.source);
    return { ...fields, unit: point ? `${unitOf(point)}/h`.replace('/h/h', '/h²') : '/h' };
  }

  text(tracker: Tracker, fields: MessageFields): AlertText {
    return {
      code: this.rule.direction === 'rise' ? 'rate-rise' : 'rate-fall',
      params: {
        ...pointParams(fields),
        rate: Math.abs(tracker.value ?? Number.NaN),
        overMin: this.rule.over_min,
        perHour: this.rule.per_hour,
      },
    };
  }
}

function forget(history: RateHistory): void {
  history.times.length = 0;
  history.values.length = 0;
  history.rate = undefined;
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

  text(tracker: Tracker, fields: MessageFields): AlertText {
    return {
      code: 'night-flow',
      params: { ...pointParams(fields), value: tracker.value, from: this.rule.from, to: this.rule.to },
    };
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

  text(tracker: Tracker, fields: MessageFields): AlertText {
    // 0.5 is the limit of an on/off point: its value says nothing more than "on".
    return this.rule.above === 0.5
      ? { code: 'outside-hours-on', params: pointParams(fields) }
      : { code: 'outside-hours-value', params: { ...pointParams(fields), value: tracker.value } };
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

  text(_tracker: Tracker, fields: MessageFields, now: number): AlertText {
    const point = this.engine.deps.catalog.bySource.get(fields.source);
    const params = { ...pointParams(fields), sinceMs: point ? now - point.lastGoodAt : undefined };
    return point?.refused
      ? { code: 'stale-refused', params: { ...params, refused: point.refused } }
      : { code: 'stale', params };
  }
}

/** What every point text names: the point, where it is (its building, else its source) and its unit. */
function pointParams(fields: MessageFields): { name: string; place: string; unit: string | undefined } {
  return { name: fields.name, place: fields.building ?? fields.source, unit: fields.unit };
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
