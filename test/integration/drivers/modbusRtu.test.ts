import { ModbusRtuDevice, ModbusRtuOverTcpDevice } from '../../../config/schema/devices';
import { systemClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import type { ModbusAddress, PointAddress, PointRef, PointWrite } from '../../../drivers/driver';
import { ModbusDriver } from '../../../drivers/modbus/modbusDriver';
import { ModbusLinkPool } from '../../../drivers/modbus/pool';
import { MemoryBank } from '../../../simulators/modbus/server';
import { freePort } from '../../helpers/ports';
import {
  startRtuOverTcpBridge,
  startRtuServer,
  startSerialPair,
  type RtuServer,
  type SocatLink,
} from '../../helpers/serialPair';

/** RTU framing: over a pseudo-terminal pair, and over TCP through socat standing in for a serial gateway. */

function at(
  address: number,
  type: ModbusAddress['type'] = 'uint16',
  table: ModbusAddress['table'] = 'holding',
): ModbusAddress {
  return {
    protocol: 'modbus',
    table,
    address,
    type,
    wordOrder: 'big',
    byteOrder: 'big',
    scale: 1,
    offset: 0,
  };
}

function ref(key: string, address: PointAddress): PointRef {
  return { key, address };
}

describe('ModbusDriver over RTU', () => {
  let bank: MemoryBank;
  let socat: SocatLink | undefined;
  let rtu: RtuServer | undefined;
  let pool: ModbusLinkPool;
  const drivers: ModbusDriver[] = [];

  beforeEach(() => {
    bank = new MemoryBank();
    for (let a = 0; a < 150; a++) bank.holding.set(a, a);
    bank.coil.set(0, false);
    bank.coil.set(1, true);
    pool = new ModbusLinkPool(
      { clock: systemClock, logger: silentLogger },
      { reconnect: { initialMs: 20, maxMs: 100 } },
    );
  });

  afterEach(async () => {
    await Promise.all(drivers.splice(0).map((d) => d.stop()));
    await pool.close();
    await rtu?.stop();
    rtu = undefined;
    await socat?.stop();
    socat = undefined;
  });

  function serialDriver(path: string, unitId: number): ModbusDriver {
    const driver = new ModbusDriver(
      ModbusRtuDevice.parse({
        id: `meter-${unitId}`,
        protocol: 'modbus-rtu',
        unit_id: unitId,
        timeout_ms: 500,
        retries: 0,
        concurrency: 4,
        serial: { path, baud_rate: 9600, parity: 'even' },
      }),
      { pool, clock: systemClock, logger: silentLogger },
    );
    drivers.push(driver);
    return driver;
  }

  it('reads merged, writes FC16 and surfaces exceptions over a serial line, one request at a time for every unit on the bus', async () => {
    const pair = await startSerialPair();
    socat = pair;
    rtu = await startRtuServer(pair.b, bank);
    const one = serialDriver(pair.a, 1);
    const two = serialDriver(pair.a, 2);
    await one.start();
    await two.start();
    expect(one.health()).toBe('up');
    expect(pool.size).toBe(1);

    const points = [0, 2, 3, 7, 40, 41].map((a) => ref(`h${a}`, at(a)));
    const before = rtu.requests;
    const samples = await one.read(points);
    expect(samples.map((s) => s.value)).toEqual([0, 2, 3, 7, 40, 41]);
    expect(rtu.requests - before).toBe(2);

    const levels: PointWrite[] = Array.from({ length: 100 }, (_, i) => ({
      key: `l${i}`,
      address: at(i),
      value: 100 - i,
    }));
    expect((await two.write(levels)).every((r) => r.ok)).toBe(true);
    expect(two.stats().requests).toBe(1);
    // Both units at once on a bus declared with concurrency 4: the link still sends one request at a time.
    const [back, coils] = await Promise.all([
      two.read(levels.map((w) => ref(w.key, w.address))),
      one.read([ref('c0', at(0, 'bool', 'coil')), ref('c1', at(1, 'bool', 'coil'))]),
    ]);
    expect(back.map((s) => s.value)).toEqual(levels.map((w) => w.value));
    expect(coils.map((s) => s.value)).toEqual([false, true]);

    const [missing] = await one.read([ref('missing', at(500))]);
    expect(missing.error?.detail).toBe('IllegalDataAddress');
    expect(one.stats().reconnects).toBe(0);
  });

  it('reports a serial port that cannot be opened as down, naming it', async () => {
    const driver = serialDriver('/nonexistent/ttyNOCTURNE', 1);
    const errors: string[] = [];
    driver.on('healthChanged', (_health, error) => errors.push(error?.message ?? ''));
    await driver.start();
    expect(driver.health()).toBe('down');
    expect(errors).toEqual([]);
    const [sample] = await driver.read([ref('x', at(0))]);
    expect(sample.error?.code).toBe('disconnected');
    expect(sample.error?.message).toContain('modbus-rtu /nonexistent/ttyNOCTURNE 9600 8E1');
  });

  it('speaks RTU framing on a TCP socket to a serial gateway', async () => {
    const port = await freePort();
    const bridge = await startRtuOverTcpBridge(port);
    socat = bridge;
    rtu = await startRtuServer(bridge.pty, bank);
    const driver = new ModbusDriver(
      ModbusRtuOverTcpDevice.parse({
        id: 'gateway-meter',
        protocol: 'modbus-rtu-over-tcp',
        host: '127.0.0.1',
        port,
        unit_id: 7,
        timeout_ms: 500,
        retries: 0,
      }),
      { pool, clock: systemClock, logger: silentLogger },
    );
    drivers.push(driver);
    await driver.start();
    expect(driver.health()).toBe('up');
    const result = await driver.write([{ key: 'f', address: at(10, 'float32'), value: 1.5 }]);
    expect(result[0].ok).toBe(true);
    expect([bank.holding.get(10), bank.holding.get(11)]).toEqual([0x3fc0, 0]);
    const samples = await driver.read([
      ref('f', at(10, 'float32')),
      ref('h20', at(20)),
      ref('h125', at(125)),
    ]);
    expect(samples.map((s) => s.value)).toEqual([1.5, 20, 125]);
    const [refused] = await driver.read([ref('missing', at(400))]);
    expect(refused.error?.detail).toBe('IllegalDataAddress');
  });
});
