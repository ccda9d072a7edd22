import { DateTime } from 'luxon';
import type * as SunCalcModule from 'suncalc' with { 'resolution-mode': 'import' };
import { Calendar, Program, PresenceSensor, Zone } from '../../../config/schema/lighting';
import type { CalendarConfig, PresenceSensorConfig, ProgramConfig, ZoneConfig } from '../../../config/schema';
import { timeZone, type CivilDate } from '../../../core/localTime';

/** Lighting fixtures, parsed by the real schema so defaults are the ones a configuration gets. */

/** suncalc itself, to compare against (ESM types, CommonJS code: see core/sun.ts). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const SunCalc = require('suncalc') as typeof SunCalcModule;

export const METZ = { lat: 49.1193, lon: 6.1757 };
export const TROMSO = { lat: 69.6492, lon: 18.9553 };
export const PARIS = timeZone('Europe/Paris');
export const OSLO = timeZone('Europe/Oslo');

export function program(input: Record<string, unknown>): ProgramConfig {
  return Program.parse({ id: 'p', ...input });
}

export function calendar(input: Record<string, unknown>): CalendarConfig {
  return Calendar.parse({ id: 'c', ...input });
}

export function sensor(input: Record<string, unknown>): PresenceSensorConfig {
  return PresenceSensor.parse({ id: 's', zone: 'z', topic: 'sensors/s', ...input });
}

export function zone(
  id: string,
  commune: string,
  count: number,
  extra: Record<string, unknown> = {},
): ZoneConfig {
  return Zone.parse({
    id,
    commune,
    calendar: 'c',
    luminaires: Array.from({ length: count }, (_, j) => ({
      id: `${id}-${String(j + 1).padStart(3, '0')}`,
      power_w: 50,
      device: `${id}-sc`,
      channel: j + 1,
    })),
    ...extra,
  });
}

/** The demo's "extinction 1 h - 5 h" program. */
export const EXTINCTION = program({
  id: 'extinction-1h-5h',
  steps: [
    { at: 'dusk', level: 100 },
    { at: '22:30', level: 70 },
    { at: '01:00', level: 0 },
    { at: '05:00', level: 70 },
    { at: 'dawn', level: 0 },
  ],
});

export const DUSK_TO_DAWN = program({
  id: 'dusk-to-dawn',
  steps: [
    { at: 'dusk', level: 100 },
    { at: 'dawn', level: 0 },
  ],
});

export const day = (year: number, month: number, d: number): CivilDate => ({ year, month, day: d });

/** An instant from a local wall-clock time, computed by luxon (independently of the code under test). */
export function local(zoneName: string, iso: string): number {
  const dt = DateTime.fromISO(iso, { zone: zoneName });
  if (!dt.isValid) throw new Error(`bad local time ${iso}`);
  return dt.toMillis();
}

export const utc = (iso: string): number => Date.parse(iso);

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
