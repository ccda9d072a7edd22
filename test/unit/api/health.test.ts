import { Bus } from '../../../controller/bus';
import { DeviceRegistry } from '../../../controller/devices';
import { ServiceHealthReporter } from '../../../controller/health/serviceHealth';
import { ManualClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import type { Health } from '../../../drivers/driver';
import type { Messaging } from '../../../drivers/messaging';
import type { Config } from '../../../config/schema';
import { energyConfig } from '../energy/fixtures';

/** The health report of a site whose drivers are not started (every device down) or that has none. */
function reporter(config: Config, mqtt: Health, influx: Health): ServiceHealthReporter {
  const devices = new DeviceRegistry(config, {
    logger: silentLogger,
    clock: new ManualClock(0),
    bus: new Bus(silentLogger),
    configDir: '.',
    stateDir: '.',
  });
  return new ServiceHealthReporter({
    config,
    devices,
    mqtt: { health: () => mqtt } as Pick<Messaging, 'health'> as Messaging,
    storage: { health: () => influx, stats: () => undefined },
    sampler: { stats: () => ({}) as never },
    alerts: { stats: () => ({}) as never },
    running: () => true,
  });
}

describe('the service health', () => {
  const noDevices = (influx: Config['influx']): Config => ({ ...energyConfig(), devices: [], influx });

  it('is up with no InfluxDB configured: telemetry waits in the spool, which is no fault', () => {
    const report = reporter(noDevices(undefined), 'up', 'down').report();
    expect(report).toMatchObject({ status: 'up', degraded: [], influx: 'not-configured' });
  });

  it('is degraded by an InfluxDB that is configured and down, and says so', () => {
    const influx = { url: 'http://127.0.0.1:8086', bucket: 'b' } as Config['influx'];
    const report = reporter(noDevices(influx), 'up', 'down').report();
    expect(report).toMatchObject({ status: 'degraded', degraded: ['influx'], influx: 'down' });
  });

  it('names every part that is not up: devices, MQTT', () => {
    const report = reporter(energyConfig(), 'degraded', 'up').report();
    expect(report.status).toBe('degraded');
    expect(report.degraded).toEqual(['devices', 'mqtt']);
    expect(report.devices.map((d) => d.health)).toEqual(['down', 'down', 'down']);
  });
});
