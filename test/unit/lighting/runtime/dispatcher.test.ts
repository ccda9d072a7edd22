import { ManualClock } from '../../../../core/clock';
import { DriverError } from '../../../../drivers/driver';
import { silentLogger } from '../../../../core/logger';
import { Arbiter } from '../../../../controller/lighting/arbiter';
import { buildBindings } from '../../../../controller/lighting/runtime/bindings';
import { Dispatcher, type DispatcherOptions } from '../../../../controller/lighting/runtime/dispatcher';
import { LightingTopology } from '../../../../controller/lighting/topology';
import type { Config } from '../../../../config/schema';
import { FakeSegmentController, territory } from './fakes';

/** Lets every settled promise run its continuations. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

function setup(config: Config, options: DispatcherOptions = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 15, 22));
  const topology = LightingTopology.fromConfig(config);
  const arbiter = new Arbiter(topology);
  const { bindings } = buildBindings(config, topology);
  const devices = new Map(
    config.devices.map((d) => [
      d.id,
      new FakeSegmentController(d.id, d.lighting!.channels, d.lighting!.fail_safe_level),
    ]),
  );
  const readBacks: { i: number; level: number; confirmed: boolean }[] = [];
  const failures: { device: string; luminaires: number[]; error: string }[] = [];
  const dispatcher = new Dispatcher(
    {
      arbiter,
      topology,
      bindings,
      driver: (id) => devices.get(id),
      clock,
      logger: silentLogger,
      random: () => 0,
      hooks: {
        readBack: (i, level, confirmed) => readBacks.push({ i, level, confirmed }),
        failed: (binding, luminaires, error) =>
          failures.push({ device: binding.deviceId, luminaires, error }),
      },
    },
    options,
  );
  const schedule = (zone: number, level: number): void => {
    arbiter.setSchedule(zone, { level, allowPresence: false }, clock.now());
    dispatcher.dispatch(arbiter.takeChanges());
  };
  return { clock, topology, arbiter, dispatcher, devices, readBacks, failures, schedule };
}

describe('Dispatcher', () => {
  it('sends one write per device for its changed channels, then reads them back; watchdog last', async () => {
    const t = setup(territory());
    for (const device of t.devices.values()) await device.start();
    // As the runtime does: decisions first, then the dispatcher's start sends them.
    t.arbiter.setSchedule(0, { level: 70, allowPresence: false }, t.clock.now());
    t.arbiter.takeChanges();
    t.dispatcher.start();
    await settle();
    const [a, b] = [...t.devices.values()];
    expect(a.levelWrites()).toEqual([
      [
        [1, 70],
        [2, 70],
        [3, 70],
        [4, 70],
      ],
    ]);
    // No fade (the register is one-shot and 0 at power-on): the levels, then the watchdog and fail-safe.
    expect(a.writtenAddresses()).toEqual([
      [1000, 1001, 1002, 1003],
      [11, 10],
    ]);
    expect(a.writeCalls[1].map((w) => w.value)).toEqual([100, 300]);
    // Nothing decided for device b: only its watchdog and fail-safe.
    expect(b.writtenAddresses()).toEqual([[11, 10]]);
    expect(t.readBacks.map((r) => r.confirmed)).toEqual([true, true, true, true]);
    for (let i = 0; i < 4; i++) {
      expect(t.arbiter.state(i)?.commanded?.level).toBe(70);
      expect(t.arbiter.inEffectOf(i)).toBe(70);
    }
    expect(t.dispatcher.stats()).toMatchObject({ cycles: 1, confirmed: 4, failed: 0 });
  });

  it('coalesces changes made while a write is under way into one write of the latest levels', async () => {
    const t = setup(territory());
    const [a] = [...t.devices.values()];
    await a.start();
    t.dispatcher.start();
    t.schedule(0, 70);
    await settle();
    a.writeCalls.length = 0;
    a.hold();
    t.schedule(0, 40);
    t.schedule(0, 60);
    t.schedule(0, 30);
    expect(a.levelWrites()).toEqual([
      [
        [1, 40],
        [2, 40],
        [3, 40],
        [4, 40],
      ],
    ]);
    a.release();
    await settle();
    a.release();
    await settle();
    expect(a.levelWrites()).toEqual([
      [
        [1, 40],
        [2, 40],
        [3, 40],
        [4, 40],
      ],
      [
        [1, 30],
        [2, 30],
        [3, 30],
        [4, 30],
      ],
    ]);
    expect(a.inEffect(1)).toBe(30);
    expect(t.dispatcher.stats().cycles).toBe(3);
  });

  it('resends a level the device does not take, with backoff, then reports it failed with the device and why', async () => {
    const t = setup(territory(), { retries: 2 });
    const [a] = [...t.devices.values()];
    await a.start();
    t.dispatcher.start();
    a.frozen.add(2);
    t.schedule(0, 70);
    await settle();
    expect(a.levelWrites()).toHaveLength(1);
    t.clock.advance(100);
    await settle();
    expect(a.levelWrites()[1]).toEqual([[2, 70]]);
    t.clock.advance(200);
    await settle();
    expect(a.levelWrites()[2]).toEqual([[2, 70]]);
    expect(t.failures).toEqual([
      { device: a.deviceId, luminaires: [1], error: 'read back 100 % in effect instead of 70 %' },
    ]);
    expect(t.dispatcher.stats()).toMatchObject({ retries: 2, failed: 1 });
    t.clock.advance(10_000);
    await settle();
    expect(a.levelWrites()).toHaveLength(3);
  });

  it('reports a device that does not answer, after the retries', async () => {
    const t = setup(territory(), { retries: 1 });
    const [a] = [...t.devices.values()];
    await a.start();
    t.dispatcher.start();
    a.disconnect();
    t.schedule(0, 70);
    await settle();
    t.clock.advance(100);
    await settle();
    expect(t.failures).toHaveLength(1);
    expect(t.failures[0]).toMatchObject({ device: a.deviceId, luminaires: [0, 1, 2, 3] });
    expect(t.failures[0].error).toMatch(/unreachable/);
  });

  it('reconciles: resends levels that drifted, and every level after a reboot seen on the boot counter', async () => {
    const t = setup(territory(), { reconcileMs: 30_000, tickMs: 1_000 });
    const [a] = [...t.devices.values()];
    await a.start();
    t.dispatcher.start();
    t.schedule(0, 70);
    await settle();
    t.clock.advance(30_000);
    await settle();
    a.writeCalls.length = 0;
    a.setInEffect(3, 0);
    t.clock.advance(30_000);
    await settle();
    expect(a.levelWrites()).toEqual([[[3, 70]]]);
    expect(t.dispatcher.stats().reconciled).toBe(1);

    a.writeCalls.length = 0;
    a.reboot();
    t.clock.advance(30_000);
    await settle();
    expect(a.levelWrites()).toEqual([
      [
        [1, 70],
        [2, 70],
        [3, 70],
        [4, 70],
      ],
    ]);
    expect(a.writtenAddresses().flat()).toEqual(expect.arrayContaining([10, 11]));
    expect(a.inEffect(1)).toBe(70);
  });

  it('keeps the watchdog fed when nothing else is written, and sends nothing for undecided luminaires', async () => {
    const t = setup(territory());
    const [a, b] = [...t.devices.values()];
    await a.start();
    await b.start();
    t.dispatcher.start();
    t.schedule(0, 70);
    await settle();
    a.writeCalls.length = 0;
    t.clock.advance(99_000);
    await settle();
    expect(a.writeCalls).toEqual([]);
    t.clock.advance(2_000);
    await settle();
    expect(a.writtenAddresses()).toEqual([[10]]);
    // Zone 1 (device b) has no schedule: nothing decided, no level sent; its fail-safe applies.
    expect(b.levelWrites()).toEqual([]);
    expect(b.writtenAddresses()[0]).toEqual([11, 10]);
  });

  it('ramps a presence release over its one-shot fade, so that a raise is one write', async () => {
    const t = setup(territory({ controllers: 1, perController: 8, sensors: 1 }));
    const [a] = [...t.devices.values()];
    await a.start();
    t.arbiter.setSchedule(0, { level: 20, allowPresence: true }, t.clock.now());
    t.arbiter.takeChanges();
    t.dispatcher.start();
    await settle();
    a.writeCalls.length = 0;
    const members = Array.from(t.topology.groups[0].members, (i) => t.topology.channelOf[i]);

    t.arbiter.setPresence(0, { level: 100 }, t.clock.now());
    t.dispatcher.dispatch(t.arbiter.takeChanges());
    await settle();
    expect(a.writeCalls).toHaveLength(1);
    expect(a.levelWrites()).toEqual([members.map((c) => [c, 100])]);

    a.writeCalls.length = 0;
    t.arbiter.releasePresence(0, t.clock.now(), 10);
    t.dispatcher.dispatch(t.arbiter.takeChanges());
    await settle();
    const fades = members.map((c) => 2000 + c - 1);
    expect(a.writtenAddresses()).toEqual([fades, members.map((c) => 1000 + c - 1)]);
    expect(a.writeCalls[0].map((w) => w.value)).toEqual(members.map(() => 10));

    // The device used the fade up with that level write: the next raise is its level alone.
    a.writeCalls.length = 0;
    t.arbiter.setPresence(0, { level: 100 }, t.clock.now());
    t.dispatcher.dispatch(t.arbiter.takeChanges());
    await settle();
    expect(a.writtenAddresses()).toEqual([members.map((c) => 1000 + c - 1)]);
  });

  it('judges each read-back against its own write when writes follow one another (pooled cycles)', async () => {
    const t = setup(territory({ controllers: 1, perController: 8, sensors: 1 }));
    const [a] = [...t.devices.values()];
    await a.start();
    t.arbiter.setSchedule(0, { level: 20, allowPresence: true }, t.clock.now());
    t.arbiter.takeChanges();
    t.dispatcher.start();
    await settle();
    const members = Array.from(t.topology.groups[0].members);
    t.readBacks.length = 0;
    a.writeCalls.length = 0;

    // Eight channels to 30 %, then, while that write is answered and its read-back still queued, a raise
    // of the group, then its release: three cycles of 8, 6 and 6 slots, the third in the first's place.
    a.hold();
    t.arbiter.setSchedule(0, { level: 30, allowPresence: true }, t.clock.now());
    t.dispatcher.dispatch(t.arbiter.takeChanges());
    t.arbiter.setPresence(0, { level: 100 }, t.clock.now());
    t.dispatcher.dispatch(t.arbiter.takeChanges());
    a.release();
    await settle();
    t.arbiter.releasePresence(0, t.clock.now(), 0);
    t.dispatcher.dispatch(t.arbiter.takeChanges());
    a.release();
    await settle();

    expect(a.levelWrites().map((w) => w.length)).toEqual([8, members.length, members.length]);
    expect(t.readBacks.filter((r) => !r.confirmed)).toEqual([]);
    expect(t.readBacks.map((r) => r.level)).toEqual([
      ...Array.from({ length: 8 }, () => 30),
      ...members.map(() => 100),
      ...members.map(() => 30),
    ]);
    expect(t.readBacks.slice(8).map((r) => r.i)).toEqual([...members, ...members]);
    expect(t.failures).toEqual([]);
    expect(t.dispatcher.stats()).toMatchObject({
      cycles: 4,
      confirmed: 8 + 8 + 2 * members.length,
      retries: 0,
      failed: 0,
    });
  });

  it('replaces a fade the device may still hold before an instant change, when its level write failed', async () => {
    const t = setup(territory({ controllers: 1, perController: 8, sensors: 1 }), { retries: 0 });
    const [a] = [...t.devices.values()];
    await a.start();
    t.arbiter.setSchedule(0, { level: 20, allowPresence: true }, t.clock.now());
    t.arbiter.takeChanges();
    t.dispatcher.start();
    await settle();
    const members = Array.from(t.topology.groups[0].members, (i) => t.topology.channelOf[i]);
    t.arbiter.setPresence(0, { level: 100 }, t.clock.now());
    t.dispatcher.dispatch(t.arbiter.takeChanges());
    await settle();

    // The release's fade reaches the device, its level write does not.
    for (const c of members) a.faults.set(`holding:${1000 + c - 1}`, new DriverError('timeout', 'no answer'));
    a.writeCalls.length = 0;
    t.arbiter.releasePresence(0, t.clock.now(), 10);
    t.dispatcher.dispatch(t.arbiter.takeChanges());
    await settle();
    expect(a.writtenAddresses()[0]).toEqual(members.map((c) => 2000 + c - 1));

    // The next raise must not ramp over that fade: fade 0 first, then the level.
    a.faults.clear();
    a.writeCalls.length = 0;
    t.arbiter.setPresence(0, { level: 100 }, t.clock.now());
    t.dispatcher.dispatch(t.arbiter.takeChanges());
    await settle();
    expect(a.writtenAddresses().slice(0, 2)).toEqual([
      members.map((c) => 2000 + c - 1),
      members.map((c) => 1000 + c - 1),
    ]);
    expect(a.writeCalls[0].map((w) => w.value)).toEqual(members.map(() => 0));
  });

  it('shows a level the device refuses as refused, not as commanded, until the next one goes out', async () => {
    const t = setup(territory());
    for (const device of t.devices.values()) await device.start();
    t.dispatcher.start();
    await settle();
    const [a] = [...t.devices.values()];
    a.faults.set('holding:1000', new DriverError('exception', 'IllegalDataValue', 'IllegalDataValue'));
    t.schedule(0, 40);
    await settle();
    const i = t.topology.indexOf(
      t.topology.ids.find((_, k) => t.topology.channelOf[k] === 1 && t.topology.deviceOf[k] === 0)!,
    )!;
    expect(t.arbiter.state(i)).toMatchObject({ level: 40, commanded: undefined, refused: { level: 40 } });
    // Accepted again: commanded, and no longer refused.
    a.faults.clear();
    t.schedule(0, 50);
    await settle();
    expect(t.arbiter.state(i)).toMatchObject({ commanded: { level: 50 }, refused: undefined });
  });
});
