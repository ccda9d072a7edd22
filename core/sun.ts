import type * as SunCalcModule from 'suncalc' with { 'resolution-mode': 'import' };
import { addDays, type CivilDate } from './localTime';

// suncalc 2 is an ES module with a CommonJS build behind its "require" export; this package compiles
// to CommonJS (module node16), so the types come from the ESM declaration and the code from require().
// eslint-disable-next-line @typescript-eslint/no-require-imports
const SunCalc = require('suncalc') as typeof SunCalcModule;

export type Twilight = 'official' | 'civil' | 'nautical';

/** Sun altitude (degrees) that defines dusk and dawn for each twilight, as suncalc computes them. */
export const TWILIGHT_ALTITUDE: Readonly<Record<Twilight, number>> = {
  official: -0.833,
  civil: -6,
  nautical: -12,
};

const EVENING: Readonly<Record<Twilight, 'sunset' | 'dusk' | 'nauticalDusk'>> = {
  official: 'sunset',
  civil: 'dusk',
  nautical: 'nauticalDusk',
};
const MORNING: Readonly<Record<Twilight, 'sunrise' | 'dawn' | 'nauticalDawn'>> = {
  official: 'sunrise',
  civil: 'dawn',
  nautical: 'nauticalDawn',
};

export interface GeoPoint {
  lat: number;
  lon: number;
}

/**
 * Either the event's instant, or why it does not occur: the sky stays brighter than the twilight
 * all night (`light`: white nights, midnight sun) or darker all day (`dark`: polar night).
 */
export type SunEventTime = { occurs: true; at: number } | { occurs: false; sky: 'light' | 'dark' };

/** The moment the evening of `date` reaches the twilight's altitude (sunset, civil or nautical dusk). */
export function eveningTwilight(date: CivilDate, location: GeoPoint, twilight: Twilight): SunEventTime {
  const times = solarDay(date, location);
  const at = times[EVENING[twilight]];
  return at
    ? { occurs: true, at: at.getTime() }
    : { occurs: false, sky: skyWithoutEvent(times, location, twilight) };
}

/** The moment the morning of `date` reaches the twilight's altitude (sunrise, civil or nautical dawn). */
export function morningTwilight(date: CivilDate, location: GeoPoint, twilight: Twilight): SunEventTime {
  const times = solarDay(date, location);
  const at = times[MORNING[twilight]];
  return at
    ? { occurs: true, at: at.getTime() }
    : { occurs: false, sky: skyWithoutEvent(times, location, twilight) };
}

/** Solar midnight of the night that starts on `night` (the sun's lowest point). */
export function solarMidnight(night: CivilDate, location: GeoPoint): number {
  // suncalc's nadir is the one before the day's solar noon, so the next day's nadir is this night's.
  return solarDay(addDays(night, 1), location).nadir.getTime();
}

/** The sun's altitude in degrees at instant t (refraction-corrected), e.g. to check a computed dusk. */
export function sunAltitude(t: number, location: GeoPoint): number {
  return SunCalc.getPosition(new Date(t), location.lat, location.lon).altitude;
}

function solarDay(date: CivilDate, location: GeoPoint): SunCalcModule.SunTimes {
  // suncalc 2 returns the solar day around the given UTC date's noon, whatever the time of day.
  return SunCalc.getTimes(
    new Date(Date.UTC(date.year, date.month - 1, date.day, 12)),
    location.lat,
    location.lon,
  );
}

function skyWithoutEvent(
  times: SunCalcModule.SunTimes,
  location: GeoPoint,
  twilight: Twilight,
): 'light' | 'dark' {
  // Without a crossing, the sun is on one side of the altitude all day: its noon altitude tells which.
  return sunAltitude(times.solarNoon.getTime(), location) > TWILIGHT_ALTITUDE[twilight] ? 'light' : 'dark';
}
