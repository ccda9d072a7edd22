import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { systemClock } from '../core/clock';
import { silentLogger } from '../core/logger';
import { InfluxWriter } from '../drivers/influx/writer';
import { toYaml } from '../config/generateDemo';
import { startInflux } from '../test/helpers/influxd';
import { freePorts } from '../test/helpers/ports';
import { ingestTerritory } from './support/ingestTerritory';
import { RESULT_PREFIX, type IngestResult } from './support/ingestService';
import { spawnReady, stopChild } from './support/children';
import { READY_PREFIX as FARM_READY } from './support/modbusFarm';
import {
  Replay,
  addPhases,
  barePath,
  describePhase,
  oursPath,
  runPhase,
  type PhaseResult,
} from './support/replay';

/**
 * Telemetry from the simulators into InfluxDB, end to end, for a fixed time:
 *
 * 1. simulators in their own process play meter gateways with thousands of points each, polled at a
 *    short period: by default the Modbus farm of the benchmarks (simulators/modbus ModbusSimServer over
 *    register banks in memory), or with `--simulator model` the simulators of the demo with their
 *    building model (which costs that process over 10 µs of CPU per point: at 120,000 points/s, most of
 *    this 2-core machine); the service's telemetry path (another process: Modbus drivers with merged reads →
 *    sampler → InfluxDB writer with its spool → nginx → influxd 1.6.7) runs for `--seconds` after a
 *    warm-up; points/s counts points InfluxDB acknowledged in that window, the CPU share is that
 *    process's user + system time over the window;
 * 2. the lines that process made are then pushed again, as fast as InfluxDB takes them, by the bare
 *    @influxdata/influxdb-client and by our writer (spool + client), interleaved (ours, bare, bare,
 *    ours) as in bench/ingestPath.ts: the bare client's throughput, and the cost per point of our
 *    writing path against the bare client's (the ratio).
 *
 *   npm run bench -- ingest [--seconds 60] [--devices 24] [--points 2250] [--period 0.5]
 *                           [--replay-seconds 20] [--batch 10000] [--simulator farm|model]
 *
 * The last line is one JSON object: {"points_per_s", "cpu_share", "bare_points_per_s", "ratio"}.
 */

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '5' },
    devices: { type: 'string', default: '24' },
    points: { type: 'string', default: '2250' },
    period: { type: 'string', default: '0.5' },
    'replay-seconds': { type: 'string', default: '20' },
    'record-lines': { type: 'string', default: '300000' },
    batch: { type: 'string', default: '10000' },
    simulator: { type: 'string', default: 'farm' },
  },
});
const number = (name: keyof typeof args): number => {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number (is '${args[name]}')`);
  return value;
};
const SECONDS = number('seconds');
const WARMUP = Number(args.warmup);
const DEVICES = number('devices');
const POINTS = number('points');
const PERIOD = number('period');
const REPLAY_SECONDS = number('replay-seconds');
const RECORD_LINES = number('record-lines');
const BATCH = number('batch');
const FLUSH_MS = 1000;
const REPLAY_CHUNK = 2500;
const SIMULATOR = args.simulator;
if (SIMULATOR !== 'farm' && SIMULATOR !== 'model')
  throw new Error(`--simulator must be 'farm' or 'model' (is '${SIMULATOR}')`);

async function main(): Promise<void> {
  const influx = await startInflux({ database: 'ingest' });
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'nocturne-bench-ingest-'));
  let simulators: ChildProcess | undefined;
  let service: ChildProcess | undefined;
  const writer = new InfluxWriter(
    {
      url: influx.url,
      bucket: 'replay_ours',
      spoolDir: path.join(dir, 'replay-spool'),
      batchSize: BATCH,
      flushMs: FLUSH_MS,
      gzip: true,
    },
    systemClock,
    silentLogger,
  );
  const bareClient = barePath(influx.url, 'replay_bare', BATCH, FLUSH_MS);
  try {
    for (const database of ['replay_ours', 'replay_bare']) await influx.query(`CREATE DATABASE ${database}`);
    const configFile = path.join(dir, 'ingest.yaml');
    const nominal = (DEVICES * POINTS) / PERIOD;
    console.log(
      `ingest: ${DEVICES} Modbus gateways × ${POINTS} points every ${PERIOD} s (${Math.round(nominal)} points/s offered), ` +
        `batches of ${BATCH}, gzip, ${SECONDS} s measured after ${WARMUP} s of warm-up; influxd ${influx.directUrl} behind nginx ${influx.url}`,
    );

    const simStarted = Date.now();
    const writeConfig = (ports: number[]): Promise<void> =>
      fsp.writeFile(
        configFile,
        toYaml(
          ingestTerritory({
            ports,
            pointsPerDevice: POINTS,
            periodS: PERIOD,
            influxUrl: influx.url,
            bucket: 'ingest',
            stateDir: './state',
            batchSize: BATCH,
          }),
        ),
      );
    if (SIMULATOR === 'farm') {
      const farm = await spawnReady(
        path.join(__dirname, 'support', 'modbusFarm.js'),
        [String(DEVICES), String(Math.ceil(POINTS * 1.1) + 2)],
        (line) => line.startsWith(FARM_READY),
      );
      simulators = farm.child;
      await writeConfig((JSON.parse(farm.line.slice(FARM_READY.length)) as { ports: number[] }).ports);
    }
    // Ports are chosen free, but other processes on this machine may take one first: choose again.
    for (let attempt = 1; !simulators; attempt++) {
      await writeConfig(await freePorts(DEVICES));
      try {
        simulators = (
          await spawnReady(
            path.join(__dirname, '..', 'simulators', 'main.js'),
            [configFile, '--only', 'modbus', '--control-port', '0'],
            (line) => line.startsWith('{"ready":true'),
          )
        ).child;
      } catch (error) {
        if (attempt >= 3) throw error;
        console.log(`simulators could not start (${(error as Error).message}); new ports`);
      }
    }
    console.log(
      `${SIMULATOR === 'farm' ? 'Modbus farm (register banks in memory)' : 'simulators (building model)'} ready in ${Date.now() - simStarted} ms (pid ${simulators.pid})`,
    );

    const recordFile = path.join(dir, 'recorded.lp');
    const results: string[] = [];
    const started = await spawnReady(
      path.join(__dirname, 'support', 'ingestService.js'),
      [configFile, String(WARMUP), String(SECONDS), recordFile, String(RECORD_LINES)],
      (line) => line === 'READY',
      // Memory is reported after a full collection.
      ['--expose-gc'],
    );
    service = started.child;
    const serviceLines = createInterface({ input: service.stdout! });
    const finished = new Promise<string>((resolve, reject) => {
      serviceLines.on('line', (line) => {
        results.push(line);
        if (line.startsWith(RESULT_PREFIX)) resolve(line.slice(RESULT_PREFIX.length));
      });
      service!.once('exit', (code) =>
        reject(new Error(`ingestService exited (${String(code)}) without a result`)),
      );
    });
    console.log(`telemetry path subscribed (pid ${service.pid}); measuring…`);
    const result = JSON.parse(await finished) as IngestResult;
    await once(service, 'exit').catch(() => undefined);
    await stopChild(simulators);
    simulators = undefined;

    const pointsPerS = result.written / result.seconds;
    const cpuShare = (result.cpuUserMs + result.cpuSystemMs) / 1000 / result.seconds;
    console.log(
      `telemetry path: ${result.written} points acknowledged by InfluxDB in ${result.seconds.toFixed(1)} s: ${Math.round(pointsPerS)} points/s ` +
        `(${Math.round(result.lines / result.seconds)} lines/s made, ${result.badSamples} bad samples, spool ${result.spooledAtStart} → ${result.spooledAtEnd} points over the window, ` +
        `${result.lostLines} lost, ${result.dropped} dropped), CPU ${(cpuShare * 100).toFixed(0)} % of one core ` +
        `(${(((result.cpuUserMs + result.cpuSystemMs) * 1000) / result.written).toFixed(2)} µs/point), RSS ${result.rssMb} MB (heap ${result.heapMb} MB)`,
    );

    // The same lines, again, through the bare client and through our writer.
    const recorded = (await fsp.readFile(recordFile, 'utf8')).split('\n').filter((l) => l.length > 0);
    const oursReplay = new Replay(recorded, Date.UTC(2026, 0, 1));
    const bareReplay = new Replay(recorded, Date.UTC(2026, 0, 1));
    await writer.start();
    const half = REPLAY_SECONDS / 2;
    let ours: PhaseResult = await runPhase(oursPath(writer), oursReplay, half, REPLAY_CHUNK, BATCH);
    let bare: PhaseResult = await runPhase(bareClient, bareReplay, half, REPLAY_CHUNK, BATCH);
    bare = addPhases(bare, await runPhase(bareClient, bareReplay, half, REPLAY_CHUNK, BATCH));
    ours = addPhases(ours, await runPhase(oursPath(writer), oursReplay, half, REPLAY_CHUNK, BATCH));
    const stats = writer.stats();
    if (stats.dropped > 0 || stats.quarantined > 0)
      throw new Error(`the writing path lost or refused points: ${JSON.stringify(stats)}`);
    console.log(`replay of ${oursReplay.size} recorded lines, ${REPLAY_SECONDS} s per path, interleaved:`);
    console.log(describePhase('  bare WriteApi', bare));
    console.log(describePhase('  spool + WriteApi (ours)', ours));
    const ratio = ours.cpuMs / ours.points / (bare.cpuMs / bare.points);
    const serviceCost = (result.cpuUserMs + result.cpuSystemMs) / result.written;
    console.log(
      `writing path CPU per point, ours / bare: ${ratio.toFixed(2)}; whole telemetry process (drivers, sampler, writer) / bare client: ${(serviceCost / (bare.cpuMs / bare.points)).toFixed(2)}`,
    );
    console.log(
      JSON.stringify({
        points_per_s: Math.round(pointsPerS),
        cpu_share: Number(cpuShare.toFixed(3)),
        bare_points_per_s: Math.round(bare.points / bare.seconds),
        ratio: Number(ratio.toFixed(3)),
      }),
    );
  } finally {
    await stopChild(service);
    await stopChild(simulators);
    await writer.stop();
    await bareClient.close();
    await influx.stop();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exitCode = 1;
});
