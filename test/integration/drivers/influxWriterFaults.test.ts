import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import type { Health } from '../../../drivers/driver';
import {
  type DroppedInfo,
  InfluxWriter,
  type InfluxWriterOptions,
  type QuarantinedInfo,
} from '../../../drivers/influx/writer';
import { type InfluxHarness, startInflux } from '../../helpers/influxd';

// Faults against the real influxd 1.6.7 behind nginx: spool bound, refused lines, torn lines, missing bucket.

const T0 = Date.UTC(2026, 0, 15, 18, 0, 0);

let influx: InfluxHarness;
let influxdStopped = false;
let dir: string;
const writers: InfluxWriter[] = [];

beforeAll(async () => {
  influx = await startInflux({ database: 'telemetry' });
});

afterAll(async () => {
  await influx?.stop();
});

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'nocturne-spool-'));
});

afterEach(async () => {
  for (const writer of writers.splice(0)) await writer.stop();
  if (influxdStopped) await startInfluxd();
  await fsp.rm(dir, { recursive: true, force: true });
});

async function stopInfluxd(): Promise<void> {
  influxdStopped = true;
  await influx.stopInfluxd();
}

async function startInfluxd(): Promise<void> {
  await influx.startInfluxd();
  influxdStopped = false;
}

function newWriter(options: Partial<InfluxWriterOptions> = {}): InfluxWriter {
  const writer = new InfluxWriter(
    {
      url: influx.url,
      bucket: 'telemetry',
      spoolDir: path.join(dir, 'spool'),
      batchSize: 250,
      flushMs: 50,
      requestTimeoutMs: 2000,
      stopTimeoutMs: 2000,
      backoff: { initialMs: 50, maxMs: 300 },
      ...options,
    },
    systemClock,
    silentLogger,
  );
  writers.push(writer);
  return writer;
}

