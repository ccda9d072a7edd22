import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../core/clock';
import { silentLogger } from '../core/logger';
import { fieldKey, seriesKey } from '../drivers/influx/lineProtocol';
import { InfluxWriter } from '../drivers/influx/writer';
import { startInflux } from '../test/helpers/influxd';
import {
  addPhases,
  barePath,
  describePhase,
  type IngestPath,
  oursPath,
  type PhaseResult,
  Replay,
  runPhase,
} from './support/replay';

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
const T0 = Date.UTC(2026, 0, 1);

/** Ten seconds of one sample per series and second: street-light power, meter indexes, room temperatures. */
function syntheticTelemetry(series: number): string[] {
  const prefixes: string[] = [];
  for (let i = 0; i < series; i++) {
    const commune = `commune-${i % 6}`;
    if (i % 4 === 0) {
      prefixes.push(
        `${seriesKey('meter', { commune, building: `b${i % 40}`, meter: `m${i}`, kind: 'electricity', unit: 'kWh' })} ${fieldKey('index')}=`,
      );
    } else if (i % 4 === 1) {
      prefixes.push(
        `${seriesKey('sensor', { commune, building: `b${i % 40}`, room: `r${i}`, quantity: 'temperature', unit: 'degC' })} ${fieldKey('value')}=`,
      );
    } else {
      prefixes.push(
        `${seriesKey('lighting', { commune, zone: `z${i % 97}`, luminaire: `l${i}` })} ${fieldKey('power_w')}=`,
      );
    }
  }
  const lines: string[] = [];
  for (let tick = 0; tick < 10; tick++) {
    const time = T0 + tick * 1000;
    prefixes.forEach((prefix, i) => lines.push(`${prefix}${((tick + i) % 1000) / 10 + 20.5} ${time}`));
  }
  return lines;
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
  const bareWarmup = barePath(influx.url, 'bench_warmup', BATCH, FLUSH_MS);
  const bareClient = barePath(influx.url, 'bench_bare', BATCH, FLUSH_MS);
  try {
    for (const database of ['bench_ours', 'bench_bare']) await influx.query(`CREATE DATABASE ${database}`);
    console.log(
      `ingest path: ${SERIES} series, batches of ${BATCH}, flush ${FLUSH_MS} ms, gzip, ${SECONDS} s per path, ` +
        `influxd ${influx.directUrl} behind nginx ${influx.url}`,
    );
    await writer.start();
    // Warm-up: JIT, influxd's shard creation and caches.
    const lines = syntheticTelemetry(SERIES);
    const phase = (target: IngestPath, replay: Replay, seconds: number): Promise<PhaseResult> =>
      runPhase(target, replay, seconds, SERIES, BATCH);
    await phase(bareWarmup, new Replay(lines, T0), 3);
    const ourLines = new Replay(lines, T0);
    const bareLines = new Replay(lines, T0);
    let oursResult = await phase(oursPath(writer), ourLines, SECONDS / 2);
    let bareResult = await phase(bareClient, bareLines, SECONDS / 2);
    bareResult = addPhases(bareResult, await phase(bareClient, bareLines, SECONDS / 2));
    oursResult = addPhases(oursResult, await phase(oursPath(writer), ourLines, SECONDS / 2));
    const stats = writer.stats();
    if (stats.dropped > 0 || stats.quarantined > 0 || stats.consecutiveFailures > 0) {
      throw new Error(`the writing path lost or refused points: ${JSON.stringify(stats)}`);
    }
    console.log(describePhase('bare WriteApi', bareResult));
    console.log(describePhase('spool + WriteApi (ours)', oursResult));
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
