import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StatusCodes } from 'node-opcua';
import { OpcuaDevice } from '../../../config/schema/devices';
import { silentLogger, type Logger } from '../../../core/logger';
import type { DriverError, Health, OpcuaAddress, PointRef } from '../../../drivers/driver';
import { routeOpcuaLibraryLogs } from '../../../drivers/opcua/libraryLog';
import { OpcuaDriver } from '../../../drivers/opcua/opcuaDriver';
import type { OpcuaDriverOptions } from '../../../drivers/opcua/options';
import {
  OpcuaTestServer,
  SampleLog,
  TEST_NODES,
  nextConnected,
  valueIs,
  type TestNodeName,
} from '../../helpers/opcuaTestServer';
import { freePort } from '../../helpers/ports';
import { driverContract } from '../../contract/driverContract';

// node-opcua's own warnings (reconnection attempts while the server is down) would flood the output
routeOpcuaLibraryLogs(silentLogger);

const tmp = mkdtempSync(path.join(tmpdir(), 'nocturne-opcua-'));
const clientPki = path.join(tmp, 'client-pki');
let server: OpcuaTestServer;
const drivers: OpcuaDriver[] = [];

beforeAll(async () => {
  server = new OpcuaTestServer({
    port: await freePort(),
    pkiDir: path.join(tmp, 'server-pki'),
    maxNodesPerRead: 8,
    maxNodesPerWrite: 8,
  });
  await server.start();
});

afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.stop()));
});

