import { programFor, ruleMatches } from '../../../controller/lighting/calendar';
import { easterSunday, holidayOn, publicHolidays } from '../../../controller/lighting/holidays';
import { formatCivilDate, parseCivilDate } from '../../../core/localTime';
import { calendar, day } from './fixtures';

const iso = (text: string) => parseCivilDate(text)!;

describe('public holidays', () => {
  it('computes Easter Sunday', () => {
    const known: [number, string][] = [
      [2024, '2024-03-31'],
      [2025, '2025-04-20'],
      [2026, '2026-04-05'],
      [2027, '2027-03-28'],
      [2038, '2038-04-25'],
      [2285, '2285-03-22'],
    ];
    for (const [year, date] of known) expect(formatCivilDate(easterSunday(year))).toBe(date);
  });

  it('lists the Alsace-Moselle holidays of 2026 and 2027 (13 days: the 11 French ones, Good Friday and 26 December)', () => {
    const list = (year: number) =>
      publicHolidays(year, 'fr-alsace-moselle').map((h) => formatCivilDate(h.date));
    expect(list(2026)).toEqual([
      '2026-01-01',
      '2026-04-03',
      '2026-04-06',
      '2026-05-01',
      '2026-05-08',
      '2026-05-14',
      '2026-05-25',
      '2026-07-14',
      '2026-08-15',
      '2026-11-01',
      '2026-11-11',
      '2026-12-25',
      '2026-12-26',
    ]);
    expect(list(2027)).toEqual([
      '2027-01-01',
      '2027-03-26',
      '2027-03-29',
      '2027-05-01',
      '2027-05-06',
      '2027-05-08',
      '2027-05-17',
      '2027-07-14',
      '2027-08-15',
      '2027-11-01',
      '2027-11-11',
      '2027-12-25',
      '2027-12-26',
    ]);
  });

  it('keeps Good Friday and 26 December out of the national list', () => {
    expect(publicHolidays(2026, 'fr')).toHaveLength(11);
    expect(holidayOn(iso('2026-04-03'), 'fr')).toBeUndefined();
    expect(holidayOn(iso('2026-04-03'), 'fr-alsace-moselle')?.name).toBe('Vendredi saint');
    expect(holidayOn(iso('2026-12-26'), 'fr')).toBeUndefined();
    expect(holidayOn(iso('2026-05-25'), 'fr')?.name).toBe('Lundi de Pentecôte');
  });
});

describe('calendar rules', () => {
  const metz = calendar({
    default: 'abaissement',
    rules: [
      { name: 'Fête nationale', dates: ['07-13', '07-14'], program: 'nuit-complete' },
      { name: 'Saint-Sylvestre', dates: ['12-31'], program: 'nuit-complete' },
      { name: "Fêtes de fin d'année", from: '12-20', to: '01-05', program: 'fetes' },
      { name: 'Fêtes de la Mirabelle 2026', dates: ['2026-08-28'], program: 'festival' },
      { name: "Nuit de l'Halloween", nth_weekday: { n: -1, weekday: 'sat', month: 10 }, program: 'festival' },
      { name: 'Premier vendredi', nth_weekday: { n: 1, weekday: 'fri' }, program: 'marche-nocturne' },
      { name: 'Jours fériés', holidays: 'fr-alsace-moselle', program: 'ferie' },
      { name: 'Week-end', weekdays: ['fri', 'sat'], program: 'week-end' },
      {
        name: 'Dimanches de l’été 2026',
        from: '2026-06-01',
        to: '2026-08-31',
        weekdays: ['sun'],
        program: 'ete',
      },
    ],
  });
  const pick = (date: string) => programFor(metz, iso(date)).program;

  it('takes the first rule whose conditions all hold', () => {
    expect(programFor(metz, iso('2026-07-14'))).toEqual({
      program: 'nuit-complete',
      rule: 0,
      ruleName: 'Fête nationale',
    });
    expect(pick('2026-07-13')).toBe('nuit-complete');
    expect(pick('2026-12-31')).toBe('nuit-complete');
    expect(pick('2026-12-25')).toBe('fetes');
  });

  it('falls back to the default program', () => {
    expect(programFor(metz, iso('2026-07-15'))).toEqual({ program: 'abaissement' });
  });

  it('runs a range over the new year', () => {
    expect(pick('2026-12-19')).toBe('week-end');
    expect(pick('2026-12-20')).toBe('fetes');
    expect(pick('2027-01-01')).toBe('fetes');
    expect(pick('2027-01-05')).toBe('fetes');
    expect(pick('2027-01-06')).toBe('abaissement');
  });

  it('matches a full date in its year only', () => {
    expect(pick('2026-08-28')).toBe('festival');
    expect(pick('2027-08-28')).toBe('week-end');
  });

  it('matches the last and the first weekday of a month', () => {
    expect(pick('2026-10-31')).toBe('festival');
    expect(pick('2026-10-24')).toBe('week-end');
    expect(pick('2027-10-30')).toBe('festival');
    expect(pick('2026-05-01')).toBe('marche-nocturne');
    expect(pick('2026-05-08')).toBe('ferie');
    expect(pick('2026-05-15')).toBe('week-end');
  });

  it('matches Alsace-Moselle holidays', () => {
    expect(pick('2027-03-26')).toBe('ferie');
    expect(pick('2026-04-06')).toBe('ferie');
    expect(pick('2026-05-14')).toBe('ferie');
    expect(pick('2026-12-26')).toBe('fetes');
  });

  it('requires every condition of a rule', () => {
    expect(pick('2026-06-07')).toBe('ete');
    expect(pick('2026-06-08')).toBe('abaissement');
    expect(pick('2027-06-06')).toBe('abaissement');
  });

  it('names a night by its first date: Friday night is the one that starts on Friday', () => {
    expect(pick('2026-07-17')).toBe('week-end');
    expect(pick('2026-07-16')).toBe('abaissement');
  });

  it('treats a lone bound as open on the other side, and a rule without conditions as always true', () => {
    const rule = (extra: Record<string, unknown>) =>
      calendar({ default: 'x', rules: [{ program: 'y', ...extra }] }).rules[0];
    expect(ruleMatches(rule({ from: '2026-06-01' }), day(2030, 1, 1))).toBe(true);
    expect(ruleMatches(rule({ from: '2026-06-01' }), day(2026, 5, 31))).toBe(false);
    expect(ruleMatches(rule({ to: '03-01' }), day(2026, 2, 14))).toBe(true);
    expect(ruleMatches(rule({ to: '03-01' }), day(2026, 3, 2))).toBe(false);
    expect(ruleMatches(rule({}), day(2026, 3, 2))).toBe(true);
  });
});
