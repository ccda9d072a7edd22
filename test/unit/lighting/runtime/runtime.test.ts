import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../../../config/schema';
import { Bus } from '../../../../controller/bus';
import { ManualClock } from '../../../../core/clock';
import {
  LightingError,
  type CalendarNight,
  type CalendarPreview,
  type LightingChange,
} from '../../../../controller/lighting/runtime/lightingService';
import type { Actor } from '../../../../controller/scope';
import { LightingRuntime } from '../../../../controller/lighting/runtime/runtime';
import { FLUSH_SLICE } from '../../../../controller/lighting/runtime/changeFeed';
import { parseCivilDate } from '../../../../core/localTime';
import type { ZoneSchedule } from '../../../../controller/lighting/zoneSchedule';
import { emptyState, type PersistedState } from '../../../../controller/lighting/runtime/store';
import { MqttConnection } from '../../../../drivers/mqtt/connection';
import { FakeSegmentController, RecordingLogger, territory } from './fakes';

const ADMIN: Actor = { user: 'admin', role: 'admin', communes: ['*'], via: 'api', from: '127.0.0.1' };
const METZ_ONLY: Actor = {
  user: 'police-metz',
  role: 'emergency',
  communes: ['metz'],
  via: 'api',
  from: '10.0.0.7',
};
// 15 January 2026, 23:00 in Paris: the demo calendars' default programs are at 70 % (Metz) / 0 % or 70 %.
const NIGHT = Date.UTC(2026, 0, 15, 22);

/** The LightingError a promise rejects with (fails the test when it resolves or rejects otherwise). */
async function failure(promise: Promise<unknown>): Promise<LightingError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof LightingError)) throw new Error(`expected a LightingError, got ${String(error)}`);
  return error;
}

const pathsOf = (error: LightingError): string[] => error.issues.map((i) => i.path.join('.'));

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Started {
  runtime: LightingRuntime;
  clock: ManualClock;
  devices: Map<string, FakeSegmentController>;
  logger: RecordingLogger;
  bus: Bus;
  stop(): Promise<void>;
}

async function start(config: Config, stateDir: string, at = NIGHT): Promise<Started> {
  const clock = new ManualClock(at);
  const logger = new RecordingLogger();
  const bus = new Bus(logger);
  const devices = new Map(
    config.devices.map((d) => [d.id, new FakeSegmentController(d.id, d.lighting!.channels)]),
  );
  for (const device of devices.values()) await device.start();
  // A real connection, never started: the runtime's MQTT side stays idle in these tests.
  const mqtt = new MqttConnection({
    config: config.mqtt,
    instance: 'unit',
    configDir: stateDir,
    logger,
    clock,
    env: {},
  });
  const runtime = new LightingRuntime(
    { config, stateDir, logger, clock, bus, mqtt, devices: { get: (id) => devices.get(id) } },
    { dispatch: { tickMs: 60_000 } },
  );
  await runtime.start();
  await settle();
  return {
    runtime,
    clock,
    devices,
    logger,
    bus,
    stop: async () => {
      await runtime.stop();
      await mqtt.stop();
    },
  };
}

