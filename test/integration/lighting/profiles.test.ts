import ModbusRTU from 'modbus-serial';
import { connectAsync } from 'mqtt';
import { PROFILE_LIBRARY, libraryProfiles } from '../../../config/profiles';
import { channelAddress } from '../../../config/registers';
import type { LuminaireFaultChanged } from '../../../controller/lighting/runtime/events';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';
import type { ConfigInput } from '../../../config/schema';
import { ADMIN, LightingHarness, eventually, paris } from './harness';

/**
 * Every shipped profile end to end: a simulated gateway playing it over Modbus TCP (its curve, status
 * register and fade), driven by the lighting runtime through the real driver. Levels are checked as the
 * raw registers a Modbus client reads, so a wrong curve cannot pass by reading back what it wrote.
 */

/** The raw status a lamp failure and a gear failure read as, from each maker's document. */
const PUBLISHED_STATUS: Record<string, { lamp: number; gear: number }> = {
  // nocturne's codes: 1 lamp, 2 driver.
  'nocturne-sc-v1': { lamp: 1, gear: 2 },
  // The DALI status byte: bit 1 lamp failure, bit 0 control gear failure.
  'ecodim-dali-gw2': { lamp: 0b10, gear: 0b01 },
  'arlight-dali-logic-lite': { lamp: 0b10, gear: 0b01 },
  // Intesis: bit 0 ballast failure, bit 1 lamp failure.
  'hms-intesis-dali': { lamp: 0b10, gear: 0b01 },
};

/** What a level becomes on the wire, from the published formulas (not from the code under test). */
const PUBLISHED_RAW: Record<string, Record<number, number>> = {
  // DALI arc n = 1 + (253/3)·(log10(p) + 1): 70 % → 240.95, 50 % → 228.6, 100 % → 254.
  'dali-arc': { 70: 241, 50: 229, 100: 254 },
  'linear-100': { 70: 70, 50: 50, 100: 100 },
  // DALION: v × 100 / 255 %.
  'linear-255': { 70: 179, 50: 128, 100: 255 },
};

const CHANNELS = 64;