/** One series: value = seq, time = T0 + seq ms. */
const points = (measurement: string, from: number, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${measurement},series=s0 value=${from + i} ${T0 + from + i}`);

async function summary(measurement: string): Promise<Record<string, unknown> | undefined> {
  const rows = await influx.query(`SELECT COUNT(value), MIN(value), MAX(value) FROM "${measurement}"`);
  return rows[0]?.values;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test('beyond the spool bound, the oldest points are dropped, counted and reported; the newest are delivered', async () => {
  await stopInfluxd();
  const writer = newWriter({ spoolMaxBytes: 64 * 1024, segmentBytes: 8 * 1024 });
  const dropped: DroppedInfo[] = [];
  writer.on('dropped', (info) => dropped.push(info));
  await writer.start();
  for (let i = 0; i < 3000; i += 100) await writer.write(points('bounded', i, 100));

  const lost = writer.stats().dropped;
  expect(lost).toBeGreaterThan(1000);
  expect(writer.stats().spooledBytes).toBeLessThanOrEqual(64 * 1024);
  expect(writer.stats().spooledPoints).toBe(3000 - lost);
  expect(dropped.reduce((sum, info) => sum + info.points, 0)).toBe(lost);
  expect(dropped.every((info) => info.reason === 'spool-full')).toBe(true);

  await startInfluxd();
  await waitFor('the spool to empty', () => writer.stats().spooledPoints === 0);
  expect(await summary('bounded')).toEqual({ time: 0, count: 3000 - lost, min: lost, max: 2999 });
  expect(writer.stats()).toMatchObject({ written: 3000 - lost, dropped: lost, health: 'up' });
});

test('lines InfluxDB refuses go to the quarantine file with its reason; the rest of the batch and what follows arrive', async () => {
  const writer = newWriter();
  const quarantined: QuarantinedInfo[] = [];
  writer.on('quarantined', (info) => quarantined.push(info));
  await writer.start();
  await writer.write(points('typed', 0, 1));
  await waitFor('the first point', () => writer.stats().written === 1);

  const conflict = `typed,series=s0 value=7i ${T0 + 500}`; // an integer where a float is stored
  const unparsable = 'typed,series=s0 value= 17';
  await writer.write([
    ...points('typed', 1, 40),
    conflict,
    ...points('typed', 41, 40),
    unparsable,
    ...points('typed', 81, 19),
  ]);
  await waitFor('the batch to be settled', () => writer.stats().spooledPoints === 0);
  await writer.write(points('typed', 100, 50));
  await waitFor('the next points', () => writer.stats().spooledPoints === 0);

  expect(await summary('typed')).toEqual({ time: 0, count: 150, min: 0, max: 149 });
  expect(writer.stats()).toMatchObject({ written: 150, quarantined: 2, dropped: 0 });
  expect(quarantined.map((info) => [info.points, info.file])).toEqual([
    [1, writer.quarantineFile()],
    [1, writer.quarantineFile()],
  ]);
  expect(quarantined[0].reason).toMatch(/^HTTP 400: partial write: field type conflict/);
  expect(quarantined[1].reason).toMatch(/^HTTP 400: unable to parse 'typed,series=s0 value= 17'/);
  const kept = (await fsp.readFile(writer.quarantineFile(), 'utf8')).split('\n');
  expect(kept).toEqual([
    expect.stringMatching(/^# \d{4}-\d\d-\d\dT.*Z HTTP 400: .*field type conflict/),
    conflict,
    expect.stringMatching(/^# .* HTTP 400: .*unable to parse/),
    unparsable,
    '',
  ]);
});

test('a torn last line in the spool is cut off at start and counted; every whole line is delivered', async () => {
  const spooling = newWriter({ url: undefined });
  await spooling.start();
  expect(spooling.getHealth()).toBe('down');
  await spooling.write(points('torn', 0, 100));
  await spooling.stop();
  const spoolDir = path.join(dir, 'spool');
  const [segment] = (await fsp.readdir(spoolDir)).filter((name) => name.endsWith('.lp'));
  await fsp.appendFile(path.join(spoolDir, segment), 'torn,series=s0 value=10');

  const writer = newWriter();
  await writer.start();
  expect(writer.stats().torn).toBe(1);
  await writer.write(points('torn', 100, 10));
  await waitFor('the spool to empty', () => writer.stats().spooledPoints === 0);
  expect(await summary('torn')).toEqual({ time: 0, count: 110, min: 0, max: 109 });
  expect(writer.stats()).toMatchObject({ written: 110, replayed: 100, quarantined: 0 });
});

test('a missing database (404) is retried, not quarantined, until it exists', async () => {
  const writer = newWriter({ bucket: 'created_later' });
  const healths: Health[] = [];
  writer.on('healthChanged', (health) => healths.push(health));
  await writer.start();
  await writer.write(points('late', 0, 50));
  await waitFor('health down', () => writer.getHealth() === 'down');
  expect(writer.stats()).toMatchObject({ written: 0, quarantined: 0, spooledPoints: 50 });

  await influx.query('CREATE DATABASE created_later');
  await waitFor('the spool to empty', () => writer.stats().spooledPoints === 0);
  const rows = await influx.query('SELECT COUNT(value) FROM late', 'created_later');
  expect(rows[0].values.count).toBe(50);
  expect(healths).toEqual(['up', 'degraded', 'down', 'up']);
});

test('write() refuses what is not one line of line protocol, writing nothing of that call', async () => {
  const writer = newWriter();
  await writer.start();
  await expect(writer.write(['m v=1 1', 'm v=2 2\nm v=3 3'])).rejects.toThrow(
    'influx writer: line #1 of 2 is not one line of line protocol: "m v=2 2\\nm v=3 3"',
  );
  await expect(writer.write([''])).rejects.toThrow('line #0 of 1');
  expect(writer.stats().spooledPoints).toBe(0);
  await writer.stop();
  await expect(writer.write(['m v=1 1'])).rejects.toThrow('influx writer is stopped: 1 points not accepted');
});

test('a start aborted by its signal ends stopped, with nothing left open', async () => {
  const writer = newWriter();
  const controller = new AbortController();
  controller.abort();
  await expect(writer.start(controller.signal)).rejects.toThrow('influx writer: start aborted');
  expect(writer.getHealth()).toBe('down');
  await writer.stop();
  await expect(writer.write(points('aborted', 0, 1))).rejects.toThrow('influx writer is stopped');
});
