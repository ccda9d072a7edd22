import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { InfluxDB } from '@influxdata/influxdb-client';
import { systemClock } from '../controller/clock';
import { silentLogger } from '../controller/logger';
import { fieldKey, seriesKey } from '../drivers/influx/lineProtocol';
import { InfluxWriter } from '../drivers/influx/writer';
import { startInflux } from '../test/helpers/influxd';

/**
 * The telemetry writing path against the bare client, in one run on one influxd (behind nginx):
 * (a) InfluxWriter: spool append + fsync per group, read back, one WriteApi with retries off;
 * (b) the bare @influxdata/influxdb-client WriteApi with the same batch settings, no durability.
 * Both push the same generated lines as fast as InfluxDB takes them for a fixed time; points/s counts
 * points acknowledged by InfluxDB in that time, CPU is this process's user + system time in it (the
 * generation of the lines included, alike for both).
 *
 *   node dist/bench/ingestPath.js [--seconds 30] [--series 2000] [--batch 5000] [--max-in-flight 2]
 *
 * `--seconds` is per path, run in two halves interleaved with the other path's (ours, bare, bare, ours),
 * so that a change of load on this shared machine weighs on both alike.
 */

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    series: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '5000' },
    'max-in-flight': { type: 'string', default: '' },
  },
});
const SECONDS = Number(args.seconds);
const SERIES = Number(args.series);
const BATCH = Number(args.batch);
const FLUSH_MS = 1000;
/** Points produced but not yet acknowledged, beyond which the producer waits (both paths alike). */
const MAX_PENDING = 4 * BATCH;
const T0 = Date.UTC(2026, 0, 1);

/** One sample per series and second: street-light power, meter indexes and room temperatures. */
class TelemetryGenerator {
  private readonly prefixes: string[] = [];
  private tick = 0;

  constructor(series: number) {
    for (let i = 0; i < series; i++) {
      const commune = `commune-${i % 6}`;
      if (i % 4 === 0) {
        this.prefixes.push(
          `${seriesKey('meter', { commune, building: `b${i % 40}`, meter: `m${i}`, kind: 'electricity', unit: 'kWh' })} ${fieldKey('index')}=`,
        );
      } else if (i % 4 === 1) {
        this.prefixes.push(
          `${seriesKey('sensor', { commune, building: `b${i % 40}`, room: `r${i}`, quantity: 'temperature', unit: 'degC' })} ${fieldKey('value')}=`,
        );
      } else {
        this.prefixes.push(
          `${seriesKey('lighting', { commune, zone: `z${i % 97}`, luminaire: `l${i}` })} ${fieldKey('power_w')}=`,
        );
      }
    }
  }

  /** The next second of every series. */
  nextTick(): string[] {
    const time = T0 + this.tick * 1000;
    const base = this.tick++;
    const lines = new Array<string>(this.prefixes.length);
    for (let i = 0; i < this.prefixes.length; i++) {
      lines[i] = this.prefixes[i] + (((base + i) % 1000) / 10 + 20.5) + ' ' + time;
    }
    return lines;
  }
}

interface PhaseResult {
  points: number;
  seconds: number;
  cpuMs: number;
}

/** A way to InfluxDB under test: push lines, and count what InfluxDB acknowledged. */
interface IngestPath {
  push(lines: string[]): Promise<void> | undefined;
  acknowledged(): number;
  /** Sends what waits for a full batch. */
  flush(): Promise<void>;
}

/** Waits without spinning, so that waiting for InfluxDB costs next to no CPU in either path. */
const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2));

/** Pushes one second of every series after the other for `seconds`, at most MAX_PENDING unacknowledged. */
/**
 * Pushes one second of every series after the other for `seconds`, with at most MAX_PENDING points
 * unacknowledged, and measures over that window: points acknowledged in it, CPU used in it. What is still
 * pending at the end is then drained outside the measurement, so neither path pays for a final partial batch.
 */
async function runPhase(
  target: IngestPath,
  generator: TelemetryGenerator,
  seconds: number,
): Promise<PhaseResult> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const before = target.acknowledged();
  let produced = 0;
  const appends: Promise<void>[] = [];
  while (performance.now() < deadline) {
    const lines = generator.nextTick();
    const appended = target.push(lines);
    if (appended) appends.push(appended);
    produced += lines.length;
    if (appends.length >= 16) await Promise.all(appends.splice(0));
    while (before + produced - target.acknowledged() > MAX_PENDING && performance.now() < deadline)
      await pause();
  }
  const used = process.cpuUsage(cpu);
  const result = {
    points: target.acknowledged() - before,
    seconds: (performance.now() - started) / 1000,
    cpuMs: (used.user + used.system) / 1000,
  };
  await Promise.all(appends);
  await target.flush();
  while (target.acknowledged() < before + produced) await pause();
  return result;
}

