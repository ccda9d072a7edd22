import type { Config } from '../../config/schema';
import type { Clock } from '../../core/clock';
import {
  addDays,
  formatCivilDate,
  localDateTime,
  timeZone,
  zonedInstant,
  type CivilDate,
} from '../../core/localTime';
import { readWhole, type SeriesPiece, type SeriesReader } from '../../drivers/timeSeries';
import { outsideOf, type Actor } from '../scope';
import type { PointCatalog } from '../telemetry/points';
import {
  buildReport,
  daysOf,
  fullNightKWh,
  parseMonth,
  uptimeOf,
  type AlertEvent,
  type DailyAmount,
  type DeviceUptime,
  type EvaluationReport,
  type PointCompleteness,
} from './report';
import { ReportError, type ReportService, type UsageService } from './services';

export interface ReportGathererDeps {
  config: Config;
  /** InfluxDB; absent: the report has no energy, uptime, completeness nor alerts, and says so. */
  reader: SeriesReader | undefined;
  /** The lighting runtime's zones now: luminaires, and those whose device reads back the decided level. */
  lighting: { zones(actor: Actor): readonly { commune: string; luminaires: number; confirmed: number }[] };
  usage: UsageService;
  catalog: PointCatalog;
  clock: Clock;
}

/** Device health is read as its minimum over buckets of this length (a few thousand rows a month). */
const HEALTH_BUCKET_MS = 5 * 60_000;
/** An alert acknowledged in the month may have been raised this long before it. */
const ALERT_LOOKBACK_MS = 31 * 86_400_000;
const SYSTEM: Actor = { user: 'nocturne', role: 'admin', communes: ['*'], via: 'api', from: 'report' };

/**
 * The I/O side of the evaluation report: reads the month's readings from InfluxDB (InfluxQL through the
 * SeriesReader port), the luminaires' confirmation from the lighting runtime and the usage counts,
 * and hands them to the pure buildReport. docs/evaluation.md says which query gives which figure.
 */
export class ReportGatherer implements ReportService {
  private readonly zone;

  constructor(private readonly deps: ReportGathererDeps) {
    this.zone = timeZone(deps.config.site.timezone);
  }

  async monthly(month: string, actor: Actor, commune?: string): Promise<EvaluationReport> {
    const parsed = parseMonth(month);
    if (!parsed) throw new ReportError('invalid', `month '${month}': expected 'YYYY-MM'`);
    const { config } = this.deps;
    const known = new Set(config.communes.map((c) => c.id));
    if (commune !== undefined && !known.has(commune))
      throw new ReportError('not-found', `no commune '${commune}' (known: ${[...known].join(', ')})`);
    if (commune !== undefined && outsideOf(actor.communes, [commune]).length > 0)
      throw new ReportError('forbidden', `commune '${commune}' is outside this token's communes`);
    const wanted = config.communes.filter((c) =>
      commune !== undefined ? c.id === commune : outsideOf(actor.communes, [c.id]).length === 0,
    );
    const included = new Set(wanted.map((c) => c.id));
    // Territory-wide records ('*') belong to the territory of a token that covers it all.
    const whole = commune === undefined && actor.communes.includes('*');
    const keep = (r: { commune: string }): boolean => included.has(r.commune) || (whole && r.commune === '*');

    const days = daysOf(month);
    const window = this.window(parsed.first, parsed.days);
    const lastYearFirst = { ...parsed.first, year: parsed.first.year - 1 };
    const lastYear = this.window(lastYearFirst, parseMonth(`${lastYearFirst.year}-${month.slice(5)}`)!.days);
    const readings = await this.readings(window, lastYear);

    return buildReport({
      month,
      window,
      communes: wanted.map((c) => ({ id: c.id, name: c.name })),
      lighting: readings.lighting.filter(keep),
      lightingLastYear: readings.lightingLastYear.filter(keep),
      lightingFullNight: fullNightKWh(
        config.zones
          .filter((z) => included.has(z.commune))
          .map((z) => ({
            commune: z.commune,
            ratedW: z.luminaires.reduce((sum, l) => sum + l.power_w, 0),
            location: z.location ?? config.site.location,
          })),
        days,
      ),
      buildings: readings.buildings.filter(keep),
      buildingsLastYear: readings.buildingsLastYear.filter(keep),
      baselines: Object.fromEntries(config.evaluation.communes.map((c) => [c.commune, c.baseline])),
      tariffs: config.tariffs,
      emissionFactors: config.emission_factors,
      investments: config.evaluation.investments.filter((i) =>
        i.commune === undefined ? whole : included.has(i.commune),
      ),
      luminaires: this.luminaires().filter(keep),
      devices: readings.devices.filter(keep),
      completeness: this.completeness(window, readings.received).filter(keep),
      alerts: readings.alerts.filter(keep),
      usage: this.deps.usage
        .records(actor.communes, days[0], days[days.length - 1])
        .filter((r) => (whole ? true : r.commune.split(',').some((c) => included.has(c)))),
    });
  }

