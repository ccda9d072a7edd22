import { addDays, civilDate, localDateTime, type CivilDate } from '../../../core/localTime';
import {
  checkProgram,
  levelAt,
  nextChangeAfter,
  parseStepTime,
  planNight,
  type NightPlan,
} from '../../../controller/lighting/schedule';
import { sunAltitude } from '../../../core/sun';
import {
  DUSK_TO_DAWN,
  EXTINCTION,
  HOUR,
  METZ,
  MINUTE,
  OSLO,
  PARIS,
  SunCalc,
  TROMSO,
  day,
  local,
  program,
  utc,
} from './fixtures';

const metz = { location: METZ, zone: PARIS };

function nightsOf(year: number): CivilDate[] {
  const nights: CivilDate[] = [];
  for (let d = civilDate(year, 1, 1); d.year === year; d = addDays(d, 1)) nights.push(d);
  return nights;
}

/** Local wall time of an instant in Paris, as minutes past midnight. */
const parisMinutes = (t: number): number => localDateTime(PARIS, t).minutes;

const suncalcTimes = (date: CivilDate) =>
  SunCalc.getTimes(new Date(Date.UTC(date.year, date.month - 1, date.day, 12)), METZ.lat, METZ.lon);

describe('a whole year of Metz nights (2026)', () => {
  const nights = nightsOf(2026);
  const plans = nights.map((night) => planNight(DUSK_TO_DAWN, night, metz));

  it('switches on at civil dusk and off at civil dawn, as suncalc computes them', () => {
    plans.forEach((plan, k) => {
      expect(plan.skipped).toEqual([]);
      expect(plan.steps.map((s) => s.timing)).toEqual(['sun', 'sun']);
      expect(plan.steps[0].at).toBe(suncalcTimes(nights[k]).dusk!.getTime());
      expect(plan.steps[1].at).toBe(suncalcTimes(addDays(nights[k], 1)).dawn!.getTime());
    });
  });

  it('puts dusk in the evening with the sun going down through -6°, dawn in the morning with it coming up', () => {
    for (const plan of plans) {
      const [dusk, dawn] = plan.steps.map((s) => s.at);
      // Apparent altitude: about 0.5° of refraction sits on top of the geometric -6°.
      expect(sunAltitude(dusk, METZ)).toBeGreaterThan(-6.1);
      expect(sunAltitude(dusk, METZ)).toBeLessThan(-5.3);
      expect(sunAltitude(dusk + 10 * MINUTE, METZ)).toBeLessThan(sunAltitude(dusk, METZ));
      expect(sunAltitude(dawn, METZ)).toBeGreaterThan(-6.1);
      expect(sunAltitude(dawn, METZ)).toBeLessThan(-5.3);
      expect(sunAltitude(dawn + 10 * MINUTE, METZ)).toBeGreaterThan(sunAltitude(dawn, METZ));
      // Local times a Messin would recognise: dusk from about 17:10 (December) to 22:30 (June).
      expect(parisMinutes(dusk)).toBeGreaterThanOrEqual(17 * 60);
      expect(parisMinutes(dusk)).toBeLessThanOrEqual(22 * 60 + 40);
      expect(parisMinutes(dawn)).toBeGreaterThanOrEqual(4 * 60 + 30);
      expect(parisMinutes(dawn)).toBeLessThanOrEqual(8 * 60 + 5);
      expect(dawn - dusk).toBeGreaterThan(5 * HOUR);
      expect(dawn - dusk).toBeLessThan(16 * HOUR);
    }
  });

  it('moves smoothly from one night to the next, except by one hour across the DST changes', () => {
    for (let k = 1; k < plans.length; k++) {
      const jump = parisMinutes(plans[k].steps[0].at) - parisMinutes(plans[k - 1].steps[0].at);
      const night = plans[k].night;
      if (night === '2026-03-29') expect(jump).toBeCloseTo(60, -1);
      else if (night === '2026-10-25') expect(jump).toBeCloseTo(-60, -1);
      else expect(Math.abs(jump)).toBeLessThan(3);
    }
  });

  it('is dark exactly from dusk to dawn', () => {
    for (const plan of plans) {
      const [dusk, dawn] = plan.steps.map((s) => s.at);
      expect(levelAt(plan, plan.start)).toBe(0);
      expect(levelAt(plan, dusk - 1)).toBe(0);
      expect(levelAt(plan, dusk)).toBe(100);
      expect(levelAt(plan, dawn - 1)).toBe(100);
      expect(levelAt(plan, dawn)).toBe(0);
      expect(nextChangeAfter(plan, plan.start)).toEqual({ at: dusk, level: 100 });
      expect(nextChangeAfter(plan, dusk)).toEqual({ at: dawn, level: 0 });
      expect(nextChangeAfter(plan, dawn)).toBeUndefined();
    }
  });

  it('with the demo extinction program, never lights the street after dawn', () => {
    const extinction = nights.map((night) => planNight(EXTINCTION, night, metz));
    const skippedNights = extinction.filter((p) => p.skipped.some((s) => s.reason === 'after-next-sun-step'));
    for (const plan of extinction) {
      expect(levelAt(plan, plan.dawn)).toBe(0);
      expect(nextChangeAfter(plan, plan.dawn)).toBeUndefined();
    }
    // Dawn comes before 05:00 (CEST) around midsummer only.
    expect(skippedNights.length).toBeGreaterThan(20);
    for (const plan of skippedNights) expect(plan.night.slice(5, 7)).toMatch(/0[5-7]/);
    const june21 = extinction.find((p) => p.night === '2026-06-20')!;
    expect(june21.skipped).toEqual([
      {
        index: 3,
        spec: '05:00',
        reason: 'after-next-sun-step',
        at: local('Europe/Paris', '2026-06-21T05:00'),
      },
    ]);
  });
});

