import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import ModbusRTU from 'modbus-serial';
import { ModbusTcpDevice } from '../config/schema/devices';
import { systemClock } from '../core/clock';
import { silentLogger } from '../core/logger';
import type { ModbusAddress, PointRef, PointWrite } from '../drivers/driver';
import { ModbusDriver } from '../drivers/modbus/modbusDriver';
import { ModbusLinkPool } from '../drivers/modbus/pool';
import {
  blockReads,
  decodeByHand,
  meterLayout,
  toModbusAddress,
  type BlockRead,
} from './support/meterLayout';
import { farmRegister, READY_PREFIX } from './support/modbusFarm';

/**
 * Modbus driver against bare modbus-serial, same run, same simulators (in a child process):
 *  (a) read 1,000 points of mixed types on 20 meters;
 *  (b) write 10,000 luminaire levels on 100 segment controllers (100 contiguous registers each),
 *      then read them back, as the lighting controller confirms its commands.
 * The floor is one modbus-serial client per device, connected beforehand, all devices in parallel,
 * reading the same register blocks and decoding them by hand. Prints a summary, then one JSON line.
 *
 *   node dist/bench/drivers.js [--reps N] [--warmup N]
 */

const METERS = 20;
const CONTROLLERS = 100;
const LEVELS = 100;
const REGISTERS = 400;

interface Run {
  ms: number;
  requests: number;
  errors: number;
}

interface Farm {
  ports: number[];
  stop(): Promise<void>;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`--${name} must be a whole number (got '${process.argv[i + 1]}')`);
  return value;
}