afterAll(async () => {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function makeDriver(options: Partial<OpcuaDriverOptions> = {}): OpcuaDriver {
  const config = OpcuaDevice.parse({ id: 'bms', protocol: 'opcua', endpoint: server.endpoint });
  const driver = new OpcuaDriver(config, {
    pkiDir: clientPki,
    configDir: tmp,
    reconnectInitialDelayMs: 100,
    reconnectMaxDelayMs: 500,
    ...options,
  });
  drivers.push(driver);
  return driver;
}

const NAMES = Object.keys(TEST_NODES) as TestNodeName[];

function point(name: TestNodeName, address: Partial<OpcuaAddress> = {}): PointRef {
  return {
    key: name,
    label: `buildings[2].points[${NAMES.indexOf(name)}] 'ecole/${name}'`,
    address: { protocol: 'opcua', nodeId: TEST_NODES[name].nodeId, samplingMs: 20, ...address },
  };
}

const MISSING: PointRef = {
  key: 'ghost',
  label: "buildings[2].points[9] 'ecole/ghost'",
  address: { protocol: 'opcua', nodeId: 'ns=1;s=Room1.Ghost' },
};

driverContract('OpcuaDriver', () => {
  const driver = makeDriver();
  drivers.splice(drivers.indexOf(driver), 1); // the contract stops it itself
  return Promise.resolve({
    driver,
    readable: [
      { ref: point('temperature'), value: TEST_NODES.temperature.initial },
      { ref: point('pressure'), value: TEST_NODES.pressure.initial },
      { ref: point('lightsOn'), value: TEST_NODES.lightsOn.initial },
    ],
    writes: [
      { key: 'energy', address: point('energy').address, value: 4242 },
      { key: 'humidity', address: point('humidity').address, value: 48.5 },
    ],
    readBack: [point('energy'), point('humidity')],
    missing: MISSING,
    teardown: () => Promise.resolve(),
  });
});

describe('OpcuaDriver against a node-opcua server', () => {
  it('checks every node and names the configuration entry of those that are wrong', async () => {
    const driver = makeDriver();
    await driver.start();
    const notAVariable: PointRef = {
      key: 'folder',
      label: "buildings[2].points[10] 'ecole/folder'",
      address: { protocol: 'opcua', nodeId: 'i=85' },
    };
    const percentWithoutRange = point('pressure', { deadband: { type: 'percent', value: 5 } });
    const errors = await driver.check([
      ...NAMES.map((name) => point(name)),
      point('temperature', { deadband: { type: 'percent', value: 5 } }),
      MISSING,
      notAVariable,
      percentWithoutRange,
    ]);
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      [
        'not-found',
        `buildings[2].points[9] 'ecole/ghost': node ns=1;s=Room1.Ghost does not exist on device 'bms' (${server.endpoint}) (BadNodeIdUnknown)`,
      ],
      [
        'bad-type',
        `buildings[2].points[10] 'ecole/folder': node i=85 is an Object, not a Variable holding a value`,
      ],
      [
        'not-found',
        expect.stringMatching(/^buildings\[2\]\.points\[6\] 'ecole\/pressure': .*no EURange property/),
      ],
    ]);
  });

  it('reads many nodes in one Read request, with source times', async () => {
    const driver = makeDriver();
    await driver.start();
    server.readRequests.length = 0;
    const samples = await driver.read(NAMES.map((name) => point(name)));
    expect(server.readRequests).toEqual([NAMES.map((name) => TEST_NODES[name].nodeId)]);
    expect(samples.map((s) => [s.key, s.value, s.quality])).toEqual(
      NAMES.map((name) => [name, server.value(name), 'good']),
    );
    for (const sample of samples) expect(sample.sourceTime).toEqual(expect.any(Number));
  });

  it("splits a read only above the server's MaxNodesPerRead", async () => {
    const driver = makeDriver();
    await driver.start();
    server.readRequests.length = 0;
    const points = [...NAMES, ...NAMES].map((name, i) => ({ ...point(name), key: `${name}-${i}` }));
    const samples = await driver.read(points);
    expect(server.readRequests.map((r) => r.length)).toEqual([8, 6]);
    expect(samples.every((s) => s.quality === 'good')).toBe(true);
  });

  it("writes many nodes in one Write request, each with its node's data type", async () => {
    const driver = makeDriver();
    await driver.start();
    const values = { setpoint: 21.5, humidity: 50.25, level: 75, energy: -12, lightsOn: true } as const;
    const writes = Object.entries(values).map(([name, value]) => ({
      key: name,
      address: point(name as TestNodeName).address,
      value,
    }));
    server.writeRequests.length = 0;
    expect(await driver.write(writes)).toEqual(writes.map((w) => ({ key: w.key, ok: true })));
    expect(server.writeRequests).toEqual([writes.map((w) => (w.address as OpcuaAddress).nodeId)]);
    for (const [name, value] of Object.entries(values))
      expect(server.value(name as TestNodeName)).toBe(value);

    // data types are read once: the second write is a single Write request and no Read
    server.readRequests.length = 0;
    await driver.write(writes.map((w) => ({ ...w, value: w.key === 'lightsOn' ? false : 1 })));
    expect(server.writeRequests).toHaveLength(2);
    expect(server.readRequests).toEqual([]);
    expect(server.value('level')).toBe(1);
  });

  it('refuses values out of range before sending, and reports per-node refusals', async () => {
    const driver = makeDriver();
    await driver.start();
    server.writeRequests.length = 0;
    const results = await driver.write([
      { key: 'too-big', address: point('level').address, value: 70_000 },
      { key: 'fraction', address: point('energy').address, value: 12.5 },
      { key: 'not-bool', address: point('lightsOn').address, value: 2 },
      { key: 'read-only', address: point('temperature').address, value: 25 },
      { key: 'ghost', address: MISSING.address, value: 1 },
      { key: 'good', address: point('level').address, value: 40 },
    ]);
    const byKey = Object.fromEntries(results.map((r) => [r.key, r]));
    expect(byKey['too-big'].error).toMatchObject({
      code: 'bad-type',
      message: `too-big: cannot write 70000 to node ${TEST_NODES.level.nodeId} of type UInt16; it takes integers 0..65535`,
    });
    expect(byKey.fraction.error?.code).toBe('bad-type');
    expect(byKey['not-bool'].error?.message).toContain('true/false or 0/1');
    expect(byKey['read-only'].error).toMatchObject({ code: 'exception', detail: 'BadNotWritable' });
    expect(byKey.ghost.error).toMatchObject({ code: 'not-found' });
    expect(byKey.good).toEqual({ key: 'good', ok: true });
    // the refused values never left the driver; the others went in one request
    expect(server.writeRequests).toEqual([[TEST_NODES.temperature.nodeId, TEST_NODES.level.nodeId]]);
    expect(server.value('level')).toBe(40);
  });

  it('delivers monitored values with source time and quality, and filters changes below the deadband', async () => {
    const driver = makeDriver();
    await driver.start();
    const log = new SampleLog(driver);
    const setpoint = server.value('setpoint') as number;
    const temperature = server.value('temperature') as number;
    const subscription = driver.subscribe([
      point('setpoint', { deadband: { type: 'absolute', value: 1 } }),
      point('temperature', { deadband: { type: 'percent', value: 10 } }), // 10 % of 0..50 = 5
      point('humidity'),
    ]);
    await log.until(valueIs('humidity', server.value('humidity')));

    const sampled = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 150));
    server.setValue('setpoint', setpoint + 0.5);
    server.setValue('temperature', temperature + 2.5);
    server.setValue('humidity', 46);
    await sampled(); // sampled by the server, though not all reported
    server.setValue('setpoint', setpoint + 6);
    server.setValue('temperature', temperature + 12);
    await log.until(valueIs('setpoint', setpoint + 6));
    await log.until(valueIs('temperature', temperature + 12));
    expect(log.valuesOf('setpoint')).toEqual([setpoint, setpoint + 6]);
    expect(log.valuesOf('temperature')).toEqual([temperature, temperature + 12]);
    expect(log.valuesOf('humidity')).toContain(46); // without a deadband, the same spacing of changes is seen

    const sourceTimestamp = new Date(Date.now() + 60_000);
    server.setValue('humidity', 47, { status: StatusCodes.UncertainLastUsableValue, sourceTimestamp });
    expect(await log.until(valueIs('humidity', 47))).toMatchObject({
      quality: 'uncertain',
      sourceTime: sourceTimestamp.getTime(),
    });

    await subscription.close();
    const delivered = log.samples.length;
    server.setValue('setpoint', setpoint + 20);
    await sampled();
    expect(log.samples.slice(delivered)).toEqual([]);
  });

  it('reports a percent deadband on a node without EURange as a clear error', async () => {
    const driver = makeDriver();
    await driver.start();
    const log = new SampleLog(driver);
    driver.subscribe([point('pressure', { deadband: { type: 'percent', value: 5 } })]);
    const sample = await log.until((s) => s.key === 'pressure');
    expect(sample).toMatchObject({ key: 'pressure', value: null, quality: 'bad' });
    expect(sample.error?.code).toBe('not-found');
    expect(sample.error?.message).toMatch(
      /^buildings\[2\]\.points\[6\] 'ecole\/pressure': .*no EURange property.*absolute deadband$/,
    );
  });

  it('survives a server restart: reconnects, says so, and monitored values flow again', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (msg) => void warnings.push(msg), child: () => logger };
    const driver = makeDriver({ logger });
    await driver.start();
    const health: Health[] = [];
    driver.on('healthChanged', (h) => health.push(h));
    const log = new SampleLog(driver);
    driver.subscribe([point('setpoint')]);
    await log.until((s) => s.key === 'setpoint');

    const reconnected = nextConnected(driver);
    await server.restart(); // a new process: the old session and subscription are gone
    expect(await reconnected).toEqual({ reconnect: true });
    expect(health[0]).toBe('degraded');
    expect(health.at(-1)).toBe('up');
    expect(driver.stats().reconnects).toBe(1);

    // node-opcua's own repair gives up on servers whose MaxNodesPerRead is below 12: the driver redoes it
    expect(warnings).toContain('the monitored items did not survive the reconnection; recreating them');
    server.setValue('setpoint', 30);
    await log.until(valueIs('setpoint', 30));
    const [sample] = await driver.read([point('setpoint')]);
    expect(sample).toMatchObject({ value: 30, quality: 'good' });
  });

  it('starts without the server, reports it down, and connects when it appears', async () => {
    await server.stop();
    try {
      const driver = makeDriver();
      const causes: (string | undefined)[] = [];
      driver.on('healthChanged', (_h, error?: DriverError) => causes.push(error?.code));
      await driver.start();
      expect(driver.health()).toBe('down');
      expect(causes).toEqual(['disconnected']);
      const [unreachable] = await driver.read([point('setpoint')]);
      expect(unreachable).toMatchObject({ quality: 'bad', error: { code: 'disconnected' } });
      const log = new SampleLog(driver);
      driver.subscribe([point('energy')]);

      const connected = nextConnected(driver);
      await server.start();
      expect(await connected).toEqual({ reconnect: false });
      expect(driver.health()).toBe('up');
      await log.until(valueIs('energy', TEST_NODES.energy.initial));
    } finally {
      await server.start();
    }
  });

  it('stops promptly while reconnecting to a server that went away', async () => {
    const driver = makeDriver();
    await driver.start();
    driver.subscribe([point('setpoint')]);
    const health: Health[] = [];
    const down = new Promise<void>((resolve) =>
      driver.on('healthChanged', (h) => {
        health.push(h);
        if (h === 'down') resolve();
      }),
    );
    await server.stop();
    try {
      await down; // node-opcua's reconnection attempts are failing
      expect(health).toEqual(['degraded', 'down']);
      await driver.stop();
      expect(driver.health()).toBe('down');
      expect((await driver.read([point('setpoint')]))[0].error?.code).toBe('stopped');
    } finally {
      await server.start();
    }
  });

  it('stops idempotently, also in the middle of a start', async () => {
    await server.stop();
    try {
      const driver = makeDriver();
      const starting = driver.start();
      await Promise.all([driver.stop(), driver.stop()]);
      await starting;
      await driver.stop();
      expect(driver.health()).toBe('down');
      const [sample] = await driver.read([point('setpoint')]);
      expect(sample.error?.code).toBe('stopped');
    } finally {
      await server.start();
    }
  });
});