describe('the two DST nights of 2026 in Europe/Paris', () => {
  const dst = program({
    id: 'dst',
    steps: [
      { at: 'dusk', level: 100 },
      { at: '22:30', level: 70 },
      { at: '02:00', level: 50 },
      { at: '02:30', level: 30 },
      { at: '03:00', level: 20 },
      { at: '05:00', level: 70 },
      { at: 'dawn', level: 0 },
    ],
  });

  it('spring forward (night of 28 March): 02:00 and 02:30 do not exist and start at 03:00 CEST; the night lasts 23 h', () => {
    const plan = planNight(dst, day(2026, 3, 28), metz);
    expect(plan.end - plan.start).toBe(23 * HOUR);
    const at = Object.fromEntries(plan.steps.map((s) => [s.spec, s]));
    expect(at['22:30'].at).toBe(utc('2026-03-28T21:30:00Z'));
    expect(at['02:00']).toMatchObject({ at: utc('2026-03-29T01:00:00Z'), dst: 'gap' });
    expect(at['02:30']).toMatchObject({ at: utc('2026-03-29T01:00:00Z'), dst: 'gap' });
    expect(at['03:00'].at).toBe(utc('2026-03-29T01:00:00Z'));
    expect(at['03:00'].dst).toBeUndefined();
    expect(at['05:00'].at).toBe(utc('2026-03-29T03:00:00Z'));
    // Three steps at the same instant: the last one listed is the one in force.
    expect(levelAt(plan, utc('2026-03-29T00:59:59Z'))).toBe(70);
    expect(levelAt(plan, utc('2026-03-29T01:00:00Z'))).toBe(20);
    expect(nextChangeAfter(plan, utc('2026-03-29T00:00:00Z'))).toEqual({
      at: utc('2026-03-29T01:00:00Z'),
      level: 20,
    });
  });

  it('fall back (night of 24 October): 02:00 and 02:30 take their first occurrence (CEST); the night lasts 25 h', () => {
    const plan = planNight(dst, day(2026, 10, 24), metz);
    expect(plan.end - plan.start).toBe(25 * HOUR);
    const at = Object.fromEntries(plan.steps.map((s) => [s.spec, s]));
    expect(at['02:00']).toMatchObject({ at: utc('2026-10-25T00:00:00Z'), dst: 'repeated' });
    expect(at['02:30']).toMatchObject({ at: utc('2026-10-25T00:30:00Z'), dst: 'repeated' });
    expect(at['03:00']).toMatchObject({ at: utc('2026-10-25T02:00:00Z') });
    expect(at['05:00'].at).toBe(utc('2026-10-25T04:00:00Z'));
    // The repeated hour runs once at 30 % then on through its second pass (02:00-02:59 CET) until 03:00 CET.
    expect(levelAt(plan, utc('2026-10-25T00:45:00Z'))).toBe(30);
    expect(levelAt(plan, utc('2026-10-25T01:30:00Z'))).toBe(30);
    expect(levelAt(plan, utc('2026-10-25T02:00:00Z'))).toBe(20);
  });
});

