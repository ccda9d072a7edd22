import {
  addDays,
  daysInMonth,
  formatCivilDate,
  localDateTime,
  nightOf,
  parseCivilDate,
  timeZone,
  weekdayOf,
  zonedInstant,
} from '../../../core/localTime';
import { PARIS, day, utc } from './fixtures';

describe('zonedInstant in Europe/Paris', () => {
  it('places an ordinary winter and summer time with the right offset', () => {
    expect(zonedInstant(PARIS, day(2026, 1, 15), 22 * 60 + 30)).toEqual({
      at: utc('2026-01-15T21:30:00Z'),
      resolution: 'exact',
    });
    expect(zonedInstant(PARIS, day(2026, 7, 15), 22 * 60 + 30)).toEqual({
      at: utc('2026-07-15T20:30:00Z'),
      resolution: 'exact',
    });
  });

  it('maps 02:30 on the spring-forward night (29 March 2026) to the first instant after the gap, 03:00 CEST', () => {
    expect(zonedInstant(PARIS, day(2026, 3, 29), 2 * 60 + 30)).toEqual({
      at: utc('2026-03-29T01:00:00Z'),
      resolution: 'gap',
    });
    expect(zonedInstant(PARIS, day(2026, 3, 29), 2 * 60)).toEqual({
      at: utc('2026-03-29T01:00:00Z'),
      resolution: 'gap',
    });
    expect(zonedInstant(PARIS, day(2026, 3, 29), 3 * 60)).toEqual({
      at: utc('2026-03-29T01:00:00Z'),
      resolution: 'exact',
    });
    expect(zonedInstant(PARIS, day(2026, 3, 29), 60 + 59).at).toBe(utc('2026-03-29T00:59:00Z'));
  });

  it('maps 02:30 on the autumn night (25 October 2026) to its first occurrence, 02:30 CEST', () => {
    expect(zonedInstant(PARIS, day(2026, 10, 25), 2 * 60 + 30)).toEqual({
      at: utc('2026-10-25T00:30:00Z'),
      resolution: 'repeated',
    });
    expect(zonedInstant(PARIS, day(2026, 10, 25), 3 * 60)).toEqual({
      at: utc('2026-10-25T02:00:00Z'),
      resolution: 'exact',
    });
  });

  it('handles a zone east of UTC+12 and one with a 45-minute offset', () => {
    expect(zonedInstant(timeZone('Pacific/Kiritimati'), day(2026, 1, 1), 0).at).toBe(
      utc('2025-12-31T10:00:00Z'),
    );
    expect(zonedInstant(timeZone('Asia/Kathmandu'), day(2026, 1, 1), 0).at).toBe(utc('2025-12-31T18:15:00Z'));
  });

  it('refuses an unknown time zone with its name', () => {
    expect(() => timeZone('Europe/Atlantis')).toThrow("unknown IANA time zone 'Europe/Atlantis'");
  });
});

describe('nights and dates', () => {
  it('names a night by the date of its first noon', () => {
    expect(formatCivilDate(nightOf(PARIS, utc('2026-07-14T21:00:00Z')))).toBe('2026-07-14');
    expect(formatCivilDate(nightOf(PARIS, utc('2026-07-15T02:00:00Z')))).toBe('2026-07-14');
    expect(formatCivilDate(nightOf(PARIS, utc('2026-07-15T09:59:59Z')))).toBe('2026-07-14');
    expect(formatCivilDate(nightOf(PARIS, utc('2026-07-15T10:00:00Z')))).toBe('2026-07-15');
  });

  it('reads the local date and time of an instant', () => {
    expect(localDateTime(PARIS, utc('2026-10-25T01:30:00Z'))).toEqual({
      date: day(2026, 10, 25),
      minutes: 150,
    });
  });

  it('does date arithmetic across months, years and leap days', () => {
    expect(addDays(day(2026, 12, 31), 1)).toEqual(day(2027, 1, 1));
    expect(addDays(day(2028, 3, 1), -1)).toEqual(day(2028, 2, 29));
    expect(daysInMonth(2027, 2)).toBe(28);
    expect(weekdayOf(day(2026, 7, 14))).toBe('tue');
    expect(weekdayOf(day(1970, 1, 1))).toBe('thu');
    expect(weekdayOf(day(1969, 12, 28))).toBe('sun');
  });

  it('parses only real dates', () => {
    expect(parseCivilDate('2026-02-28')).toEqual(day(2026, 2, 28));
    expect(parseCivilDate('2026-02-29')).toBeUndefined();
    expect(parseCivilDate('2026-13-01')).toBeUndefined();
    expect(parseCivilDate('14 July')).toBeUndefined();
  });
});
