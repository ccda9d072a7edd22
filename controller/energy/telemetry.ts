import type { InfluxWriterOptions } from '../../drivers/influx/writer';
import type { ServiceContext } from '../context';
import type { Component } from '../../core/lifecycle';
import { AlertManager } from './alerts/manager';
import type { HealthReport, MetricsReport, ServiceHealth } from './api';
import { DeviceBook, servedCommunes } from './deviceBook';
import { EnergyView } from './energyView';
import { PointCatalog } from './points';
import { ServiceMetricsWriter, TelemetryRecorder } from './recorder';
import { Sampler } from './sampler';
import { TelemetryStorage } from './storage';

export interface TelemetryOptions {
  /** InfluxDB writer settings beyond the configuration (tests: small batches, short backoff). */
  writer?: Partial<InfluxWriterOptions>;
  /** MQTT messages dropped as malformed so far (the lighting runtime counts presence messages). */
  malformedMessages?: () => number;
}

/** Time kept, out of `service.shutdown_timeout_s`, for closing the spool after the writer's last sends. */
const SPOOL_CLOSE_RESERVE_MS = 2000;

/**
 * The telemetry and alert subsystem, built once by the composition root (controller/service.ts) and
 * started in two parts:
 *
 * 1. `storageComponents()`, before the drivers: the InfluxDB writer with its spool, and the recorder of
 *    lighting states, detections, command events and device health, so that nothing the drivers and
 *    the lighting report while they start is lost. Stopped after them.
 * 2. `components()`, after the drivers: the alerts (saved alerts restored first), the sampler of the
 *    building points, the service metrics.
 *
 * Exposes the EnergyService and AlertService of controller/energy/api.ts, and /health and /metrics.
 */
export class Telemetry implements ServiceHealth {
  readonly catalog: PointCatalog;
  readonly book: DeviceBook;
  readonly storage: TelemetryStorage;
  readonly recorder: TelemetryRecorder;
  readonly sampler: Sampler;
  readonly alerts: AlertManager;
  readonly energy: EnergyView;
  readonly serviceMetrics: ServiceMetricsWriter;
  private running = false;

  constructor(
    private readonly context: ServiceContext,
    options: TelemetryOptions = {},
  ) {
    const { config, clock, logger, bus, devices } = context;
    this.catalog = new PointCatalog(config);
    this.book = new DeviceBook(config, servedCommunes(config), clock.now());
    this.storage = new TelemetryStorage({
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
    this.recorder = new TelemetryRecorder({
      config,
      devices,
      book: this.book,
      sink: this.storage,
      bus,
      clock,
      logger: logger.child('telemetry'),
    });
    this.alerts = new AlertManager({
      config,
      catalog: this.catalog,
      deviceCommune: (id) => this.book.devices.get(id)?.commune ?? '*',
      deviceDownSince: (id) => this.book.downSince(id),
      devices,
      storageHealth: () => this.storage.health(),
      sink: this.storage,
      mqtt: context.mqtt,
      bus,
      clock,
      logger: logger.child('alerts'),
      stateDir: context.stateDir,
      configDir: context.configDir,
      env: context.env,
    });
    this.sampler = new Sampler({
      catalog: this.catalog,
      devices,
      book: this.book,
      sink: this.storage,
      bus,
      clock,
      logger: logger.child('telemetry:sampler'),
      maxClockSkewMs: config.telemetry.max_clock_skew_s * 1000,
      onWatched: (point, now) => this.alerts.observePoint(point, now),
    });
    this.energy = new EnergyView(config, this.catalog, this.book, clock);
    this.serviceMetrics = new ServiceMetricsWriter({
      instance: config.service.instance,
      periodMs: config.telemetry.service_period_s * 1000,
      figures: () => {
        const influx = this.storage.stats();
        const sampler = this.sampler.stats();
        return {
          spoolBytes: influx?.spooledBytes,
          spoolPoints: influx?.spooledPoints,
          written: influx?.written,
          replayed: influx?.replayed,
          dropped: influx?.dropped,
          quarantined: influx?.quarantined,
          lagMs: influx?.lagMs,
          mqttReceived: this.context.mqtt.stats().received,
          mqttMalformed: options.malformedMessages?.(),
          alertsOpen: this.alerts.openCount(),
          samples: sampler.samples,
          badSamples: sampler.badSamples,
        };
      },
      sink: this.storage,
      clock,
      logger: logger.child('telemetry'),
    });
  }

  /** Before the drivers; stopped after them. */
  storageComponents(): Component[] {
    return [this.storage.component(), this.recorder.component()];
  }

  /** After the drivers. */
  components(): Component[] {
    return [
      this.alerts.component(),
      {
        name: 'telemetry sampler',
        start: async () => {
          await this.sampler.start();
          this.recorder.snapshotDevices();
          this.running = true;
        },
        stop: async () => {
          this.running = false;
          await this.sampler.stop();
        },
      },
      this.serviceMetrics.component(),
    ];
  }

  /**
   * up: every device, MQTT and InfluxDB up; degraded: any of them not; down: the service is not
   * running (starting, stopping).
   */
  report(): HealthReport {
    const devices = this.context.config.devices.map((device) => {
      const entry: HealthReport['devices'][number] = {
        id: device.id,
        protocol: device.protocol,
        health: this.context.devices.get(device.id)?.health() ?? 'down',
      };
      if (device.commune !== undefined) entry.commune = device.commune;
      return entry;
    });
    const mqtt = this.context.mqtt.health();
    const influx = this.storage.health();
    const allUp = mqtt === 'up' && influx === 'up' && devices.every((d) => d.health === 'up');
    return { status: !this.running ? 'down' : allUp ? 'up' : 'degraded', devices, mqtt, influx };
  }

  metrics(): MetricsReport {
    const influx = this.storage.stats();
    const mqtt = this.context.mqtt.stats();
    return {
      influx: influx && {
        health: influx.health,
        written: influx.written,
        replayed: influx.replayed,
        dropped: influx.dropped,
        quarantined: influx.quarantined,
        torn: influx.torn,
        spooledPoints: influx.spooledPoints,
        spooledBytes: influx.spooledBytes,
        lagMs: influx.lagMs,
        consecutiveFailures: influx.consecutiveFailures,
      },
      mqtt: { health: this.context.mqtt.health(), ...mqtt },
      telemetry: this.sampler.stats(),
      alerts: this.alerts.stats(),
      devices: this.context.config.devices.map((device) => {
        const driver = this.context.devices.get(device.id);
        const stats = driver?.stats() ?? { requests: 0, errors: 0, reconnects: 0 };
        return { id: device.id, protocol: device.protocol, health: driver?.health() ?? 'down', ...stats };
      }),
    };
  }
}