describe.each(PROFILE_LIBRARY.map((p) => p.id))('shipped profile %s against a simulated gateway', (id) => {
  let broker: Mosquitto;
  let harness: LightingHarness | undefined;
  const profile = libraryProfiles().get(id)!;
  const curve = profile.level_curve === 'dali-arc' ? 'dali-arc' : `linear-${profile.level_max_raw}`;

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker.stop();
  });
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
  });

  /**
   * One simulated gateway playing this profile (unless \`configure\` says otherwise), driven by the runtime
   * at 23:00 — the schedule holds 70 % —, once its first levels are confirmed.
   */
  async function startGateway(options: {
    luminaires: number;
    zones: number;
    sensors: number;
    configure?: (input: ConfigInput) => void;
  }): Promise<LightingHarness> {
    const h = await LightingHarness.start({
      mqttUrl: broker.url,
      startAt: paris('2026-01-15T23:00'),
      controllers: 1,
      luminairesPerController: options.luminaires,
      zonesPerController: options.zones,
      presenceSensorsPerZone: options.sensors,
      configure:
        options.configure ??
        ((input) => {
          for (const device of input.devices ?? []) if (device.lighting) device.lighting.map = id;
        }),
    });
    harness = h;
    await eventually(
      () => h.runtime.stats().dispatch.confirmed,
      (n) => n >= options.luminaires,
      { what: 'first levels confirmed', timeoutMs: 10_000 },
    );
    return h;
  }

  /** The raw level registers of some channels, read by a Modbus client of its own. */
  function rawLevels(port: number, channels: number[]): Promise<number[]> {
    return rawRegisters(port, profile.commanded_level, channels);
  }

  async function rawRegisters(
    port: number,
    block: NonNullable<typeof profile.lamp_status>,
    channels: number[],
  ): Promise<number[]> {
    const client = new ModbusRTU();
    await client.connectTCP('127.0.0.1', { port });
    client.setID(1);
    client.setTimeout(2000);
    try {
      const out: number[] = [];
      for (const channel of channels) {
        const address = channelAddress(block, channel);
        const read =
          block.table === 'input'
            ? await client.readInputRegisters(address, 1)
            : await client.readHoldingRegisters(address, 1);
        out.push(read.data[0]);
      }
      return out;
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
  }

  /** Polls the raw registers until they all hold `value` (or 5 s); returns the last read. */
  async function rawUntil(port: number, channels: number[], value: number): Promise<number[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const levels = await rawLevels(port, channels);
      if (levels.every((v) => v === value) || Date.now() > deadline) return levels;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('writes schedule, override and relight levels as the curve says, confirmed in device units', async () => {
    const h = await startGateway({ luminaires: CHANNELS, zones: 1, sensors: 0 });
    const [device] = h.controllers;
    const port = h.ports[0];
    const expected = PUBLISHED_RAW[curve];
    const someChannels = [1, 2, 33, CHANNELS];
    // The calendar's default program is at 70 % at 23:00.
    expect(await rawLevels(port, someChannels)).toEqual(someChannels.map(() => expected[70]));
    const lum = h.luminaireIds()[0];
    expect(h.runtime.luminaire(lum, ADMIN).inEffect?.level).toBeCloseTo(70, 0);

    const [zone] = h.config.zones;
    await h.runtime.override(
      { id: 'works', target: { zone: zone.id }, level: 50, reason: 'travaux', untilReleased: true },
      ADMIN,
    );
    expect(await rawUntil(port, someChannels, expected[50])).toEqual(someChannels.map(() => expected[50]));

    const accepted = await h.runtime.relight(
      { id: 'incendie', target: { zone: zone.id }, level: 100, reason: 'incendie' },
      { ...ADMIN, user: 'sdis-57', role: 'emergency' },
    );
    expect(accepted.record.luminaires).toBe(CHANNELS);
    const progress = await h.runtime.waitForConfirmation('incendie', { timeoutMs: 10_000 });
    expect(progress).toMatchObject({ total: CHANNELS, confirmed: CHANNELS, failed: 0, pending: 0 });
    expect(await rawLevels(port, someChannels)).toEqual(someChannels.map(() => expected[100]));
    expect(
      h.simulation
        .controller(device)
        .allChannels()
        .every((c) => c.inEffect === 100),
    ).toBe(true);
  }, 30_000);

  (profile.lamp_status ? it : it.skip)(
    'raises a lamp failure and a gear failure from the status register as the profile reads it',
    async () => {
      const h = await startGateway({ luminaires: 8, zones: 1, sensors: 0 });
      const [device] = h.controllers;
      const faults: LuminaireFaultChanged[] = [];
      h.bus.on('luminaireFaultChanged', {}, (e) => faults.push(e));
      h.simulation.applyFaults({ device, lamp_failure: [3], driver_failure: [5] });
      const raised = (): string[] =>
        faults
          .filter((f) => f.state === 'raised' && f.kind !== 'no-power')
          .map((f) => `${f.channel} ${f.kind}`)
          .sort();
      await eventually(
        () => {
          h.clock.advance(60_000);
          return raised();
        },
        (r) => r.length >= 2,
        { what: 'faults raised', timeoutMs: 10_000 },
      );
      expect(raised()).toEqual(['3 lamp-failure', '5 driver-failure']);
      const published = PUBLISHED_STATUS[id];
      expect(await rawRegisters(h.ports[0], profile.lamp_status!, [3, 5, 1])).toEqual([
        published.lamp,
        published.gear,
        0,
      ]);
    },
    30_000,
  );

  (profile.group_level ? it : it.skip)(
    "raises a presence group through its DALI group's register",
    async () => {
      const h = await startGateway({
        luminaires: 16,
        zones: 1,
        sensors: 1,
        configure: (input) => {
          const device = (input.devices ?? []).find((d) => d.lighting)!;
          device.lighting!.map = id;
          // The sensor raises channels 1–8, commissioned as DALI group 3.
          device.lighting!.groups = [{ group: 3, channels: [1, 2, 3, 4, 5, 6, 7, 8] }];
          const zone = input.zones![0];
          const sensor = input.presence_sensors!.find((p) => p.zone === zone.id)!;
          delete sensor.at;
          sensor.luminaires = zone.luminaires.filter((l) => l.channel <= 8).map((l) => l.id);
        },
      });
      const [device] = h.controllers;
      const port = h.ports[0];
      const expected = PUBLISHED_RAW[curve];
      const sensor = h.config.presence_sensors[0];
      const publisher = await connectAsync(broker.url, { clientId: `presence-${id}-${process.pid}` });
      try {
        const before = h.devices.get(device)!.stats().requests;
        const confirmed = h.runtime.stats().dispatch.confirmed;
        await publisher.publishAsync(
          sensor.topic,
          sensor.class_path === 'class'
            ? JSON.stringify({ class: 'vehicle' })
            : JSON.stringify({ uplink_message: { decoded_payload: { class: 'vehicle' } } }),
        );
        await eventually(
          () => h.runtime.stats().dispatch.confirmed,
          (n) => n >= confirmed + 8,
          { what: 'presence raise confirmed' },
        );
        // The group's register, then the read-back of its members: not 8 writes.
        expect(h.devices.get(device)!.stats().requests - before).toBeLessThanOrEqual(3);
        expect(await rawRegisters(port, profile.group_level!, [4])).toEqual([expected[100]]);
        expect(await rawLevels(port, [1, 8, 9, 16])).toEqual([
          expected[100],
          expected[100],
          expected[70],
          expected[70],
        ]);
      } finally {
        await publisher.endAsync();
      }
    },
    30_000,
  );

  it('heals a gateway that lost its levels (power cut), through the reconciler', async () => {
    const h = await startGateway({ luminaires: 8, zones: 1, sensors: 0 });
    const [device] = h.controllers;
    const port = h.ports[0];
    const expected = PUBLISHED_RAW[curve];
    // Power cut: every address back at its power-on level (100 %), connection kept (a gateway in between).
    h.simulation.controller(device).reboot();
    expect(await rawLevels(port, [1, 8])).toEqual([expected[100], expected[100]]);
    await eventually(
      () => {
        h.clock.advance(30_000);
        return h.simulation
          .controller(device)
          .allChannels()
          .map((c) => Math.round(c.commanded));
      },
      (levels) => levels.every((l) => Math.abs(l - 70) <= 1),
      { what: 'schedule levels resent', timeoutMs: 10_000 },
    );
    expect(await rawLevels(port, [1, 8])).toEqual([expected[70], expected[70]]);
  }, 30_000);

  (profile.group_level ? it : it.skip)(
    'commands a DALI group, and every address of the gateway, with one write each',
    async () => {
      const h = await startGateway({
        luminaires: CHANNELS,
        zones: 2,
        sensors: 0,
        configure: (input) => {
          for (const device of input.devices ?? [])
            if (device.lighting) {
              device.lighting.map = id;
              // Commissioned as the zones are: group 0 the first half, group 1 the second.
              device.lighting.groups = [0, 1].map((group) => ({
                group,
                channels: Array.from({ length: CHANNELS / 2 }, (_, k) => group * (CHANNELS / 2) + k + 1),
              }));
            }
        },
      });
      const [device] = h.controllers;
      const port = h.ports[0];
      const expected = PUBLISHED_RAW[curve];
      const requests = (): number => h.devices.get(device)!.stats().requests;
      const zone = h.config.zones.find((z) => z.luminaires.some((l) => l.channel === 1))!;
      expect(zone.luminaires.map((l) => l.channel).sort((a, b) => a - b)).toEqual(
        Array.from({ length: CHANNELS / 2 }, (_, k) => k + 1),
      );

      let before = requests();
      await h.runtime.override(
        { id: 'travaux', target: { zone: zone.id }, level: 50, reason: 'travaux', untilReleased: true },
        ADMIN,
      );
      await eventually(
        () => h.runtime.stats().dispatch.confirmed,
        (n) => n >= CHANNELS + CHANNELS / 2,
        { what: 'group level confirmed' },
      );
      // One group write and the read-back of the 32 addresses, not 32 writes.
      expect(requests() - before).toBeLessThanOrEqual(4);
      expect(await rawLevels(port, [1, 32, 33, 64])).toEqual([
        expected[50],
        expected[50],
        expected[70],
        expected[70],
      ]);
      // Written through group 0's register (it reads back the last value written to it).
      expect(await rawRegisters(port, profile.group_level!, [1])).toEqual([expected[50]]);

      if (!profile.broadcast_level) return;
      before = requests();
      await h.runtime.relight(
        { id: 'incendie', target: { commune: 'metz' }, level: 100, reason: 'incendie' },
        { ...ADMIN, user: 'sdis-57', role: 'emergency' },
      );
      const progress = await h.runtime.waitForConfirmation('incendie', { timeoutMs: 10_000 });
      expect(progress).toMatchObject({ total: CHANNELS, confirmed: CHANNELS, failed: 0 });
      expect(requests() - before).toBeLessThanOrEqual(4);
      expect(await rawLevels(port, [1, 32, 33, 64])).toEqual([1, 32, 33, 64].map(() => expected[100]));
      const broadcast = profile.broadcast_level;
      expect(
        await rawRegisters(port, { ...broadcast, start: broadcast.address, word_order: 'big' }, [1]),
      ).toEqual([expected[100]]);
    },
    30_000,
  );
});

