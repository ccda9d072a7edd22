import type { Clock } from '../../core/clock';
import {
  addDays,
  civilDate,
  daysInMonth,
  formatCivilDate,
  localDateTime,
  timeZone,
  zonedInstant,
} from '../../core/localTime';
import type { Logger } from '../../core/logger';
import { readWhole, type SeriesReader } from '../../drivers/timeSeries';
import { lightingQuery } from './gather';

export interface LastYearLightingDeps {
  reader: SeriesReader;
  timeZone: string;
  clock: Clock;
  logger: Logger;
}

/** One hour of one commune's lighting: its start and the energy of its luminaires, Wh. */
type HourlyWh = readonly [at: number, wh: number];

/**
 * The lighting energy of the same period a year before, for the elected officials' page: InfluxDB's
 * `lighting` counters summed by the hour (the monthly report's query, `lightingQuery`, hourly), so that
 * this month so far compares with last year's month up to the same local date and hour. Last year's
 * month is read once a day for all communes (old data does not change within a day; a day's cache still
 * picks up a late import); a failed read is logged and tried again at the next request.
 */
export class LastYearLighting {
  private readonly zone;
  private cached: { key: string; hours: Promise<Map<string, HourlyWh[]>> } | undefined;

  constructor(private readonly deps: LastYearLightingDeps) {
    this.zone = timeZone(deps.timeZone);
  }

  /**
   * kWh of one commune a year before [from, to), hour by hour (an hour counts when it starts within);
   * null when InfluxDB holds no lighting energy of that commune for last year's month, or cannot be read.
   */
  async kWh(commune: string, from: number, to: number): Promise<{ kWh: number; to: number } | null> {
    const lastFrom = this.yearBefore(from);
    const lastTo = this.yearBefore(to);
    let hours: HourlyWh[] | undefined;
    try {
      hours = (await this.monthOf(lastFrom)).get(commune);
    } catch (error) {
      this.deps.logger.warn(`last year's lighting energy unavailable: ${(error as Error).message}`);
      return null;
    }
    if (!hours || hours.length === 0) return null;
    let wh = 0;
    for (const [at, value] of hours) if (at >= lastFrom && at < lastTo) wh += value;
    return { kWh: wh / 1000, to: lastTo };
  }

  /** The same local date and time a year before; 29 February gives 28 February. */
  yearBefore(t: number): number {
    const { date, minutes } = localDateTime(this.zone, t);
    const day = Math.min(date.day, daysInMonth(date.year - 1, date.month));
    return zonedInstant(this.zone, civilDate(date.year - 1, date.month, day), minutes).at;
  }

  /** The hours of the local month holding `t`, per commune: read at most once a day. */
  private monthOf(t: number): Promise<Map<string, HourlyWh[]>> {
    const { date } = localDateTime(this.zone, t);
    const today = formatCivilDate(localDateTime(this.zone, this.deps.clock.now()).date);
    const key = `${today} ${date.year}-${date.month}`;
    if (this.cached?.key === key) return this.cached.hours;
    const first = civilDate(date.year, date.month, 1);
    const window = {
      from: zonedInstant(this.zone, first, 0).at,
      to: zonedInstant(this.zone, addDays(first, daysInMonth(date.year, date.month)), 0).at,
    };
    const hours = readWhole(this.deps.reader, lightingQuery(window, this.deps.timeZone, '1h')).then(
      (series) => {
        const byCommune = new Map<string, HourlyWh[]>();
        for (const s of series) {
          const rows = byCommune.get(s.tags.commune ?? '-') ?? [];
          for (const [at, wh] of s.values)
            if (typeof at === 'number' && typeof wh === 'number' && at >= window.from) rows.push([at, wh]);
          byCommune.set(s.tags.commune ?? '-', rows);
        }
        return byCommune;
      },
    );
    const entry = { key, hours };
    this.cached = entry;
    // A failed read is not kept: the next request tries again.
    hours.catch(() => {
      if (this.cached === entry) this.cached = undefined;
    });
    return hours;
  }
}