function ours(writer: InfluxWriter): IngestPath {
  return {
    push: (lines) => writer.write(lines),
    acknowledged: () => writer.stats().written,
    // The writer sends a partial batch after flush_ms on its own.
    flush: () => Promise.resolve(),
  };
}

function bare(url: string, database: string): IngestPath & { close(): Promise<void> } {
  let acknowledged = 0;
  const writeApi = new InfluxDB({ url }).getWriteApi('', database, 'ms', {
    batchSize: BATCH,
    flushInterval: FLUSH_MS,
    gzipThreshold: 1000,
    writeSuccess: (lines) => {
      acknowledged += lines.length;
    },
  });
  return {
    push: (lines) => {
      writeApi.writeRecords(lines);
      return undefined;
    },
    acknowledged: () => acknowledged,
    flush: () => writeApi.flush(),
    close: () => writeApi.close(),
  };
}

function add(total: PhaseResult, more: PhaseResult): PhaseResult {
  return {
    points: total.points + more.points,
    seconds: total.seconds + more.seconds,
    cpuMs: total.cpuMs + more.cpuMs,
  };
}

function describe(name: string, result: PhaseResult): string {
  const rate = result.points / result.seconds;
  const cpuPerPoint = (result.cpuMs * 1000) / result.points;
  return (
    `${name.padEnd(26)} ${result.points} points in ${result.seconds.toFixed(1)} s: ` +
    `${Math.round(rate)} points/s, ${cpuPerPoint.toFixed(2)} µs CPU/point, ` +
    `${((result.cpuMs / 1000 / result.seconds) * 100).toFixed(0)} % of one core`
  );
}

async function main(): Promise<void> {
  const influx = await startInflux({ database: 'bench_warmup' });
  const spoolDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'nocturne-bench-spool-'));
  const maxInFlight = args['max-in-flight'] ? Number(args['max-in-flight']) : undefined;
  const writer = new InfluxWriter(
    {
      url: influx.url,
      bucket: 'bench_ours',
      spoolDir,
      batchSize: BATCH,
      flushMs: FLUSH_MS,
      gzip: true,
      maxInFlight,
    },
    systemClock,
    silentLogger,
  );
  const bareWarmup = bare(influx.url, 'bench_warmup');
  const bareClient = bare(influx.url, 'bench_bare');
  try {
    for (const database of ['bench_ours', 'bench_bare']) await influx.query(`CREATE DATABASE ${database}`);
    console.log(
      `ingest path: ${SERIES} series, batches of ${BATCH}, flush ${FLUSH_MS} ms, gzip, ${SECONDS} s per path, ` +
        `influxd ${influx.directUrl} behind nginx ${influx.url}`,
    );
    await writer.start();
    // Warm-up: JIT, influxd's shard creation and caches.
    await runPhase(bareWarmup, new TelemetryGenerator(SERIES), 3);
    const ourLines = new TelemetryGenerator(SERIES);
    const bareLines = new TelemetryGenerator(SERIES);
    let oursResult = await runPhase(ours(writer), ourLines, SECONDS / 2);
    let bareResult = await runPhase(bareClient, bareLines, SECONDS / 2);
    bareResult = add(bareResult, await runPhase(bareClient, bareLines, SECONDS / 2));
    oursResult = add(oursResult, await runPhase(ours(writer), ourLines, SECONDS / 2));
    const stats = writer.stats();
    if (stats.dropped > 0 || stats.quarantined > 0 || stats.consecutiveFailures > 0) {
      throw new Error(`the writing path lost or refused points: ${JSON.stringify(stats)}`);
    }
    console.log(describe('bare WriteApi', bareResult));
    console.log(describe('spool + WriteApi (ours)', oursResult));
    const ourCost = oursResult.cpuMs / oursResult.points;
    const bareCost = bareResult.cpuMs / bareResult.points;
    console.log(`CPU cost per point, ours / bare: ${(ourCost / bareCost).toFixed(2)}`);
    console.log(
      JSON.stringify({
        points_per_s: Math.round(oursResult.points / oursResult.seconds),
        cpu_share: Number((oursResult.cpuMs / 1000 / oursResult.seconds).toFixed(3)),
        bare_points_per_s: Math.round(bareResult.points / bareResult.seconds),
        ratio: Number((ourCost / bareCost).toFixed(3)),
      }),
    );
  } finally {
    await writer.stop();
    await bareWarmup.close();
    await bareClient.close();
    await influx.stop();
    await fsp.rm(spoolDir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exitCode = 1;
});
