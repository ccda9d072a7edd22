import type { IANAZone } from 'luxon';
import type { AlertRuleConfig, Config, LuminaireConfig, ZoneConfig } from '../../../config/schema';
import {
  addDays,
  epochDay,
  localDateTime,
  parseClockTime,
  weekdayOf,
  zonedInstant,
  type CivilDate,
  type Weekday,
} from '../../../core/localTime';
import { eveningTwilight, morningTwilight, type GeoPoint } from '../../../core/sun';
import { holidayOn } from '../../lighting/holidays';
import type { CatalogPoint, PointCatalog } from '../points';

/**
 * Which points, zones, luminaires or devices a rule watches, from its `scope` (every criterion given must
 * match), and when it may raise, from its `when`.
 */

type RuleOf<K extends AlertRuleConfig['kind']> = Extract<AlertRuleConfig, { kind: K }>;
type PointRule = RuleOf<'threshold' | 'outside-opening-hours' | 'stale' | 'night-flow' | 'rate-of-change'>;

/** Quantities a rule kind watches when its scope names neither points nor quantities. */
export const DEFAULT_QUANTITIES: Partial<Record<AlertRuleConfig['kind'], readonly string[]>> = {
  'outside-opening-hours': ['lights_on'],
  'night-flow': ['water_flow'],
};

export function pointsInScope(rule: PointRule, catalog: PointCatalog): CatalogPoint[] {
  const scope = rule.scope;
  const quantities =
    scope.quantities ?? (scope.points === undefined ? DEFAULT_QUANTITIES[rule.kind] : undefined);
  return catalog.points.filter(
    (p) =>
      (scope.communes === undefined || scope.communes.includes(p.commune)) &&
      (scope.buildings === undefined || scope.buildings.includes(p.buildingId)) &&
      (scope.points === undefined || scope.points.includes(p.source)) &&
      (quantities === undefined || quantities.includes(p.config.quantity)),
  );
}

export function zonesInScope(
  scope: { communes?: string[]; zones?: string[] },
  config: Pick<Config, 'zones'>,
): ZoneConfig[] {
  return config.zones.filter(
    (z) =>
      (scope.communes === undefined || scope.communes.includes(z.commune)) &&
      (scope.zones === undefined || scope.zones.includes(z.id)),
  );
}

export interface ScopedLuminaire {
  luminaire: LuminaireConfig;
  zone: ZoneConfig;
}

export function luminairesInScope(
  scope: { communes?: string[]; zones?: string[]; luminaires?: string[] },
  config: Pick<Config, 'zones'>,
): Map<string, ScopedLuminaire> {
  const out = new Map<string, ScopedLuminaire>();
  for (const zone of zonesInScope(scope, config))
    for (const luminaire of zone.luminaires)
      if (scope.luminaires === undefined || scope.luminaires.includes(luminaire.id))
        out.set(luminaire.id, { luminaire, zone });
  return out;
}

export function devicesInScope(
  scope: { communes?: string[]; devices?: string[] },
  config: Pick<Config, 'devices'>,
  communeOf: (deviceId: string) => string,
): Set<string> {
  return new Set(
    config.devices
      .filter(
        (d) =>
          (scope.communes === undefined || scope.communes.includes(communeOf(d.id))) &&
          (scope.devices === undefined || scope.devices.includes(d.id)),
      )
      .map((d) => d.id),
  );
}

// ---------------------------------------------------------------- when: the time window of a rule

type RuleWhenConfig = NonNullable<AlertRuleConfig['when']>;
type EdgeConfig = NonNullable<RuleWhenConfig['from']>;

/** A window edge: minutes past local midnight, or a sun event with its offset. */
type Edge = { type: 'clock'; minutes: number } | { type: 'sun'; sun: 'dusk' | 'dawn'; offsetMs: number };

const MINUTE_MS = 60_000;
/** Windows computed and kept, by day and location, before the cache starts again. */
const CACHE_MAX = 4096;

function edgeOf(config: EdgeConfig): Edge {
  if (typeof config === 'string') return { type: 'clock', minutes: parseClockTime(config) ?? 0 };
  return { type: 'sun', sun: config.sun, offsetMs: (config.offset_min ?? 0) * MINUTE_MS };
}

/**
 * A rule's `when`, in the site's time zone: windows from `from` to the first `to` after it (so 22:00 →
 * 06:00 and dusk → dawn cross midnight), each belonging to the day it starts, which must be one of
 * `weekdays` and pass `holidays`. Without from/to, whole days. Sun events are computed at the source's
 * location; a day whose sun event does not occur (polar day or night) opens no window. Each day's window
 * is computed once per location: a rule over thousands of points costs a few lookups per evaluation.
 */
export class RuleWindow {
  private readonly from: Edge | undefined;
  private readonly to: Edge | undefined;
  private readonly weekdays: ReadonlySet<Weekday> | undefined;
  /** `<epoch day> <lat> <lon>` → the window starting that day, or null when none does. */
  private readonly windows = new Map<string, readonly [number, number] | null>();

  constructor(
    private readonly when: RuleWhenConfig,
    private readonly zone: IANAZone,
  ) {
    this.from = when.from === undefined ? undefined : edgeOf(when.from);
    this.to = when.to === undefined ? undefined : edgeOf(when.to);
    this.weekdays = when.weekdays ? new Set(when.weekdays) : undefined;
  }

  /** Is instant `t` within a window, for a source at `location`? */
  contains(t: number, location: GeoPoint): boolean {
    const today = localDateTime(this.zone, t).date;
    if (this.from === undefined || this.to === undefined) return this.dayMatches(today);
    // Offsets reach 12 h either way: a window containing t started at most two days before.
    for (let back = 0; back <= 2; back++) {
      const window = this.windowOf(addDays(today, -back), location);
      if (window !== null && window[0] <= t && t < window[1]) return true;
    }
    return false;
  }

  /** The window starting on `day` at `location`, if that day has one. */
  private windowOf(day: CivilDate, location: GeoPoint): readonly [number, number] | null {
    const key = `${epochDay(day)} ${location.lat} ${location.lon}`;
    let window = this.windows.get(key);
    if (window !== undefined) return window;
    window = null;
    const start = this.dayMatches(day) ? this.edgeAt(this.from!, day, location) : undefined;
    if (start !== undefined) {
      for (let ahead = 0; ahead <= 3; ahead++) {
        const end = this.edgeAt(this.to!, addDays(day, ahead), location);
        if (end !== undefined && end > start) {
          window = [start, end];
          break;
        }
      }
    }
    if (this.windows.size >= CACHE_MAX) this.windows.clear();
    this.windows.set(key, window);
    return window;
  }

  private dayMatches(day: CivilDate): boolean {
    if (this.weekdays && !this.weekdays.has(weekdayOf(day))) return false;
    if (this.when.holidays === undefined) return true;
    const holiday = holidayOn(day, this.when.holiday_set) !== undefined;
    return this.when.holidays === 'only' ? holiday : !holiday;
  }

  private edgeAt(edge: Edge, day: CivilDate, location: GeoPoint): number | undefined {
    if (edge.type === 'clock') return zonedInstant(this.zone, day, edge.minutes).at;
    const event =
      edge.sun === 'dusk'
        ? eveningTwilight(day, location, 'official')
        : morningTwilight(day, location, 'official');
    return event.occurs ? event.at + edge.offsetMs : undefined;
  }
}
