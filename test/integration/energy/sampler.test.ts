import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Bus } from '../../../controller/bus';
import { ManualClock, systemClock } from '../../../core/clock';
import { DeviceRegistry } from '../../../controller/devices';
import { DeviceBook, servedCommunes } from '../../../controller/telemetry/deviceBook';
import { PointCatalog } from '../../../controller/telemetry/points';
import { TelemetryRecorder } from '../../../controller/telemetry/recorder';
import { Sampler } from '../../../controller/telemetry/sampler';
import { TelemetryStorage } from '../../../controller/telemetry/storage';
import type { Logger } from '../../../core/logger';
import type { Config } from '../../../config/schema';
import { Simulation } from '../../../simulators/simulation';
import { startInflux, type InfluxHarness, type QueryRow } from '../../helpers/influxd';
import { testTerritory } from '../simulators/territory';

// The sampler against the simulators (the meter gateway over Modbus, the BMS over OPC UA) writing through
// the real writer into influxd 1.6.7 behind nginx. The simulation runs on a manual clock so that an hour
// of consumption passes in a moment (meters roll over); the drivers poll in real time.

const SCHOOL = 'metz-ecole-jules-ferry';

let influx: InfluxHarness;
let simulation: Simulation;
let simClock: ManualClock;
let config: Config;
let dir: string;
const errors: string[] = [];

/** Every point polled or sampled at least once a second, so the test sees many readings quickly. */
function faster(territory: Config): Config {
  return {
    ...territory,
    buildings: territory.buildings.map((b) => ({
      ...b,
      points: b.points.map((p) => ({
        ...p,
        ...(p.modbus ? { modbus: { ...p.modbus, period_s: 0.5 } } : {}),
        ...(p.opcua ? { opcua: { ...p.opcua, sampling_ms: 200, deadband: undefined } } : {}),
      })),
    })),
  };
}

const logger: Logger = {
  error: (msg) => errors.push(msg),
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => logger,
};

beforeAll(async () => {
  influx = await startInflux({ database: 'sampler' });
  dir = await mkdtemp(path.join(tmpdir(), 'nocturne-sampler-'));
  const territory = faster((await testTerritory({ modbus: 0 })).config);
  simClock = new ManualClock(Date.now());
  simulation = new Simulation(undefined, simClock);
  await simulation.start(territory, { only: ['modbus', 'opcua'], pkiDir: path.join(dir, 'sim-pki') });
  // The service knows two points the devices do not have: they must be reported and left out.
  const school = territory.buildings.find((b) => b.id === SCHOOL)!;
  config = {
    ...territory,
    buildings: territory.buildings.map((b) =>
      b.id !== SCHOOL
        ? b
        : {
            ...b,
            points: [
              ...b.points,
              {
                ...school.points.find((p) => p.id === 'puissance')!,
                id: 'absent-modbus',
                modbus: { ...school.points.find((p) => p.id === 'puissance')!.modbus!, address: 4000 },
              },
              {
                ...school.points.find((p) => p.opcua)!,
                id: 'absent-opcua',
                opcua: { node_id: `ns=1;s=${SCHOOL}.nowhere.Temperature`, sampling_ms: 200 },
              },
            ],
          },
    ),
  };
}, 60_000);