describe('a deliberately wrong profile', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker.stop();
  });

  /** DALI gear behind a gateway that also measures power (as HMS Intesis does with DT51 gear). */
  const daliWithPower = (id: string, curve: 'dali-arc' | 'linear') => ({
    id,
    level_curve: curve,
    level_max_raw: 254,
    commanded_level: { table: 'holding' as const, start: 3000, stride: 5 },
    in_effect_level: { table: 'holding' as const, start: 3004, stride: 5 },
    power_w: { table: 'input' as const, start: 5000, scale: 0.1 },
  });

  it('linear on DALI gear: read-back agrees with what was written, measured power does not, and it is raised', async () => {
    const options = {
      mqttUrl: broker.url,
      startAt: paris('2026-01-15T23:00'),
      controllers: 1,
      luminairesPerController: 8,
      zonesPerController: 1,
      presenceSensorsPerZone: 0,
    };
    const mapTo = (id: string, curve: 'dali-arc' | 'linear') => (input: ConfigInput) => {
      input.register_maps = [...(input.register_maps ?? []), daliWithPower(id, curve)];
      for (const device of input.devices ?? []) if (device.lighting) device.lighting.map = id;
    };
    // The gateway as it is: DALI gear, logarithmic.
    const truth = await LightingHarness.start({ ...options, configure: mapTo('dali-gear', 'dali-arc') });
    await truth.stop({ keepSimulation: true, keepStateDir: false });
    // The site file says linear.
    const h = await LightingHarness.start(
      { ...options, ports: truth.ports, configure: mapTo('dali-gear', 'linear') },
      truth.simulation,
    );
    try {
      const faults: LuminaireFaultChanged[] = [];
      h.bus.on('luminaireFaultChanged', {}, (e) => faults.push(e));
      await eventually(
        () => h.runtime.stats().dispatch.confirmed,
        (n) => n >= 8,
        { what: 'levels "confirmed"' },
      );
      // 70 % went out as 178 (linear); the gear holds arc 178, which is 12.6 % of light.
      expect(h.simulation.controller(h.controllers[0]).channel(1).inEffect).toBeCloseTo(12.55, 1);
      await eventually(
        () => {
          h.clock.advance(60_000);
          return faults.filter((f) => f.kind === 'power-mismatch' && f.state === 'raised').length;
        },
        (n) => n === 8,
        { what: 'power mismatch raised on every luminaire', timeoutMs: 10_000 },
      );
      const [first] = faults.filter((f) => f.kind === 'power-mismatch');
      expect(first.inEffect).toBeCloseTo(70, 0);
      const rated = h.config.zones[0].luminaires.find((l) => l.id === first.luminaire)!.power_w;
      // What the gear draws at 12.6 %, against the 70 % the service believes.
      expect(first.powerW).toBeCloseTo(rated * 0.1255, 0);
    } finally {
      await h.stop();
    }
  }, 30_000);
});