async function startFarm(devices: number): Promise<Farm> {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'support', 'modbusFarm.js'), String(devices), String(REGISTERS)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, 'exit');
  const ready = await Promise.race([
    new Promise<string>((resolve) =>
      lines.on('line', (line) => {
        if (line.startsWith(READY_PREFIX)) resolve(line.slice(READY_PREFIX.length));
      }),
    ),
    exited.then(([code]) => {
      throw new Error(`the Modbus farm exited (${String(code)}) before it was ready`);
    }),
  ]);
  lines.close();
  return {
    ports: (JSON.parse(ready) as { ports: number[] }).ports,
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

function holding(address: number): ModbusAddress {
  return {
    protocol: 'modbus',
    table: 'holding',
    address,
    type: 'uint16',
    wordOrder: 'big',
    byteOrder: 'big',
    scale: 1,
    offset: 0,
  };
}

/** The value of each meter point as the farm serves it, decoded once by hand for checking. */
function expectedMeterValues(device: number, reads: readonly BlockRead[]): Map<string, number> {
  const values = new Map<string, number>();
  for (const read of reads) {
    const buffer = Buffer.alloc(read.count * 2);
    for (let i = 0; i < read.count; i++) buffer.writeUInt16BE(farmRegister(device, read.start + i), i * 2);
    for (const p of read.points) values.set(p.key, decodeByHand(buffer, (p.address - read.start) * 2, p));
  }
  return values;
}

async function main(): Promise<void> {
  const reps = option('reps', 40);
  const warmup = option('warmup', 5);
  const farm = await startFarm(METERS + CONTROLLERS);
  const pool = new ModbusLinkPool({ clock: systemClock, logger: silentLogger });
  const device = (id: string, port: number): ModbusDriver =>
    new ModbusDriver(
      ModbusTcpDevice.parse({
        id,
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        port,
        timeout_ms: 2000,
        retries: 1,
      }),
      { pool, clock: systemClock, logger: silentLogger },
    );
  const meters = farm.ports.slice(0, METERS).map((port, i) => device(`meter-${i}`, port));
  const controllers = farm.ports.slice(METERS).map((port, i) => device(`sc-${i}`, port));
  const clients = farm.ports.map(() => new ModbusRTU());
  try {
    await Promise.all([...meters, ...controllers].map((d) => d.start()));
    const down = [...meters, ...controllers].filter((d) => d.health() !== 'up');
    if (down.length > 0) throw new Error(`${down.length} devices not connected (first: ${down[0].deviceId})`);
    await Promise.all(
      clients.map(async (client, i) => {
        await client.connectTCP('127.0.0.1', { port: farm.ports[i] });
        client.setID(1);
        client.setTimeout(2000);
      }),
    );

    // (a) read
    const layout = meterLayout();
    const reads = blockReads(layout);
    const meterPoints: PointRef[] = layout.map((p) => ({ key: p.key, address: toModbusAddress(p) }));
    const expected = meters.map((_, device) => expectedMeterValues(device, reads));
    const driverRead = async (): Promise<Run> => {
      const before = meters.reduce((n, d) => n + d.stats().requests, 0);
      const t0 = performance.now();
      const results = await Promise.all(meters.map((d) => d.read(meterPoints)));
      const ms = performance.now() - t0;
      let errors = 0;
      results.forEach((samples, device) => {
        for (const s of samples)
          if (s.quality !== 'good' || !Object.is(s.value, expected[device].get(s.key))) errors++;
      });
      return { ms, requests: meters.reduce((n, d) => n + d.stats().requests, 0) - before, errors };
    };
    const bareRead = async (): Promise<Run> => {
      let errors = 0;
      const t0 = performance.now();
      await Promise.all(
        clients.slice(0, METERS).map(async (client, device) => {
          for (const read of reads) {
            const reply =
              read.table === 'holding'
                ? await client.readHoldingRegisters(read.start, read.count)
                : await client.readInputRegisters(read.start, read.count);
            for (const p of read.points)
              if (
                !Object.is(
                  decodeByHand(reply.buffer, (p.address - read.start) * 2, p),
                  expected[device].get(p.key),
                )
              )
                errors++;
          }
        }),
      );
      return { ms: performance.now() - t0, requests: METERS * reads.length, errors };
    };

    // (b) write then read back
    const levelPoints: PointRef[] = Array.from({ length: LEVELS }, (_, i) => ({
      key: `lum-${i}`,
      address: holding(i),
    }));
    const levelsFor = (rep: number, device: number): number[] =>
      Array.from({ length: LEVELS }, (_, i) => (rep * 7 + device + i) % 101);
    const driverWrite = async (rep: number): Promise<Run> => {
      const commands: PointWrite[][] = controllers.map((_, device) =>
        levelsFor(rep, device).map((value, i) => ({
          key: levelPoints[i].key,
          address: levelPoints[i].address,
          value,
        })),
      );
      const before = controllers.reduce((n, d) => n + d.stats().requests, 0);
      let errors = 0;
      const t0 = performance.now();
      await Promise.all(
        controllers.map(async (d, device) => {
          const written = await d.write(commands[device]);
          const back = await d.read(levelPoints);
          for (let i = 0; i < LEVELS; i++)
            if (!written[i].ok || back[i].value !== commands[device][i].value) errors++;
        }),
      );
      const ms = performance.now() - t0;
      return { ms, requests: controllers.reduce((n, d) => n + d.stats().requests, 0) - before, errors };
    };
    const bareWrite = async (rep: number): Promise<Run> => {
      const commands = controllers.map((_, device) => levelsFor(rep, device));
      let errors = 0;
      const t0 = performance.now();
      await Promise.all(
        clients.slice(METERS).map(async (client, device) => {
          await client.writeRegisters(0, commands[device]);
          const back = await client.readHoldingRegisters(0, LEVELS);
          for (let i = 0; i < LEVELS; i++) if (back.data[i] !== commands[device][i]) errors++;
        }),
      );
      return { ms: performance.now() - t0, requests: CONTROLLERS * 2, errors };
    };

    const runs = {
      driverRead: [] as Run[],
      bareRead: [] as Run[],
      driverWrite: [] as Run[],
      bareWrite: [] as Run[],
    };
    for (let rep = 0; rep < warmup + reps; rep++) {
      // Alternate who goes first, so that neither always meets a warmer or colder farm; each pass writes
      // other levels than the one before, so that a read-back cannot pass on stale values.
      const pairs: [() => Promise<Run>, Run[]][] =
        rep % 2 === 0
          ? [
              [driverRead, runs.driverRead],
              [bareRead, runs.bareRead],
              [() => driverWrite(2 * rep), runs.driverWrite],
              [() => bareWrite(2 * rep + 1), runs.bareWrite],
            ]
          : [
              [bareRead, runs.bareRead],
              [driverRead, runs.driverRead],
              [() => bareWrite(2 * rep), runs.bareWrite],
              [() => driverWrite(2 * rep + 1), runs.driverWrite],
            ];
      for (const [run, into] of pairs) {
        const result = await run();
        if (rep >= warmup) into.push(result);
      }
    }

    const summary = (driver: Run[], bare: Run[], points: number) => {
      const ms = median(driver.map((r) => r.ms));
      const floor = median(bare.map((r) => r.ms));
      return {
        points,
        requests: driver[0].requests,
        floor_requests: bare[0].requests,
        ms: round(ms),
        max_ms: round(Math.max(...driver.map((r) => r.ms))),
        floor_ms: round(floor),
        floor_max_ms: round(Math.max(...bare.map((r) => r.ms))),
        ratio: round(ms / floor, 3),
        errors: [...driver, ...bare].reduce((n, r) => n + r.errors, 0),
      };
    };
    const read = summary(runs.driverRead, runs.bareRead, METERS * layout.length);
    const write = summary(runs.driverWrite, runs.bareWrite, CONTROLLERS * LEVELS);
    const total = {
      points: read.points + write.points,
      requests: read.requests + write.requests,
      ms: round(read.ms + write.ms),
      floor_ms: round(read.floor_ms + write.floor_ms),
      ratio: round((read.ms + write.ms) / (read.floor_ms + write.floor_ms), 3),
    };
    console.log(
      `Modbus driver vs bare modbus-serial: ${METERS + CONTROLLERS} simulated devices in a child process, ${reps} repetitions after ${warmup} warm-ups (median, max)`,
    );
    console.log(
      `(a) read ${read.points} points on ${METERS} meters: driver ${read.ms} ms (max ${read.max_ms}), ${read.requests} requests | bare ${read.floor_ms} ms (max ${read.floor_max_ms}), ${read.floor_requests} requests | ratio ${read.ratio}`,
    );
    console.log(
      `(b) write ${write.points} levels on ${CONTROLLERS} controllers + read-back: driver ${write.ms} ms (max ${write.max_ms}), ${write.requests} requests | bare ${write.floor_ms} ms (max ${write.floor_max_ms}), ${write.floor_requests} requests | ratio ${write.ratio}`,
    );
    console.log(
      `total: ${total.points} points in ${total.requests} requests, ${total.ms} ms vs floor ${total.floor_ms} ms, ratio ${total.ratio} (target <= 1.3); wrong or missing values: ${read.errors + write.errors}`,
    );
    console.log(JSON.stringify({ ...total, read, write }));
    if (read.errors + write.errors > 0) process.exitCode = 1;
  } finally {
    await Promise.allSettled([...meters, ...controllers].map((d) => d.stop()));
    await pool.close();
    await Promise.allSettled(clients.map((c) => new Promise<void>((resolve) => c.close(() => resolve()))));
    await farm.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`bench drivers: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
