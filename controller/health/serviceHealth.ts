import type { Config } from '../../config/schema';
import type { Health } from '../../drivers/driver';
import type { InfluxWriterStats } from '../../drivers/influx/writer';
import type { Messaging } from '../../drivers/messaging';
import type { DeviceRegistry } from '../devices';
import type { HealthPart, HealthReport, MetricsReport, ServiceHealth } from './report';

/** Where the figures come from; each subsystem is asked at the moment /health or /metrics is read. */
export interface HealthSources {
  config: Config;
  devices: DeviceRegistry;
  mqtt: Messaging;
  /** The InfluxDB writer and its spool. */
  storage: { health(): Health; stats(): InfluxWriterStats | undefined };
  /** The building points' sampler. */
  sampler: { stats(): MetricsReport['telemetry'] };
  alerts: { stats(): MetricsReport['alerts'] };
  /** False while the service starts or stops: health is then 'down' whatever the parts say. */
  running: () => boolean;
  /** With instances sharing a shard: whether this one leads it. Absent in single-machine mode. */
  role?: () => 'leader' | 'standby';
}

/** /health and /metrics: the state of every device, MQTT and InfluxDB, and the counters of each path. */
export class ServiceHealthReporter implements ServiceHealth {
  constructor(private readonly sources: HealthSources) {}

  /**
   * up: every device, MQTT and InfluxDB (when one is configured) up; degraded: any of them not, named
   * in `degraded`; down: the service is not running (starting, stopping). A standby runs no sensor
   * source (MQTT, HTTP): only the devices it keeps a link to are its to report.
   */
  report(): HealthReport {
    const { config, devices, mqtt, storage, running } = this.sources;
    const role = this.sources.role?.();
    const reported =
      role === 'standby' ? config.devices.filter((d) => devices.get(d.id) !== undefined) : config.devices;
    const deviceHealth = reported.map((device) => {
      const entry: HealthReport['devices'][number] = {
        id: device.id,
        protocol: device.protocol,
        health: devices.get(device.id)?.health() ?? 'down',
      };
      if (device.commune !== undefined) entry.commune = device.commune;
      return entry;
    });
    const mqttHealth = mqtt.health();
    const influx = config.influx === undefined ? 'not-configured' : storage.health();
    const degraded: HealthPart[] = [];
    if (deviceHealth.some((d) => d.health !== 'up')) degraded.push('devices');
    if (mqttHealth !== 'up') degraded.push('mqtt');
    if (influx !== 'up' && influx !== 'not-configured') degraded.push('influx');
    const status = !running() ? 'down' : degraded.length === 0 ? 'up' : 'degraded';
    return {
      status,
      degraded: status === 'degraded' ? degraded : [],
      ...(role !== undefined ? { role } : {}),
      devices: deviceHealth,
      mqtt: mqttHealth,
      influx,
    };
  }

  metrics(): MetricsReport {
    const { config, devices, mqtt, storage, sampler, alerts } = this.sources;
    const influx = storage.stats();
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
      mqtt: { health: mqtt.health(), ...mqtt.stats() },
      telemetry: sampler.stats(),
      alerts: alerts.stats(),
      devices: config.devices.map((device) => {
        const driver = devices.get(device.id);
        const stats = driver?.stats() ?? { requests: 0, errors: 0, reconnects: 0 };
        return { id: device.id, protocol: device.protocol, health: driver?.health() ?? 'down', ...stats };
      }),
    };
  }
}
