import { timeZone } from '../../../core/localTime';
import { OpeningHours } from '../../../controller/telemetry/openingHours';

const PARIS = timeZone('Europe/Paris');
/** Local Paris wall time in January (UTC+1). */
const at = (date: string, time: string): number => Date.parse(`${date}T${time}:00+01:00`);

describe('OpeningHours', () => {
  const school = new OpeningHours(
    {
      opening_hours: [
        { days: ['mon', 'tue', 'thu', 'fri'], from: '08:00', to: '17:30' },
        { days: ['wed'], from: '08:00', to: '12:00' },
      ],
      closed_dates: ['2026-01-13', '12-25'],
    },
    PARIS,
  );

  it('is open within a period and closed outside it, in the site time zone', () => {
    expect(school.isOpen(at('2026-01-12', '07:59'))).toBe(false);
    expect(school.isOpen(at('2026-01-12', '08:00'))).toBe(true);
    expect(school.isOpen(at('2026-01-12', '17:29'))).toBe(true);
    expect(school.isOpen(at('2026-01-12', '17:30'))).toBe(false);
    expect(school.isOpen(at('2026-01-14', '13:00'))).toBe(false); // Wednesday afternoon
    expect(school.isOpen(at('2026-01-17', '10:00'))).toBe(false); // Saturday
  });

  it('is closed on closed dates, full or every year', () => {
    expect(school.isOpen(at('2026-01-13', '10:00'))).toBe(false);
    expect(school.isOpen(Date.parse('2026-12-25T10:00:00+01:00'))).toBe(false);
  });

  it('counts the margin before opening and after closing as open, across midnight too', () => {
    expect(school.isOpen(at('2026-01-12', '07:40'), 30)).toBe(true);
    expect(school.isOpen(at('2026-01-12', '17:50'), 30)).toBe(true);
    expect(school.isOpen(at('2026-01-12', '18:10'), 30)).toBe(false);
    const late = new OpeningHours(
      { opening_hours: [{ days: ['sat'], from: '00:15', to: '02:00' }], closed_dates: [] },
      PARIS,
    );
    expect(late.isOpen(at('2026-01-16', '23:50'), 30)).toBe(true); // Friday night, before Saturday's 00:15
    expect(late.isOpen(at('2026-01-16', '23:30'), 30)).toBe(false);
  });

  it('keeps a period crossing midnight with the day it starts on', () => {
    const gym = new OpeningHours(
      { opening_hours: [{ days: ['fri'], from: '18:00', to: '01:00' }], closed_dates: [] },
      PARIS,
    );
    expect(gym.isOpen(at('2026-01-16', '23:00'))).toBe(true);
    expect(gym.isOpen(at('2026-01-17', '00:30'))).toBe(true); // Saturday 00:30 belongs to Friday
    expect(gym.isOpen(at('2026-01-17', '01:00'))).toBe(false);
    expect(gym.isOpen(at('2026-01-17', '23:00'))).toBe(false);
  });

  it('is never open without opening hours', () => {
    const cabinet = new OpeningHours({ opening_hours: [], closed_dates: [] }, PARIS);
    expect(cabinet.everOpen).toBe(false);
    expect(cabinet.isOpen(at('2026-01-12', '12:00'), 60)).toBe(false);
  });
});
