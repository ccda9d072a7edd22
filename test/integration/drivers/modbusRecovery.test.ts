import type { ModbusDeviceConfig } from '../../../config/schema';
import { ModbusTcpDevice } from '../../../config/schema/devices';
import { ManualClock, systemClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import type { Health, ModbusAddress, PointRef } from '../../../drivers/driver';
import { ModbusDriver, type ModbusDriverOptions } from '../../../drivers/modbus/modbusDriver';
import { ModbusLinkPool } from '../../../drivers/modbus/pool';
import { MemoryBank, ModbusSimServer } from '../../../simulators/modbus/server';
import { freePorts } from '../../helpers/ports';

/** Timeouts, lost connections and stops: the driver against a simulator that misbehaves on purpose. */

function ref(key: string, address: number): PointRef {
  return {
    key,
    address: {
      protocol: 'modbus',
      table: 'holding',
      address,
      type: 'uint16',
      wordOrder: 'big',
      byteOrder: 'big',
      scale: 1,
      offset: 0,
    } satisfies ModbusAddress,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, withinMs = 5_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('ModbusDriver recovery', () => {
  let port: number;
  let bank: MemoryBank;
  let server: ModbusSimServer | undefined;
  let pool: ModbusLinkPool;
  let driver: ModbusDriver | undefined;
  let healths: Health[];
  let connects: boolean[];

  function device(extra: Record<string, unknown> = {}): ModbusDeviceConfig {
    return ModbusTcpDevice.parse({
      id: 'cabinet-1',
      protocol: 'modbus-tcp',
      host: '127.0.0.1',
      port,
      timeout_ms: 100,
      retries: 0,
      ...extra,
    });
  }

  async function startServer(): Promise<ModbusSimServer> {
    server = new ModbusSimServer(bank, { host: '127.0.0.1', port });
    await server.start();
    return server;
  }

  async function startDriver(
    extra: Record<string, unknown> = {},
    options: ModbusDriverOptions = {},
  ): Promise<ModbusDriver> {
    const d = new ModbusDriver(device(extra), { pool, clock: systemClock, logger: silentLogger }, options);
    driver = d;
    d.on('healthChanged', (h) => healths.push(h));
    d.on('connected', ({ reconnect }) => connects.push(reconnect));
    await d.start();
    return d;
  }

  beforeEach(async () => {
    [port] = await freePorts(1);
    bank = new MemoryBank();
    for (let a = 0; a < 200; a++) bank.holding.set(a, a);
    pool = new ModbusLinkPool(
      { clock: systemClock, logger: silentLogger },
      { reconnect: { initialMs: 20, maxMs: 100 } },
    );
    healths = [];
    connects = [];
  });

  afterEach(async () => {
    await driver?.stop();
    driver = undefined;
    await pool.close();
    await server?.stop();
    server = undefined;
  });

  it("waits the device's guard interval between an answer and the next request", async () => {
    const arrivals: number[] = [];
    const read = bank.readRegisters.bind(bank);
    bank.readRegisters = (table, address, count) => {
      arrivals.push(performance.now());
      return read(table, address, count);
    };
    await startServer();
    const d = await startDriver({ guard_ms: 40 });
    // Three reads too far apart to be merged, queued at once.
    const samples = await Promise.all([0, 60, 120].map((a) => d.read([ref(`r${a}`, a)])));
    expect(samples.map(([s]) => s.value)).toEqual([0, 60, 120]);
    expect(arrivals).toHaveLength(3);
    // An answer takes well under a millisecond on loopback: each gap is the guard.
    for (let k = 1; k < arrivals.length; k++)
      expect(arrivals[k] - arrivals[k - 1]).toBeGreaterThanOrEqual(39);
  });

  it('marks points bad on a slow answer, keeps the link, and reads again once the device is fast', async () => {
    const s = await startServer();
    const d = await startDriver({}, { degradedHoldMs: 400 });
    s.faults.delayMs = 250;
    const [slow] = await d.read([ref('level', 5)]);
    expect(slow.quality).toBe('bad');
    expect(slow.error?.code).toBe('timeout');
    expect(slow.error?.message).toBe(
      `device 'cabinet-1' (unit 1, modbus-tcp 127.0.0.1:${port}) read holding 5..5: no answer within 100 ms`,
    );
    expect(d.health()).toBe('degraded');
    s.faults.delayMs = 0;
    bank.holding.set(5, 555);
    // the late answer (value 5) arrives meanwhile and must not be taken for the next one
    await sleep(200);
    const [fresh] = await d.read([ref('level', 5)]);
    expect(fresh).toMatchObject({ quality: 'good', value: 555 });
    expect(s.connectionCount()).toBe(1);
    expect(connects).toEqual([false]);
    expect(d.stats()).toEqual({ requests: 2, errors: 1, reconnects: 0 });
    // Degraded for the hold after the failure, then up again without any further request.
    expect(d.health()).toBe('degraded');
    await until(() => d.health() === 'up', 'health up after the hold');
    expect(healths).toEqual(['up', 'degraded', 'up']);
  });

  it('retries a timed-out request and succeeds when the device answers in time again', async () => {
    const s = await startServer();
    const d = await startDriver({ retries: 2 }, { retryBackoff: { initialMs: 50, jitter: 0 } });
    s.faults.silent = true;
    setTimeout(() => {
      s.faults.silent = false;
    }, 150);
    const [sample] = await d.read([ref('level', 7)]);
    expect(sample).toMatchObject({ quality: 'good', value: 7 });
    expect(d.stats().errors).toBeGreaterThanOrEqual(1);
  });

  it('reconnects after repeated timeouts and reports the device back', async () => {
    const s = await startServer();
    const d = await startDriver();
    s.faults.silent = true;
    for (let i = 0; i < 3; i++) expect((await d.read([ref('x', 1)]))[0].error?.code).toBe('timeout');
    await until(() => connects.length === 2, 'the reconnection');
    expect(connects).toEqual([false, true]);
    s.faults.silent = false;
    expect((await d.read([ref('x', 1)]))[0]).toMatchObject({ quality: 'good', value: 1 });
    expect(d.stats().reconnects).toBe(1);
  });

  it('fails the request in flight when the server dies, reconnects when it is back, and says so', async () => {
    const s = await startServer();
    const d = await startDriver({ timeout_ms: 3000 });
    s.faults.delayMs = 1000;
    const reading = d.read([ref('level', 9)]);
    await sleep(100);
    await s.stop();
    const [lost] = await reading;
    expect(lost.quality).toBe('bad');
    expect(lost.error?.code).toBe('disconnected');
    await until(() => d.health() === 'down', 'health down while the server is gone');
    const [whileDown] = await d.read([ref('level', 9)]);
    expect(whileDown.error?.code).toBe('disconnected');

    await startServer();
    await until(() => connects.length === 2, 'connected after restart');
    expect(connects).toEqual([false, true]);
    expect((await d.read([ref('level', 9)]))[0]).toMatchObject({ quality: 'good', value: 9 });
    expect(healths).toEqual(['up', 'degraded', 'down', 'up']);
    expect(d.stats().reconnects).toBe(1);
  });

  it('starts without the device, reports it down, and connects when it appears', async () => {
    const d = await startDriver();
    expect(d.health()).toBe('down');
    expect(connects).toEqual([]);
    const [sample] = await d.read([ref('level', 3)]);
    expect(sample.error?.code).toBe('disconnected');
    await startServer();
    await until(() => connects.length === 1, 'first connection');
    expect(connects).toEqual([false]);
    expect((await d.read([ref('level', 3)]))[0].value).toBe(3);
    expect(d.health()).toBe('up');
  });

  it('reports a unit its gateway cannot reach as down while the link stays up, and back when it answers', async () => {
    const s = await startServer();
    const d = await startDriver({}, { downAfterUnanswered: 2, degradedHoldMs: 10_000 });
    s.faults.deadUnits.add(1);
    for (let i = 0; i < 2; i++)
      expect((await d.read([ref('x', 1)]))[0].error?.detail).toBe('GatewayTargetDeviceFailedToRespond');
    expect(d.health()).toBe('down');
    expect(s.connectionCount()).toBe(1);
    s.faults.deadUnits.delete(1);
    expect((await d.read([ref('x', 1)]))[0].quality).toBe('good');
    expect(connects).toEqual([false, true]);
    expect(healths).toEqual(['up', 'degraded', 'down', 'degraded']);
  });

  it('stop() fails queued requests, waits for the one in flight, and releases the connection', async () => {
    const s = await startServer();
    const d = await startDriver({ max_read_gap: 0, timeout_ms: 2000 });
    s.faults.delayMs = 150;
    const reading = d.read([ref('a', 0), ref('b', 50), ref('c', 100), ref('d', 150)]);
    const writing = d.write([{ key: 'w', address: ref('w', 10).address, value: 1 }]);
    await sleep(30);
    const stopping = d.stop();
    expect(d.stop()).toBe(stopping);
    const [samples, results] = await Promise.all([reading, writing, stopping]);
    expect(samples.map((x) => [x.key, x.quality, x.error?.code])).toEqual([
      ['a', 'good', undefined],
      ['b', 'bad', 'stopped'],
      ['c', 'bad', 'stopped'],
      ['d', 'bad', 'stopped'],
    ]);
    expect(results[0]).toMatchObject({ ok: false, error: { code: 'stopped' } });
    expect(bank.holding.get(10)).toBe(10);
    expect(pool.size).toBe(0);
    await until(() => s.connectionCount() === 0, 'the connection to close');
    expect((await d.read([ref('a', 0)]))[0].error?.code).toBe('stopped');
    expect(d.health()).toBe('down');
  });

  it('stop() does not wait longer than its bound for a device that never answers', async () => {
    const s = await startServer();
    const d = await startDriver({ timeout_ms: 10_000 }, { stopTimeoutMs: 100 });
    s.faults.silent = true;
    const reading = d.read([ref('a', 0)]);
    await sleep(20);
    await d.stop();
    const [sample] = await reading;
    expect(sample.error?.code).toBe('stopped');
  });

  it('stops cleanly while the first connection attempt is still pending', async () => {
    const d = new ModbusDriver(device({ host: '10.255.255.1', port: 502 }), {
      pool,
      clock: systemClock,
      logger: silentLogger,
    });
    driver = d;
    const abort = new AbortController();
    const starting = d.start(abort.signal);
    abort.abort();
    await starting;
    await d.stop();
    expect(pool.size).toBe(0);
  });

  it('emits samples from subscriptions as bad while disconnected, without throwing', async () => {
    const d = await startDriver();
    const batches: string[] = [];
    d.on('samples', (samples) => batches.push(`${samples[0].quality}:${samples[0].error?.code ?? ''}`));
    const subscription = d.subscribe([{ ...ref('x', 1), periodMs: 30 }]);
    await until(() => batches.length >= 2, 'two polls');
    await subscription.close();
    expect(batches[0]).toBe('bad:disconnected');
    const polled = batches.length;
    await sleep(100);
    expect(batches.length).toBe(polled);
  });

  describe('on a manual clock', () => {
    it('retries a refused connection with exponential backoff, then connects', async () => {
      const clock = new ManualClock(0);
      const manualPool = new ModbusLinkPool(
        { clock, logger: silentLogger, random: () => 0 },
        { reconnect: { initialMs: 100, maxMs: 400, factor: 2 } },
      );
      const link = manualPool.acquire(
        { kind: 'tcp', host: '127.0.0.1', port },
        { deviceId: 'x', concurrency: 1, guardMs: 0 },
      );
      const failures: number[] = [];
      const opened: number[] = [];
      link.on('connectFailed', () => failures.push(clock.now()));
      link.on('opened', () => opened.push(clock.now()));
      try {
        await link.firstAttempt();
        for (const delay of [100, 200, 400, 400]) {
          const attempts = failures.length;
          clock.advance(delay - 1);
          await sleep(30);
          expect(failures).toHaveLength(attempts);
          clock.advance(1);
          await until(() => failures.length === attempts + 1, `attempt after ${delay} ms`);
        }
        expect(failures).toEqual([0, 100, 300, 700, 1100]);
        await startServer();
        clock.advance(400);
        await until(() => opened.length === 1, 'the connection');
        expect(opened).toEqual([1500]);
      } finally {
        await manualPool.release(link, 'x');
      }
      expect(manualPool.size).toBe(0);
      expect(clock.pendingTimers()).toBe(0);
    });

    it('polls once per period and skips the ticks a slow poll overran', async () => {
      const s = await startServer();
      const clock = new ManualClock(0);
      const manualPool = new ModbusLinkPool({ clock, logger: silentLogger });
      const d = new ModbusDriver(device({ timeout_ms: 2000 }), {
        pool: manualPool,
        clock,
        logger: silentLogger,
      });
      const polls: number[] = [];
      d.on('samples', (samples) => polls.push(samples[0].time));
      try {
        await d.start();
        const subscription = d.subscribe([{ ...ref('x', 1), periodMs: 1000 }]);
        await until(() => polls.length === 1, 'the first poll');
        clock.advance(999);
        await sleep(30);
        expect(polls).toEqual([0]);
        clock.advance(1);
        await until(() => polls.length === 2, 'the second poll');
        // A poll from 2000 that answers at 3500: the tick at 3000 is skipped, the next one is at 4000.
        s.faults.delayMs = 150;
        clock.advance(1000);
        await sleep(20);
        clock.advance(1500);
        await until(() => polls.length === 3, 'the slow poll');
        s.faults.delayMs = 0;
        clock.advance(499);
        await sleep(30);
        expect(polls).toHaveLength(3);
        clock.advance(1);
        await until(() => polls.length === 4, 'the poll after the skipped tick');
        expect(polls).toEqual([0, 1000, 3500, 4000]);
        await subscription.close();
      } finally {
        await d.stop();
        await manualPool.close();
      }
    });
  });
});
