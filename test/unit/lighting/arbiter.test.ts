import { ManualClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import { Arbiter } from '../../../controller/lighting/arbiter';
import type { TargetedCommand } from '../../../controller/lighting/slots';
import { PresenceGroup, presenceOptions } from '../../../controller/lighting/presence';
import { LightingTopology } from '../../../controller/lighting/topology';
import { ZoneSchedule } from '../../../controller/lighting/zoneSchedule';
import { EXTINCTION, HOUR, METZ, MINUTE, calendar, local, sensor, zone } from './fixtures';

const T0 = local('Europe/Paris', '2026-01-15T23:00');
const config = {
  zones: [zone('serpenoise', 'metz', 10), zone('foch', 'metz', 10), zone('briey', 'woippy', 5)],
  presence_sensors: [
    sensor({ id: 's1', zone: 'serpenoise', at: 'serpenoise-005', ahead: 2, behind: 1 }),
    sensor({
      id: 's2',
      zone: 'serpenoise',
      at: 'serpenoise-007',
      ahead: 1,
      behind: 0,
      levels: { default: 90 },
    }),
  ],
};
const SERPENOISE = 0;
const FOCH = 1;
const BRIEY = 2;

function setup() {
  const topology = LightingTopology.fromConfig(config);
  const arbiter = new Arbiter(topology);
  const level = (id: string) => arbiter.stateOf(id)?.level;
  const slot = (id: string) => arbiter.stateOf(id)?.slot;
  const ids = (changes: Int32Array) => Array.from(changes, (i) => topology.ids[i]);
  return { topology, arbiter, level, slot, ids };
}

const command = (
  extra: Partial<TargetedCommand> & Pick<TargetedCommand, 'id' | 'target'>,
): TargetedCommand => ({
  source: 'api',
  actor: 'police-metz',
  reason: 'test',
  start: T0,
  ...extra,
});

describe('schedule and presence', () => {
  it('gives each zone its schedule, and leaves zones without one undecided', () => {
    const { arbiter, level, slot, ids } = setup();
    expect(arbiter.setSchedule(SERPENOISE, { level: 40, allowPresence: true }, T0)).toEqual({
      ok: true,
      changed: 10,
    });
    expect(level('serpenoise-001')).toBe(40);
    expect(slot('serpenoise-001')).toBe('schedule');
    expect(arbiter.stateOf('serpenoise-001')?.decidedBy).toEqual({
      level: 40,
      source: 'schedule',
      actor: 'calendar:c',
      reason: '',
      start: T0,
    });
    expect(level('foch-001')).toBeUndefined();
    expect(Number.isNaN(arbiter.levelOf(10))).toBe(true);
    expect(ids(arbiter.takeChanges())).toHaveLength(10);
    expect(arbiter.takeChanges()).toHaveLength(0);
    expect(
      arbiter.setSchedule(SERPENOISE, { level: 40, allowPresence: true, reason: 'same' }, T0 + 1),
    ).toEqual({
      ok: true,
      changed: 0,
    });
    expect(arbiter.stateOf('serpenoise-001')?.decidedBy?.reason).toBe('same');
  });

  it('presence raises but never lowers the schedule, and only when the schedule allows it', () => {
    const { arbiter, level, slot, ids } = setup();
    arbiter.setSchedule(SERPENOISE, { level: 40, allowPresence: true }, T0);
    arbiter.takeChanges();
    expect(arbiter.setPresence(0, { level: 70, reason: 'pedestrian' }, T0)).toEqual({ ok: true, changed: 4 });
    expect(ids(arbiter.takeChanges())).toEqual([
      'serpenoise-004',
      'serpenoise-005',
      'serpenoise-006',
      'serpenoise-007',
    ]);
    expect([level('serpenoise-004'), slot('serpenoise-004')]).toEqual([70, 'presence']);
    expect(arbiter.stateOf('serpenoise-004')?.decidedBy).toMatchObject({
      actor: 's1',
      source: 'presence',
      reason: 'pedestrian',
    });
    expect(level('serpenoise-003')).toBe(40);

    arbiter.setSchedule(SERPENOISE, { level: 100, allowPresence: true }, T0);
    expect([level('serpenoise-004'), slot('serpenoise-004')]).toEqual([100, 'schedule']);
    arbiter.setSchedule(SERPENOISE, { level: 0, allowPresence: true }, T0);
    expect([level('serpenoise-004'), slot('serpenoise-004')]).toEqual([70, 'presence']);
    arbiter.setSchedule(SERPENOISE, { level: 0, allowPresence: false }, T0);
    expect([level('serpenoise-004'), slot('serpenoise-004')]).toEqual([0, 'schedule']);
  });

  it('takes the highest of overlapping presence groups, and fades back to the schedule on release', () => {
    const { arbiter, level } = setup();
    arbiter.setSchedule(SERPENOISE, { level: 20, allowPresence: true }, T0);
    arbiter.setPresence(0, { level: 70 }, T0);
    arbiter.setPresence(1, { level: 90 }, T0);
    expect([6, 7, 8].map((n) => level(`serpenoise-00${n}`))).toEqual([70, 90, 90]);
    arbiter.takeChanges();
    expect(arbiter.releasePresence(1, T0 + MINUTE, 10)).toEqual({ ok: true, changed: 2 });
    expect([6, 7, 8].map((n) => level(`serpenoise-00${n}`))).toEqual([70, 70, 20]);
    expect(arbiter.stateOf('serpenoise-008')?.transitionS).toBe(10);
  });

  it('leaves a zone undecided when its schedule is cleared', () => {
    const { arbiter, level } = setup();
    arbiter.setSchedule(BRIEY, { level: 30, allowPresence: true, expiresAt: T0 + HOUR }, T0);
    expect(arbiter.clearSchedule(BRIEY, T0 + MINUTE)).toEqual({ ok: true, changed: 5 });
    expect(level('briey-001')).toBeUndefined();
    expect(arbiter.nextExpiry()).toBeUndefined();
    expect(arbiter.clearSchedule(9, T0)).toEqual({ ok: false, error: 'schedule: no zone #9' });
    expect(arbiter.releasePresence(-1, T0)).toEqual({ ok: false, error: 'presence: no group #-1' });
  });

  it('ignores presence where no schedule decides yet (day or night is unknown)', () => {
    const { arbiter, level } = setup();
    expect(arbiter.setPresence(0, { level: 70 }, T0)).toEqual({ ok: true, changed: 0 });
    expect(level('serpenoise-005')).toBeUndefined();
  });
});

describe('emergency relight and manual override', () => {
  it('relights a commune at 100 % as one record, and clears it', () => {
    const { arbiter, level, slot } = setup();
    arbiter.setSchedule(SERPENOISE, { level: 30, allowPresence: true }, T0);
    arbiter.setSchedule(BRIEY, { level: 30, allowPresence: true }, T0);
    arbiter.takeChanges();
    expect(
      arbiter.relight(
        command({ id: 'r1', target: { commune: 'metz' }, reason: 'accident rue Serpenoise' }),
        T0,
      ),
    ).toEqual({
      ok: true,
      changed: 20,
    });
    expect([level('foch-003'), slot('foch-003')]).toEqual([100, 'emergency']);
    expect(level('briey-001')).toBe(30);
    expect(arbiter.records('emergency')).toEqual([
      {
        id: 'r1',
        slot: 'emergency',
        target: { commune: 'metz' },
        level: 100,
        source: 'api',
        actor: 'police-metz',
        reason: 'accident rue Serpenoise',
        start: T0,
        pending: false,
      },
    ]);
    expect(arbiter.takeChanges()).toHaveLength(20);
    expect(arbiter.clearRelight('r1', T0 + HOUR)).toEqual({ ok: true, changed: 20 });
    expect(level('serpenoise-001')).toBe(30);
    expect(level('foch-001')).toBeUndefined();
    expect(arbiter.records('emergency')).toEqual([]);
  });

  it('lets the most recent command of a slot win where two overlap', () => {
    const { arbiter, level } = setup();
    arbiter.override(
      command({ id: 'zone', target: { zone: 'foch' }, level: 20, actor: 'eclairage-metz' }),
      T0,
    );
    arbiter.override(
      command({ id: 'one', target: { luminaires: ['foch-002'] }, level: 60, start: T0 + 1 }),
      T0 + 1,
    );
    expect([level('foch-001'), level('foch-002')]).toEqual([20, 60]);
    arbiter.releaseOverride('one', T0 + 2);
    expect(level('foch-002')).toBe(20);
  });

  it('replaces a command given again with the same id, and forgets its old expiry', () => {
    const { arbiter, level } = setup();
    arbiter.override(command({ id: 'o', target: { zone: 'foch' }, level: 20, expiresAt: T0 + HOUR }), T0);
    arbiter.override(
      command({ id: 'o', target: { zone: 'foch' }, level: 50, expiresAt: T0 + 3 * HOUR }),
      T0 + MINUTE,
    );
    expect(arbiter.records('override')).toHaveLength(1);
    expect(arbiter.nextExpiry()).toBe(T0 + 3 * HOUR);
    expect(arbiter.decide(T0 + 2 * HOUR)).toBe(0);
    expect(level('foch-001')).toBe(50);
    expect(arbiter.decide(T0 + 3 * HOUR)).toBe(10);
    expect(level('foch-001')).toBeUndefined();
  });

  it('says what is wrong with a command, and changes nothing', () => {
    const { arbiter } = setup();
    const bad = (extra: Partial<TargetedCommand>) =>
      arbiter.relight(command({ id: 'x', target: { zone: 'foch' }, ...extra }), T0);
    expect(bad({ level: 120 })).toEqual({
      ok: false,
      error: "emergency relight 'x': level must be a number from 0 to 100 % (is 120)",
    });
    expect(bad({ level: Number.NaN })).toEqual({
      ok: false,
      error: "emergency relight 'x': level must be a number from 0 to 100 % (is NaN)",
    });
    expect(bad({ target: { zone: 'rue-x' } })).toEqual({
      ok: false,
      error: "emergency relight 'x': unknown zone 'rue-x'",
    });
    expect(bad({ expiresAt: T0 - 1 })).toEqual({
      ok: false,
      error: `emergency relight 'x': expiry ${new Date(T0 - 1).toISOString()} is not after ${new Date(T0).toISOString()}`,
    });
    expect(bad({ id: '' })).toEqual({ ok: false, error: 'emergency: the command needs an id' });
    expect(arbiter.override(command({ id: 'o', target: { all: true } }), T0)).toEqual({
      ok: false,
      error: "override 'o': a level is required",
    });
    arbiter.relight(command({ id: 'r1', target: { all: true } }), T0);
    expect(arbiter.clearRelight('r9', T0)).toEqual({
      ok: false,
      error: "no emergency relight 'r9' (active: 'r1')",
    });
    expect(arbiter.setPresence(7, { level: 50 }, T0)).toEqual({ ok: false, error: 'presence: no group #7' });
    expect(arbiter.setSchedule(0, { level: -1, allowPresence: true }, T0)).toMatchObject({ ok: false });
    expect(arbiter.records('emergency')).toHaveLength(1);
  });
});

describe('expiry of each slot', () => {
  it('lapses emergency, override, presence and schedule records at their expiry, one timer at a time', () => {
    const { arbiter, slot } = setup();
    arbiter.setSchedule(SERPENOISE, { level: 30, allowPresence: true, expiresAt: T0 + 4 * HOUR }, T0);
    arbiter.setPresence(0, { level: 70, expiresAt: T0 + 3 * HOUR }, T0);
    arbiter.override(
      command({ id: 'o', target: { zone: 'serpenoise' }, level: 10, expiresAt: T0 + 2 * HOUR }),
      T0,
    );
    arbiter.relight(command({ id: 'r', target: { zone: 'serpenoise' }, expiresAt: T0 + HOUR }), T0);
    const seen: [number, string | undefined][] = [];
    for (let at = arbiter.nextExpiry(); at !== undefined; at = arbiter.nextExpiry()) {
      arbiter.decide(at);
      seen.push([(at - T0) / HOUR, slot('serpenoise-005')]);
    }
    expect(seen).toEqual([
      [1, 'override'],
      [2, 'presence'],
      [3, 'schedule'],
      [4, undefined],
    ]);
  });

  it('holds a command with a later start as pending until then', () => {
    const { arbiter, level } = setup();
    arbiter.setSchedule(FOCH, { level: 30, allowPresence: true }, T0);
    arbiter.override(
      command({
        id: 'later',
        target: { zone: 'foch' },
        level: 80,
        start: T0 + HOUR,
        expiresAt: T0 + 2 * HOUR,
      }),
      T0,
    );
    expect(arbiter.records('override')[0].pending).toBe(true);
    expect(level('foch-001')).toBe(30);
    expect(arbiter.nextExpiry()).toBe(T0 + HOUR);
    arbiter.decide(T0 + HOUR);
    expect(level('foch-001')).toBe(80);
    expect(arbiter.records('override')[0].pending).toBe(false);
    arbiter.decide(T0 + 2 * HOUR);
    expect(level('foch-001')).toBe(30);
    expect(arbiter.nextExpiry()).toBeUndefined();
  });
});

describe('an emergency during presence during a manual override', () => {
  it('lets each outrank the next, and ends on the schedule, not off', () => {
    const clock = new ManualClock(T0);
    const { topology, arbiter, level, slot } = setup();
    const schedule = ZoneSchedule.create({
      zone: 'serpenoise',
      calendar: calendar({ default: EXTINCTION.id }),
      programs: new Map([[EXTINCTION.id, EXTINCTION]]),
      location: METZ,
      timeZone: 'Europe/Paris',
    });
    const group = new PresenceGroup(
      presenceOptions(sensor({ at: 'serpenoise-005', hold_s: 60, fade_s: 10 }), 0),
      clock,
      (o) => arbiter.applyPresence(o),
      silentLogger,
    );
    group.start();
    // 23:00 in the extinction program: 70 % (the 22:30 step).
    arbiter.applySchedule(SERPENOISE, schedule.at(clock.now()), clock.now());
    expect(arbiter.stateOf('serpenoise-005')?.decidedBy?.reason).toBe(
      'night 2026-01-15, program extinction-1h-5h, step 1',
    );
    expect(level('serpenoise-005')).toBe(70);

    arbiter.override(
      command({
        id: 'works',
        target: { zone: 'serpenoise' },
        level: 30,
        actor: 'eclairage-metz',
        expiresAt: T0 + HOUR,
      }),
      clock.now(),
    );
    expect([level('serpenoise-005'), slot('serpenoise-005')]).toEqual([30, 'override']);

    clock.advance(MINUTE);
    group.detect('vehicle');
    expect([level('serpenoise-005'), slot('serpenoise-005')]).toEqual([30, 'override']);

    clock.advance(10_000);
    arbiter.relight(command({ id: 'sdis', target: { all: true }, actor: 'sdis-57' }), clock.now());
    expect([level('serpenoise-005'), slot('serpenoise-005')]).toEqual([100, 'emergency']);
    expect([level('foch-001'), slot('foch-001')]).toEqual([100, 'emergency']);

    clock.advance(10_000);
    arbiter.clearRelight('sdis', clock.now());
    expect([level('serpenoise-005'), slot('serpenoise-005')]).toEqual([30, 'override']);

    arbiter.releaseOverride('works', clock.now());
    // The vehicle is still being held for: presence at 100 over the schedule's 70.
    expect([level('serpenoise-005'), slot('serpenoise-005')]).toEqual([100, 'presence']);
    expect([level('serpenoise-001'), slot('serpenoise-001')]).toEqual([70, 'schedule']);

    clock.advance(30_000);
    expect(group.state()).toBe('holding');
    clock.advance(10_000);
    expect(group.state()).toBe('fading');
    expect([level('serpenoise-005'), slot('serpenoise-005')]).toEqual([70, 'schedule']);
    expect(arbiter.state(topology.indexOf('serpenoise-005')!)?.transitionS).toBe(10);
    clock.advance(10_000);
    expect(group.state()).toBe('idle');
    expect(level('serpenoise-005')).toBe(70);
    group.stop();
  });
});

describe('TALQ values', () => {
  it('keeps commanded, in-effect and measured values next to the decision, and lists mismatches', () => {
    const { arbiter, topology } = setup();
    arbiter.setSchedule(BRIEY, { level: 60, allowPresence: false }, T0);
    const i = topology.indexOf('briey-002')!;
    expect(arbiter.recordCommanded(i, 60, T0 + 5)).toBe(true);
    expect(arbiter.recordInEffect(i, 60, T0 + 40)).toBe(true);
    expect(arbiter.recordPower(i, 31.5, T0 + 60)).toBe(true);
    expect(arbiter.state(i)).toMatchObject({
      id: 'briey-002',
      zone: 'briey',
      commune: 'woippy',
      level: 60,
      priority: 16,
      commanded: { level: 60, at: T0 + 5 },
      inEffect: { level: 60, at: T0 + 40 },
      measured: { powerW: 31.5, at: T0 + 60 },
    });
    expect([arbiter.inEffectOf(i), arbiter.measuredPowerOf(i)]).toEqual([60, 31.5]);
    expect(arbiter.mismatches().length).toBe(4);
    expect(Array.from(arbiter.mismatches())).not.toContain(i);
    expect(arbiter.recordInEffect(i, 250, T0)).toBe(false);
    expect(arbiter.recordPower(i, -3, T0)).toBe(false);
    expect(arbiter.recordCommanded(99, 50, T0)).toBe(false);
    expect(arbiter.state(99)).toBeUndefined();
  });
});

describe('scale', () => {
  it('holds 100,000 luminaires in typed arrays and relights them all with one record', () => {
    const before = process.memoryUsage().heapUsed;
    const zones = Array.from({ length: 1000 }, (_, z) => zone(`z${z}`, `c${z % 50}`, 100));
    const topology = LightingTopology.fromConfig({ zones, presence_sensors: [] });
    const arbiter = new Arbiter(topology);
    for (let z = 0; z < 1000; z++) arbiter.setSchedule(z, { level: 40, allowPresence: true }, T0);
    arbiter.takeChanges();
    expect(arbiter.relight(command({ id: 'all', target: { all: true } }), T0)).toEqual({
      ok: true,
      changed: 100_000,
    });
    expect(arbiter.records('emergency')).toHaveLength(1);
    expect(arbiter.takeChanges()).toHaveLength(100_000);
    expect(arbiter.relight(command({ id: 'c7', target: { commune: 'c7' }, level: 100 }), T0)).toEqual({
      ok: true,
      changed: 0,
    });
    expect(arbiter.clearRelight('all', T0)).toEqual({ ok: true, changed: 98_000 });
    const usedMb = (process.memoryUsage().heapUsed - before) / 1e6;
    process.stdout.write(
      `parsed zones + lighting topology + arbiter for 100,000 luminaires: ~${usedMb.toFixed(0)} MB of heap\n`,
    );
  });
});
