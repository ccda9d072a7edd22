import { levelAt } from '../../../controller/lighting/schedule';
import { ZoneSchedule } from '../../../controller/lighting/zoneSchedule';
import { DUSK_TO_DAWN, EXTINCTION, HOUR, METZ, MINUTE, calendar, day, local, program } from './fixtures';

const at = (time: string) => local('Europe/Paris', time);
const festive = program({
  id: 'nuit-complete',
  steps: [
    { at: 'dusk', level: 100 },
    { at: 'dawn', level: 0 },
  ],
});
const lux = program({
  id: 'lux',
  steps: [
    { at: 'dusk+30min', level: 100, lux: { point: 'mairie/lux', below: 20, for_s: 60 } },
    { at: 'dawn', level: 0 },
  ],
});
const programs = new Map([EXTINCTION, festive, DUSK_TO_DAWN, lux].map((p) => [p.id, p]));
const cal = calendar({
  default: 'extinction-1h-5h',
  rules: [
    { dates: ['07-14'], program: 'nuit-complete' },
    { dates: ['12-24'], program: 'lux' },
  ],
});
const schedule = () =>
  ZoneSchedule.create({
    zone: 'metz-rue-serpenoise',
    calendar: cal,
    programs,
    location: METZ,
    timeZone: 'Europe/Paris',
  });

describe('ZoneSchedule', () => {
  it('follows the calendar night by night', () => {
    const zone = schedule();
    expect(zone.at(at('2026-07-14T23:30'))).toMatchObject({
      level: 100,
      program: 'nuit-complete',
      rule: 0,
      night: '2026-07-14',
    });
    expect(zone.at(at('2026-07-15T02:00'))).toMatchObject({ level: 100, night: '2026-07-14' });
    expect(zone.at(at('2026-07-16T02:00'))).toMatchObject({ level: 0, program: 'extinction-1h-5h', step: 2 });
    expect(zone.at(at('2026-07-16T02:00')).rule).toBeUndefined();
  });

  it('lets presence raise at night, also during the extinction, and never by day', () => {
    const zone = schedule();
    expect(zone.at(at('2026-07-16T02:00'))).toMatchObject({ level: 0, allowPresence: true });
    expect(zone.at(at('2026-07-16T14:00'))).toMatchObject({
      level: 0,
      allowPresence: false,
      step: 'initial',
    });
  });

  it('announces every change: walking nextDeadlineAfter over three nights finds each step of each plan', () => {
    const zone = schedule();
    const from = at('2026-07-13T12:00');
    const to = at('2026-07-16T12:00');
    const initial = zone.at(from).level;
    const seen: [number, number][] = [];
    let level = initial;
    for (let t = zone.nextDeadlineAfter(from); t < to; t = zone.nextDeadlineAfter(t)) {
      const now = zone.at(t).level;
      if (now !== level) seen.push([t, now]);
      level = now;
    }
    // The same changes read straight off the three plans.
    const expected: [number, number][] = [];
    let previous = initial;
    for (const night of [day(2026, 7, 13), day(2026, 7, 14), day(2026, 7, 15)]) {
      const plan = zone.planFor(night);
      for (const step of plan.steps) {
        const stepLevel = levelAt(plan, step.at);
        if (stepLevel !== previous) expected.push([step.at, stepLevel]);
        previous = stepLevel;
      }
    }
    expect(seen).toEqual(expected);
    expect(seen.length).toBeGreaterThanOrEqual(8);
  });

  it('brings a light-sensor step forward and reports which sensor did it', () => {
    const zone = schedule();
    expect(zone.luxPoints()).toEqual(['mairie/lux']);
    const plan = zone.planFor(day(2026, 12, 24));
    zone.observeLux('mairie/lux', at('2026-12-24T15:50'), 8);
    expect(zone.nextDeadlineAfter(at('2026-12-24T15:50'))).toBe(at('2026-12-24T15:51'));
    expect(zone.at(at('2026-12-24T15:51'))).toMatchObject({
      level: 100,
      step: 0,
      lux: { point: 'mairie/lux' },
    });
    expect(zone.at(plan.steps[0].at)).toMatchObject({ level: 100, step: 0 });
    expect(zone.at(plan.steps[0].at).lux).toBeUndefined();
    zone.observeLux('other/lux', at('2026-12-24T15:52'), 1000);
  });

  it('feeds the last reading to a night planned after it', () => {
    const zone = schedule();
    zone.observeLux('mairie/lux', at('2026-12-24T12:30'), 5);
    expect(zone.at(at('2026-12-24T12:31'))).toMatchObject({ level: 100, lux: { point: 'mairie/lux' } });
  });

  it('keeps only a few nights planned and plans them again on demand', () => {
    const zone = schedule();
    for (let d = 1; d <= 10; d++) zone.at(at(`2026-03-${String(d).padStart(2, '0')}T20:00`));
    const again = zone.at(at('2026-03-01T20:00'));
    expect(again.night).toBe('2026-03-01');
    expect(zone.nextDeadlineAfter(at('2026-03-01T20:00')) - at('2026-03-01T20:00')).toBeLessThan(24 * HOUR);
  });

  it('refuses a calendar that names an unknown program, or an unknown time zone, naming the zone', () => {
    expect(() =>
      ZoneSchedule.create({
        zone: 'z1',
        calendar: calendar({ default: 'nope', rules: [{ weekdays: ['fri'], program: 'nada' }] }),
        programs,
        location: METZ,
        timeZone: 'Europe/Paris',
      }),
    ).toThrow("zone 'z1': calendar 'c' names unknown program(s) 'nope', 'nada'");
    expect(() =>
      ZoneSchedule.create({ zone: 'z2', calendar: cal, programs, location: METZ, timeZone: 'Mars/Olympus' }),
    ).toThrow("zone 'z2': unknown IANA time zone 'Mars/Olympus'");
  });

  it('answers in every minute of a DST night', () => {
    const zone = schedule();
    const start = at('2026-10-24T12:00');
    for (let t = start; t < start + 25 * HOUR; t += MINUTE) {
      expect(zone.at(t).night).toBe('2026-10-24');
    }
  });
});