describe('LightingRuntime', () => {
  let dir: string;
  let started: Started | undefined;
  const config = territory({ controllers: 2, perController: 4 });
  const [metzZone, montignyZone] = config.zones;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nocturne-runtime-'));
  });
  afterEach(async () => {
    await started?.stop();
    started = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const readState = async (): Promise<PersistedState> =>
    JSON.parse(await readFile(path.join(dir, 'lighting', 'state.json'), 'utf8')) as PersistedState;

  it('grows the full-power baseline by rated power over dusk to dawn only, night after night', async () => {
    // From a winter noon, in report-sized steps over two nights: the baseline, advanced at every device
    // report, equals rated power × the dark hours of those nights taken in one piece from their plans.
    const noon = Date.UTC(2026, 0, 15, 11);
    started = await start(config, dir, noon);
    const { runtime, clock, bus } = started;
    const owner = {};
    const baseline = new Map<number, number>();
    bus.on('lightingReported', owner, (report) => {
      const first = report.luminaires.find((l) => l.luminaire === metzZone.luminaires[0].id);
      if (first) baseline.set(report.at, first.baselineWh);
    });
    for (let t = 0; t < 48 * 60; t += 10) {
      clock.advance(10 * 60_000);
      await settle();
    }
    bus.removeListeners(owner);
    const times = [...baseline.keys()].sort((a, b) => a - b);
    const [from, to] = [times[0], times[times.length - 1]];
    const schedule = (runtime as unknown as { parts: { schedules: ZoneSchedule[] } }).parts.schedules[0];
    let darkHours = 0;
    for (const night of ['2026-01-15', '2026-01-16', '2026-01-17']) {
      const plan = schedule.planFor(parseCivilDate(night)!);
      darkHours +=
        Math.max(0, Math.min(to, plan.end, plan.dawn) - Math.max(from, plan.start, plan.dusk)) / 3_600_000;
    }
    const ratedW = metzZone.luminaires[0].power_w;
    expect(darkHours).toBeGreaterThan(25);
    expect(baseline.get(to)! - baseline.get(from)!).toBeCloseTo(ratedW * darkHours, 6);
    // By day, nothing is added.
    const dayStart = Date.UTC(2026, 0, 16, 9);
    const dayEnd = Date.UTC(2026, 0, 16, 14);
    const around = (t: number): number =>
      times.reduce((best, x) => (Math.abs(x - t) < Math.abs(best - t) ? x : best));
    expect(baseline.get(around(dayEnd))).toBe(baseline.get(around(dayStart)));
  });

  it('restores persisted relights and overrides before its first levels, dropping expired and unresolvable ones', async () => {
    const base = {
      reason: 'r',
      actor: 'sdis-57',
      via: 'api' as const,
      from: 'x',
      acceptedAt: NIGHT - 60_000,
      start: NIGHT - 60_000,
    };
    const state: PersistedState = {
      ...emptyState(),
      commands: [
        {
          ...base,
          id: 'old',
          slot: 'emergency',
          target: { all: true },
          level: 100,
          expiresAt: NIGHT - 1,
          untilReleased: false,
        },
        {
          ...base,
          id: 'fire',
          slot: 'emergency',
          target: { zone: metzZone.id },
          level: 90,
          untilReleased: false,
        },
        {
          ...base,
          id: 'works',
          slot: 'override',
          target: { zone: montignyZone.id },
          level: 20,
          untilReleased: true,
        },
        {
          ...base,
          id: 'gone',
          slot: 'emergency',
          target: { zone: 'demolished-street' },
          level: 100,
          untilReleased: false,
        },
      ],
    };
    await mkdir(path.join(dir, 'lighting'));
    await writeFile(path.join(dir, 'lighting', 'state.json'), JSON.stringify(state));
    started = await start(config, dir);
    const { runtime, devices, logger } = started;
    expect(runtime.commands(ADMIN).map((c) => [c.id, c.level])).toEqual([
      ['fire', 90],
      ['works', 20],
    ]);
    const [a, b] = [...devices.values()];
    expect(a.levelWrites()[0]).toEqual([
      [1, 90],
      [2, 90],
      [3, 90],
      [4, 90],
    ]);
    expect(b.levelWrites()[0]).toEqual([
      [1, 20],
      [2, 20],
      [3, 20],
      [4, 20],
    ]);
    expect(logger.lines.some((l) => /'old' expired .* not restored/.test(l.msg))).toBe(true);
    expect(
      logger.lines.some(
        (l) => l.level === 'error' && /'gone' not restored: unknown zone 'demolished-street'/.test(l.msg),
      ),
    ).toBe(true);
  });

  it('answers the progress of a restored relight, confirmed by the devices after the restart', async () => {
    const state: PersistedState = {
      ...emptyState(),
      commands: [
        {
          id: 'storm',
          slot: 'emergency',
          target: { zone: metzZone.id },
          level: 100,
          reason: 'storm',
          actor: 'sdis-57',
          via: 'api',
          from: 'x',
          acceptedAt: NIGHT - 60_000,
          start: NIGHT - 60_000,
          untilReleased: false,
        },
      ],
    };
    await mkdir(path.join(dir, 'lighting'));
    await writeFile(path.join(dir, 'lighting', 'state.json'), JSON.stringify(state));
    started = await start(config, dir);
    expect(started.runtime.progress('storm')).toMatchObject({ id: 'storm', total: 4 });
    expect(await started.runtime.waitForConfirmation('storm', { timeoutMs: 1000 })).toMatchObject({
      total: 4,
      confirmed: 4,
      done: true,
    });
  });

  it('never lets an id in force be taken over for another commune, nor replaced without the right to its target', async () => {
    started = await start(config, dir);
    const { runtime } = started;
    const MONTIGNY_ONLY: Actor = { ...METZ_ONLY, user: 'sdis-montigny', communes: ['montigny-les-metz'] };
    await runtime.relight({ id: 'storm', target: { zone: montignyZone.id }, reason: 'storm' }, MONTIGNY_ONLY);
    const takeover = await failure(
      runtime.relight({ id: 'storm', target: { zone: metzZone.id }, reason: 'accident' }, METZ_ONLY),
    );
    expect(takeover.code).toBe('conflict');
    expect(takeover.message).toMatch(/'storm' is already in use outside your communes/);
    // Even with the right to both communes, an id stays with the communes it was given for.
    const moved = await failure(
      runtime.relight({ id: 'storm', target: { zone: metzZone.id }, reason: 'accident' }, ADMIN),
    );
    expect(moved.code).toBe('conflict');
    expect(moved.message).toMatch(
      /in force in 'montigny-les-metz'; an id is never reused for other communes/,
    );
    await runtime.override(
      { id: 'works', target: { zone: montignyZone.id }, level: 30, reason: 'works', untilReleased: true },
      { ...ADMIN, user: 'lighting-montigny', communes: ['montigny-les-metz'] },
    );
    const overrideTakeover = await failure(
      runtime.override(
        { id: 'works', target: { zone: metzZone.id }, level: 0, reason: 'x', untilReleased: true },
        { ...ADMIN, user: 'lighting-metz', communes: ['metz'] },
      ),
    );
    expect(overrideTakeover.code).toBe('conflict');
    await expect(runtime.clearRelight('storm', METZ_ONLY)).rejects.toMatchObject({ code: 'forbidden' });
    expect(runtime.commands(ADMIN).map((c) => [c.id, c.communes])).toEqual([
      ['storm', ['montigny-les-metz']],
      ['works', ['montigny-les-metz']],
    ]);
    // The owner may still replace its own relight in its own commune.
    await runtime.relight(
      { id: 'storm', target: { zone: montignyZone.id }, level: 80, reason: 'storm' },
      MONTIGNY_ONLY,
    );
    expect(runtime.commands(ADMIN).find((c) => c.id === 'storm')?.level).toBe(80);
  });

  it('refuses a bad relight with every problem located, and a target outside the actor communes', async () => {
    started = await start(config, dir);
    const { runtime } = started;
    const error = await runtime
      .relight({ target: { zone: 'nowhere' }, level: 140, reason: ' ', expiresAt: NIGHT - 5 }, ADMIN)
      .catch((e: unknown) => e as LightingError);
    expect(error).toBeInstanceOf(LightingError);
    expect((error as LightingError).code).toBe('invalid');
    expect((error as LightingError).issues.map((i) => i.path.join('.'))).toEqual([
      'target.zone',
      'level',
      'reason',
      'expiresAt',
    ]);
    const scope = await failure(
      runtime.relight({ target: { zone: montignyZone.id }, reason: 'fire' }, METZ_ONLY),
    );
    expect(scope.code).toBe('forbidden');
    expect(scope.message).toMatch(/may not relight in commune\(s\) 'montigny-les-metz'/);
    const expiry = await failure(
      runtime.override({ target: { zone: metzZone.id }, level: 50, reason: 'works' }, ADMIN),
    );
    expect(pathsOf(expiry)).toEqual(['expiresAt']);
    expect(expiry.issues[0].message).toMatch(/expiry .* or an explicit 'untilReleased: true'/);
    await expect(runtime.clearRelight('none', ADMIN)).rejects.toMatchObject({ code: 'not-found' });
  });

  it('tracks a relight to confirmation, shows it only within the actor communes, and lets it expire', async () => {
    started = await start(config, dir);
    const { runtime, clock, devices } = started;
    const changes: LightingChange[] = [];
    const unsubscribe = runtime.subscribe(METZ_ONLY, (c) => changes.push(c));
    const accepted = await runtime.relight(
      { id: 'm', target: { zone: montignyZone.id }, level: 100, reason: 'fire', expiresAt: NIGHT + 60_000 },
      ADMIN,
    );
    expect(accepted.record).toMatchObject({
      communes: ['montigny-les-metz'],
      luminaires: 4,
      expiresAt: NIGHT + 60_000,
    });
    await runtime.relight({ id: 'z', target: { zone: metzZone.id }, reason: 'accident' }, METZ_ONLY);
    await settle();
    expect(await runtime.waitForConfirmation('m', { timeoutMs: 1000 })).toMatchObject({
      total: 4,
      confirmed: 4,
      done: true,
    });
    expect(runtime.commands(METZ_ONLY).map((c) => c.id)).toEqual(['z']);
    expect((await readState()).commands.map((c) => c.id)).toEqual(['m', 'z']);
    clock.advance(1000);
    expect(changes.some((c) => c.type === 'command' && c.record.id === 'm')).toBe(false);
    expect(changes.some((c) => c.type === 'command' && c.record.id === 'z' && c.change === 'created')).toBe(
      true,
    );
    const levels = changes
      .filter((c) => c.type === 'levels')
      .flatMap((c) => (c.type === 'levels' ? c.luminaires : []));
    expect(new Set(levels.map((l) => l.commune))).toEqual(new Set(['metz']));

    clock.advance(60_000);
    await settle();
    expect(runtime.commands(ADMIN).map((c) => c.id)).toEqual(['z']);
    expect([...devices.values()][1].levelWrites().at(-1)).toEqual([
      [1, 70],
      [2, 70],
      [3, 70],
      [4, 70],
    ]);
    // Written after the expiry, in the background.
    for (let i = 0; i < 200 && (await readState()).commands.length !== 1; i++) await settle();
    expect((await readState()).commands.map((c) => c.id)).toEqual(['z']);
    unsubscribe();
  });

  it('validates, applies at once and persists a changed program; refuses what would break a calendar', async () => {
    started = await start(config, dir);
    const { runtime, devices } = started;
    const bad = await runtime
      .putProgram(
        {
          id: 'abaissement',
          steps: [
            { at: '23:00', level: 120 },
            { at: '21:00', level: 10 },
            { at: 'noon', level: 0 },
          ],
        },
        ADMIN,
      )
      .catch((e: unknown) => e as LightingError);
    expect(bad).toMatchObject({ code: 'invalid' });
    expect((bad as LightingError).issues.map((i) => i.path.join('.'))).toEqual([
      'steps.0.level',
      'steps.2.at',
    ]);
    const order = await runtime
      .putProgram(
        {
          id: 'abaissement',
          steps: [
            { at: '23:00', level: 50 },
            { at: '21:00', level: 10 },
          ],
        },
        ADMIN,
      )
      .catch((e: unknown) => e as LightingError);
    expect(pathsOf(order as LightingError)).toEqual(['steps.1.at']);
    expect((order as LightingError).issues[0].message).toMatch(/comes before step 0/);

    // Metz follows 'abaissement' on a weekday night: 33 % from dusk takes effect at once.
    const entry = await runtime.putProgram(
      {
        id: 'abaissement',
        steps: [
          { at: 'dusk', level: 33 },
          { at: 'dawn', level: 0 },
        ],
      },
      ADMIN,
    );
    expect(entry).toMatchObject({ origin: 'runtime', usedBy: ['metz-calendrier', 'montigny-calendrier'] });
    await settle();
    expect([...devices.values()][0].levelWrites().at(-1)).toEqual([
      [1, 33],
      [2, 33],
      [3, 33],
      [4, 33],
    ]);
    expect((await readState()).programs.put.map((p) => p.id)).toEqual(['abaissement']);

    await expect(runtime.deleteProgram('abaissement', ADMIN)).rejects.toMatchObject({ code: 'conflict' });
    // Montigny's calendar uses it too (on holidays): out of reach for Metz's police.
    await expect(
      runtime.putProgram({ id: 'abaissement', steps: [{ at: 'dusk', level: 10 }] }, METZ_ONLY),
    ).rejects.toMatchObject({
      code: 'forbidden',
    });
    const calendar = await failure(
      runtime.putCalendar(
        { id: 'metz-calendrier', default: 'missing', rules: [{ program: 'abaissement' }] },
        ADMIN,
      ),
    );
    expect(pathsOf(calendar)).toEqual(['default', 'rules.0']);
    expect(calendar.issues[0].message).toMatch(/unknown program 'missing'/);
    expect(calendar.issues[1].message).toMatch(/at least one of dates/);
    const montignyCalendar = config.zones[1].calendar;
    await expect(
      runtime.putCalendar({ id: montignyCalendar, default: 'nuit-complete' }, METZ_ONLY),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('survives a restart with its runtime programs and zone calendars', async () => {
    started = await start(config, dir);
    await started.runtime.putProgram(
      {
        id: 'pleine',
        steps: [
          { at: 'dusk', level: 55 },
          { at: 'dawn', level: 0 },
        ],
      },
      ADMIN,
    );
    await started.runtime.putCalendar({ id: 'fete', default: 'pleine' }, ADMIN);
    await started.runtime.assignCalendar(metzZone.id, 'fete', ADMIN);
    await started.stop();
    started = await start(config, dir);
    expect(started.runtime.zone(metzZone.id, ADMIN)).toMatchObject({
      calendar: 'fete',
      schedule: { program: 'pleine', level: 55 },
    });
    expect([...started.devices.values()][0].levelWrites()[0]).toEqual([
      [1, 55],
      [2, 55],
      [3, 55],
      [4, 55],
    ]);
  });

  it('previews a program on one night and compares its year with the calendar, with dated prices', async () => {
    started = await start(config, dir);
    const preview = started.runtime.previewProgram(
      { zone: metzZone.id, night: '2026-01-15', program: 'nuit-complete' },
      ADMIN,
    );
    expect(preview.steps.map((s) => s.level)).toEqual([100, 0]);
    expect(preview.energy.savedWh).toBeCloseTo(0, 6);
    expect(preview.energy.plannedWh).toBeCloseTo(preview.energy.fullNightWh, 6);
    const year = started.runtime.yearCost(
      { zone: metzZone.id, program: 'nuit-complete', from: '2026-01-01' },
      ADMIN,
    );
    expect(year.nights).toBe(365);
    expect(year.proposed.kWh).toBeCloseTo(year.fullNight.kWh, 6);
    expect(year.difference.kWh).toBeGreaterThan(0);
    expect(year.current.programs.map((p) => p.id).sort()).toEqual([
      'abaissement',
      'nuit-complete',
      'week-end',
    ]);
    expect(year.proposed.eur).toBeCloseTo(year.proposed.kWh * 0.2276, 6);
    expect(year.proposed.kgCo2e).toBeCloseTo(year.proposed.kWh * 0.052, 6);
    let thrown: unknown;
    try {
      started.runtime.previewProgram({ zone: metzZone.id, night: '2026-02-30', program: 'x' }, ADMIN);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LightingError);
    expect(pathsOf(thrown as LightingError)).toEqual(['night', 'program']);
  });

  it('previews a draft calendar: 14 July on its own program, the next 14 nights, the year against the calendar now', async () => {
    started = await start(config, dir);
    // The zone's calendar lights the nights of 13 and 14 July fully; the draft keeps only the 14th.
    const current = started.runtime.calendar(metzZone.calendar).calendar;
    const draft = {
      ...current,
      rules: [
        { name: '14 juillet', program: 'nuit-complete', dates: ['07-14'] },
        ...current.rules.filter((r) => r.name !== 'Fête nationale'),
      ],
    };
    const preview = started.runtime.previewCalendar(
      { zone: metzZone.id, calendar: draft, from: '2026-07-07' },
      ADMIN,
    );
    expect(preview.nights.map((n) => n.night)).toEqual(
      Array.from({ length: 14 }, (_, d) => `2026-07-${String(7 + d).padStart(2, '0')}`),
    );
    const night = (p: CalendarPreview, date: string): CalendarNight =>
      p.nights.find((n) => n.night === date)!;
    expect(night(preview, '2026-07-14')).toMatchObject({
      program: 'nuit-complete',
      rule: 0,
      ruleName: '14 juillet',
      savedPct: 0,
    });
    expect(night(preview, '2026-07-14').dawn).toBeGreaterThan(night(preview, '2026-07-14').dusk);
    const now = started.runtime.previewCalendar(
      { zone: metzZone.id, calendar: current, from: '2026-07-07' },
      ADMIN,
    );
    expect(night(now, '2026-07-13').program).toBe('nuit-complete');
    expect(night(preview, '2026-07-13').program).not.toBe('nuit-complete');
    // The year against the calendar now: the same calendar costs the same; the draft saves the 13th.
    expect(now.year.difference.kWh).toBeCloseTo(0, 9);
    expect(preview.year).toMatchObject({
      nights: 365,
      from: '2026-07-07',
      proposed: { calendar: current.id },
    });
    const saved = (night(preview, '2026-07-13').plannedWh - night(now, '2026-07-13').plannedWh) / 1000;
    expect(saved).toBeLessThan(0);
    expect(preview.year.difference.kWh).toBeCloseTo(saved, 6);
    expect(preview.year.difference.eur).toBeCloseTo(saved * 0.2276, 6);

    let refused: unknown;
    try {
      started.runtime.previewCalendar(
        { zone: metzZone.id, calendar: { ...draft, default: 'nowhere' }, nights: 100 },
        METZ_ONLY,
      );
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(LightingError);
    expect(pathsOf(refused as LightingError)).toEqual(['calendar.default', 'nights']);
  });

  it('tells the levels of a relight of more luminaires than a slice in slices, each luminaire once', async () => {
    const large = territory({ controllers: 3, perController: 1000 });
    started = await start(large, dir);
    const { runtime, clock, bus } = started;
    clock.advance(1000); // the start's levels told
    await settle();
    const slices: string[][] = [];
    bus.on('lightingReported', {}, (report) => {
      if (report.kind === 'change') slices.push(report.luminaires.map((l) => l.luminaire));
    });
    await runtime.relight({ id: 'all', target: { all: true }, reason: 'accident' }, ADMIN);
    clock.advance(1000);
    await settle();
    expect(slices.map((s) => s.length)).toEqual([FLUSH_SLICE, 3000 - FLUSH_SLICE]);
    expect(new Set(slices.flat()).size).toBe(3000);
  });
});
