import {
  counterStep,
  newCounterState,
  type CounterSpec,
  type CounterState,
  type CounterStep,
} from '../../../controller/telemetry/counters';

const T0 = Date.UTC(2026, 0, 12, 8, 0, 0);

/** Feeds readings [index, minutes after T0] to one meter and returns each step. */
function run(spec: Partial<CounterSpec>, readings: [number, number][]): CounterStep[] {
  const full: CounterSpec = { rollover: undefined, maxRatePerHour: undefined, reset: 'index', ...spec };
  const state: CounterState = newCounterState();
  return readings.map(([index, minutes]) =>
    counterStep(full, state, index, T0 + minutes * 60_000, { event: 'first', delta: 0, rate: 0 }),
  );
}

describe('counterStep', () => {
  it('gives no delta for the first reading, then differences and rates per hour', () => {
    const steps = run({}, [
      [1000, 0],
      [1002.5, 15],
      [1002.5, 30],
    ]);
    expect(steps[0]).toMatchObject({ event: 'first' });
    expect(steps[0].delta).toBeNaN();
    expect(steps[1]).toMatchObject({ event: 'normal', delta: 2.5, rate: 10 });
    expect(steps[2]).toMatchObject({ event: 'normal', delta: 0, rate: 0 });
  });

  it('takes a rollover near the top of the range as consumption across the wrap', () => {
    // uint16 with scale 0.1: wraps at 6553.6 kWh.
    const steps = run({ rollover: 6553.6 }, [
      [6553.0, 0],
      [0.4, 60],
    ]);
    expect(steps[1].event).toBe('rollover');
    expect(steps[1].delta).toBeCloseTo(1.0, 9);
    expect(steps[1].rate).toBeCloseTo(1.0, 9);
  });

  it('takes any other decrease as a reset: the new index, or nothing with the zero policy', () => {
    const readings: [number, number][] = [
      [52_000, 0],
      [3, 60],
      [5, 120],
    ];
    const byIndex = run({ rollover: 4_294_967_296 * 0.1 }, readings);
    expect(byIndex[1]).toMatchObject({ event: 'reset', delta: 3 });
    expect(byIndex[2]).toMatchObject({ event: 'normal', delta: 2 });
    const byZero = run({ reset: 'zero' }, readings);
    expect(byZero[1]).toMatchObject({ event: 'reset', delta: 0, rate: 0 });
    expect(byZero[2]).toMatchObject({ event: 'normal', delta: 2 });
  });

  it('never gives a negative delta, and ignores float jitter', () => {
    const steps = run({}, [
      [100.0000000001, 0],
      [100, 5],
    ]);
    expect(steps[1]).toMatchObject({ event: 'normal', delta: 0 });
  });

  it('flags an implausible jump bad and forgets it when the next reading returns to the baseline', () => {
    const steps = run({ maxRatePerHour: 100 }, [
      [5000, 0],
      [95_000, 1],
      [5001, 2],
    ]);
    expect(steps[1].event).toBe('implausible');
    expect(steps[1].delta).toBeNaN();
    // The glitch is forgotten: consumption is counted from the last good reading.
    expect(steps[2]).toMatchObject({ event: 'normal', delta: 1 });
    expect(steps[2].rate).toBeCloseTo(30, 9);
  });

  it('rebases on a jump the next reading confirms (meter replaced by one with a higher index), without a spike', () => {
    const steps = run({ maxRatePerHour: 100 }, [
      [5000, 0],
      [95_000, 1],
      [95_001, 2],
      [95_002, 3],
    ]);
    expect(steps.map((s) => s.event)).toEqual(['first', 'implausible', 'rebased', 'normal']);
    expect(steps[2].delta).toBeNaN();
    expect(steps[3].delta).toBe(1);
  });

  it('rebases a reset to an implausibly high new index instead of counting it', () => {
    const steps = run({ maxRatePerHour: 10 }, [
      [80_000, 0],
      [40_000, 60],
      [40_005, 120],
    ]);
    expect(steps[1].event).toBe('rebased');
    expect(steps[1].delta).toBeNaN();
    expect(steps[2]).toMatchObject({ event: 'normal', delta: 5 });
  });

  it('checks a rollover against the plausible rate too', () => {
    const steps = run({ rollover: 65_536, maxRatePerHour: 10 }, [
      [65_530, 0],
      [6000, 60],
    ]);
    expect(steps[1].event).toBe('implausible');
  });

  it('refuses readings that are not later than the baseline', () => {
    const steps = run({}, [
      [10, 10],
      [11, 10],
      [12, 5],
      [13, 20],
    ]);
    expect(steps.map((s) => s.event)).toEqual(['first', 'out-of-order', 'out-of-order', 'normal']);
    expect(steps[3].delta).toBe(3);
    expect(steps[3].rate).toBeCloseTo(3 / (10 / 60), 9);
  });

  it('counts a long gap at its real duration, so a day of consumption is not taken for a spike', () => {
    const steps = run({ maxRatePerHour: 50 }, [
      [1000, 0],
      [1000 + 24 * 40, 24 * 60],
    ]);
    expect(steps[1]).toMatchObject({ event: 'normal', delta: 960 });
    expect(steps[1].rate).toBeCloseTo(40, 9);
  });
});
