import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectAsync } from 'mqtt';
import { ManualClock, systemClock } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import { Service } from '../../../controller/service';
import { buildTerritory } from '../../../config/demoTerritory';
import { toYaml } from '../../../config/generateDemo';
import { parseConfig } from '../../../config/load';
import type { Config, ConfigInput } from '../../../config/schema';
import { UplinkPublisher } from '../../../simulators/lorawan';
import { startInflux, type InfluxHarness } from '../../helpers/influxd';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';
import { freePorts } from '../../helpers/ports';

// The demo's LoRaWAN sensors (ChirpStack v4 and The Things Stack v3 uplinks, as the simulators publish
// them) and a kind of sensor the project has never seen, added by configuration only, through the whole
// service into InfluxDB 1.6.7 (behind nginx) via mosquitto.

let influx: InfluxHarness;
let broker: Mosquitto;
/** A hydrometry open-data service (Hub'Eau's shape): the last observation of a station, in mm. */
let hydrometry: Server;
const OBSERVED_AT = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000).toISOString();
let dir: string;
let config: Config;
let configFile: string;
const errors: string[] = [];
const logger: Logger = {
  error: (msg) => errors.push(msg),
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => logger,
};

/** The composter probe: a commune's new use case, written in its configuration and nowhere else. */
const COMPOSTER: Pick<ConfigInput, 'devices' | 'sensor_models' | 'sensors'> = {
  devices: [
    {
      id: 'passerelle-jardins',
      protocol: 'mqtt',
      format: 'json',
      topic: 'jardins/{site}/mesures',
      time_path: 'horodatage',
    },
  ],
  sensor_models: [
    {
      id: 'sonde-compost',
      kind: 'composter',
      period_s: 600,
      points: [
        {
          id: 'temperature',
          quantity: 'composter_temperature',
          unit: '°C',
          path: 'sonde.t_dixiemes',
          scale: 0.1,
        },
      ],
    },
  ],
  sensors: [
    {
      id: 'woippy-compost-jardin',
      model: 'sonde-compost',
      source: 'passerelle-jardins',
      commune: 'woippy',
      match: { site: 'jardin-partage' },
    },
  ],
};

