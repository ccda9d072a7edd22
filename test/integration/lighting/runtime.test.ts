import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';
import { ADMIN, LightingHarness, eventually, paris } from './harness';

describe('lighting runtime against the simulators', () => {
  let broker: Mosquitto;
  let harness: LightingHarness | undefined;

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

  it('sends the first levels at start and a program step at its time, confirmed by read-back', async () => {
    // Metz, 15 January 2026: civil dusk ~17:25; the calendar's default program 'abaissement' steps to 70 % at 22:00.
    harness = await LightingHarness.start({ mqttUrl: broker.url, startAt: paris('2026-01-15T21:00') });
    const h = harness;
    const [first] = h.controllers;
    const lum = h.luminaireIds()[0];
    await eventually(
      () => h.commanded(first),
      (levels) => levels.every((l) => l === 100),
      { what: 'dusk level 100 %' },
    );
    await eventually(
      () => h.runtime.luminaire(lum, ADMIN),
      (v) => v.inEffect?.level === 100 && v.slot === 'schedule',
      { what: 'read-back of 100 %' },
    );
    h.clock.set(paris('2026-01-15T22:00') + 1000);
    await eventually(
      () => h.commanded(first),
      (levels) => levels.every((l) => l === 70),
      { what: '22:00 step' },
    );
    const view = await eventually(
      () => h.runtime.luminaire(lum, ADMIN),
      (v) => v.inEffect?.level === 70,
      { what: 'read-back of 70 %' },
    );
    expect(view.commanded?.level).toBe(70);
    expect(view.decidedBy?.reason).toMatch(/program abaissement.*step 1/);
  });

  it('confirms an emergency relight by read-back, persisted before it is acknowledged', async () => {
    harness = await LightingHarness.start({ mqttUrl: broker.url, startAt: paris('2026-01-15T23:00') });
    const h = harness;
    await eventually(
      () => h.commanded(h.controllers[1]),
      (l) => l.every((v) => v === 70),
      { what: 'schedule 70 %' },
    );
    const accepted = await h.runtime.relight(
      { id: 'fire-1', target: { commune: 'metz' }, level: 100, reason: 'fire, rue Serpentine' },
      { ...ADMIN, user: 'sdis-57', role: 'emergency' },
    );
    expect(accepted.record).toMatchObject({
      id: 'fire-1',
      slot: 'emergency',
      level: 100,
      luminaires: 16,
      actor: 'sdis-57',
    });
    const state = JSON.parse(await readFile(path.join(h.stateDir, 'lighting', 'state.json'), 'utf8')) as {
      commands: { id: string }[];
    };
    expect(state.commands.map((c) => c.id)).toEqual(['fire-1']);
    const progress = await h.runtime.waitForConfirmation('fire-1', { timeoutMs: 5_000 });
    expect(progress).toMatchObject({ total: 16, confirmed: 16, failed: 0, pending: 0, done: true });
    for (const id of h.controllers) expect(h.commanded(id)).toEqual(Array(8).fill(100));

    await h.runtime.clearRelight('fire-1', ADMIN);
    await eventually(
      () => h.commanded(h.controllers[0]),
      (l) => l.every((v) => v === 70),
      { what: 'back to 70 %' },
    );
    expect(h.runtime.commands(ADMIN)).toEqual([]);
  });

  it('heals a rebooted controller: after its reconnection, and from its boot counter', async () => {
    harness = await LightingHarness.start({ mqttUrl: broker.url, startAt: paris('2026-01-15T23:00') });
    const h = harness;
    const [device] = h.controllers;
    await eventually(
      () => h.commanded(device),
      (l) => l.every((v) => v === 70),
      { what: 'schedule 70 %' },
    );
    // A reboot cuts the connection: the drivers reconnect, the runtime resends.
    h.simulation.applyFaults({ device, reboot: true });
    expect(h.commanded(device)).toEqual(Array(8).fill(100));
    await eventually(
      () => h.commanded(device),
      (l) => l.every((v) => v === 70),
      { what: 'resent after reconnection' },
    );
    // A reboot the link does not notice (a gateway in between): only the boot counter tells. One
    // reconciliation round first, which reads the counter as it is.
    await eventually(
      () => h.runtime.stats().dispatch.confirmed,
      (n) => n >= 24,
      { what: 'read-backs done' },
    );
    h.clock.advance(60_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    h.simulation.controller(device).reboot();
    expect(h.commanded(device)).toEqual(Array(8).fill(100));
    const before = h.runtime.stats().dispatch.reconciled;
    h.clock.advance(60_000);
    await eventually(
      () => h.commanded(device),
      (l) => l.every((v) => v === 70),
      { what: 'resent after boot counter' },
    );
    expect(h.runtime.stats().dispatch.reconciled).toBe(before + 8);
  });

  it('an emergency relight outranks an override, which outranks presence; each lets go in turn', async () => {
    // 8 luminaires per zone: the sensor's group (2 behind, 3 ahead) raises 6 of them.
    harness = await LightingHarness.start({
      mqttUrl: broker.url,
      startAt: paris('2026-01-15T23:00'),
      luminairesPerController: 16,
    });
    const h = harness;
    const zone = h.config.zones[0];
    const sensor = h.config.presence_sensors.find((s) => s.zone === zone.id)!;
    const publisher: MqttClient = await connectAsync(broker.url, { clientId: `presence-${process.pid}` });
    try {
      const levels = (): number[] =>
        h.luminaireIds(zone.id).map((id) => h.runtime.luminaire(id, ADMIN).inEffect?.level ?? -1);
      const slots = (): string[] =>
        h.luminaireIds(zone.id).map((id) => h.runtime.luminaire(id, ADMIN).slot ?? '-');
      await eventually(levels, (l) => l.every((v) => v === 70), { what: 'schedule 70 %' });
      const payload = (cls: string): string =>
        sensor.class_path === 'class'
          ? JSON.stringify({ class: cls })
          : JSON.stringify({ uplink_message: { decoded_payload: { class: cls } } });

      await publisher.publishAsync(sensor.topic, payload('vehicle'));
      await eventually(slots, (s) => s.includes('presence'), { what: 'presence raises' });
      const raised = slots().filter((s) => s === 'presence').length;
      await eventually(levels, (l) => l.filter((v) => v === 100).length === raised, {
        what: 'presence 100 % read back',
      });

      await h.runtime.override(
        { id: 'works', target: { zone: zone.id }, level: 30, reason: 'road works', untilReleased: true },
        ADMIN,
      );
      await eventually(levels, (l) => l.every((v) => v === 30), { what: 'override 30 %' });
      await publisher.publishAsync(sensor.topic, payload('vehicle'));
      await h.runtime.relight({ id: 'accident', target: { zone: zone.id }, reason: 'accident' }, ADMIN);
      await eventually(levels, (l) => l.every((v) => v === 100), { what: 'relight 100 %' });
      expect(new Set(slots())).toEqual(new Set(['emergency']));

      await h.runtime.clearRelight('accident', ADMIN);
      await eventually(levels, (l) => l.every((v) => v === 30), { what: 'override again' });
      await h.runtime.releaseOverride('works', ADMIN);
      await eventually(slots, (s) => s.includes('presence') && s.includes('schedule'), {
        what: 'presence and schedule again',
      });
      // The hold runs out (60 s): presence lets go over its fade and the schedule alone applies.
      h.clock.advance(61_000);
      await eventually(levels, (l) => l.every((v) => v === 70), { what: 'schedule alone' });
    } finally {
      await publisher.endAsync();
    }
  });

  it('takes relight requests on the MQTT command topic and answers after persisting them', async () => {
    harness = await LightingHarness.start({
      mqttUrl: broker.url,
      startAt: paris('2026-01-15T23:00'),
      baseTopic: 'metz-eclairage',
    });
    const h = harness;
    const client = await connectAsync(broker.url, { clientId: `dispatch-${process.pid}` });
    const seen: { from: string; what: string }[] = [];
    const listener = {};
    h.bus.on('lightingCommandChanged', listener, (e) =>
      seen.push({ from: e.from, what: `${e.kind} ${e.state}` }),
    );
    h.bus.on('lightingRequestRefused', listener, (e) =>
      seen.push({ from: e.from, what: `refused ${e.actor}` }),
    );
    try {
      const responses: Record<string, unknown>[] = [];
      client.on('message', (_topic, payload) =>
        responses.push(JSON.parse(payload.toString()) as Record<string, unknown>),
      );
      await client.subscribeAsync('metz-eclairage/bridge/response/+', { qos: 1 });
      await client.publishAsync(
        'metz-eclairage/bridge/request/relight',
        JSON.stringify({
          transaction: 7,
          target: { zone: h.config.zones[1].id },
          reason: 'manifestation',
          actor: 'cta-57',
        }),
        { qos: 1 },
      );
      await eventually(
        () => responses.length,
        (n) => n >= 1,
        { what: 'response' },
      );
      expect(responses[0]).toMatchObject({ transaction: 7, status: 'ok', luminaires: 4 });
      const id = responses[0].id as string;
      expect(h.runtime.commands(ADMIN)).toEqual([
        expect.objectContaining({ id, actor: 'cta-57', via: 'mqtt' }),
      ]);

      await client.publishAsync(
        'metz-eclairage/bridge/request/relight',
        JSON.stringify({ transaction: 'x', target: { zone: 'nowhere' }, actor: 'cta-57' }),
        { qos: 1 },
      );
      await eventually(
        () => responses.length,
        (n) => n >= 2,
        { what: 'error response' },
      );
      expect(responses[1]).toMatchObject({ transaction: 'x', status: 'error' });
      expect(String(responses[1].error)).toMatch(/reason is required/);

      await client.publishAsync(
        'metz-eclairage/bridge/request/clear-relight',
        JSON.stringify({ transaction: 8, id, actor: 'cta-57' }),
        { qos: 1 },
      );
      await eventually(
        () => responses.length,
        (n) => n >= 3,
        { what: 'clear response' },
      );
      expect(responses[2]).toMatchObject({ transaction: 8, status: 'ok', id });
      expect(h.runtime.commands(ADMIN)).toEqual([]);
      // What the audit log hears: each request with the topic it came on, the refused one included.
      expect(seen).toEqual([
        { from: 'metz-eclairage/bridge/request/relight', what: 'relight accepted' },
        { from: 'metz-eclairage/bridge/request/relight', what: 'refused cta-57' },
        { from: 'metz-eclairage/bridge/request/clear-relight', what: 'relight cleared' },
      ]);
    } finally {
      await client.endAsync();
    }
  });
});
