import type { IANAZone } from 'luxon';
import type { BuildingConfig } from '../../config/schema';
import {
  addDays,
  formatCivilDate,
  localDateTime,
  monthDay,
  parseClockTime,
  weekdayOf,
  type CivilDate,
  type Weekday,
} from '../../core/localTime';

/**
 * When a building is in use, from its `opening_hours` and `closed_dates`, in the site's time zone.
 * Pure: an instant in, open or not out. A period whose `to` is not after its `from` crosses midnight
 * and belongs to the day it starts (a gym open 18:00-01:00 on Friday is open at 00:30 on Saturday).
 * A closed date closes the periods that start on it.
 */
export class OpeningHours {
  private readonly periods: { day: Weekday; from: number; to: number }[];
  private readonly closedYearly = new Set<string>();
  private readonly closedOnce = new Set<string>();

  constructor(
    building: Pick<BuildingConfig, 'opening_hours' | 'closed_dates'>,
    private readonly zone: IANAZone,
  ) {
    this.periods = building.opening_hours.flatMap((entry) => {
      const from = parseClockTime(entry.from) ?? 0;
      const to = parseClockTime(entry.to) ?? 0;
      return entry.days.map((day) => ({ day, from, to: to > from ? to : to + 1440 }));
    });
    for (const date of building.closed_dates) {
      if (date.length === 5) this.closedYearly.add(date);
      else this.closedOnce.add(date);
    }
  }

  /** Whether the building has any opening hours at all (a street cabinet has none). */
  get everOpen(): boolean {
    return this.periods.length > 0;
  }

  /** Open at `t`, counting `marginMin` minutes before each opening and after each closing as open. */
  isOpen(t: number, marginMin = 0): boolean {
    if (this.periods.length === 0) return false;
    const local = localDateTime(this.zone, t);
    // Today's periods, and yesterday's that cross midnight (or reach into today with the margin).
    for (const [date, offset] of [
      [local.date, 0],
      [addDays(local.date, -1), 1440],
    ] as const) {
      if (this.isClosedDate(date)) continue;
      const day = weekdayOf(date);
      const minutes = local.minutes + offset;
      for (const period of this.periods) {
        if (period.day !== day) continue;
        if (minutes >= period.from - marginMin && minutes < period.to + marginMin) return true;
      }
    }
    // The margin before tomorrow's first opening, late in the evening.
    if (marginMin > 0) {
      const tomorrow = addDays(local.date, 1);
      if (!this.isClosedDate(tomorrow)) {
        const day = weekdayOf(tomorrow);
        const minutes = local.minutes - 1440;
        for (const period of this.periods)
          if (period.day === day && minutes >= period.from - marginMin) return true;
      }
    }
    return false;
  }

  private isClosedDate(date: CivilDate): boolean {
    return this.closedYearly.has(monthDay(date)) || this.closedOnce.has(formatCivilDate(date));
  }
}
