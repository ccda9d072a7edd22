import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import type { Health } from '../../../drivers/driver';
import { fieldKey, floatValue, seriesKey, stringValue } from '../../../drivers/influx/lineProtocol';
import { InfluxWriter, type InfluxWriterOptions } from '../../../drivers/influx/writer';
import { type InfluxHarness, startInflux } from '../../helpers/influxd';

// Real influxd 1.6.7 behind nginx's InfluxDB 2 write route; influxd is stopped and started to make outages.

const T0 = Date.UTC(2026, 0, 15, 18, 0, 0);

let influx: InfluxHarness;
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
  await fsp.rm(dir, { recursive: true, force: true });
});

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
      backoff: { initialMs: 100, maxMs: 1000 },
      ...options,
    },
    systemClock,
    silentLogger,
  );
  writers.push(writer);
  return writer;
}

/** Points of several series, each with its own sequence: value = seq, time = T0 + seq ms. */
class Telemetry {
  private readonly keys: string[];
  private readonly seq: number[];
  private next = 0;

  constructor(
    readonly measurement: string,
    series: number,
  ) {
    this.keys = Array.from({ length: series }, (_, i) => seriesKey(measurement, { series: `s${i}` }));
    this.seq = this.keys.map(() => 0);
  }

  lines(count: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const k = this.next++ % this.keys.length;
      const seq = this.seq[k]++;
      out.push(`${this.keys[k]} ${fieldKey('value')}=${floatValue(seq)} ${T0 + seq}`);
    }
    return out;
  }

  /** Per series: how many points were written, and the sum of their values. */
  expected(): Record<string, { count: number; sum: number }> {
    return Object.fromEntries(this.seq.map((n, i) => [`s${i}`, { count: n, sum: (n * (n - 1)) / 2 }]));
  }
}

async function stored(measurement: string): Promise<Record<string, { count: number; sum: number }>> {
  const rows = await influx.query(`SELECT COUNT(value), SUM(value) FROM "${measurement}" GROUP BY *`);
  return Object.fromEntries(
    rows.map((row) => [
      row.tags.series,
      { count: row.values.count as number, sum: row.values.sum as number },
    ]),
  );
}

async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('InfluxWriter against influxd behind the compatibility route', () => {
  test('escaped names and string values come back from InfluxDB as written', async () => {
    const writer = newWriter();
    await writer.start();
    const key = seriesKey('odd name,1', { 'tag key': 'a value, with=signs', zone: 'z"1' });
    await writer.write([
      `${key} ${fieldKey('message')}=${stringValue('say "hi" \\ bye')},${fieldKey('level x')}=42 ${T0}`,
    ]);
    await waitFor('the point to be acknowledged', () => writer.stats().written === 1, 10_000);

    const rows = await influx.query(`SELECT * FROM "odd name,1"`);
    expect(rows).toEqual([
      {
        measurement: 'odd name,1',
        tags: {},
        values: {
          time: T0,
          message: 'say "hi" \\ bye',
          'level x': 42,
          'tag key': 'a value, with=signs',
          zone: 'z"1',
        },
      },
    ]);
  });

  test('with no InfluxDB configured, the points stay in the spool file and none is held in memory', async () => {
    const writer = newWriter({ url: undefined });
    await writer.start();
    await writer.write(new Telemetry('no_target', 3).lines(300));
    expect(writer.stats()).toMatchObject({ written: 0, spooledPoints: 300 });
    // The spool's in-memory tail only spares a sender a read of the file: with no sender, it stays empty.
    const spool = (writer as unknown as { spool: { tail: unknown[] } }).spool;
    expect(spool.tail).toEqual([]);
  });

  test('stop() sends what is spooled at once, without waiting for a full batch', async () => {
    const writer = newWriter({ batchSize: 5000, flushMs: 60_000 });
    await writer.start();
    const telemetry = new Telemetry('stop_flush', 3);
    await writer.write(telemetry.lines(300));
    expect(writer.stats()).toMatchObject({ written: 0, spooledPoints: 300 });
    await writer.stop();
    expect(writer.stats()).toMatchObject({ written: 300, spooledPoints: 0, health: 'down' });
    expect(await stored('stop_flush')).toEqual(telemetry.expected());
  });

  test('an outage of influxd for 30 s while 500 points/s flow: every point stored exactly once', async () => {
    const writer = newWriter();
    const healths: Health[] = [];
    writer.on('healthChanged', (health) => healths.push(health));
    await writer.start();
    const telemetry = new Telemetry('outage', 8);
    const appends: Promise<void>[] = [];
    // 10 points every 20 ms: 500 points/s.
    const producer = setInterval(() => appends.push(writer.write(telemetry.lines(10))), 20);
    try {
      await sleep(3000);
      expect(writer.getHealth()).toBe('up');
      await influx.stopInfluxd();
      await sleep(30_000);
      expect(writer.getHealth()).toBe('down');
      expect(writer.stats().spooledPoints).toBeGreaterThan(10_000);
      await influx.startInfluxd();
      await sleep(3000);
    } finally {
      clearInterval(producer);
    }
    await Promise.all(appends);
    await waitFor('the spool to empty', () => writer.stats().spooledPoints === 0, 30_000);

    expect(await stored('outage')).toEqual(telemetry.expected());
    const stats = writer.stats();
    expect(stats.written).toBe(appends.length * 10);
    expect(stats.replayed).toBeGreaterThan(14_000);
    expect(stats).toMatchObject({ dropped: 0, quarantined: 0, lagMs: 0, health: 'up' });
    expect(healths).toEqual(['up', 'degraded', 'down', 'degraded', 'up']);
  }, 90_000);

  test('a writer stopped during an outage leaves its points in the spool; the next one sends them in order', async () => {
    const telemetry = new Telemetry('restart', 4);
    const first = newWriter({ stopTimeoutMs: 300 });
    await first.start();
    await first.write(telemetry.lines(1000));
    await waitFor('the first points to be acknowledged', () => first.stats().spooledPoints === 0, 10_000);

    await influx.stopInfluxd();
    // The same point rewritten 600 times in a row: InfluxDB keeps the last value it receives.
    const corrections = Array.from({ length: 600 }, (_, i) => `restart_order value=${i} ${T0}`);
    await first.write(telemetry.lines(2000));
    await first.write(corrections);
    await first.stop();
    expect(first.stats().spooledPoints).toBe(2600);

    await influx.startInfluxd();
    const second = newWriter();
    await second.start();
    await waitFor('the spool to empty', () => second.stats().spooledPoints === 0, 20_000);

    expect(await stored('restart')).toEqual(telemetry.expected());
    expect(second.stats()).toMatchObject({ written: 2600, replayed: 2600, dropped: 0 });
    expect(await influx.query('SELECT value FROM restart_order')).toEqual([
      { measurement: 'restart_order', tags: {}, values: { time: T0, value: 599 } },
    ]);
  }, 60_000);
});