describe('identification registers, read at connect', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('a gateway that found fewer DALI gear than the configuration drives is reported, naming the device and the count', async () => {
    const options = {
      mqttUrl: broker.url,
      startAt: paris('2026-01-15T23:00'),
      controllers: 1,
      zonesPerController: 1,
      presenceSensorsPerZone: 0,
      configure: (input: ConfigInput) => {
        for (const device of input.devices ?? [])
          if (device.lighting) device.lighting.map = 'ecodim-dali-gw2';
      },
    };
    // On site: 6 DALI gear answer on the line.
    const site = await LightingHarness.start({ ...options, luminairesPerController: 6 });
    await site.stop({ keepSimulation: true });
    // The configuration says 8.
    const h = await LightingHarness.start(
      { ...options, luminairesPerController: 8, ports: site.ports },
      site.simulation,
    );
    try {
      const failed: { deviceId: string; luminaires: string[]; error: string }[] = [];
      h.bus.on('lightingDispatchFailed', {}, (e) => failed.push(e));
      const report = await eventually(
        () => failed.find((f) => f.error.includes('channel(s)')),
        (f) => f !== undefined,
        { what: 'identification mismatch reported' },
      );
      const [device] = h.controllers;
      expect(report!.error).toBe(
        `device '${device}' reports 6 channel(s) (DALI gear found on its line); the configuration drives channels up to 8: 2 luminaire(s) beyond it cannot be driven`,
      );
      const beyond = h.config.zones[0].luminaires.filter((l) => l.channel > 6).map((l) => l.id);
      expect(report!.luminaires.sort()).toEqual(beyond.sort());
    } finally {
      await h.stop();
    }
  }, 30_000);
});

