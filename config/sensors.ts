import type { RadioField } from '../drivers/mqtt/uplinks';
import type { BuildingConfig, Config, DeviceConfig, PointConfig } from './schema';

/**
 * Sensors declared by model (`sensor_models`, `sensors`) become sites with points, as if each had been
 * written out under `buildings`: telemetry, alerts, the API and the dashboards then see no difference.
 * Runs after the checks (crossChecks.ts checks sensors where they are written, so errors name their line).
 */

/** The points a LoRaWAN network server adds to every sensor. */
export const RADIO_POINTS: readonly { id: RadioField; quantity: string; unit: string }[] = [
  { id: 'rssi', quantity: 'radio_rssi', unit: 'dBm' },
  { id: 'snr', quantity: 'radio_snr', unit: 'dB' },
  { id: 'battery', quantity: 'battery', unit: '%' },
];

type SensorConfig = Config['sensors'][number];
type ModelConfig = Config['sensor_models'][number];

export function isLorawanSource(device: DeviceConfig | undefined): boolean {
  return device?.protocol === 'mqtt' && (device.format === 'chirpstack-v4' || device.format === 'ttn-v3');
}

/** The topic captures that name the sensor: its DevEUI (ChirpStack, lower case as in topics), its device id (TTS), or its own. */
export function matchOf(sensor: SensorConfig): Record<string, string> {
  return {
    ...(sensor.dev_eui !== undefined ? { dev_eui: sensor.dev_eui.toLowerCase() } : {}),
    ...(sensor.device_id !== undefined ? { device_id: sensor.device_id } : {}),
    ...sensor.match,
  };
}

/** The configuration with every sensor as a site of `buildings`; a sensor whose model or source is unknown is left out. */
export function expandSensors(config: Config): Config {
  if (config.sensors.length === 0) return config;
  const models = new Map(config.sensor_models.map((m) => [m.id, m]));
  const devices = new Map(config.devices.map((d) => [d.id, d]));
  const sites: BuildingConfig[] = [];
  for (const sensor of config.sensors) {
    const model = models.get(sensor.model);
    if (model) sites.push(siteOf(sensor, model, devices.get(sensor.source)));
  }
  return { ...config, buildings: [...config.buildings, ...sites] };
}

function siteOf(sensor: SensorConfig, model: ModelConfig, source: DeviceConfig | undefined): BuildingConfig {
  const match = matchOf(sensor);
  const binding = { match, scale: 1, offset: 0, period_s: model.period_s };
  const points: PointConfig[] = model.points.map((p) => ({
    id: p.id,
    ...(p.name !== undefined ? { name: p.name } : {}),
    measurement: p.measurement,
    quantity: p.quantity,
    unit: p.unit,
    device: sensor.source,
    mqtt: {
      ...binding,
      ...(p.path !== undefined ? { path: p.path } : {}),
      scale: p.scale,
      offset: p.offset,
      ...(p.states ? { states: p.states } : {}),
    },
    ...(p.rollover !== undefined ? { rollover: p.rollover } : {}),
    ...(p.max_rate !== undefined ? { max_rate: p.max_rate } : {}),
  }));
  if (model.radio && isLorawanSource(source))
    for (const radio of RADIO_POINTS)
      points.push({
        id: radio.id,
        measurement: 'sensor',
        quantity: radio.quantity,
        unit: radio.unit,
        device: sensor.source,
        mqtt: { ...binding, radio: radio.id },
      });
  return {
    id: sensor.id,
    commune: sensor.commune,
    name: sensor.name ?? `${model.name ?? model.id} ${sensor.id}`,
    kind: model.kind,
    ...(sensor.location ? { location: sensor.location } : {}),
    opening_hours: [],
    closed_dates: [],
    points,
  };
}
