import { createServer, type Server, type Socket } from 'node:net';
import { ModbusTcpDevice } from '../../../config/schema/devices';
import { systemClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import type { PointRef } from '../../../drivers/driver';
import { ModbusDriver } from '../../../drivers/modbus/modbusDriver';
import { ModbusLinkPool } from '../../../drivers/modbus/pool';
import { freePort } from '../../helpers/ports';

/**
 * Our Modbus TCP framing (drivers/modbus/mbapWire.ts) against a device played byte by byte on a real
 * socket: answers split across segments or several in one, late, from the wrong unit, or not Modbus TCP.
 */

interface Request {
  tid: number;
  unit: number;
  fc: number;
  address: number;
  count: number;
}

/** A holding register's value is its address + 1000; `answer` decides what goes back and how. */
type Answer = (socket: Socket, request: Request, reply: Buffer) => void;

function registersReply(request: Request, unit = request.unit, protocol = 0): Buffer {
  const frame = Buffer.alloc(9 + request.count * 2);
  frame.writeUInt16BE(request.tid, 0);
  frame.writeUInt16BE(protocol, 2);
  frame.writeUInt16BE(3 + request.count * 2, 4);
  frame[6] = unit;
  frame[7] = request.fc;
  frame[8] = request.count * 2;
  for (let k = 0; k < request.count; k++) frame.writeUInt16BE(request.address + k + 1000, 9 + 2 * k);
  return frame;
}

function ref(address: number): PointRef {
  return {
    key: `r${address}`,
    address: {
      protocol: 'modbus',
      table: 'holding',
      address,
      type: 'uint16',
      wordOrder: 'big',
      byteOrder: 'big',
      scale: 1,
      offset: 0,
    },
  };
}

describe('Modbus TCP framing (mbapWire) against a device on a raw socket', () => {
  let server: Server;
  let port: number;
  let answer: Answer;
  let connections: number;
  let pool: ModbusLinkPool;
  let driver: ModbusDriver;

  async function startDriver(extra: Record<string, unknown> = {}): Promise<ModbusDriver> {
    driver = new ModbusDriver(
      ModbusTcpDevice.parse({
        id: 'raw',
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        port,
        unit_id: 3,
        timeout_ms: 150,
        retries: 0,
        max_read_gap: 0,
        ...extra,
      }),
      { pool, clock: systemClock, logger: silentLogger },
    );
    await driver.start();
    return driver;
  }

  beforeEach(async () => {
    port = await freePort();
    connections = 0;
    answer = (socket, _request, reply) => socket.write(reply);
    server = createServer((socket) => {
      connections++;
      let pending = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 12 && pending.length >= 6 + pending.readUInt16BE(4)) {
          const request: Request = {
            tid: pending.readUInt16BE(0),
            unit: pending[6],
            fc: pending[7],
            address: pending.readUInt16BE(8),
            count: pending.readUInt16BE(10),
          };
          pending = pending.subarray(6 + pending.readUInt16BE(4));
          answer(socket, request, registersReply(request));
        }
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    pool = new ModbusLinkPool(
      { clock: systemClock, logger: silentLogger },
      { reconnect: { initialMs: 20, maxMs: 100 } },
    );
  });

  afterEach(async () => {
    await driver.stop();
    await pool.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads answers that arrive one byte at a time', async () => {
    answer = (socket, _request, reply) => {
      for (let k = 0; k < reply.length; k++) setTimeout(() => socket.write(reply.subarray(k, k + 1)), k);
    };
    const d = await startDriver();
    const samples = await d.read([ref(10), ref(11)]);
    expect(samples.map((s) => s.value)).toEqual([1010, 1011]);
  });

  it('reads several answers that arrive in one segment, the last one split', async () => {
    const held: Buffer[] = [];
    answer = (socket, _request, reply) => {
      held.push(reply);
      if (held.length < 3) return;
      const all = Buffer.concat(held);
      socket.write(all.subarray(0, all.length - 4));
      setTimeout(() => socket.write(all.subarray(all.length - 4)), 5);
    };
    const d = await startDriver({ concurrency: 3 });
    const samples = await Promise.all([20, 40, 60].map((a) => d.read([ref(a)])));
    expect(samples.map(([s]) => s.value)).toEqual([1020, 1040, 1060]);
  });

  it("puts a plan's requests in flight together when the device takes several, one at a time otherwise", async () => {
    // Three ranges (max_read_gap 0), then 250 levels (three write-multiples of at most 123).
    let segments = 0;
    server.on('connection', (socket: Socket) => socket.on('data', () => segments++));
    answer = (socket, request, reply) => {
      if (request.fc !== 16) {
        socket.write(reply);
        return;
      }
      const echo = Buffer.alloc(12);
      echo.writeUInt16BE(request.tid, 0);
      echo.writeUInt16BE(6, 4);
      echo[6] = request.unit;
      echo[7] = 16;
      echo.writeUInt16BE(request.address, 8);
      echo.writeUInt16BE(request.count, 10);
      socket.write(echo);
    };
    const levels = Array.from({ length: 250 }, (_, k) => ({ ...ref(1000 + k), value: 50 }));
    const run = async (concurrency: number): Promise<number> => {
      segments = 0;
      const d = await startDriver({ concurrency });
      const samples = await d.read([ref(1), ref(100), ref(200)]);
      expect(samples.map((s) => s.value)).toEqual([1001, 1100, 1200]);
      const results = await d.write(levels);
      expect(results.every((r) => r.ok)).toBe(true);
      await d.stop();
      return segments;
    };
    expect(await run(3)).toBe(2);
    expect(await run(1)).toBe(6);
  });

  it('ignores an answer that comes after its timeout, and matches the next one by transaction id', async () => {
    // The late answer comes 100 ms into the next request's wait, whose own answer 250 ms after it was
    // asked: margins of 150 ms and more, for a machine whose timers run late under load.
    let first = true;
    answer = (socket, _request, reply) => {
      if (first) {
        first = false;
        setTimeout(() => socket.write(reply), 600);
      } else setTimeout(() => socket.write(reply), 250);
    };
    const d = await startDriver({ timeout_ms: 500 });
    const [late] = await d.read([ref(5)]);
    expect(late.error?.code).toBe('timeout');
    // The late answer (register 5) arrives while this request (register 6) waits for its own.
    const [next] = await d.read([ref(6)]);
    expect(next.value).toBe(1006);
  });

  it('reports an exception by name, and an answer from another unit as unusable', async () => {
    answer = (socket, request) => {
      if (request.address === 1) {
        const exception = Buffer.from([0, 0, 0, 0, 0, 3, request.unit, request.fc | 0x80, 2]);
        exception.writeUInt16BE(request.tid, 0);
        socket.write(exception);
      } else socket.write(registersReply(request, request.unit + 1));
    };
    const d = await startDriver();
    const [refused] = await d.read([ref(1)]);
    expect(refused.error).toMatchObject({ code: 'exception', detail: 'IllegalDataAddress' });
    const [stray] = await d.read([ref(2)]);
    expect(stray.error).toMatchObject({ code: 'exception', detail: 'InvalidResponse' });
    expect(stray.error?.message).toContain('unit 4 answered for 3');
  });

  it('reconnects when the byte stream is not Modbus TCP, and reads again', async () => {
    let garbled = true;
    answer = (socket, request) => {
      socket.write(registersReply(request, request.unit, garbled ? 7 : 0));
      garbled = false;
    };
    const d = await startDriver();
    const [lost] = await d.read([ref(8)]);
    expect(lost.error?.code).toBe('disconnected');
    for (let waited = 0; connections < 2; waited += 10) {
      if (waited > 2_000) throw new Error('no reconnection');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (let waited = 0; d.health() !== 'up'; waited += 10) {
      if (waited > 2_000) throw new Error('not up again');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const [again] = await d.read([ref(8)]);
    expect(again.value).toBe(1008);
  });
});
