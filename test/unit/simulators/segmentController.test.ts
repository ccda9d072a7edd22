import { ManualClock } from '../../../core/clock';
import {
  LampStatus,
  SegmentController,
  type SegmentControllerSpec,
} from '../../../simulators/segmentController';

const START = Date.UTC(2026, 0, 15, 18, 0, 0);

function controller(overrides: Partial<SegmentControllerSpec> = {}): {
  clock: ManualClock;
  sc: SegmentController;
} {
  const clock = new ManualClock(START);
  const sc = new SegmentController(
    {
      deviceId: 'sc-test',
      channels: [{ ratedPowerW: 60, luminaire: 'lum-1' }, { ratedPowerW: 100 }, { ratedPowerW: 0 }],
      failSafeLevel: 80,
      watchdogS: 0,
      ...overrides,
    },
    clock,
  );
  return { clock, sc };
}

describe('SegmentController', () => {
  it('powers on at the fail-safe level with boot count 1', () => {
    const { sc } = controller();
    expect(sc.channel(1)).toMatchObject({ commanded: 80, inEffect: 80, output: 80, powerW: 48, status: 0 });
    expect(sc.device()).toMatchObject({ bootCount: 1, failSafeLevel: 80, failSafeActive: false });
  });

  it('ramps the output linearly over the fade time to the commanded level', () => {
    const { clock, sc } = controller();
    sc.writeFade(1, 10);
    sc.writeCommandedLevel(1, 0);
    expect(sc.channel(1)).toMatchObject({ commanded: 0, inEffect: 0, output: 80 });
    clock.advance(2_500);
    expect(sc.channel(1).output).toBeCloseTo(60, 9);
    clock.advance(5_000);
    expect(sc.channel(1).output).toBeCloseTo(20, 9);
    clock.advance(2_500);
    expect(sc.channel(1).output).toBe(0);
    clock.advance(60_000);
    expect(sc.channel(1)).toMatchObject({ output: 0, powerW: 0 });
  });

  it('restarts a ramp from where the output is when a new level arrives mid-fade', () => {
    const { clock, sc } = controller();
    sc.writeFade(2, 4);
    sc.writeCommandedLevel(2, 0);
    clock.advance(2_000);
    sc.writeFade(2, 4);
    sc.writeCommandedLevel(2, 100);
    expect(sc.channel(2).output).toBeCloseTo(40, 9);
    clock.advance(2_000);
    expect(sc.channel(2).output).toBeCloseTo(70, 9);
    clock.advance(2_000);
    expect(sc.channel(2).output).toBe(100);
  });

  it('uses a fade for one level write only: the next level without a fade changes at once', () => {
    const { clock, sc } = controller();
    sc.writeCommandedLevel(2, 100);
    sc.writeFade(2, 4);
    sc.writeCommandedLevel(2, 0);
    expect(sc.channel(2).fadeS).toBe(0);
    clock.advance(1_000);
    expect(sc.channel(2).output).toBeCloseTo(75, 9);
    sc.writeCommandedLevel(2, 100);
    expect(sc.channel(2).output).toBe(100);
  });

  it('integrates energy exactly, ramp included', () => {
    const { clock, sc } = controller();
    sc.writeCommandedLevel(2, 100);
    clock.advance(3_600_000);
    // 100 W for one hour.
    expect(sc.channel(2).energyWh).toBeCloseTo(100, 6);
    sc.writeFade(2, 3600);
    sc.writeCommandedLevel(2, 0);
    clock.advance(3_600_000);
    // A linear ramp from 100 % to 0 over an hour draws half the full-power energy.
    expect(sc.channel(2).energyWh).toBeCloseTo(150, 6);
  });

  it('falls back to the fail-safe level when the watchdog expires, and a new write restores', () => {
    const { clock, sc } = controller({ watchdogS: 60 });
    sc.writeCommandedLevel(1, 20);
    clock.advance(59_999);
    expect(sc.channel(1)).toMatchObject({ inEffect: 20, output: 20 });
    clock.advance(1);
    expect(sc.channel(1)).toMatchObject({ commanded: 20, inEffect: 80, output: 80 });
    expect(sc.device().failSafeActive).toBe(true);
    // Any write is a sign of life: here the other channel's level.
    sc.writeCommandedLevel(2, 50);
    expect(sc.channel(1)).toMatchObject({ inEffect: 20, output: 20 });
    expect(sc.device().failSafeActive).toBe(false);
  });

  it('charges the energy drawn at each level either side of a watchdog expiry', () => {
    const { clock, sc } = controller({ watchdogS: 1800 });
    sc.writeCommandedLevel(2, 0);
    // 30 min at 0 %, then the fail-safe 80 % for 30 min: the expiry falls between two reads.
    clock.advance(3_600_000);
    expect(sc.channel(2).energyWh).toBeCloseTo(40, 6);
  });

  it('falls back to the fail-safe level written last', () => {
    const { clock, sc } = controller({ watchdogS: 10 });
    sc.writeFailSafeLevel(30);
    sc.writeCommandedLevel(1, 100);
    clock.advance(10_000);
    expect(sc.channel(1).inEffect).toBe(30);
  });

  it('disables the watchdog with 0', () => {
    const { clock, sc } = controller({ watchdogS: 10 });
    sc.writeWatchdog(0);
    sc.writeCommandedLevel(1, 5);
    clock.advance(86_400_000);
    expect(sc.channel(1).inEffect).toBe(5);
  });

  it('reports a lamp failure as power 0 and status 1 while the channel is lit', () => {
    const { clock, sc } = controller();
    sc.writeCommandedLevel(1, 100);
    clock.advance(3_600_000);
    sc.setLampFault(1, 'lamp');
    expect(sc.channel(1)).toMatchObject({ powerW: 0, status: LampStatus.LampFailure, output: 100 });
    clock.advance(3_600_000);
    expect(sc.channel(1).energyWh).toBeCloseTo(60, 6);
    sc.writeCommandedLevel(1, 0);
    expect(sc.channel(1).status).toBe(LampStatus.Ok);
    sc.setLampFault(1, 'driver');
    expect(sc.channel(1).status).toBe(LampStatus.DriverFailure);
    sc.clearFaults();
    sc.writeCommandedLevel(1, 50);
    expect(sc.channel(1)).toMatchObject({ powerW: 30, status: LampStatus.Ok });
  });

  it('has no lamp (no power, status ok) on a channel no luminaire is bound to', () => {
    const { sc } = controller();
    sc.writeCommandedLevel(3, 100);
    expect(sc.channel(3)).toMatchObject({ output: 100, powerW: 0, status: 0, ratedPowerW: 0 });
  });

  it('forgets levels and fades on reboot, keeps settings and energy, counts the boot', () => {
    const { clock, sc } = controller({ watchdogS: 300 });
    sc.writeFailSafeLevel(70);
    sc.writeFade(1, 5);
    sc.writeCommandedLevel(1, 10);
    clock.advance(3_600_000);
    const energy = sc.channel(1).energyWh;
    sc.reboot();
    expect(sc.channel(1)).toMatchObject({ commanded: 70, inEffect: 70, output: 70, fadeS: 0 });
    expect(sc.channel(1).energyWh).toBeCloseTo(energy, 9);
    expect(sc.device()).toMatchObject({ bootCount: 2, watchdogS: 300, failSafeLevel: 70 });
  });

  it('refuses out-of-range values and unknown channels, naming what is wrong', () => {
    const { sc } = controller();
    expect(() => sc.writeCommandedLevel(1, 101)).toThrow(
      'commanded level of channel 1 must be 0-100 (is 101)',
    );
    expect(() => sc.writeCommandedLevel(4, 10)).toThrow("device 'sc-test' has channels 1-3 (asked for 4)");
    expect(() => sc.writeFade(1, -1)).toThrow('fade time');
    expect(() => sc.writeWatchdog(Number.NaN)).toThrow('watchdog time');
    expect(sc.channel(1).commanded).toBe(80);
  });
});
