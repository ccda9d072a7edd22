import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { ManualClock, systemClock } from '../../../core/clock';
import type { AlertView } from '../../../controller/telemetry/services';
import type { Telemetry } from '../../../controller/telemetry/subsystem';
import type { Actor } from '../../../controller/scope';
import type { Logger } from '../../../core/logger';
import { Service } from '../../../controller/service';
import { toYaml } from '../../../config/generateDemo';
import { parseConfig } from '../../../config/load';
import type { Config, ConfigInput } from '../../../config/schema';
import { buildTerritory } from '../../../config/demoTerritory';
import { Simulation } from '../../../simulators/simulation';
import { startInflux, type InfluxHarness } from '../../helpers/influxd';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';
import { freePorts } from '../../helpers/ports';

// The whole service against the simulators (Modbus meter gateway), influxd 1.6.7 behind nginx and
// mosquitto. The simulated buildings live at 03:00 on a winter night (manual clock): the school is
// closed and draws no water, until its leak is switched on. The night-flow rule's window is set around
// the real time of the run, since the service runs on the real clock.

const SCHOOL = 'metz-ecole-jules-ferry';
const admin: Actor = { user: 'admin', role: 'admin', communes: ['*'], via: 'api', from: 'test' };

let influx: InfluxHarness;
let broker: Mosquitto;
let simulation: Simulation;
let dir: string;
let configFile: string;
let config: Config;
const errors: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

const logger: Logger = {
  error: (msg) => errors.push(msg),
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => logger,
};

