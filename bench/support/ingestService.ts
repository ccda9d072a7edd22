import { setMaxListeners } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { systemClock } from '../../core/clock';
import { DeviceRegistry } from '../../controller/devices';
import { benchContext, samplerPath } from './telemetryPath';

/**
 * The telemetry path of the service, alone in its process so that its CPU can be measured: the Modbus
 * drivers poll the simulators, the sampler turns samples into lines, the InfluxDB writer spools and
 * sends them. Run by bench/ingest.ts:
 *
 *   node dist/bench/support/ingestService.js <config.yaml> <warmup s> <seconds> <record file> <record lines>
 *
 * Prints `READY` once the devices are subscribed, then, after the warm-up and the measured window, one
 * line `RESULT {…}`; writes the first <record lines> lines it produced to <record file> (after the window,
 * so that the bare client can send the very same lines), then stops and exits.
 */

export const RESULT_PREFIX = 'RESULT ';

export interface IngestResult {
  seconds: number;
  /** Points InfluxDB acknowledged within the window. */
  written: number;
  /** Lines the sampler made within the window. */
  lines: number;
  samples: number;
  badSamples: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Waiting in the spool at the start and at the end of the window: growing, the path falls behind. */
  spooledAtStart: number;
  spooledAtEnd: number;
  lostLines: number;
  dropped: number;
  rssMb: number;
  heapMb: number;
  externalMb: number;
}

async function main(): Promise<void> {
  const [file, warmupText, secondsText, recordFile, recordText] = process.argv.slice(2);
  const warmupS = Number(warmupText);
  const seconds = Number(secondsText);
  const recordLines = Number(recordText);
  if (!file || !(seconds > 0) || !(warmupS >= 0) || !recordFile || !(recordLines >= 0))
    throw new Error(
      `usage: ingestService <config> <warmup s> <seconds> <record file> <record lines> (got ${process.argv.slice(2).join(' ')})`,
    );
  const context = benchContext(file);
  const { config, configDir, stateDir, logger, bus } = context;
  const devices = new DeviceRegistry(config, {
    logger: logger.child('drivers'),
    clock: systemClock,
    bus,
    configDir,
    stateDir,
  });
  const recorded: string[] = [];
  const { storage, sampler } = samplerPath(context, devices, (storage) => ({
    write: (lines) => {
      if (recorded.length < recordLines) for (const line of lines) recorded.push(line);
      return storage.write(lines);
    },
  }));
  const modbus = devices.component('modbus');
  await storage.start();
  const signal = new AbortController().signal;
  // One listener per driver on the one signal, as the service's lifecycle allows.
  setMaxListeners(0, signal);
  await modbus.start(signal);
  await sampler.start();
  await sampler.ready();
  process.stdout.write('READY\n');

  await sleep(warmupS * 1000);
  const before = storage.stats()!;
  const samplerBefore = sampler.stats();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await sleep(seconds * 1000);
  const used = process.cpuUsage(cpu);
  const elapsed = (performance.now() - started) / 1000;
  const stats = storage.stats()!;
  const samplerAfter = sampler.stats();
  // With --expose-gc, memory is read after a full collection: what is really held.
  (globalThis as { gc?: () => void }).gc?.();
  const result: IngestResult = {
    seconds: elapsed,
    written: stats.written - before.written,
    lines: samplerAfter.lines - samplerBefore.lines,
    samples: samplerAfter.samples - samplerBefore.samples,
    badSamples: samplerAfter.badSamples - samplerBefore.badSamples,
    cpuUserMs: used.user / 1000,
    cpuSystemMs: used.system / 1000,
    spooledAtStart: before.spooledPoints,
    spooledAtEnd: stats.spooledPoints,
    lostLines: samplerAfter.lostLines,
    dropped: stats.dropped + stats.quarantined,
    rssMb: Math.round(process.memoryUsage().rss / 1e6),
    heapMb: Math.round(process.memoryUsage().heapUsed / 1e6),
    externalMb: Math.round(process.memoryUsage().external / 1e6),
  };
  await sampler.stop();
  await modbus.stop();
  await storage.stop();
  await writeFile(recordFile, recorded.join('\n') + '\n');
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

if (require.main === module)
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`ingestService: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
