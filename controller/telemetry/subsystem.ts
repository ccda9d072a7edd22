import type { InfluxWriterOptions } from '../../drivers/influx/writer';
import type { ServiceContext } from '../context';
import type { Component } from '../../core/lifecycle';
import { AlertManager } from './alerts/manager';
import { DeviceBook, servedCommunes } from './deviceBook';
import { EnergyView } from './energyView';
import { PointCatalog } from './points';
import { ServiceMetricsWriter, TelemetryRecorder } from './recorder';
import { PointHistory } from './pointHistory';
import { Sampler } from './sampler';
import { TelemetryStorage } from './storage';

export interface TelemetryOptions {
  /** InfluxDB writer settings beyond the configuration (tests: small batches, short backoff). */
  writer?: Partial<InfluxWriterOptions>;
  /** MQTT messages dropped as malformed so far (the lighting runtime counts presence messages). */
  malformedMessages?: () => number;
  /** Writes each version of the alerts' states where a standby reads it (cluster mode). */
  replicateAlerts?: (text: string) => Promise<void>;
}

/** Time kept, out of `service.shutdown_timeout_s`, for closing the spool after the writer's last sends. */
const SPOOL_CLOSE_RESERVE_MS = 2000;

/**
 * The telemetry and alert subsystem, built once by the composition root (controller/service.ts) and
 * started in parts:
 *
 * 1. `storage.component()` then `recorder.component()`, before the drivers: the InfluxDB writer with
 *    its spool, and the recorder of lighting states, detections, command events and device health, so
 *    that nothing the drivers and the lighting report while they start is lost. Stopped after them.
 * 2. `pointComponents()`, after the drivers: the alerts (saved alerts restored first) and the sampler
 *    of the building points; then `serviceMetrics.component()`.
 *
 * With instances sharing a shard, the recorder and the point components run on its leader only (each
 * point and alert once), the storage and the service metrics (per instance) on every instance.
 *
 * Exposes the EnergyService and AlertService of controller/telemetry/services.ts; /health and /metrics read its
 * parts through controller/health/serviceHealth.ts.
 */
export class Telemetry {
  readonly catalog: PointCatalog;
  readonly book: DeviceBook;
  readonly storage: TelemetryStorage;
  readonly recorder: TelemetryRecorder;
  readonly sampler: Sampler;
  readonly alerts: AlertManager;
  readonly energy: EnergyView;
  readonly serviceMetrics: ServiceMetricsWriter;

  constructor(parts: TelemetryParts) {
    this.catalog = parts.catalog;
    this.book = parts.book;
    this.storage = parts.storage;
    this.recorder = parts.recorder;
    this.sampler = parts.sampler;
    this.alerts = parts.alerts;
    this.energy = parts.energy;
    this.serviceMetrics = parts.serviceMetrics;
  }

  /** After the drivers: the alerts, then the sampler (a first snapshot of the devices as it starts). */
  pointComponents(): Component[] {
    return [
      this.alerts.component(),
      {
        name: 'telemetry sampler',
        start: async () => {
          await this.sampler.start();
          this.recorder.snapshotDevices();
        },
        stop: () => this.sampler.stop(),
      },
    ];
  }
}

/** The parts of the telemetry and alert subsystem, built from the configuration by buildTelemetry. */
export interface TelemetryParts {
  catalog: PointCatalog;
  book: DeviceBook;
  storage: TelemetryStorage;
  recorder: TelemetryRecorder;
  sampler: Sampler;
  alerts: AlertManager;
  energy: EnergyView;
  serviceMetrics: ServiceMetricsWriter;
}

/** Called by the composition root (controller/service.ts): every part wired to the ones it reads. */
export function buildTelemetry(context: ServiceContext, options: TelemetryOptions = {}): Telemetry {
  const { config, clock, logger, bus, devices } = context;
  const catalog = new PointCatalog(config);
  const book = new DeviceBook(config, servedCommunes(config), clock.now());
  const storage = new TelemetryStorage({
    influx: config.influx,
    stateDir: context.stateDir,
    configDir: context.configDir,
    env: context.env,
    clock,
    logger: logger.child('telemetry:influx'),
    bus,
    stopTimeoutMs: Math.max(500, config.service.shutdown_timeout_s * 1000 - SPOOL_CLOSE_RESERVE_MS),
    overrides: options.writer,
  });
  const recorder = new TelemetryRecorder({
    config,
    devices,
    book,
    sink: storage,
    bus,
    clock,
    logger: logger.child('telemetry'),
  });
  const alerts = new AlertManager({
    config,
    catalog,
    deviceCommune: (id) => book.devices.get(id)?.commune ?? '*',
    deviceDownSince: (id) => book.downSince(id),
    devices,
    storageHealth: () => storage.health(),
    sink: storage,
    mqtt: context.mqtt,
    bus,
    clock,
    logger: logger.child('alerts'),
    stateDir: context.stateDir,
    replicate: options.replicateAlerts,
    configDir: context.configDir,
    env: context.env,
  });
  const history = new PointHistory(catalog.points.length);
  const sampler = new Sampler({
    catalog,
    history,
    devices,
    book,
    sink: storage,
    bus,
    clock,
    logger: logger.child('telemetry:sampler'),
    maxClockSkewMs: config.telemetry.max_clock_skew_s * 1000,
    onWatched: (point, now) => alerts.observePoint(point, now),
  });
  const energy = new EnergyView(config, catalog, book, clock, history);
  const serviceMetrics = new ServiceMetricsWriter({
    instance: config.service.instance,
    periodMs: config.telemetry.service_period_s * 1000,
    figures: () => {
      const influx = storage.stats();
      const sampled = sampler.stats();
      return {
        spoolBytes: influx?.spooledBytes,
        spoolPoints: influx?.spooledPoints,
        written: influx?.written,
        replayed: influx?.replayed,
        dropped: influx?.dropped,
        quarantined: influx?.quarantined,
        lagMs: influx?.lagMs,
        mqttReceived: context.mqtt.stats().received,
        mqttMalformed: options.malformedMessages?.(),
        alertsOpen: alerts.openCount(),
        samples: sampled.samples,
        badSamples: sampled.badSamples,
      };
    },
    sink: storage,
    clock,
    logger: logger.child('telemetry'),
  });
  return new Telemetry({ catalog, book, storage, recorder, sampler, alerts, energy, serviceMetrics });
}