/** 'HH:MM' in Paris, `offsetMin` minutes from now. */
function parisClock(offsetMin: number): string {
  return new Intl.DateTimeFormat('fr-FR', {
    timeZone: 'Europe/Paris',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(Date.now() + offsetMin * 60_000));
}

beforeAll(async () => {
  [influx, broker] = await Promise.all([startInflux({ database: 'service' }), startMosquitto()]);
  dir = await mkdtemp(path.join(tmpdir(), 'nocturne-energy-service-'));
  const [gateway, http] = await freePorts(2);
  const territory = buildTerritory({
    communes: 1,
    modbusPorts: [],
    opcuaPorts: [],
    meterGatewayPort: gateway,
    mqttUrl: broker.url,
    httpPort: http,
    stateDir: './state',
    influx: { url: influx.url, bucket: 'service', batch_size: 200, flush_ms: 50 },
    alerts: false,
  });
  // The meters and sensors of the gateway only (no OPC UA BMS), polled twice a second.
  const input: ConfigInput = {
    ...territory,
    service: { ...territory.service, shutdown_timeout_s: 4 },
    devices: territory.devices!.filter((d) => d.protocol !== 'opcua'),
    buildings: territory.buildings!.map((b) => ({
      ...b,
      points: b
        .points!.filter((p) => p.modbus)
        .map((p) => ({ ...p, modbus: { ...p.modbus!, period_s: 0.5 } })),
    })),
    alerts: {
      evaluate_s: 0.2,
      rules: [
        {
          id: 'fuite',
          kind: 'night-flow',
          from: parisClock(-60),
          to: parisClock(60),
          above: 0.05,
          for_s: 1.5,
        },
      ],
    },
  };
  configFile = path.join(dir, 'site.yaml');
  const yaml = toYaml(input);
  await writeFile(configFile, yaml);
  config = parseConfig(yaml, configFile);
  simulation = new Simulation(undefined, new ManualClock(Date.parse('2026-01-14T03:00:00+01:00')));
  await simulation.start(config, { only: ['modbus'] });
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await simulation?.stop();
  await Promise.all([influx?.stop(), broker?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function startService(): Promise<{ service: Service; telemetry: Telemetry }> {
  const service = new Service(config, { logger, clock: systemClock, configFile, env: {} });
  await service.start(new AbortController().signal);
  return { service, telemetry: service.telemetry };
}

async function observe(topic: string): Promise<{ client: MqttClient; alerts: AlertView[] }> {
  const client = await connectAsync(broker.url, { connectTimeout: 2000, reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync(true));
  const alerts: AlertView[] = [];
  client.on('message', (_topic, payload) => alerts.push(JSON.parse(payload.toString()) as AlertView));
  await client.subscribeAsync(topic, { qos: 1 });
  return { client, alerts };
}

test('a leak at night raises an alert on MQTT and in InfluxDB; an outage and a restart with a full spool lose and duplicate nothing', async () => {
  const stream = await observe('nocturne/alerts/+/night-flow');
  const produced = new Map<string, number>();
  const count = (telemetry: Telemetry): void => {
    for (const point of telemetry.catalog.points)
      produced.set(point.source, (produced.get(point.source) ?? 0) + point.lines);
  };

  // 1. No flow at night: no alert. Then the leak.
  const first = await startService();
  try {
    await first.telemetry.sampler.ready();
    await sleep(2500);
    expect(stream.alerts).toEqual([]);
    simulation.setBuildingFault(SCHOOL, 'leak', true);
    await waitFor('the night-flow alert on MQTT', () => stream.alerts.length === 1);
    expect(stream.alerts[0]).toMatchObject({
      state: 'raised',
      kind: 'night-flow',
      rule: 'fuite',
      commune: 'metz',
      source: `${SCHOOL}/debit-eau`,
      value: 0.12,
    });
    expect(first.service.alerts.list(admin).map((a) => a.id)).toEqual([stream.alerts[0].id]);

    // 2. InfluxDB goes away while points flow; the service stops with a spool to replay.
    await influx.stopInfluxd();
    await sleep(3000);
    const report = first.service.health.report();
    expect(report.status).toBe('degraded');
    expect(['degraded', 'down']).toContain(report.influx);
  } finally {
    await first.service.stop();
    count(first.telemetry);
  }
  const left = first.telemetry.storage.stats()!;
  expect(left.spooledPoints).toBeGreaterThan(0);

  // 3. InfluxDB back, the service again: the spool is replayed, the alert is still the same one.
  await influx.startInfluxd();
  const second = await startService();
  try {
    await waitFor(
      'the spool replayed',
      () => second.telemetry.storage.stats()!.replayed >= left.spooledPoints,
      20_000,
    );
    await sleep(1500);
    expect(second.service.alerts.list(admin).map((a) => a.id)).toEqual([stream.alerts[0].id]);
    expect(second.service.health.report().status).toBe('up');
  } finally {
    await second.service.stop();
    count(second.telemetry);
  }
  expect(stream.alerts.map((a) => a.state)).toEqual(['raised']);
  expect(first.telemetry.sampler.stats().lostLines + second.telemetry.sampler.stats().lostLines).toBe(0);

  // Every point exactly once: as many points per series in InfluxDB as lines were made for it.
  const rows = [
    ...(await influx.query('SELECT COUNT(value) FROM sensor GROUP BY building, point')).map((r) => [
      `${r.tags.building}/${r.tags.point}`,
      r.values.count,
    ]),
    ...(await influx.query('SELECT COUNT("index") FROM meter GROUP BY building, meter')).map((r) => [
      `${r.tags.building}/${r.tags.meter}`,
      r.values.count,
    ]),
  ];
  expect(Object.fromEntries(rows)).toEqual(Object.fromEntries(produced));
  expect([...produced.values()].every((n) => n > 10)).toBe(true);

  // The alert as a Grafana annotation.
  const events = await influx.query(`SELECT * FROM event WHERE kind = 'alert'`);
  expect(events).toHaveLength(1);
  expect(events[0].values).toMatchObject({
    commune: 'metz',
    severity: 'warning',
    state: 'raised',
    alert: 'night-flow',
    rule: 'fuite',
    id: stream.alerts[0].id,
    source: `${SCHOOL}/debit-eau`,
    actor: 'nocturne',
  });
  expect(String(events[0].values.message)).toContain('fuite probable');
  const service = await influx.query('SELECT LAST(alerts_open), LAST(replayed) FROM service GROUP BY *');
  expect(service[0]).toMatchObject({ tags: { instance: 'nocturne-demo' }, values: { last: 1 } });
  expect(errors.filter((e) => !/InfluxDB|influx|spool/i.test(e))).toEqual([]);
}, 90_000);