describe('night order and clamping', () => {
  it('puts clock times after midnight on the next date', () => {
    const plan = planNight(EXTINCTION, day(2026, 1, 15), metz);
    expect(plan.steps.map((s) => s.spec)).toEqual(['dusk', '22:30', '01:00', '05:00', 'dawn']);
    expect(plan.steps[1].at).toBe(local('Europe/Paris', '2026-01-15T22:30'));
    expect(plan.steps[2].at).toBe(local('Europe/Paris', '2026-01-16T01:00'));
    expect(levelAt(plan, local('Europe/Paris', '2026-01-15T23:59'))).toBe(70);
    expect(levelAt(plan, local('Europe/Paris', '2026-01-16T00:30'))).toBe(70);
    expect(levelAt(plan, local('Europe/Paris', '2026-01-16T01:00'))).toBe(0);
    expect(levelAt(plan, local('Europe/Paris', '2026-01-16T05:00'))).toBe(70);
  });

  it('moves a clock step that falls before dusk to dusk, so an early extinction still applies', () => {
    const early = program({
      steps: [
        { at: 'dusk', level: 100 },
        { at: '22:00', level: 50 },
        { at: '23:00', level: 0 },
        { at: 'dawn', level: 0 },
      ],
    });
    const june = planNight(early, day(2026, 6, 20), metz);
    const dusk = june.steps[0].at;
    expect(parisMinutes(dusk)).toBeGreaterThan(22 * 60);
    expect(june.steps[1]).toMatchObject({
      spec: '22:00',
      at: dusk,
      movedFrom: local('Europe/Paris', '2026-06-20T22:00'),
    });
    expect(levelAt(june, dusk)).toBe(50);
    const january = planNight(early, day(2026, 1, 20), metz);
    expect(january.steps[1].movedFrom).toBeUndefined();
    expect(levelAt(january, january.steps[0].at)).toBe(100);
  });

  it('levels before the first step are where the program ends (as the previous night left them)', () => {
    const tunnel = program({
      steps: [
        { at: 'dusk', level: 100 },
        { at: 'dawn', level: 40 },
      ],
    });
    const plan = planNight(tunnel, day(2026, 2, 1), metz);
    expect(plan.initialLevel).toBe(40);
    expect(levelAt(plan, plan.start)).toBe(40);
  });

  it('drops a step whose offset reaches past the night', () => {
    const late = program({
      steps: [
        { at: 'dusk', level: 100 },
        { at: 'dawn+6h', level: 0 },
      ],
    });
    const plan = planNight(late, day(2026, 1, 10), metz);
    expect(plan.skipped).toMatchObject([{ index: 1, reason: 'outside-night' }]);
  });

  it('skips a step whose time it cannot read (a configuration that bypassed validation)', () => {
    const unchecked = { ...DUSK_TO_DAWN, steps: [...DUSK_TO_DAWN.steps, { at: 'noon', level: 5 }] };
    const plan = planNight(unchecked, day(2026, 1, 10), metz);
    expect(plan.skipped).toEqual([{ index: 2, spec: 'noon', reason: 'unreadable-time' }]);
    expect(checkProgram(unchecked)).toEqual([{ path: ['steps', 2, 'at'], message: "cannot read 'noon'" }]);
  });

  it('refuses an instant outside the night with both named', () => {
    const plan = planNight(DUSK_TO_DAWN, day(2026, 1, 10), metz);
    expect(() => levelAt(plan, plan.end)).toThrow(/outside the night of 2026-01-10/);
  });

  it('uses sunset and sunrise for official twilight, nautical twilight 12° down', () => {
    const official = planNight(program({ ...DUSK_TO_DAWN, twilight: 'official' }), day(2026, 3, 20), metz);
    const nautical = planNight(program({ ...DUSK_TO_DAWN, twilight: 'nautical' }), day(2026, 3, 20), metz);
    const civil = planNight(DUSK_TO_DAWN, day(2026, 3, 20), metz);
    expect(official.steps[0].at).toBe(suncalcTimes(day(2026, 3, 20)).sunset!.getTime());
    expect(nautical.steps[0].at).toBe(suncalcTimes(day(2026, 3, 20)).nauticalDusk!.getTime());
    expect(official.steps[0].at).toBeLessThan(civil.steps[0].at);
    expect(civil.steps[0].at).toBeLessThan(nautical.steps[0].at);
    expect(sunAltitude(nautical.steps[0].at, METZ)).toBeCloseTo(-12, 0);
  });

  it('applies offsets in minutes and hours, before and after', () => {
    const offsets = program({
      steps: [
        { at: 'sunset+10min', level: 100 },
        { at: 'sunrise-1h', level: 0 },
      ],
    });
    const plan = planNight(offsets, day(2026, 3, 20), metz);
    expect(plan.steps[0].at).toBe(suncalcTimes(day(2026, 3, 20)).sunset!.getTime() + 10 * MINUTE);
    expect(plan.steps[1].at).toBe(suncalcTimes(day(2026, 3, 21)).sunrise!.getTime() - HOUR);
  });
});

