import path from 'node:path';
import { Bus } from '../../controller/bus';
import type { DeviceRegistry } from '../../controller/devices';
import { DeviceBook, servedCommunes } from '../../controller/telemetry/deviceBook';
import { PointCatalog } from '../../controller/telemetry/points';
import { Sampler } from '../../controller/telemetry/sampler';
import { TelemetryStorage } from '../../controller/telemetry/storage';
import { loadConfig } from '../../config/load';
import type { Config } from '../../config/schema';
import { systemClock } from '../../core/clock';
import { createLogger, type Logger } from '../../core/logger';
import type { LineSink } from '../../drivers/timeSeries';

/** What the benchmarks' telemetry processes start from: the configuration, its folders, a logger to stderr, a bus. */
export interface BenchContext {
  config: Config;
  configDir: string;
  stateDir: string;
  logger: Logger;
  bus: Bus;
}

export function benchContext(configFile: string): BenchContext {
  const config = loadConfig(configFile);
  const configDir = path.dirname(path.resolve(configFile));
  const logger = createLogger({ level: 'warn', format: 'json', destination: process.stderr });
  return {
    config,
    configDir,
    stateDir: path.resolve(configDir, config.service.state_dir),
    logger,
    bus: new Bus(logger.child('bus')),
  };
}

/**
 * The service's telemetry path after the drivers, as the service builds it: the sampler turning samples
 * into lines, the InfluxDB writer and its spool. `tap` puts the benchmark's measurement around the spool.
 */
export function samplerPath(
  context: BenchContext,
  devices: DeviceRegistry,
  tap: (storage: TelemetryStorage) => LineSink,
): { storage: TelemetryStorage; sampler: Sampler } {
  const { config, configDir, stateDir, logger, bus } = context;
  const storage = new TelemetryStorage({
    influx: config.influx,
    stateDir,
    configDir,
    clock: systemClock,
    logger: logger.child('telemetry:influx'),
    bus,
    stopTimeoutMs: 20_000,
  });
  const sampler = new Sampler({
    catalog: new PointCatalog(config),
    devices,
    book: new DeviceBook(config, servedCommunes(config), Date.now()),
    sink: tap(storage),
    bus,
    clock: systemClock,
    logger: logger.child('telemetry:sampler'),
    maxClockSkewMs: config.telemetry.max_clock_skew_s * 1000,
  });
  return { storage, sampler };
}
