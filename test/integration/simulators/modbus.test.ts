import ModbusRTU from 'modbus-serial';
import { ManualClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import type { DeviceState, SimulationState } from '../../../simulators/control';
import { Simulation } from '../../../simulators/simulation';
import { decodeRaw } from '../../../simulators/modbus/encoding';
import type { BuildingSnapshot } from '../../../simulators/buildings';
import { control, testTerritory, type TestTerritory } from './territory';

/**
 * The Modbus simulators over real loopback connections, driven by a modbus-serial client, with the
 * segment controller models on a manual clock so the watchdog and fades need no sleeping.
 */

const DEVICE = 'metz-sc-01';
const START = Date.UTC(2026, 0, 19, 19, 0, 0);

let territory: TestTerritory;
let clock: ManualClock;
let simulation: Simulation;
let controlPort: number;
const clients: ModbusRTU[] = [];

async function client(port: number, unitId = 1, timeoutMs = 1000): Promise<ModbusRTU> {
  const c = new ModbusRTU();
  clients.push(c);
  await c.connectTCP('127.0.0.1', { port });
  c.setID(unitId);
  c.setTimeout(timeoutMs);
  return c;
}

const segmentPort = (): number => territory.ports.modbus[0];
const failure = async (promise: Promise<unknown>): Promise<{ modbusCode?: number; message: string }> => {
  try {
    await promise;
  } catch (error) {
    return error as { modbusCode?: number; message: string };
  }
  throw new Error('expected the request to fail');
};

beforeAll(async () => {
  territory = await testTerritory({ modbus: 1, luminaires: 4 });
  clock = new ManualClock(START);
  simulation = new Simulation(silentLogger, clock);
  const ready = await simulation.start(territory.config, { only: ['modbus'], controlPort: 0 });
  controlPort = ready.control!;
  expect(ready.modbus).toEqual(
    [...territory.ports.modbus, territory.ports.meterGateway].sort((a, b) => a - b),
  );
  expect(ready.opcua).toEqual([]);
});

afterEach(async () => {
  await Promise.all(
    clients
      .splice(0)
      .map((c) => new Promise<void>((resolve) => (c.isOpen ? c.close(() => resolve()) : resolve()))),
  );
  await control(controlPort, 'POST', '/faults', { clear: true });
});

afterAll(() => simulation.stop());

describe('Modbus segment controller', () => {
  it('identifies itself and applies written levels: commanded, in effect, output and power read back', async () => {
    const c = await client(segmentPort());
    expect((await c.readInputRegisters(0, 3)).data).toEqual([1, 4, 1]);
    await c.writeRegisters(1000, [0, 50, 100, 25]);
    expect((await c.readHoldingRegisters(1000, 4)).data).toEqual([0, 50, 100, 25]);
    expect((await c.readInputRegisters(1000, 4)).data).toEqual([0, 50, 100, 25]);
    expect((await c.readInputRegisters(1500, 4)).data).toEqual([0, 50, 100, 25]);
    // Rated 35, 45, 60, 70 W; 0.1 W per unit.
    expect((await c.readInputRegisters(2000, 4)).data).toEqual([0, 225, 600, 175]);
    expect(simulation.controller(DEVICE).channel(2)).toMatchObject({ commanded: 50, powerW: 22.5 });
  });

  it('ramps the output over the written fade time', async () => {
    const c = await client(segmentPort());
    await c.writeRegisters(1000, [100]);
    await c.writeRegisters(2000, [100]); // 10.0 s
    await c.writeRegisters(1000, [0]);
    clock.advance(2_500);
    expect((await c.readInputRegisters(1500, 1)).data).toEqual([75]);
    clock.advance(7_500);
    expect((await c.readInputRegisters(1500, 1)).data).toEqual([0]);
    await c.writeRegisters(2000, [0]);
  });

  it('falls back to the fail-safe level when the watchdog expires, and a new write restores', async () => {
    const c = await client(segmentPort());
    await c.writeRegisters(10, [60, 30]);
    await c.writeRegisters(1000, [10, 10, 10, 10]);
    clock.advance(60_000);
    expect((await c.readInputRegisters(1000, 4)).data).toEqual([30, 30, 30, 30]);
    expect((await c.readHoldingRegisters(1000, 4)).data).toEqual([10, 10, 10, 10]);
    await c.writeRegisters(1000, [20]);
    expect((await c.readInputRegisters(1000, 4)).data).toEqual([20, 10, 10, 10]);
    await c.writeRegisters(10, [300, 100]);
  });

  it('answers IllegalDataValue for a level above level_max_raw and IllegalDataAddress outside the map', async () => {
    const c = await client(segmentPort());
    expect((await failure(c.writeRegisters(1000, [101]))).modbusCode).toBe(3);
    expect((await failure(c.writeRegisters(1500, [10]))).modbusCode).toBe(2);
    expect((await failure(c.readHoldingRegisters(1004, 1))).modbusCode).toBe(2);
  });

  it('reports a lamp failure: power 0 and status 1 while lit', async () => {
    const c = await client(segmentPort());
    await c.writeRegisters(1000, [100, 100, 0, 100]);
    const answer = await control<DeviceState>(controlPort, 'POST', '/faults', {
      device: DEVICE,
      lamp_failure: [2, 3],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.lighting!.channels[1]).toMatchObject({ status: 1, power_w: 0, fault: 'lamp' });
    expect((await c.readInputRegisters(4000, 4)).data).toEqual([0, 1, 0, 0]);
    expect((await c.readInputRegisters(2000, 4)).data).toEqual([350, 0, 0, 700]);
  });

  it('answers slowly enough for a client to time out, then normally once cleared', async () => {
    await control(controlPort, 'POST', '/faults', { device: DEVICE, slow_ms: 600 });
    const slow = await client(segmentPort(), 1, 200);
    expect((await failure(slow.readInputRegisters(0, 1))).message).toMatch(/timed out/i);
    await control(controlPort, 'POST', '/faults', { device: DEVICE, slow_ms: 0 });
    const c = await client(segmentPort());
    expect((await c.readInputRegisters(0, 1)).data).toEqual([1]);
  });

  it('stays silent while told to', async () => {
    await control(controlPort, 'POST', '/faults', { device: DEVICE, silent: true });
    const c = await client(segmentPort(), 1, 200);
    expect((await failure(c.readInputRegisters(0, 1))).message).toMatch(/timed out/i);
  });

  it('drops connections on demand', async () => {
    const c = await client(segmentPort());
    const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
    const answer = await control(controlPort, 'POST', '/faults', { device: DEVICE, drop_connections: true });
    expect(answer.status).toBe(200);
    await closed;
    expect(c.isOpen).toBe(false);
  });

  it('forgets levels on reboot, counts the boot and drops the connection', async () => {
    const c = await client(segmentPort());
    await c.writeRegisters(1000, [5, 5, 5, 5]);
    const bootsBefore = (await c.readInputRegisters(2, 1)).data[0];
    const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
    await control(controlPort, 'POST', '/faults', { device: DEVICE, reboot: true });
    await closed;
    const again = await client(segmentPort());
    expect((await again.readInputRegisters(2, 1)).data).toEqual([bootsBefore + 1]);
    expect((await again.readHoldingRegisters(1000, 4)).data).toEqual([100, 100, 100, 100]);
  });

  it('does not answer another unit id', async () => {
    const c = await client(segmentPort(), 7, 200);
    expect((await failure(c.readInputRegisters(0, 1))).message).toMatch(/timed out/i);
  });
});

describe('Modbus meter gateway', () => {
  const gatewayPort = (): number => territory.ports.meterGateway;

  it('serves the building points of each unit at their address, type and scale', async () => {
    const unit1 = await client(gatewayPort(), 1);
    const index = decodeRaw((await unit1.readHoldingRegisters(0, 2)).data, {
      type: 'uint32',
      wordOrder: 'big',
      byteOrder: 'big',
    });
    const expected = simulation.buildings.value('metz-ecole-jules-ferry', 'electricite') as number;
    expect(index * 0.1).toBeCloseTo(expected, 0);
    const power = decodeRaw((await unit1.readHoldingRegisters(2, 2)).data, {
      type: 'float32',
      wordOrder: 'big',
      byteOrder: 'big',
    });
    expect(power).toBeCloseTo(simulation.buildings.value('metz-ecole-jules-ferry', 'puissance') as number, 3);
    const unit2 = await client(gatewayPort(), 2);
    const other = decodeRaw((await unit2.readHoldingRegisters(0, 2)).data, {
      type: 'uint32',
      wordOrder: 'big',
      byteOrder: 'big',
    });
    expect(other).not.toBe(index);
  });

  it('switches the cabinet door and shows a leak as night flow through the control API', async () => {
    const field = await client(gatewayPort(), 50);
    expect((await field.readDiscreteInputs(0, 1)).data[0]).toBe(false);
    expect(
      (await control(controlPort, 'POST', '/buildings/metz-armoire-feux-foch/door', { on: true })).status,
    ).toBe(200);
    expect((await field.readDiscreteInputs(0, 1)).data[0]).toBe(true);

    // 19:00 UTC on a Monday in January: the school is closed, its water still.
    const unit1 = await client(gatewayPort(), 1);
    expect((await unit1.readInputRegisters(0, 1)).data).toEqual([0]);
    const leak = await control<BuildingSnapshot>(
      controlPort,
      'POST',
      '/buildings/metz-ecole-jules-ferry/leak',
      {
        on: true,
      },
    );
    expect(leak.body.faults.leak).toBe(true);
    expect((await unit1.readInputRegisters(0, 1)).data).toEqual([12]); // 0.12 m³/h, 0.01 per unit
    await control(controlPort, 'POST', '/buildings/metz-ecole-jules-ferry/leak', { on: false });
  });

  it('answers GatewayTargetDeviceFailedToRespond for a unit it does not have', async () => {
    const c = await client(gatewayPort(), 9);
    expect((await failure(c.readHoldingRegisters(0, 2))).modbusCode).toBe(11);
  });
});

describe('simulation lifecycle', () => {
  it('stops what it started when its start is aborted, leaving no port open', async () => {
    const other = await testTerritory({ modbus: 2 });
    const aborted = new Simulation(silentLogger, clock);
    const abort = new AbortController();
    abort.abort(new Error('stop right there'));
    await expect(aborted.start(other.config, { only: ['modbus'] }, abort.signal)).rejects.toThrow(
      'stop right there',
    );
    const probe = new ModbusRTU();
    await expect(probe.connectTCP('127.0.0.1', { port: other.ports.modbus[0] })).rejects.toThrow(
      /ECONNREFUSED/,
    );
    await aborted.stop();
  });

  it('plays devices configured at a served host name (a compose service), on the given address', async () => {
    const other = await testTerritory({ modbus: 1, overrides: { host: 'simulators' } });
    const served = new Simulation(silentLogger, clock);
    try {
      const ready = await served.start(other.config, {
        only: ['modbus'],
        serveHosts: ['simulators'],
        listen: '127.0.0.1',
      });
      expect(ready.modbus).toContain(other.ports.modbus[0]);
      const c = await client(other.ports.modbus[0]);
      expect((await c.readInputRegisters(0, 2)).data).toEqual([1, 4]);
    } finally {
      await served.stop();
    }
  });

  it('does not play devices at a host it is not told to serve', async () => {
    const other = await testTerritory({ modbus: 1, overrides: { host: 'simulators' } });
    const unserved = new Simulation(silentLogger, clock);
    try {
      const ready = await unserved.start(other.config, { only: ['modbus'] });
      expect(ready.modbus).toEqual([]);
    } finally {
      await unserved.stop();
    }
  });

  it('refuses to start on a port in use, naming it, and leaves the others closed', async () => {
    const other = await testTerritory({
      modbus: 1,
      overrides: { meterGatewayPort: territory.ports.meterGateway },
    });
    const clash = new Simulation(silentLogger, clock);
    await expect(clash.start(other.config, { only: ['modbus'] })).rejects.toThrow(
      `Modbus 127.0.0.1:${territory.ports.meterGateway} (compteurs-emm-1, compteurs-emm-2, capteurs-terrain): listen EADDRINUSE`,
    );
    const probe = new ModbusRTU();
    await expect(probe.connectTCP('127.0.0.1', { port: other.ports.modbus[0] })).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });
});

describe('control API', () => {
  it('shows devices with their channels, and buildings with their points', async () => {
    const { status, body } = await control<SimulationState>(controlPort, 'GET', '/state');
    expect(status).toBe(200);
    const device = body.devices.find((d) => d.id === DEVICE)!;
    expect(device).toMatchObject({
      protocol: 'modbus-tcp',
      address: `127.0.0.1:${segmentPort()}`,
      unit_id: 1,
    });
    expect(device.lighting!.channels).toHaveLength(4);
    expect(Object.keys(device.lighting!.channels[0]).sort()).toEqual(
      [
        'channel',
        'luminaire',
        'commanded',
        'in_effect',
        'output',
        'fade_s',
        'power_w',
        'energy_wh',
        'status',
      ].sort(),
    );
    expect(body.buildings.map((b) => b.id)).toContain('metz-moselle-pont-des-morts');
  });

  it('says what is wrong with a request, and never falls over', async () => {
    expect(await control(controlPort, 'POST', '/faults', { device: 'nope', silent: true })).toEqual({
      status: 404,
      body: { error: "'nope' is not a simulated device" },
    });
    const badChannel = await control(controlPort, 'POST', '/faults', { device: DEVICE, lamp_failure: [5] });
    expect(badChannel).toEqual({
      status: 400,
      body: { error: `device '${DEVICE}' has channels 1-4 (got 5)` },
    });
    const badField = await control(controlPort, 'POST', '/faults', { device: DEVICE, slow: 5 });
    expect(badField.status).toBe(400);
    expect(badField.body.error).toContain('slow');
    const notJson = await fetch(`http://127.0.0.1:${controlPort}/faults`, { method: 'POST', body: '{oops' });
    expect(notJson.status).toBe(400);
    await notJson.body?.cancel();
    expect(
      (await control(controlPort, 'POST', '/buildings/metz-ecole-jules-ferry/flood', { on: true })).status,
    ).toBe(409);
    expect((await control(controlPort, 'POST', '/buildings/nowhere/leak', { on: true })).status).toBe(404);
    expect((await control(controlPort, 'GET', '/faults')).status).toBe(405);
    expect((await control(controlPort, 'GET', '/nothing')).status).toBe(404);
    expect((await control(controlPort, 'POST', '/presence/x', {})).status).toBe(409);
    expect((await control(controlPort, 'GET', '/state')).status).toBe(200);
  });

  it('resets a meter', async () => {
    const answer = await control<BuildingSnapshot & { reset: string[] }>(
      controlPort,
      'POST',
      '/buildings/metz-hotel-de-ville/meter-reset',
      { point: 'electricite' },
    );
    expect(answer.status).toBe(200);
    expect(answer.body.reset).toEqual(['electricite']);
    const c = await client(territory.ports.meterGateway, 2);
    expect((await c.readHoldingRegisters(0, 2)).data).toEqual([0, 0]);
  });
});