describe('a command counter (ADFweb: the levels apply when a control register changes)', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker.stop();
  });

  const counted = (withCounter: boolean) => (input: ConfigInput) => {
    input.register_maps = [
      ...(input.register_maps ?? []),
      {
        id: 'counted',
        commanded_level: { table: 'holding', start: 1000 },
        in_effect_level: { table: 'input', start: 1000 },
        ...(withCounter ? { command_counter: { table: 'holding', address: 900 } } : {}),
      },
    ];
    for (const device of input.devices ?? []) if (device.lighting) device.lighting.map = 'counted';
  };
  const options = (url: string) => ({
    mqttUrl: url,
    startAt: paris('2026-01-15T23:00'),
    controllers: 1,
    luminairesPerController: 8,
    zonesPerController: 1,
    presenceSensorsPerZone: 0,
  });

  it('writes a new counter value after the levels of each command, and the device applies them', async () => {
    const h = await LightingHarness.start({ ...options(broker.url), configure: counted(true) });
    try {
      await eventually(
        () => h.runtime.stats().dispatch.confirmed,
        (n) => n >= 8,
        { what: 'levels confirmed' },
      );
      const [zone] = h.config.zones;
      await h.runtime.override(
        { id: 'travaux', target: { zone: zone.id }, level: 40, reason: 'travaux', untilReleased: true },
        ADMIN,
      );
      await eventually(
        () =>
          h.simulation
            .controller(h.controllers[0])
            .allChannels()
            .map((c) => c.inEffect),
        (levels) => levels.every((l) => l === 40),
        { what: 'override applied' },
      );
      const client = new ModbusRTU();
      await client.connectTCP('127.0.0.1', { port: h.ports[0] });
      client.setID(1);
      try {
        expect((await client.readHoldingRegisters(900, 1)).data[0]).toBe(2);
      } finally {
        await new Promise<void>((resolve) => client.close(() => resolve()));
      }
    } finally {
      await h.stop();
    }
  }, 30_000);

  it('without the counter in its profile, the device applies nothing, and nothing is confirmed', async () => {
    const device = await LightingHarness.start({ ...options(broker.url), configure: counted(true) });
    await device.stop({ keepSimulation: true });
    const h = await LightingHarness.start(
      { ...options(broker.url), ports: device.ports, configure: counted(false) },
      device.simulation,
    );
    try {
      // The device holds the 70 % applied under the right profile; a 40 % now waits for a counter that never changes.
      const [zone] = h.config.zones;
      await h.runtime.override(
        { id: 'travaux', target: { zone: zone.id }, level: 40, reason: 'travaux', untilReleased: true },
        ADMIN,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(
        h.simulation
          .controller(h.controllers[0])
          .allChannels()
          .every((c) => c.inEffect === 70),
      ).toBe(true);
      const view = h.runtime.luminaire(h.luminaireIds()[0], ADMIN);
      expect(view).toMatchObject({ level: 40, inEffect: { level: 70 } });
    } finally {
      await h.stop();
    }
  }, 30_000);
});
