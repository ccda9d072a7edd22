import { RuleWindow } from '../../../controller/telemetry/alerts/scope';
import { timeZone, civilDate } from '../../../core/localTime';
import { eveningTwilight, morningTwilight, type GeoPoint } from '../../../core/sun';
import { RuleWhen } from '../../../config/schema/alerts';
import { MINUTE, paris } from '../energy/fixtures';

const ZONE = timeZone('Europe/Paris');
const METZ: GeoPoint = { lat: 49.12, lon: 6.18 };
const BREST: GeoPoint = { lat: 48.39, lon: -4.49 };

function window(when: unknown): RuleWindow {
  return new RuleWindow(RuleWhen.parse(when), ZONE);
}

function sunset(date: string, at: GeoPoint): number {
  const [y, m, d] = date.split('-').map(Number);
  const event = eveningTwilight(civilDate(y, m, d), at, 'official');
  if (!event.occurs) throw new Error('no sunset');
  return event.at;
}

function sunrise(date: string, at: GeoPoint): number {
  const [y, m, d] = date.split('-').map(Number);
  const event = morningTwilight(civilDate(y, m, d), at, 'official');
  if (!event.occurs) throw new Error('no sunrise');
  return event.at;
}

describe('RuleWindow', () => {
  it('runs from a clock time to the next occurrence of the other, across midnight', () => {
    const night = window({ from: '22:00', to: '06:00' });
    const inside = (date: string, time: string): boolean => night.contains(paris(date, time), METZ);
    expect(inside('2026-01-12', '21:59')).toBe(false);
    expect(inside('2026-01-12', '22:00')).toBe(true);
    expect(inside('2026-01-13', '03:00')).toBe(true);
    expect(inside('2026-01-13', '05:59')).toBe(true);
    expect(inside('2026-01-13', '06:00')).toBe(false);
    expect(inside('2026-01-13', '12:00')).toBe(false);
    const day = window({ from: '08:00', to: '17:30' });
    expect(day.contains(paris('2026-01-12', '12:00'), METZ)).toBe(true);
    expect(day.contains(paris('2026-01-12', '17:30'), METZ)).toBe(false);
  });

  it('follows the wall clock over the spring-forward night', () => {
    const night = window({ from: '22:00', to: '06:00' });
    // 29 March 2026: 02:00 CET becomes 03:00 CEST; 06:00 CEST is 04:00 UTC.
    expect(night.contains(Date.parse('2026-03-29T03:59:00Z'), METZ)).toBe(true);
    expect(night.contains(Date.parse('2026-03-29T04:00:00Z'), METZ)).toBe(false);
  });

  it('gives a window crossing midnight to the day it starts, for weekdays and holidays', () => {
    const fridayNight = window({ from: '22:00', to: '06:00', weekdays: ['fri'] });
    // 16 January 2026 is a Friday.
    expect(fridayNight.contains(paris('2026-01-16', '23:00'), METZ)).toBe(true);
    expect(fridayNight.contains(paris('2026-01-17', '03:00'), METZ)).toBe(true);
    expect(fridayNight.contains(paris('2026-01-16', '03:00'), METZ)).toBe(false);
    expect(fridayNight.contains(paris('2026-01-17', '23:00'), METZ)).toBe(false);

    // 1 May 2026 (Friday) is a holiday everywhere; 26 December only in Alsace-Moselle.
    const holidays = window({ holidays: 'only' });
    const others = window({ holidays: 'except', weekdays: ['mon', 'tue', 'wed', 'thu', 'fri'] });
    expect(holidays.contains(Date.parse('2026-05-01T10:00:00+02:00'), METZ)).toBe(true);
    expect(holidays.contains(Date.parse('2026-05-04T10:00:00+02:00'), METZ)).toBe(false);
    expect(others.contains(Date.parse('2026-05-01T10:00:00+02:00'), METZ)).toBe(false);
    expect(others.contains(Date.parse('2026-05-04T10:00:00+02:00'), METZ)).toBe(true);
    expect(holidays.contains(paris('2026-12-26', '10:00'), METZ)).toBe(false);
    const alsace = window({ holidays: 'only', holiday_set: 'fr-alsace-moselle' });
    expect(alsace.contains(paris('2026-12-26', '10:00'), METZ)).toBe(true);
    // A holiday night: from the evening of the holiday (Christmas) to the next morning.
    const holidayNight = window({ from: '20:00', to: '06:00', holidays: 'only' });
    expect(holidayNight.contains(paris('2026-12-25', '03:00'), METZ)).toBe(false);
    expect(holidayNight.contains(paris('2026-12-25', '21:00'), METZ)).toBe(true);
    expect(holidayNight.contains(paris('2026-12-26', '03:00'), METZ)).toBe(true);
  });

  it('opens at dusk plus its offset and closes at the next dawn, at the location given', () => {
    const dark = window({ from: { sun: 'dusk', offset_min: 30 }, to: { sun: 'dawn' } });
    const dusk = sunset('2026-01-12', METZ);
    const dawn = sunrise('2026-01-13', METZ);
    // Metz, mid-January: sunset near 16:55, sunrise near 08:15.
    expect(dusk).toBeGreaterThan(paris('2026-01-12', '16:40'));
    expect(dusk).toBeLessThan(paris('2026-01-12', '17:10'));
    expect(dawn).toBeGreaterThan(paris('2026-01-13', '08:00'));
    expect(dawn).toBeLessThan(paris('2026-01-13', '08:30'));
    expect(dark.contains(dusk + 29 * MINUTE, METZ)).toBe(false);
    expect(dark.contains(dusk + 31 * MINUTE, METZ)).toBe(true);
    expect(dark.contains(paris('2026-01-13', '02:00'), METZ)).toBe(true);
    expect(dark.contains(dawn - MINUTE, METZ)).toBe(true);
    expect(dark.contains(dawn + MINUTE, METZ)).toBe(false);
    // Brest's sun sets about 40 minutes later than Metz's.
    expect(dark.contains(dusk + 40 * MINUTE, BREST)).toBe(false);
    expect(dark.contains(sunset('2026-01-12', BREST) + 31 * MINUTE, BREST)).toBe(true);

    const beforeDawn = window({ from: { sun: 'dawn', offset_min: -60 }, to: { sun: 'dawn' } });
    expect(beforeDawn.contains(dawn - 30 * MINUTE, METZ)).toBe(true);
    expect(beforeDawn.contains(dawn - 61 * MINUTE, METZ)).toBe(false);
  });

  it('is whole days without from and to, every day without any condition', () => {
    expect(window({}).contains(paris('2026-01-12', '03:00'), METZ)).toBe(true);
    const weekend = window({ weekdays: ['sat', 'sun'] });
    expect(weekend.contains(paris('2026-01-17', '00:00'), METZ)).toBe(true);
    expect(weekend.contains(paris('2026-01-18', '23:59'), METZ)).toBe(true);
    expect(weekend.contains(paris('2026-01-19', '00:00'), METZ)).toBe(false);
  });
});