beforeAll(async () => {
  [influx, broker] = await Promise.all([startInflux({ database: 'sensors' }), startMosquitto()]);
  hydrometry = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(
      JSON.stringify({
        count: 1,
        data: [{ code_station: 'A443064001', date_obs: OBSERVED_AT, resultat_obs: 1870 }],
      }),
    );
  });
  await new Promise<void>((resolve) => hydrometry.listen(0, '127.0.0.1', resolve));
  const hydrometryUrl = `http://127.0.0.1:${(hydrometry.address() as AddressInfo).port}/api/v2/hydrometrie/observations_tr?code_entite=A443064001&grandeur_hydro=H&size=1`;
  dir = await mkdtemp(path.join(tmpdir(), 'nocturne-sensors-'));
  const [http] = await freePorts(1);
  const territory = buildTerritory({
    modbusPorts: [],
    opcuaPorts: [],
    modbusControllers: 0,
    opcuaControllers: 0,
    buildings: false,
    sensors: true,
    alerts: false,
    mqttUrl: broker.url,
    httpPort: http,
    stateDir: './state',
    influx: { url: influx.url, bucket: 'sensors', batch_size: 100, flush_ms: 50 },
  });
  const input: ConfigInput = {
    ...territory,
    zones: [],
    presence_sensors: [],
    service: { ...territory.service, shutdown_timeout_s: 4 },
    devices: [
      ...territory.devices!,
      ...COMPOSTER.devices!,
      {
        id: 'hubeau',
        protocol: 'http-json',
        url: hydrometryUrl,
        period_s: 600,
        time_path: 'data.0.date_obs',
      },
    ],
    buildings: [
      {
        id: 'metz-hubeau-moselle',
        commune: 'metz',
        kind: 'river_station',
        points: [
          {
            id: 'hauteur',
            measurement: 'sensor',
            quantity: 'water_level',
            unit: 'm',
            device: 'hubeau',
            http: { path: 'data.0.resultat_obs', scale: 0.001 },
          },
        ],
      },
    ],
    sensor_models: [...territory.sensor_models!, ...COMPOSTER.sensor_models!],
    sensors: [...territory.sensors!, ...COMPOSTER.sensors!],
  };
  configFile = path.join(dir, 'site.yaml');
  const yaml = toYaml(input);
  await writeFile(configFile, yaml);
  config = parseConfig(yaml, configFile);
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => hydrometry?.close(resolve));
  await Promise.all([influx?.stop(), broker?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function waitFor(
  what: string,
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('uplinks land in InfluxDB once, with the time the network server gives; garbage changes only counters', async () => {
  const sites = config.buildings.map((b) => b.id).filter((id) => id !== 'metz-hubeau-moselle');
  expect(sites).toEqual(config.sensors.map((s) => s.id));
  // Uplinks taken over the last half hour, one round every 10 minutes.
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000 - 30 * 60_000);
  const uplinks = new UplinkPublisher(config, clock, logger, { clientId: 'network-servers' });
  const service = new Service(config, { logger, clock: systemClock, configFile, env: {} });
  await service.start(new AbortController().signal);
  try {
    await service.telemetry.sampler.ready();
    uplinks.start();
    await waitFor('the simulated network servers', () => uplinks.stats().connected);
    const times: number[] = [];
    let lastPav: { topic: string; payload: Record<string, unknown> } | undefined;
    for (let round = 0; round < 3; round++) {
      times.push(clock.now());
      for (const site of sites.filter((s) => s !== 'woippy-compost-jardin')) {
        const sent = await uplinks.publishNow(site);
        if (site === 'metz-pav-gare') lastPav = sent;
      }
      clock.advance(10 * 60_000);
    }
    // The composter's gateway: its own JSON, the time in it, the value in tenths of a degree.
    const gateway = await connectAsync(broker.url, { clientId: 'jardins' });
    const compostAt = times[2] + 5_000;
    await gateway.publishAsync(
      'jardins/jardin-partage/mesures',
      JSON.stringify({ horodatage: new Date(compostAt).toISOString(), sonde: { t_dixiemes: 583 } }),
      { qos: 1 },
    );

    // A ChirpStack redelivery, and a flood of what no sensor should send.
    const pav = lastPav!;
    const flood = [
      [pav.topic, JSON.stringify(pav.payload)], // the last uplink again: same deduplicationId
      ...Array.from({ length: 50 }, (_, k) => [pav.topic, `{"object": ${k}`]),
      ...Array.from({ length: 50 }, (_, k) => [
        `application/x/device/00000000000000${String(k).padStart(2, '0')}/event/up`,
        '{}',
      ]),
      ...Array.from({ length: 50 }, () => [
        'v3/crues@ttn/devices/metz-limni-moselle-pontiffroy/up',
        '{"uplink_message": {}}',
      ]),
    ];
    for (const [topic, payload] of flood) await gateway.publishAsync(topic, payload, { qos: 1 });
    await gateway.endAsync();

    const counts = async (): Promise<Map<string, number>> => {
      const rows = [
        ...(await influx.query('SELECT COUNT(value) FROM sensor GROUP BY building, point')).map(
          (r) => [`${r.tags.building}/${r.tags.point}`, Number(r.values.count)] as const,
        ),
        ...(await influx.query('SELECT COUNT("index") FROM meter GROUP BY building, meter')).map(
          (r) => [`${r.tags.building}/${r.tags.meter}`, Number(r.values.count)] as const,
        ),
      ];
      return new Map(rows);
    };
    // Every uplink's points, the battery of a ChirpStack sensor excepted (it comes in status events).
    const sourceOf = new Map(config.buildings.map((b) => [b.id, b.points[0].device]));
    const expected = new Map(
      config.buildings
        .flatMap((b) => b.points.map((p) => `${b.id}/${p.id}`))
        .filter((s) => !(s.endsWith('/battery') && sourceOf.get(s.split('/')[0]) === 'chirpstack'))
        .map((s) => [
          s,
          s.startsWith('woippy-compost-jardin/') || s.startsWith('metz-hubeau-moselle/') ? 1 : 3,
        ]),
    );
    await waitFor('every point in InfluxDB', async () => {
      const now = await counts();
      return [...expected.keys()].every((s) => (now.get(s) ?? 0) >= 1);
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const landed = await counts();
    for (const [series, n] of expected) expect([series, landed.get(series)]).toEqual([series, n]);

    // The hydrometry document, polled once at start: its observation, with its own time.
    const hubeau = await influx.query(`SELECT value FROM sensor WHERE building = 'metz-hubeau-moselle'`);
    expect(hubeau.map((r) => [r.values.time, r.values.value])).toEqual([[Date.parse(OBSERVED_AT), 1.87]]);
    // With the network server's time, not the arrival's.
    const fill = await influx.query(
      `SELECT value FROM sensor WHERE building = 'metz-pav-gare' AND point = 'remplissage'`,
    );
    expect(fill.map((r) => r.values.time)).toEqual(times);
    const compost = await influx.query(
      `SELECT value FROM sensor WHERE quantity = 'composter_temperature' GROUP BY commune, building, unit`,
    );
    expect(
      compost.map((r) => [r.tags.commune, r.tags.building, r.tags.unit, r.values.time, r.values.value]),
    ).toEqual([['woippy', 'woippy-compost-jardin', '°C', compostAt, 58.3]]);

    // The garbage is counted per device and reason, and nothing else moved.
    const metrics = service.health.metrics();
    const chirpstack = metrics.devices.find((d) => d.id === 'chirpstack')!;
    const tts = metrics.devices.find((d) => d.id === 'tts')!;
    expect(chirpstack).toMatchObject({ health: 'up' });
    expect(chirpstack.dropped).toMatchObject({ duplicate: 1, 'not-json': 50, 'unknown-sensor': 50 });
    expect(tts.dropped).toMatchObject({ 'no-values': 50 });
    expect(tts.errors).toBe(50);
    expect(await counts()).toEqual(landed);
    expect(errors).toEqual([]);
  } finally {
    await uplinks.stop();
    await service.stop();
  }
}, 90_000);

test('uplinks published across a broker restart land once each, with their own times', async () => {
  const sites = config.sensors.map((s) => s.id).filter((id) => id !== 'woippy-compost-jardin');
  // Before the first test's uplinks, so that this test counts only its own, and within
  // telemetry.max_clock_skew_s (1 h) of now, so that their own times are kept.
  const from = Math.floor(Date.now() / 1000) * 1000 - 55 * 60_000;
  const clock = new ManualClock(from);
  const uplinks = new UplinkPublisher(config, clock, logger, { clientId: 'network-servers-restart' });
  const service = new Service(config, { logger, clock: systemClock, configFile, env: {} });
  await service.start(new AbortController().signal);
  try {
    await service.telemetry.sampler.ready();
    uplinks.start();
    await waitFor('the simulated network servers', () => uplinks.stats().connected);
    const round = async (): Promise<void> => {
      await Promise.all(sites.map((site) => uplinks.publishNow(site)));
      clock.advance(10 * 60_000);
    };
    await round();
    // Published while the service and the network servers reconnect: queued by the publisher, then
    // by the broker for the service's persistent session.
    await broker.restart();
    await round();
    await waitFor('the service back on the broker', () => service.health.metrics().mqtt.health === 'up');
    await round();

    const window = `time >= ${from}ms AND time <= ${from + 1_200_000}ms`;
    // Every point of every uplink; a ChirpStack sensor's battery comes in status events instead.
    const expected = config.buildings
      .filter((b) => sites.includes(b.id))
      .flatMap((b) => b.points.map((p) => ({ series: `${b.id}/${p.id}`, device: p.device })))
      .filter(({ series, device }) => !(series.endsWith('/battery') && device === 'chirpstack'))
      .map(({ series }) => series);
    const perSeries = async (): Promise<Map<string, number[]>> => {
      const rows = [
        ...(await influx.query(`SELECT value FROM sensor WHERE ${window} GROUP BY building, point`)),
        ...(await influx.query(`SELECT "index" FROM meter WHERE ${window} GROUP BY building, meter`)),
      ];
      const times = new Map<string, number[]>();
      for (const r of rows) {
        const series = `${r.tags.building}/${r.tags.point ?? r.tags.meter}`;
        times.set(series, [...(times.get(series) ?? []), Number(r.values.time)]);
      }
      return times;
    };
    await waitFor('three uplinks of every sensor', async () => {
      const now = await perSeries();
      return expected.every((s) => (now.get(s) ?? []).length >= 3);
    });
    const landed = await perSeries();
    for (const series of expected)
      expect([series, landed.get(series)]).toEqual([series, [from, from + 600_000, from + 1_200_000]]);
    expect(errors).toEqual([]);
  } finally {
    await uplinks.stop();
    await service.stop();
  }
}, 90_000);