describe('where the sun does not set: Tromsø in June', () => {
  const tromso = { location: TROMSO, zone: OSLO };
  const night = day(2026, 6, 20);

  it('uses the configured fallback clock times', () => {
    const withFallback = program({
      steps: [
        { at: 'dusk', level: 100, fallback: '23:30' },
        { at: '01:00', level: 50 },
        { at: 'dawn', level: 0, fallback: '02:00' },
      ],
    });
    const plan = planNight(withFallback, night, tromso);
    expect(plan.steps.map((s) => [s.timing, s.at])).toEqual([
      ['fallback', local('Europe/Oslo', '2026-06-20T23:30')],
      ['clock', local('Europe/Oslo', '2026-06-21T01:00')],
      ['fallback', local('Europe/Oslo', '2026-06-21T02:00')],
    ]);
    expect(levelAt(plan, local('Europe/Oslo', '2026-06-21T00:00'))).toBe(100);
    expect(levelAt(plan, local('Europe/Oslo', '2026-06-21T01:30'))).toBe(50);
  });

  it('without a fallback, puts both events at solar midnight so the lamps stay off', () => {
    const plan = planNight(
      program({
        steps: [
          { at: 'dusk', level: 100 },
          { at: '01:00', level: 50 },
          { at: 'dawn', level: 0 },
        ],
      }),
      night,
      tromso,
    );
    expect(plan.steps.map((s) => s.timing)).toEqual(['sky-light', 'sky-light']);
    expect(plan.skipped).toMatchObject([{ spec: '01:00', reason: 'after-next-sun-step' }]);
    for (let t = plan.start; t < plan.end; t += 10 * MINUTE) expect(levelAt(plan, t)).toBe(0);
    expect(plan.dawn - plan.dusk).toBe(0);
  });

  it('in the polar night (official twilight, December), burns from noon to noon', () => {
    const plan = planNight(program({ ...DUSK_TO_DAWN, twilight: 'official' }), day(2026, 12, 20), tromso);
    expect(plan.steps).toMatchObject([{ timing: 'sky-dark', at: plan.start, level: 100 }]);
    expect(plan.skipped).toMatchObject([{ spec: 'dawn', reason: 'outside-night' }]);
    for (let t = plan.start; t < plan.end; t += 10 * MINUTE) expect(levelAt(plan, t)).toBe(100);
  });
});

describe('presence window', () => {
  it('spans the night even when the program switches off in its middle', () => {
    const plan: NightPlan = planNight(EXTINCTION, day(2026, 1, 15), metz);
    expect(plan.presenceFrom).toBe(plan.dusk);
    expect(plan.presenceTo).toBe(plan.dawn);
  });

  it('extends to lit steps outside dusk-dawn', () => {
    const plan = planNight(
      program({
        steps: [
          { at: '16:00', level: 30 },
          { at: '09:00', level: 0 },
        ],
      }),
      day(2026, 1, 15),
      metz,
    );
    expect(plan.presenceFrom).toBe(local('Europe/Paris', '2026-01-15T16:00'));
    expect(plan.presenceTo).toBe(local('Europe/Paris', '2026-01-16T09:00'));
  });
});

describe('step times and program checks', () => {
  it('reads clock times and sun events with offsets', () => {
    expect(parseStepTime('22:30')).toEqual({ kind: 'clock', minutes: 1350 });
    expect(parseStepTime('dusk')).toEqual({ kind: 'sun', event: 'dusk', offsetMin: 0 });
    expect(parseStepTime('dawn-15min')).toEqual({ kind: 'sun', event: 'dawn', offsetMin: -15 });
    expect(parseStepTime('sunset+1h')).toEqual({ kind: 'sun', event: 'sunset', offsetMin: 60 });
    expect(parseStepTime('24:00')).toBeUndefined();
    expect(parseStepTime('noon')).toBeUndefined();
  });

  it('accepts the demo programs and reports steps out of night order, misplaced fallbacks and thresholds', () => {
    expect(checkProgram(EXTINCTION)).toEqual([]);
    const bad = program({
      steps: [
        { at: 'dawn', level: 0 },
        { at: 'dusk', level: 100, lux: { point: 'b/lux', below: 30, above: 20 } },
        { at: '01:00', level: 40, fallback: '02:00' },
        { at: '23:00', level: 70 },
      ],
    });
    expect(checkProgram(bad).map((p) => [p.path.join('.'), p.message])).toEqual([
      [
        'steps.1.at',
        "evening event 'dusk' comes after morning event 'dawn' (step 0); list steps in night order",
      ],
      ['steps.1.lux.above', "must be at least 'below' (30 lx) for the hysteresis to work (is 20)"],
      ['steps.2.fallback', 'a fallback only applies to a sun event (dusk, dawn, sunset, sunrise)'],
      [
        'steps.3.at',
        "'23:00' comes before step 2 ('01:00') in a night that runs from noon to noon; list steps in night order",
      ],
    ]);
  });
});