  /** Local midnight of the first day to local midnight after the last. */
  private window(first: CivilDate, days: number): { from: number; to: number } {
    return {
      from: zonedInstant(this.zone, first, 0).at,
      to: zonedInstant(this.zone, addDays(first, days), 0).at,
    };
  }

  private async readings(
    window: { from: number; to: number },
    lastYear: { from: number; to: number },
  ): Promise<{
    lighting: DailyAmount[];
    lightingLastYear: DailyAmount[];
    buildings: DailyAmount[];
    buildingsLastYear: DailyAmount[];
    devices: DeviceUptime[];
    received: Map<string, number>;
    alerts: AlertEvent[];
  }> {
    const reader = this.deps.reader;
    if (!reader)
      return {
        lighting: [],
        lightingLastYear: [],
        buildings: [],
        buildingsLastYear: [],
        devices: [],
        received: new Map(),
        alerts: [],
      };
    const tz = this.deps.config.site.timezone;
    const [lighting, lightingLastYear, buildings, buildingsLastYear, devices, received, alerts] =
      await Promise.all([
        readWhole(reader, lightingQuery(window, tz)).then((r) =>
          this.daily(r, () => ['electricity', 'kWh'], 1 / 1000),
        ),
        readWhole(reader, lightingQuery(lastYear, tz)).then((r) =>
          this.daily(r, () => ['electricity', 'kWh'], 1 / 1000),
        ),
        readWhole(reader, meterQuery(window, tz)).then((r) => this.daily(r, (t) => [t.kind, t.unit], 1)),
        readWhole(reader, meterQuery(lastYear, tz)).then((r) => this.daily(r, (t) => [t.kind, t.unit], 1)),
        readWhole(reader, healthQuery(window, this.healthGapMs())).then((r) => this.uptimes(r, window)),
        Promise.all([
          readWhole(reader, countQuery('meter', 'meter', window)),
          readWhole(reader, countQuery('sensor', 'point', window)),
        ]).then(([meters, sensors]) => counts([...meters, ...sensors])),
        readWhole(reader, alertQuery(window)).then(alertEvents),
      ]);
    return { lighting, lightingLastYear, buildings, buildingsLastYear, devices, received, alerts };
  }

  /** Rows (time, value) per series → amounts per local day. */
  private daily(
    series: readonly SeriesPiece[],
    quantityOf: (tags: Record<string, string>) => [string, string],
    scale: number,
  ): DailyAmount[] {
    const out: DailyAmount[] = [];
    for (const s of series) {
      const [quantity, unit] = quantityOf(s.tags);
      for (const [time, value] of s.values) {
        if (typeof value !== 'number' || typeof time !== 'number') continue;
        // Buckets start at local midnight (tz()).
        const day = formatCivilDate(localDateTime(this.zone, time).date);
        out.push({ commune: s.tags.commune ?? '-', day, quantity, unit, amount: value * scale });
      }
    }
    return out;
  }

  private healthGapMs(): number {
    return HEALTH_BUCKET_MS + 3 * this.deps.config.telemetry.device_period_s * 1000;
  }

  private uptimes(series: readonly SeriesPiece[], window: { from: number; to: number }): DeviceUptime[] {
    return series.map((s) => {
      const samples = s.values.flatMap(([at, health]) =>
        typeof at === 'number' && typeof health === 'number' ? [{ at, health }] : [],
      );
      return {
        commune: s.tags.commune ?? '-',
        device: s.tags.device ?? '?',
        ...uptimeOf(samples, window.from, window.to, this.healthGapMs()),
      };
    });
  }

