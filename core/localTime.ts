import { IANAZone } from 'luxon';

/**
 * Calendar dates and wall-clock times in a zone's time zone, without Date.now() and without the
 * host's time zone: every conversion names its zone.
 */

/** A date on the wall calendar, with no time zone attached. month 1-12, day 1-31. */
export interface CivilDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** Minutes from midnight to noon: a lighting night starts at noon. */
export const NOON_MINUTES = 720;

export function civilDate(year: number, month: number, day: number): CivilDate {
  return { year, month, day };
}

/** 'YYYY-MM-DD' → CivilDate; undefined when the text is not a real date (2026-02-30). */
export function parseCivilDate(text: string): CivilDate | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const date = civilDate(Number(m[1]), Number(m[2]), Number(m[3]));
  return date.month >= 1 &&
    date.month <= 12 &&
    date.day >= 1 &&
    date.day <= daysInMonth(date.year, date.month)
    ? date
    : undefined;
}

export function formatCivilDate(date: CivilDate): string {
  return `${String(date.year).padStart(4, '0')}-${pad2(date.month)}-${pad2(date.day)}`;
}

/** 'MM-DD' of a date, the form calendar rules use for "every year". */
export function monthDay(date: CivilDate): string {
  return `${pad2(date.month)}-${pad2(date.day)}`;
}

export function addDays(date: CivilDate, days: number): CivilDate {
  return fromEpochDay(epochDay(date) + days);
}

/** Days since 1970-01-01: a total order on dates, and cheap day arithmetic. */
export function epochDay(date: CivilDate): number {
  return Math.floor(Date.UTC(date.year, date.month - 1, date.day) / DAY_MS);
}

export function fromEpochDay(day: number): CivilDate {
  const d = new Date(day * DAY_MS);
  return civilDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
}

export function weekdayOf(date: CivilDate): Weekday {
  // 1970-01-01 was a Thursday (index 3 when Monday is 0).
  return WEEKDAYS[(((epochDay(date) + 3) % 7) + 7) % 7];
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** How a wall-clock time was placed on the time line. */
export type LocalTimeResolution =
  /** The local time exists once. */
  | 'exact'
  /** It fell in the spring-forward gap: placed at the first instant after the gap. */
  | 'gap'
  /** It occurs twice (autumn): placed at its first occurrence. */
  | 'repeated';

export interface ZonedInstant {
  at: number;
  resolution: LocalTimeResolution;
}

/** A validated IANA zone; throws with the zone's name when it is unknown. */
export function timeZone(name: string): IANAZone {
  const zone = IANAZone.create(name);
  if (!zone.isValid) throw new RangeError(`unknown IANA time zone '${name}'`);
  return zone;
}

/**
 * The instant at which the wall clock of `zone` shows `minutes` past midnight on `date`.
 * A time that does not exist (02:30 on the spring-forward night in Europe/Paris) maps to the first
 * instant after the gap (03:00 CEST); a time that occurs twice (02:30 on the autumn night) maps to
 * its first occurrence (02:30 CEST). Luxon's own choice differs on both (03:30 and the second
 * occurrence), hence this function.
 */
export function zonedInstant(zone: IANAZone, date: CivilDate, minutes: number): ZonedInstant {
  const naive = Date.UTC(date.year, date.month - 1, date.day) + minutes * MINUTE_MS;
  const before = zone.offset(naive - DAY_MS);
  const after = zone.offset(naive + DAY_MS);
  const valid = [...new Set([before, zone.offset(naive), after])]
    .map((offset) => naive - offset * MINUTE_MS)
    .filter((candidate) => wallClock(zone, candidate) === naive)
    .sort((a, b) => a - b);
  if (valid.length > 0) return { at: valid[0], resolution: valid.length > 1 ? 'repeated' : 'exact' };
  // In the gap: the transition lies between the two readings of the wall time; find it by bisection.
  let lo = Math.min(naive - after * MINUTE_MS, naive - before * MINUTE_MS);
  let hi = Math.max(naive - after * MINUTE_MS, naive - before * MINUTE_MS);
  const offsetAtLo = zone.offset(lo);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zone.offset(mid) === offsetAtLo) lo = mid;
    else hi = mid;
  }
  return { at: hi, resolution: 'gap' };
}

/** The wall-clock reading at instant `t`, as if it were UTC (ms since epoch of the local date-time). */
export function wallClock(zone: IANAZone, t: number): number {
  return t + zone.offset(t) * MINUTE_MS;
}

export interface LocalDateTime {
  date: CivilDate;
  /** Minutes past local midnight, fractional. */
  minutes: number;
}

export function localDateTime(zone: IANAZone, t: number): LocalDateTime {
  const wall = wallClock(zone, t);
  const day = Math.floor(wall / DAY_MS);
  return { date: fromEpochDay(day), minutes: (wall - day * DAY_MS) / MINUTE_MS };
}

/** The lighting night containing `t`: nights run from noon to noon and are named by their first date. */
export function nightOf(zone: IANAZone, t: number): CivilDate {
  const local = localDateTime(zone, t);
  return local.minutes < NOON_MINUTES ? addDays(local.date, -1) : local.date;
}

/** 'HH:MM' → minutes past midnight; undefined for anything else. */
export function parseClockTime(text: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
