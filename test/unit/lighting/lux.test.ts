import { LuxTrigger, luxTriggers } from '../../../controller/lighting/lux';
import { planNight } from '../../../controller/lighting/schedule';
import { METZ, MINUTE, PARIS, day, local, program } from './fixtures';

const at = (time: string) => local('Europe/Paris', time);
const sensor = { point: 'mairie/lux', below: 20, above: 50, for_s: 120 };
const withLux = program({
  id: 'lux',
  min_burn_min: 20,
  steps: [
    { at: 'dusk+30min', level: 100, lux: sensor },
    { at: '23:00', level: 40 },
    { at: 'dawn', level: 0, lux: sensor },
  ],
});
const plan = planNight(withLux, day(2026, 1, 15), { location: METZ, zone: PARIS });
const [evening, morning] = luxTriggers(plan, withLux);

describe('light-sensor triggers of a plan', () => {
  it('give the evening step a window from noon and the dawn step one from the previous step', () => {
    expect(evening).toMatchObject({
      step: 0,
      direction: 'raise',
      from: plan.start,
      at: plan.steps[0].at,
      previousLevel: 0,
    });
    expect(morning).toMatchObject({
      step: 2,
      direction: 'lower',
      from: at('2026-01-15T23:00'),
      at: plan.steps[2].at,
    });
    expect(morning.previousLevel).toBe(40);
    expect(evening).toMatchObject({ below: 20, above: 50, forMs: 120_000, minBurnMs: 20 * MINUTE });
  });

  it('default the switch-off threshold to twice the switch-on one', () => {
    const p = program({
      steps: [
        { at: 'dusk', level: 100, lux: { point: 'b/l', below: 15 } },
        { at: 'dawn', level: 0 },
      ],
    });
    expect(luxTriggers(planNight(p, day(2026, 1, 15), { location: METZ, zone: PARIS }), p)[0]).toMatchObject({
      below: 15,
      above: 30,
      forMs: 60_000,
    });
  });
});

describe('a step that raises the level (evening)', () => {
  it('starts early once it has been dark for for_s, and tells when that will be', () => {
    const trigger = new LuxTrigger(evening);
    trigger.observe(at('2026-01-15T15:00'), 300);
    expect(trigger.nextDeadline()).toBe(evening.at);
    trigger.observe(at('2026-01-15T15:30'), 15);
    expect(trigger.nextDeadline()).toBe(at('2026-01-15T15:32'));
    trigger.advanceTo(at('2026-01-15T15:31'));
    expect(trigger.level()).toBeUndefined();
    trigger.advanceTo(at('2026-01-15T15:32'));
    expect(trigger.state()).toBe('early');
    expect(trigger.level()).toBe(100);
  });

  it('does not switch on for a reading that does not last (a cloud, a shadow)', () => {
    const trigger = new LuxTrigger(evening);
    trigger.observe(at('2026-01-15T15:30'), 15);
    trigger.observe(at('2026-01-15T15:31'), 35);
    trigger.advanceTo(at('2026-01-15T15:40'));
    expect(trigger.state()).toBe('waiting');
  });

  it('goes back when it brightens, but not before the minimum burning time, and not inside the hysteresis band', () => {
    const trigger = new LuxTrigger(evening);
    trigger.observe(at('2026-01-15T13:00'), 10);
    trigger.advanceTo(at('2026-01-15T13:02'));
    expect(trigger.state()).toBe('early');
    trigger.observe(at('2026-01-15T13:05'), 35);
    trigger.advanceTo(at('2026-01-15T14:00'));
    expect(trigger.state()).toBe('early');
    trigger.observe(at('2026-01-15T14:01'), 80);
    trigger.advanceTo(at('2026-01-15T14:03'));
    expect(trigger.state()).toBe('waiting');

    const brief = new LuxTrigger(evening);
    brief.observe(at('2026-01-15T13:00'), 10);
    brief.observe(at('2026-01-15T13:03'), 80);
    // Lit at 13:02: bright for 2 min by 13:05, but the lamps burn until 13:22.
    expect(brief.nextDeadline()).toBe(at('2026-01-15T13:22'));
    brief.advanceTo(at('2026-01-15T13:21'));
    expect(brief.state()).toBe('early');
    brief.advanceTo(at('2026-01-15T13:22'));
    expect(brief.state()).toBe('waiting');
  });

  it('hands over to the plan at the step time whatever the sensor says', () => {
    const trigger = new LuxTrigger(evening);
    trigger.observe(at('2026-01-15T15:00'), 500);
    trigger.advanceTo(evening.at);
    expect(trigger.state()).toBe('done');
    expect(trigger.nextDeadline()).toBeUndefined();
    trigger.observe(evening.at + MINUTE, 1);
    expect(trigger.level()).toBeUndefined();
  });

  it('ignores unreadable values and readings older than the last', () => {
    const trigger = new LuxTrigger(evening);
    trigger.observe(at('2026-01-15T15:00'), Number.NaN);
    trigger.observe(at('2026-01-15T15:10'), 500);
    trigger.observe(at('2026-01-15T15:05'), 1);
    trigger.advanceTo(at('2026-01-15T15:20'));
    expect(trigger.state()).toBe('waiting');
  });
});

describe('a step that lowers the level (dawn)', () => {
  it('starts early once it has been bright for for_s, inside its window only', () => {
    const trigger = new LuxTrigger(morning);
    trigger.observe(at('2026-01-15T22:00'), 400);
    // Bright since before the window (a faulty or lit-up sensor): nothing before the window opens at
    // 23:00, and then not before the minimum burning time counted from there.
    trigger.advanceTo(at('2026-01-15T23:19'));
    expect(trigger.state()).toBe('waiting');
    expect(trigger.nextDeadline()).toBe(at('2026-01-15T23:20'));
    trigger.advanceTo(at('2026-01-15T23:20'));
    expect(trigger.state()).toBe('early');
    expect(trigger.level()).toBe(0);

    const dawn = new LuxTrigger(morning);
    dawn.observe(at('2026-01-16T03:00'), 0.5);
    dawn.observe(at('2026-01-16T07:30'), 60);
    dawn.advanceTo(at('2026-01-16T07:31'));
    expect(dawn.state()).toBe('waiting');
    dawn.advanceTo(at('2026-01-16T07:32'));
    expect(dawn.state()).toBe('early');
    dawn.observe(at('2026-01-16T07:33'), 10);
    dawn.advanceTo(at('2026-01-16T07:35'));
    expect(dawn.state()).toBe('waiting');
  });

  it('keeps lamps lit at least min_burn_min after they were lit', () => {
    const trigger = new LuxTrigger({ ...morning, forMs: 0 });
    trigger.observe(morning.from + MINUTE, 400);
    expect(trigger.state()).toBe('waiting');
    expect(trigger.nextDeadline()).toBe(morning.from + 20 * MINUTE);
    trigger.advanceTo(morning.from + 20 * MINUTE);
    expect(trigger.state()).toBe('early');
  });
});
