import {
  EnergyLedger,
  estimatePowerW,
  nightEnergy,
  powerOf,
  savingsAgainstFullNight,
} from '../../../controller/lighting/energy';
import { planNight } from '../../../controller/lighting/schedule';
import { DUSK_TO_DAWN, EXTINCTION, HOUR, METZ, MINUTE, OSLO, PARIS, TROMSO, day, program } from './fixtures';

const metz = { location: METZ, zone: PARIS };

describe('power', () => {
  it('estimates from rated power and level, with driver loss and standby', () => {
    expect(estimatePowerW(60, 100)).toBe(60);
    expect(estimatePowerW(60, 50)).toBe(30);
    expect(estimatePowerW(60, 50, { driverLoss: 0.1 })).toBeCloseTo(33);
    expect(estimatePowerW(60, 0, { standbyW: 0.5 })).toBe(0.5);
    expect(estimatePowerW(60, 50, { standbyW: 0.5 })).toBe(30.5);
    expect(estimatePowerW(60, Number.NaN)).toBe(0);
    expect(estimatePowerW(60, 140)).toBe(60);
  });

  it('prefers the measured value, then the level, then says it does not know', () => {
    expect(powerOf(41.2, 70, 60)).toEqual({ watts: 41.2, estimated: false });
    expect(powerOf(Number.NaN, 70, 60)).toEqual({ watts: 42, estimated: true });
    expect(powerOf(Number.NaN, Number.NaN, 60)).toBeUndefined();
  });
});

describe('EnergyLedger', () => {
  const t0 = Date.parse('2026-01-15T17:00:00Z');

  it('integrates each value until the next observation, and counts burn hours', () => {
    const ledger = new EnergyLedger(3);
    ledger.observe(1, t0, 60, true);
    ledger.observe(1, t0 + 2 * HOUR, 30, true);
    ledger.observe(1, t0 + 5 * HOUR, 0, false);
    ledger.observe(1, t0 + 9 * HOUR, 60, true);
    expect(ledger.energyWh(1)).toBeCloseTo(60 * 2 + 30 * 3);
    expect(ledger.burnHours(1)).toBeCloseTo(5);
    expect(ledger.energyWh(0)).toBe(0);
    expect(ledger.totalWh()).toBeCloseTo(210);
  });

  it('does not integrate across a gap longer than allowed, and counts it as unknown', () => {
    const ledger = new EnergyLedger(1, { maxGapMs: 30 * MINUTE });
    ledger.observe(0, t0, 60, true);
    ledger.observe(0, t0 + 15 * MINUTE, 60, true);
    ledger.observe(0, t0 + 3 * HOUR, 60, true);
    expect(ledger.energyWh(0)).toBeCloseTo(15);
    expect(ledger.unknownHours(0)).toBeCloseTo(2.75);
  });

  it('ignores bad input', () => {
    const ledger = new EnergyLedger(1);
    expect(ledger.observe(0, t0, 60, true)).toBe(true);
    expect(ledger.observe(0, t0 - 1, 60, true)).toBe(false);
    expect(ledger.observe(0, t0 + 1, Number.NaN, true)).toBe(false);
    expect(ledger.observe(0, t0 + 1, -5, true)).toBe(false);
    expect(ledger.observe(4, t0 + 1, 5, true)).toBe(false);
    expect(ledger.energyWh(0)).toBe(0);
  });
});

describe('savings against full power all night', () => {
  it('is nothing for a program that burns at 100 % from dusk to dawn', () => {
    const plan = planNight(DUSK_TO_DAWN, day(2026, 1, 15), metz);
    const energy = nightEnergy(plan, 60);
    expect(energy.darkHours).toBeCloseTo((plan.dawn - plan.dusk) / HOUR);
    expect(energy.plannedWh).toBeCloseTo(energy.fullNightWh);
    expect(energy.savedPct).toBeCloseTo(0);
    expect(energy.burnHours).toBeCloseTo(energy.darkHours);
  });

  it('adds up the steps of the extinction program on a winter night', () => {
    const plan = planNight(EXTINCTION, day(2026, 1, 15), metz);
    const [dusk, s2230, s0100, s0500, dawn] = plan.steps.map((s) => s.at);
    const expected = (60 * (s2230 - dusk) + 42 * (s0100 - s2230) + 42 * (dawn - s0500)) / HOUR;
    const energy = nightEnergy(plan, 60);
    expect(energy.plannedWh).toBeCloseTo(expected);
    expect(energy.fullNightWh).toBeCloseTo((60 * (dawn - dusk)) / HOUR);
    expect(energy.savedWh).toBeCloseTo(energy.fullNightWh - expected);
    expect(energy.savedPct).toBeGreaterThan(30);
    expect(energy.savedPct).toBeLessThan(60);
    expect(energy.burnHours).toBeCloseTo((s0100 - dusk + dawn - s0500) / HOUR);
  });

  it('compares measured energy with the same reference', () => {
    const plan = planNight(DUSK_TO_DAWN, day(2026, 6, 20), metz);
    const full = nightEnergy(plan, 100).fullNightWh;
    expect(savingsAgainstFullNight(full / 4, plan, 100)).toMatchObject({
      savedWh: (3 * full) / 4,
      savedPct: 75,
    });
  });

  it('has no reference in a white night', () => {
    const plan = planNight(
      program({
        steps: [
          { at: 'dusk', level: 100 },
          { at: 'dawn', level: 0 },
        ],
      }),
      day(2026, 6, 20),
      {
        location: TROMSO,
        zone: OSLO,
      },
    );
    expect(nightEnergy(plan, 60)).toMatchObject({ fullNightWh: 0, plannedWh: 0, savedPct: 0 });
  });
});
