import { ModbusTcpDevice } from '../../../config/schema/devices';
import type { ModbusDeviceConfig } from '../../../config/schema';
import { systemClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import type { Health, ModbusAddress, PointAddress, PointRef, PointWrite } from '../../../drivers/driver';
import { ModbusDriver } from '../../../drivers/modbus/modbusDriver';
import { ModbusLinkPool } from '../../../drivers/modbus/pool';
import {
  MemoryBank,
  ModbusExceptionError,
  ModbusSimServer,
  type RegisterBank,
} from '../../../simulators/modbus/server';
import { freePorts } from '../../helpers/ports';

/** Behaviour of the Modbus driver against the Modbus TCP simulator on loopback. */

type Type = ModbusAddress['type'];

function at(address: number, type: Type = 'uint16', extra: Partial<ModbusAddress> = {}): ModbusAddress {
  return {
    protocol: 'modbus',
    table: 'holding',
    address,
    type,
    wordOrder: 'big',
    byteOrder: 'big',
    scale: 1,
    offset: 0,
    ...extra,
  };
}

function ref(key: string, address: PointAddress, label?: string): PointRef {
  return { key, address, label };
}

function mapRange(bank: MemoryBank, from: number, count: number, value = 0): void {
  for (let a = from; a < from + count; a++) {
    bank.holding.set(a, value);
    bank.input.set(a, value);
    bank.coil.set(a, false);
    bank.discrete.set(a, false);
  }
}

/** Answers a chosen exception code for reads at 900 + code; everything else like MemoryBank. */
class ExceptionBank extends MemoryBank {
  override readRegisters(table: 'holding' | 'input', address: number, count: number): number[] {
    if (address >= 900 && address < 920) throw new ModbusExceptionError(address - 900);
    return super.readRegisters(table, address, count);
  }
}

/** One MemoryBank per unit id, as devices behind a gateway. */
class UnitBanks implements RegisterBank {
  readonly units = new Map<number, MemoryBank>();
  private bank(unitId: number): MemoryBank {
    const bank = this.units.get(unitId);
    if (!bank) throw new ModbusExceptionError(11);
    return bank;
  }
  readRegisters(table: 'holding' | 'input', address: number, count: number, unitId: number): number[] {
    return this.bank(unitId).readRegisters(table, address, count);
  }
  readBits(table: 'coil' | 'discrete', address: number, count: number, unitId: number): boolean[] {
    return this.bank(unitId).readBits(table, address, count);
  }
  writeRegisters(address: number, values: number[], unitId: number): void {
    this.bank(unitId).writeRegisters(address, values);
  }
  writeBits(address: number, values: boolean[], unitId: number): void {
    this.bank(unitId).writeBits(address, values);
  }
}

describe('ModbusDriver over Modbus TCP', () => {
  let port: number;
  let bank: MemoryBank;
  let server: ModbusSimServer;
  let pool: ModbusLinkPool;
  const drivers: ModbusDriver[] = [];

  function config(extra: Record<string, unknown> = {}): ModbusDeviceConfig {
    return ModbusTcpDevice.parse({
      id: `dev-${drivers.length}`,
      protocol: 'modbus-tcp',
      host: '127.0.0.1',
      port,
      timeout_ms: 300,
      retries: 0,
      ...extra,
    });
  }

  async function startDriver(extra: Record<string, unknown> = {}): Promise<ModbusDriver> {
    const driver = new ModbusDriver(config(extra), { pool, clock: systemClock, logger: silentLogger });
    drivers.push(driver);
    await driver.start();
    return driver;
  }

  beforeEach(async () => {
    [port] = await freePorts(1);
    bank = new ExceptionBank();
    mapRange(bank, 0, 300);
    server = new ModbusSimServer(bank, { host: '127.0.0.1', port });
    await server.start();
    pool = new ModbusLinkPool(
      { clock: systemClock, logger: silentLogger },
      { reconnect: { initialMs: 20, maxMs: 100 } },
    );
  });

  afterEach(async () => {
    await Promise.all(drivers.splice(0).map((d) => d.stop()));
    await pool.close();
    await server.stop();
  });

  it('connects, reports up once, and merges neighbouring points into few requests', async () => {
    const healths: Health[] = [];
    const connected: boolean[] = [];
    const driver = new ModbusDriver(config({ max_read_gap: 4 }), {
      pool,
      clock: systemClock,
      logger: silentLogger,
    });
    drivers.push(driver);
    driver.on('healthChanged', (h) => healths.push(h));
    driver.on('connected', ({ reconnect }) => connected.push(reconnect));
    await driver.start();
    expect(driver.health()).toBe('up');
    expect(healths).toEqual(['up']);
    expect(connected).toEqual([false]);

    // 20 points in two clusters with small gaps, plus one far away and one input register.
    const addresses = [0, 1, 2, 5, 6, 10, 11, 12, 13, 17, 60, 61, 62, 64, 65, 66, 68, 70, 72, 200];
    addresses.forEach((a, i) => bank.holding.set(a, 1000 + i));
    bank.input.set(7, 77);
    const points = [
      ...addresses.map((a) => ref(`h${a}`, at(a))),
      ref('in7', at(7, 'uint16', { table: 'input' })),
    ];
    const before = server.requests;
    const samples = await driver.read(points);
    expect(server.requests - before).toBe(4);
    expect(samples.map((s) => s.value)).toEqual([...addresses.map((_, i) => 1000 + i), 77]);
    expect(samples.every((s) => s.quality === 'good' && s.key === points[samples.indexOf(s)].key)).toBe(true);

    // The plan is reused: the same four requests, fresh values.
    bank.holding.set(200, 4242);
    const again = await driver.read(points);
    expect(server.requests - before).toBe(8);
    expect(again[19].value).toBe(4242);
    expect(driver.stats()).toEqual({ requests: 8, errors: 0, reconnects: 0 });
  });

  it('round-trips every data type in every word and byte order through write then read', async () => {
    const driver = await startDriver();
    const values: [Type, number][] = [
      ['int16', -1234],
      ['uint16', 54321],
      ['int32', -98765432],
      ['uint32', 4_000_000_001],
      ['float32', 1.5],
      ['float64', -2.718281828459045],
    ];
    const orders = [
      ['big', 'big'],
      ['little', 'big'],
      ['big', 'little'],
      ['little', 'little'],
    ] as const;
    const writes: PointWrite[] = [];
    let address = 0;
    for (const [wordOrder, byteOrder] of orders)
      for (const [type, value] of values) {
        writes.push({
          key: `${type}-${wordOrder}-${byteOrder}`,
          address: at(address, type, { wordOrder, byteOrder }),
          value,
        });
        address += 4;
      }
    const results = await driver.write(writes);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const samples = await driver.read(writes.map((w) => ref(w.key, w.address)));
    expect(samples.map((s) => [s.key, s.value])).toEqual(writes.map((w) => [w.key, w.value]));
    // float32 1.5 as the device stores it, in each order (writes were 4 registers apart, 6 types per order).
    const float32At = (order: number): number[] =>
      [0, 1].map((i) => bank.holding.get(order * 24 + 16 + i) ?? -1);
    expect(float32At(0)).toEqual([0x3fc0, 0x0000]);
    expect(float32At(1)).toEqual([0x0000, 0x3fc0]);
    expect(float32At(2)).toEqual([0xc03f, 0x0000]);
    expect(float32At(3)).toEqual([0x0000, 0xc03f]);
  });

  it('decodes known register patterns with scale and offset, coils and discrete inputs', async () => {
    const driver = await startDriver();
    bank.input.set(100, 0x0000);
    bank.input.set(101, 0xc03f);
    bank.holding.set(110, 0xffff);
    bank.holding.set(111, 0xfff6);
    bank.holding.set(112, 215);
    bank.coil.set(3, true);
    bank.discrete.set(9, true);
    const samples = await driver.read([
      ref('f', at(100, 'float32', { table: 'input', wordOrder: 'little', byteOrder: 'little' })),
      ref('energy', at(110, 'int32', { scale: 0.5 })),
      ref('temp', at(112, 'int16', { scale: 0.1, offset: -1 })),
      ref('relay', at(3, 'bool', { table: 'coil' })),
      ref('off', at(4, 'bool', { table: 'coil' })),
      ref('door', at(9, 'bool', { table: 'discrete' })),
    ]);
    expect(samples.map((s) => s.value)).toEqual([1.5, -5, expect.closeTo(20.5, 10), true, false, true]);
  });

  it('writes contiguous registers as one FC16 and coils as one FC15', async () => {
    const driver = await startDriver();
    const written: [string, number, number][] = [];
    bank.onWrite = (table, address, count) => written.push([table, address, count]);
    const levels: PointWrite[] = Array.from({ length: 100 }, (_, i) => ({
      key: `lum-${i}`,
      address: at(100 + i),
      value: i,
    }));
    const coils: PointWrite[] = [0, 1, 2].map((a) => ({
      key: `c${a}`,
      address: at(a, 'bool', { table: 'coil' }),
      value: true,
    }));
    const results = await driver.write([...levels, ...coils]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(driver.stats().requests).toBe(2);
    // The simulator stores an FC15 one coil at a time (its vector has no setCoilArray).
    expect(written).toEqual([
      ['holding', 100, 100],
      ['coil', 0, 1],
      ['coil', 1, 1],
      ['coil', 2, 1],
    ]);
    expect(bank.holding.get(199)).toBe(99);
    expect([0, 1, 2].map((a) => bank.coil.get(a))).toEqual([true, true, true]);
  });

  it('sends one FC6 per register to a device without write-multiple', async () => {
    const driver = await startDriver({ write_multiple: false });
    const written: [string, number, number][] = [];
    bank.onWrite = (table, address, count) => written.push([table, address, count]);
    const before = server.requests;
    const results = await driver.write([
      { key: 'a', address: at(20), value: 7 },
      { key: 'b', address: at(21, 'float32'), value: 1.5 },
      { key: 'relay', address: at(5, 'bool', { table: 'coil' }), value: true },
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(server.requests - before).toBe(4);
    expect(written).toEqual([
      ['holding', 20, 1],
      ['holding', 21, 1],
      ['holding', 22, 1],
      ['coil', 5, 1],
    ]);
    expect([20, 21, 22].map((a) => bank.holding.get(a))).toEqual([7, 0x3fc0, 0]);
    expect(bank.coil.get(5)).toBe(true);
  });

  it('refuses a value that does not fit its type, naming the point, the value and the range, and sends nothing', async () => {
    const driver = await startDriver();
    bank.holding.set(30, 11);
    const before = server.requests;
    const results = await driver.write([
      { key: 'level', address: at(30), value: 70000 },
      { key: 'setpoint', address: at(31, 'int16'), value: 1.5 },
      { key: 'scaled', address: at(32, 'int16', { scale: 0.1 }), value: 0.05 },
    ]);
    expect(results.map((r) => [r.ok, r.error?.code, r.error?.message])).toEqual([
      [false, 'bad-type', "point 'level': 70000 does not fit uint16: allowed 0..65535"],
      [false, 'bad-type', "point 'setpoint': 1.5 does not fit int16: allowed -32768..32767"],
      [
        false,
        'bad-type',
        "point 'scaled': 0.05 does not fit int16: allowed -3276.8..3276.7 in steps of 0.1 (scale 0.1, offset 0)",
      ],
    ]);
    expect(server.requests).toBe(before);
    expect(bank.holding.get(30)).toBe(11);
  });

  it.each([
    [1, 'IllegalFunction'],
    [2, 'IllegalDataAddress'],
    [3, 'IllegalDataValue'],
    [4, 'SlaveDeviceFailure'],
    [5, 'Acknowledge'],
    [6, 'SlaveDeviceBusy'],
    [10, 'GatewayPathUnavailable'],
    [11, 'GatewayTargetDeviceFailedToRespond'],
  ])('surfaces exception %d as %s and keeps the link', async (code, name) => {
    const driver = await startDriver();
    const healths: Health[] = [];
    driver.on('healthChanged', (h) => healths.push(h));
    const [sample] = await driver.read([ref('x', at(900 + code))]);
    expect(sample.quality).toBe('bad');
    expect(sample.value).toBeNull();
    expect(sample.error?.code).toBe('exception');
    expect(sample.error?.detail).toBe(name);
    expect(sample.error?.message).toContain(
      `device 'dev-0' (unit 1, modbus-tcp 127.0.0.1:${port}) read holding ${900 + code}..${900 + code}`,
    );
    expect(healths).toEqual(['degraded']);
    expect(server.connectionCount()).toBe(1);
    const [ok] = await driver.read([ref('ok', at(1))]);
    expect(ok.quality).toBe('good');
    expect(driver.stats().reconnects).toBe(0);
  });

  it('retries transient exceptions with backoff, not permanent ones', async () => {
    const driver = await startDriver({ retries: 2 });
    let before = server.requests;
    const [busy] = await driver.read([ref('busy', at(906))]);
    expect(busy.error?.detail).toBe('SlaveDeviceBusy');
    expect(server.requests - before).toBe(3);
    before = server.requests;
    await driver.read([ref('value', at(903))]);
    expect(server.requests - before).toBe(1);
    expect(driver.stats()).toEqual({ requests: 4, errors: 4, reconnects: 0 });
  });

  it('reads the points it can when a merged range covers registers the device does not have', async () => {
    const driver = await startDriver({ max_read_gap: 20 });
    bank.holding.delete(255);
    bank.holding.set(250, 1);
    bank.holding.set(260, 2);
    const points = [ref('a', at(250)), ref('missing', at(255)), ref('b', at(260))];
    const before = server.requests;
    const first = await driver.read(points);
    expect(first.map((s) => s.value)).toEqual([1, null, 2]);
    expect(first[1].error?.detail).toBe('IllegalDataAddress');
    // merged 250..260 refused, then 3 single runs
    expect(server.requests - before).toBe(4);
    await driver.read(points);
    // the split is remembered: no more merged attempt
    expect(server.requests - before).toBe(7);
  });

  it('check() names every point whose address the device refuses', async () => {
    const driver = await startDriver();
    bank.holding.delete(41);
    const errors = await driver.check([
      ref('ok', at(40), 'cabinet / ok'),
      ref('wide', at(40, 'uint32'), 'cabinet / 32-bit'),
      ref('absent', at(41), 'cabinet / absent'),
      ref('far', at(5000), 'cabinet / far'),
      ref('node', { protocol: 'opcua', nodeId: 'ns=1;s=X' }, 'school / node'),
    ]);
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      [
        'not-found',
        "point 'wide' (cabinet / 32-bit): holding 40 (uint32) refused by device 'dev-0' (IllegalDataAddress)",
      ],
      [
        'not-found',
        "point 'absent' (cabinet / absent): holding 41 (uint16) refused by device 'dev-0' (IllegalDataAddress)",
      ],
      [
        'not-found',
        "point 'far' (cabinet / far): holding 5000 (uint16) refused by device 'dev-0' (IllegalDataAddress)",
      ],
      ['bad-type', "point 'node' (school / node): not a Modbus address (protocol 'opcua')"],
    ]);
  });

  it('shares one TCP connection between two unit ids behind one gateway', async () => {
    await server.stop();
    const units = new UnitBanks();
    for (const unit of [1, 2]) {
      const b = new MemoryBank();
      b.holding.set(0, unit * 100);
      units.units.set(unit, b);
    }
    server = new ModbusSimServer(units, { host: '127.0.0.1', port });
    await server.start();
    const one = await startDriver({ unit_id: 1 });
    const two = await startDriver({ unit_id: 2 });
    expect(pool.size).toBe(1);
    expect(server.connectionCount()).toBe(1);
    const [a, b] = await Promise.all([one.read([ref('v', at(0))]), two.read([ref('v', at(0))])]);
    expect([a[0].value, b[0].value]).toEqual([100, 200]);
    await one.stop();
    expect(server.connectionCount()).toBe(1);
    expect((await two.read([ref('v', at(0))]))[0].value).toBe(200);
    await two.stop();
    expect(pool.size).toBe(0);
  });

  it('keeps several requests in flight with concurrency > 1, one at a time otherwise', async () => {
    server.faults.delayMs = 250;
    const spread = [0, 50, 100, 150].map((a) => ref(`p${a}`, at(a)));
    const inFlightAfter = async (concurrency: number): Promise<number> => {
      const driver = await startDriver({ concurrency, timeout_ms: 2000 });
      const before = server.requests;
      const reading = driver.read(spread);
      await new Promise((resolve) => setTimeout(resolve, 120));
      const seen = server.requests - before;
      expect((await reading).every((s) => s.quality === 'good')).toBe(true);
      await driver.stop();
      return seen;
    };
    expect(await inFlightAfter(4)).toBe(4);
    expect(await inFlightAfter(1)).toBe(1);
  });

  it('sends a queued write before queued reads, so a command never waits behind polls', async () => {
    const driver = await startDriver({ timeout_ms: 2000 });
    const order: string[] = [];
    const onWrite = bank.onWrite;
    bank.onWrite = (_table, address) => order.push(`write ${address}`);
    const readAt = (address: number): Promise<unknown> =>
      driver.read([ref(`r${address}`, at(address))]).then(() => order.push(`read ${address}`));
    try {
      server.faults.delayMs = 100;
      // The first read is on the wire; the second waits; the write, given last, goes before it.
      const first = readAt(0);
      const second = readAt(50);
      const written = driver.write([{ key: 'w', address: at(10), value: 7 }]);
      await Promise.all([first, second, written]);
      expect(order).toEqual(['read 0', 'write 10', 'read 50']);
    } finally {
      bank.onWrite = onWrite;
    }
  });

  it('polls subscribed points per period with merged reads until closed', async () => {
    const driver = await startDriver();
    bank.holding.set(0, 5);
    const batches: string[][] = [];
    driver.on('samples', (samples) => batches.push(samples.map((s) => `${s.key}=${String(s.value)}`)));
    const before = server.requests;
    const subscription = driver.subscribe([
      { ...ref('fast-a', at(0)), periodMs: 40 },
      { ...ref('fast-b', at(1)), periodMs: 40 },
      { ...ref('slow', at(2)), periodMs: 1000 },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await subscription.close();
    const fast = batches.filter((b) => b[0].startsWith('fast'));
    const slow = batches.filter((b) => b[0].startsWith('slow'));
    expect(fast.length).toBeGreaterThanOrEqual(3);
    expect(fast[0]).toEqual(['fast-a=5', 'fast-b=0']);
    expect(slow).toEqual([['slow=0']]);
    // one request per poll: the two fast points are merged (plus at most one poll cut short by close())
    expect(server.requests - before - (fast.length + slow.length)).toBeLessThanOrEqual(1);
    expect(server.requests - before).toBeGreaterThanOrEqual(fast.length + slow.length);
    const after = batches.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(batches.length).toBe(after);
  });

  it('refuses a second device that would open the same endpoint with another framing', async () => {
    await startDriver();
    const clash = new ModbusDriver(
      { ...config(), id: 'clash', protocol: 'modbus-rtu-over-tcp' } as ModbusDeviceConfig,
      { pool, clock: systemClock, logger: silentLogger },
    );
    await expect(clash.start()).rejects.toThrow(
      `device 'clash': modbus-rtu-over-tcp 127.0.0.1:${port} conflicts with modbus-tcp 127.0.0.1:${port} used by device 'dev-0'`,
    );
    await clash.stop();
  });
});