afterAll(async () => {
  await simulation?.stop();
  await influx?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const byTime = (rows: QueryRow[]): QueryRow[] =>
  [...rows].sort((a, b) => Number(a.values.time) - Number(b.values.time));

test('samples every point into its series, leaves out what the devices refuse, and survives meter resets and rollovers', async () => {
  const bus = new Bus(logger);
  const devices = new DeviceRegistry(config, {
    logger,
    clock: systemClock,
    bus,
    configDir: dir,
    stateDir: dir,
  });
  const catalog = new PointCatalog(config);
  const book = new DeviceBook(config, servedCommunes(config), Date.now());
  const storage = new TelemetryStorage({
    influx: {
      url: influx.url,
      org: '',
      bucket: 'sampler',
      batch_size: 500,
      flush_ms: 50,
      gzip: true,
      spool_max_mb: 64,
      spool_sync_ms: 10,
    },
    stateDir: dir,
    configDir: dir,
    clock: systemClock,
    logger,
    bus,
    stopTimeoutMs: 5000,
  });
  const recorder = new TelemetryRecorder({
    config,
    devices,
    book,
    sink: storage,
    bus,
    clock: systemClock,
    logger,
  });
  const sampler = new Sampler({
    catalog,
    devices,
    book,
    sink: storage,
    bus,
    clock: systemClock,
    logger,
    maxClockSkewMs: 3_600_000,
  });
  const components = [
    storage.component(),
    recorder.component(),
    devices.component('modbus'),
    devices.component('opcua'),
  ];
  try {
    for (const component of components) await component.start(new AbortController().signal);
    await sampler.start();
    await sampler.ready();
    const eau = catalog.bySource.get(`${SCHOOL}/eau`)!;
    const electricity = catalog.bySource.get(`${SCHOOL}/electricite`)!;
    await waitFor('two readings of every meter', () => eau.lines >= 2 && electricity.lines >= 2);

    simulation.resetMeter(SCHOOL, 'reset', 'eau');
    simulation.resetMeter(SCHOOL, 'rollover', 'electricite');
    const before = electricity.lines;
    await waitFor('readings after the reset', () => electricity.lines >= before + 2);
    simClock.advance(3_600_000); // an hour of consumption: the electricity index wraps
    const afterWrap = electricity.lines;
    await waitFor('readings after the wrap', () => electricity.lines >= afterWrap + 2 && eau.lines >= 6);
    recorder.snapshotDevices();
    // An entry of the audit log, as the API records a refused relight.
    bus.emit('auditRecorded', {
      at: Date.now(),
      actor: 'police-metz',
      role: 'emergency',
      via: 'api',
      from: '10.0.0.7',
      action: 'relight',
      target: 'zone metz-serpenoise',
      communes: ['metz'],
      result: 'refused',
      status: 403,
      message: 'zone metz-serpenoise is outside the communes of police-metz',
    });
  } finally {
    await sampler.stop();
    for (const component of [...components].reverse()) await component.stop();
  }

  // What the devices refused is named with its configuration entry, and left out.
  const refused = errors.filter((e) => e.includes('left out'));
  expect(refused).toHaveLength(2);
  expect(refused[0]).toMatch(/buildings\[0\]\.points\[\d+\] 'metz-ecole-jules-ferry\/absent-(modbus|opcua)'/);
  expect(sampler.stats()).toMatchObject({ refused: 2, lostLines: 0 });
  expect(sampler.stats().subscribed).toBe(catalog.points.length - 2);

  // Every other point has its series, with the tags of the schema.
  const sensors = await influx.query('SELECT LAST(value) FROM sensor GROUP BY *');
  const meters = await influx.query('SELECT LAST("index") FROM meter GROUP BY *');
  const seen = new Set([
    ...sensors.map((r) => `${r.tags.building}/${r.tags.point}`),
    ...meters.map((r) => `${r.tags.building}/${r.tags.meter}`),
  ]);
  const expected = catalog.points.filter((p) => p.refused === undefined).map((p) => p.source);
  expect([...seen].sort()).toEqual(expected.sort());
  const temperature = sensors.find((r) => r.tags.point === 'classe-cp-temperature')!;
  expect(temperature.tags).toEqual({
    building: SCHOOL,
    commune: 'metz',
    point: 'classe-cp-temperature',
    quantity: 'temperature',
    room: 'classe-cp',
    unit: '°C',
  });
  expect(Number(temperature.values.last)).toBeGreaterThan(5);
  const water = meters.find((r) => r.tags.meter === 'eau')!;
  expect(water.tags).toEqual({ building: SCHOOL, commune: 'metz', kind: 'water', meter: 'eau', unit: 'm³' });

  // Resets and rollovers: never a negative delta, never a spike.
  const deltas = await influx.query(
    `SELECT MIN(delta), MAX(delta) FROM meter WHERE building = '${SCHOOL}' GROUP BY meter`,
  );
  for (const row of deltas) expect(Number(row.values.min)).toBeGreaterThanOrEqual(0);
  const electricityRows = byTime(
    await influx.query(
      `SELECT "index", delta FROM meter WHERE meter = 'electricite' AND building = '${SCHOOL}'`,
    ),
  );
  const wrap = electricityRows.findIndex(
    (r, i) => i > 0 && Number(r.values.index) < Number(electricityRows[i - 1].values.index),
  );
  expect(wrap).toBeGreaterThan(0);
  const hourOfSchool = Number(electricityRows[wrap].values.delta);
  expect(hourOfSchool).toBeGreaterThan(0);
  expect(hourOfSchool).toBeLessThan(200); // an hour of a school, not 429 million kWh
  const waterRows = byTime(
    await influx.query(`SELECT "index", delta FROM meter WHERE meter = 'eau' AND building = '${SCHOOL}'`),
  );
  const reset = waterRows.findIndex(
    (r, i) => i > 0 && Number(r.values.index) < Number(waterRows[i - 1].values.index),
  );
  expect(reset).toBeGreaterThan(0);
  expect(Number(waterRows[reset].values.delta)).toBeLessThan(1);

  // The audit log reaches InfluxDB as command events.
  const commands = await influx.query(
    `SELECT actor, source, state, via FROM event WHERE kind = 'command' GROUP BY *`,
  );
  expect(commands).toHaveLength(1);
  expect(commands[0].tags).toEqual({ commune: 'metz', kind: 'command', severity: 'warning' });
  expect(commands[0].values).toMatchObject({
    actor: 'police-metz',
    source: 'zone metz-serpenoise',
    state: 'refused',
    via: 'api',
  });

  // Device health from the recorder: up while sampled, down once its driver stopped.
  const health = byTime(await influx.query(`SELECT health FROM device WHERE device = 'bms-emm' GROUP BY *`));
  expect(health[0].tags).toEqual({ commune: '-', device: 'bms-emm', protocol: 'opcua' });
  expect(health.map((r) => r.values.health)).toContain(2);
  expect(health[health.length - 1].values.health).toBe(0);
}, 60_000);