  /** Polled points only: a point reported by exception (OPC UA) promises no number of samples. */
  private completeness(
    window: { from: number; to: number },
    received: Map<string, number>,
  ): PointCompleteness[] {
    const elapsed = Math.max(0, Math.min(window.to, this.deps.clock.now()) - window.from);
    return this.deps.catalog.points
      .filter((p) => !p.byException && p.periodMs > 0)
      .map((p) => ({
        commune: p.commune,
        point: p.source,
        received: received.get(p.source) ?? 0,
        expected: Math.floor(elapsed / p.periodMs),
      }));
  }

  private luminaires(): { commune: string; total: number; confirmed: number }[] {
    const byCommune = new Map<string, { commune: string; total: number; confirmed: number }>();
    for (const zone of this.deps.lighting.zones(SYSTEM)) {
      const entry = byCommune.get(zone.commune) ?? { commune: zone.commune, total: 0, confirmed: 0 };
      entry.total += zone.luminaires;
      entry.confirmed += zone.confirmed;
      byCommune.set(zone.commune, entry);
    }
    return [...byCommune.values()];
  }
}

const ms = (t: number): string => `${Math.round(t)}ms`;

/**
 * Lighting energy per commune and local day (or hour, `bucket` '1h'), Wh: the hourly increase of each
 * luminaire's energy counter (NON_NEGATIVE_DIFFERENCE survives a restart of the service, which restarts
 * the counter), from an hour before the month so that its first hour counts. The outer query has no time
 * condition of its own: InfluxDB would impose it on the subquery and lose that hour; the day before is
 * dropped later.
 */
export function lightingQuery(
  window: { from: number; to: number },
  tz: string,
  bucket: '1d' | '1h' = '1d',
): string {
  return (
    `SELECT SUM("e") AS "wh" FROM (SELECT NON_NEGATIVE_DIFFERENCE(LAST("energy_wh")) AS "e" FROM "lighting" ` +
    `WHERE time >= ${ms(window.from - 3_600_000)} AND time < ${ms(window.to)} GROUP BY time(1h), "commune", "luminaire" fill(none)) ` +
    `GROUP BY time(${bucket}), "commune" fill(none) tz('${tz}')`
  );
}

/** Meter consumption per commune, quantity, unit and local day: the sum of the deltas. */
export function meterQuery(window: { from: number; to: number }, tz: string): string {
  return (
    `SELECT SUM("delta") AS "amount" FROM "meter" WHERE time >= ${ms(window.from)} AND time < ${ms(window.to)} ` +
    `GROUP BY time(1d), "commune", "kind", "unit" fill(none) tz('${tz}')`
  );
}

/** Each device's worst health per 5 minutes, from a little before the month (the state it started in). */
export function healthQuery(window: { from: number; to: number }, lookbackMs: number): string {
  return (
    `SELECT MIN("health") AS "health" FROM "device" WHERE time >= ${ms(window.from - lookbackMs)} AND time < ${ms(window.to)} ` +
    `GROUP BY time(5m), "commune", "device" fill(none)`
  );
}

export function countQuery(
  measurement: 'meter' | 'sensor',
  pointTag: string,
  window: { from: number; to: number },
): string {
  return (
    `SELECT COUNT("quality") AS "n" FROM "${measurement}" WHERE time >= ${ms(window.from)} AND time < ${ms(window.to)} ` +
    `GROUP BY "building", "${pointTag}"`
  );
}

export function alertQuery(window: { from: number; to: number }): string {
  return (
    `SELECT "id", "state" FROM "event" WHERE "kind" = 'alert' AND time >= ${ms(window.from - ALERT_LOOKBACK_MS)} ` +
    `AND time < ${ms(window.to)} GROUP BY "commune"`
  );
}

function counts(series: readonly SeriesPiece[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of series) {
    const point = s.tags.meter ?? s.tags.point;
    const n = s.values[0]?.[1];
    if (point !== undefined && typeof n === 'number') out.set(`${s.tags.building}/${point}`, n);
  }
  return out;
}

function alertEvents(series: readonly SeriesPiece[]): AlertEvent[] {
  const out: AlertEvent[] = [];
  for (const s of series) {
    const [timeAt, idAt, stateAt] = ['time', 'id', 'state'].map((c) => s.columns.indexOf(c));
    for (const row of s.values) {
      const [at, id, state] = [row[timeAt], row[idAt], row[stateAt]];
      if (
        typeof at === 'number' &&
        typeof id === 'string' &&
        (state === 'raised' || state === 'acknowledged' || state === 'cleared')
      )
        out.push({ id, commune: s.tags.commune ?? '*', state, at });
    }
  }
  return out;
}
