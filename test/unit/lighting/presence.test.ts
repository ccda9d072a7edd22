import { ManualClock } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import { silentLogger } from '../../../core/logger';
import {
  PresenceGroup,
  levelForClass,
  presenceOptions,
  type PresenceOutput,
} from '../../../controller/lighting/presence';
import { sensor } from './fixtures';

const T0 = Date.parse('2026-01-15T21:00:00Z');
const SECOND = 1000;

function setup(overrides: Record<string, unknown> = {}) {
  const clock = new ManualClock(T0);
  const outputs: PresenceOutput[] = [];
  const options = presenceOptions(
    sensor({ at: 'l-001', hold_s: 60, fade_s: 10, debounce_ms: 500, silent_fault_h: 0.1, ...overrides }),
    3,
  );
  const group = new PresenceGroup(options, clock, (o) => outputs.push(o), silentLogger);
  group.start();
  const take = () =>
    outputs
      .splice(0)
      .map((o) => ({ level: o.level, fadeS: o.fadeS, cause: o.cause, state: o.state, at: o.at - T0 }));
  return { clock, group, take };
}

describe('PresenceGroup', () => {
  it('raises on a detection, holds, fades back, and lets go to the schedule', () => {
    const { clock, group, take } = setup();
    expect(group.detect('pedestrian')).toBe('accepted');
    expect(group.state()).toBe('holding');
    expect(take()).toEqual([{ level: 70, fadeS: 0, cause: 'detected', state: 'holding', at: 0 }]);
    clock.advance(59 * SECOND);
    expect(group.state()).toBe('holding');
    clock.advance(SECOND);
    expect(group.state()).toBe('fading');
    expect(take()).toEqual([
      { level: undefined, fadeS: 10, cause: 'hold-expired', state: 'fading', at: 60_000 },
    ]);
    clock.advance(10 * SECOND);
    expect(group.state()).toBe('idle');
    expect(group.currentLevel()).toBe(0);
    expect(take()).toEqual([]);
  });

  it('extends the hold on a new detection, without a new output', () => {
    const { clock, group, take } = setup();
    group.detect('pedestrian');
    clock.advance(40 * SECOND);
    group.detect('pedestrian');
    clock.advance(59 * SECOND);
    expect(group.state()).toBe('holding');
    clock.advance(SECOND);
    expect(group.state()).toBe('fading');
    expect(take().map((o) => [o.cause, o.at])).toEqual([
      ['detected', 0],
      ['hold-expired', 100_000],
    ]);
  });

  it('goes back up on a detection during the fade-out', () => {
    const { clock, group, take } = setup();
    group.detect('cyclist');
    clock.advance(65 * SECOND);
    expect(group.state()).toBe('fading');
    group.detect('cyclist');
    expect(group.state()).toBe('holding');
    clock.advance(10 * SECOND);
    expect(group.state()).toBe('holding');
    expect(take().map((o) => [o.cause, o.level])).toEqual([
      ['detected', 80],
      ['hold-expired', undefined],
      ['detected-during-fade', 80],
    ]);
  });

  it('raises further for a class with a higher level, never lower within a hold', () => {
    const { clock, group, take } = setup();
    group.detect('pedestrian');
    clock.advance(5 * SECOND);
    group.detect('vehicle');
    clock.advance(5 * SECOND);
    group.detect('pedestrian');
    expect(group.currentLevel()).toBe(100);
    expect(take().map((o) => [o.cause, o.level])).toEqual([
      ['detected', 70],
      ['raised', 100],
    ]);
  });

  it('collapses detections closer than debounce_ms, so a flapping sensor costs one timer', () => {
    const { clock, group } = setup();
    const results: string[] = [];
    for (let k = 0; k < 1200; k++) {
      results.push(group.detect('pedestrian'));
      clock.advance(100);
    }
    expect(results.filter((r) => r === 'accepted')).toHaveLength(240);
    expect(results.filter((r) => r === 'debounced')).toHaveLength(960);
    expect(group.state()).toBe('holding');
    // Hold and silence timers only.
    expect(clock.pendingTimers()).toBe(2);
  });

  it('declares a silent sensor in fault, and recovers when it speaks again', () => {
    const { clock, group, take } = setup();
    clock.advance(6 * 60 * SECOND - 1);
    expect(group.state()).toBe('idle');
    clock.advance(1);
    expect(group.state()).toBe('fault');
    expect(take()).toEqual([{ level: undefined, fadeS: 10, cause: 'fault', state: 'fault', at: 360_000 }]);
    clock.advance(60 * 60 * SECOND);
    group.detect('vehicle');
    expect(group.state()).toBe('holding');
    expect(take().map((o) => [o.cause, o.level])).toEqual([
      ['recovered', undefined],
      ['detected', 100],
    ]);
    clock.advance(6 * 60 * SECOND);
    expect(group.state()).toBe('fault');
  });

  it('holds fault_level while in fault when one is configured', () => {
    const { clock, group, take } = setup({ fault_level: 50 });
    clock.advance(6 * 60 * SECOND);
    expect(take()).toEqual([{ level: 50, fadeS: 0, cause: 'fault', state: 'fault', at: 360_000 }]);
    expect(group.currentLevel()).toBe(50);
    group.heard();
    expect(group.state()).toBe('idle');
    expect(take().map((o) => [o.cause, o.level])).toEqual([['recovered', undefined]]);
  });

  it('counts heartbeats as signs of life', () => {
    const { clock, group } = setup();
    for (let k = 0; k < 12; k++) {
      clock.advance(5 * 60 * SECOND);
      group.heard();
    }
    expect(group.state()).toBe('idle');
  });

  it('goes straight back to idle when fade_s is 0', () => {
    const { clock, group, take } = setup({ fade_s: 0 });
    group.detect(undefined);
    clock.advance(60 * SECOND);
    expect(group.state()).toBe('idle');
    expect(take().map((o) => [o.cause, o.level, o.fadeS])).toEqual([
      ['detected', 80, 0],
      ['hold-expired', undefined, 0],
    ]);
  });

  it('stops every timer, ignores detections once stopped, and stops twice safely', () => {
    const { clock, group } = setup();
    group.detect('pedestrian');
    group.stop();
    group.stop();
    expect(clock.pendingTimers()).toBe(0);
    expect(group.detect('pedestrian')).toBe('stopped');
  });

  it('resumes a hold after a stop and a start', () => {
    const { clock, group, take } = setup();
    group.detect('pedestrian');
    group.stop();
    clock.advance(30 * SECOND);
    group.start();
    clock.advance(30 * SECOND);
    expect(group.state()).toBe('fading');
    group.stop();
    group.start();
    clock.advance(10 * SECOND);
    expect(group.state()).toBe('idle');
    expect(take().map((o) => o.cause)).toEqual(['detected', 'hold-expired']);
  });

  it('survives an output handler that throws, logging it', () => {
    const clock = new ManualClock(T0);
    const errors: string[] = [];
    const logger: Logger = { ...silentLogger, error: (msg) => errors.push(msg) };
    const group = new PresenceGroup(
      presenceOptions(sensor({ at: 'l-001' }), 0),
      clock,
      () => {
        throw new Error('arbiter unavailable');
      },
      logger,
    );
    group.start();
    group.detect('pedestrian');
    expect(group.state()).toBe('holding');
    expect(errors).toEqual(["presence 's': output handler failed: arbiter unavailable"]);
    group.stop();
  });
});

describe('levels per detection class', () => {
  it("uses the class's level, else 'default', else the highest configured", () => {
    const levels = { pedestrian: 60, vehicle: 90, default: 75 };
    expect(levelForClass(levels, 'vehicle')).toBe(90);
    expect(levelForClass(levels, 'tractor')).toBe(75);
    expect(levelForClass(levels, undefined)).toBe(75);
    expect(levelForClass({ pedestrian: 60, vehicle: 90 }, 'tractor')).toBe(90);
    expect(levelForClass({}, 'tractor')).toBe(100);
    expect(levelForClass(levels, 'toString')).toBe(75);
  });
});

describe('the diagram', () => {
  it('is generated by typescript-fsm from the live transition table', () => {
    const diagram = PresenceGroup.mermaid();
    expect(diagram).toContain('stateDiagram-v2');
    expect(diagram).toContain('[*] --> idle');
    expect(diagram).toContain('fading --> holding: detect');
    expect(diagram).toContain('fault --> idle: recover');
  });
});
