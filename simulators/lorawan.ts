import { randomUUID } from 'node:crypto';
import { connect, type MqttClient } from 'mqtt';
import type { Config, DeviceConfig, PointConfig } from '../config/schema';
import type { Clock, Timer } from '../core/clock';
import type { Logger } from '../core/logger';
import { compileTopicPattern, DEFAULT_TOPICS } from '../drivers/mqtt/uplinks';
import { brokerClientOptions, brokerUrl } from './presence';
import { seededRandom, type Random } from './random';

/**
 * The sensors of MQTT sources, as their network servers publish them: ChirpStack v4 `up` and `status`
 * events, The Things Stack v3 uplinks, or plain JSON, in the formats of ../shared/FIELD.md, with values
 * from a small model per quantity (a bin filling, a river with a flood, air quality and noise following
 * the day, a bike counter, a hive gaining weight). Every point of the configuration with an `mqtt`
 * binding is played, whatever its quantity: an unknown one gets a plausible slow wave.
 */

export interface UplinkOptions {
  /** Publish each sensor this often instead of its expected period (a demo does not wait 15 minutes). */
  everyMs?: number;
  seed?: number;
  clientId?: string;
  /** Relative paths of secret and TLS files are resolved from here. Default: the working directory. */
  configDir?: string;
}

export interface UplinkStats {
  connected: boolean;
  sensors: number;
  published: number;
}

interface PlayedSensor {
  /** 'device/capture=value,…' */
  id: string;
  device: Extract<DeviceConfig, { protocol: 'mqtt' }>;
  site: string;
  /** The network server's topic for its uplinks, and the captures in it. */
  topic: string;
  captures: Readonly<Record<string, string>>;
  points: PointConfig[];
  fCnt: number;
  phase: number;
}

const HOUR_MS = 3_600_000;
/** The application and tenant the simulated network servers publish under. */
const DEMO_CAPTURES = { application_id: 'nocturne-demo', tenant_id: 'ttn', event: 'up' };
const DAY_MS = 24 * HOUR_MS;

export class UplinkPublisher {
  private client?: MqttClient;
  private readonly sensors: PlayedSensor[] = [];
  private readonly random: Random;
  private timer?: Timer;
  private published = 0;
  private next = 0;

  constructor(
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: UplinkOptions = {},
  ) {
    this.random = seededRandom(options.seed ?? 1);
    const devices = new Map(config.devices.map((d) => [d.id, d]));
    const byId = new Map<string, PlayedSensor>();
    for (const site of config.buildings)
      for (const point of site.points) {
        const device = devices.get(point.device);
        if (!point.mqtt || device?.protocol !== 'mqtt' || device.broker) continue;
        const id = `${device.id}/${Object.entries(point.mqtt.match)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}`;
        const captures = { ...DEMO_CAPTURES, ...point.mqtt.match };
        const sensor: PlayedSensor = byId.get(id) ?? {
          id,
          device,
          site: site.id,
          topic: fillTopic(device.topic ?? DEFAULT_TOPICS[device.format]!, captures),
          captures,
          points: [],
          fCnt: 0,
          phase: this.random(),
        };
        sensor.points.push(point);
        byId.set(id, sensor);
      }
    this.sensors = [...byId.values()];
  }

  /** Connects to the service's broker in the background and publishes every sensor in turn. */
  start(): void {
    if (this.sensors.length === 0) return;
    const url = brokerUrl(this.config.mqtt);
    this.client = connect(
      url,
      brokerClientOptions(
        this.config.mqtt,
        this.options.configDir ?? process.cwd(),
        this.options.clientId ?? `nocturne-lorawan-sim-${process.pid}`,
      ),
    );
    this.client.on('connect', () => this.logger.info(`connected to ${url}: ${this.sensors.length} sensors`));
    this.client.on('error', (error) => this.logger.debug(() => `${url}: ${error.message}`));
    if (this.options.everyMs !== undefined) this.schedule();
  }

  async stop(): Promise<void> {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    if (client) await client.endAsync(true);
  }

  stats(): UplinkStats {
    return {
      connected: this.client?.connected ?? false,
      sensors: this.sensors.length,
      published: this.published,
    };
  }

  /** Publishes one uplink of the sensor at site `siteId` now (QoS 1); resolves once the broker has it. */
  async publishNow(siteId: string): Promise<{ topic: string; payload: Record<string, unknown> }> {
    const sensor = this.sensors.find((s) => s.site === siteId);
    if (!sensor) throw new Error(`no MQTT sensor at site '${siteId}'`);
    if (!this.client) throw new Error('the uplink publisher is not started');
    const message = this.build(sensor, this.clock.now());
    await this.client.publishAsync(message.topic, JSON.stringify(message.payload), { qos: 1 });
    this.published++;
    return message;
  }

  private schedule(): void {
    const spacing = Math.max(10, Math.floor(this.options.everyMs! / this.sensors.length));
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      const sensor = this.sensors[this.next++ % this.sensors.length];
      if (this.client?.connected) {
        const { topic, payload } = this.build(sensor, this.clock.now());
        this.client.publish(topic, JSON.stringify(payload), { qos: 0 });
        this.published++;
        // ChirpStack reports the battery in a status event, after the device answers a DevStatusReq.
        if (sensor.device.format === 'chirpstack-v4' && sensor.fCnt % 10 === 1) {
          const status = {
            deduplicationId: randomUUID(),
            time: new Date(this.clock.now()).toISOString(),
            margin: 9,
            externalPowerSource: false,
            batteryLevel: Math.round(1000 - 150 * sensor.phase) / 10,
          };
          this.client.publish(topic.replace(/\/event\/up$/, '/event/status'), JSON.stringify(status), {
            qos: 0,
          });
          this.published++;
        }
      }
      this.schedule();
    }, spacing);
  }

  private build(sensor: PlayedSensor, time: number): { topic: string; payload: Record<string, unknown> } {
    sensor.fCnt++;
    const values: Record<string, unknown> = {};
    for (const point of sensor.points) {
      const binding = point.mqtt!;
      if (binding.radio !== undefined || binding.path === undefined) continue;
      const value = modelValue(point, time, sensor.phase);
      // Two points may read one field with different scales (a distance and the fill it means): the first sets it.
      if (hasPath(values, binding.path)) continue;
      setPath(values, binding.path, rawOf(value, binding));
    }
    const rssi = Math.round(-115 + 30 * this.random());
    const snr = Math.round((-8 + 18 * this.random()) * 4) / 4;
    const at = new Date(time).toISOString();
    const { topic, captures } = sensor;
    switch (sensor.device.format) {
      case 'chirpstack-v4':
        return {
          topic,
          payload: {
            deduplicationId: randomUUID(),
            time: at,
            deviceInfo: {
              tenantName: 'Eurométropole',
              applicationId: captures.application_id,
              deviceName: sensor.site,
              devEui: captures.dev_eui,
            },
            fCnt: sensor.fCnt,
            fPort: 85,
            object: values,
            rxInfo: [{ gatewayId: '0016c001ff10a235', rssi, snr }],
          },
        };
      case 'ttn-v3':
        return {
          topic,
          payload: {
            end_device_ids: {
              device_id: captures.device_id,
              application_ids: { application_id: captures.application_id },
            },
            received_at: at,
            uplink_message: {
              f_port: 2,
              f_cnt: sensor.fCnt,
              decoded_payload: values,
              rx_metadata: [{ gateway_ids: { gateway_id: 'gw-metz-1' }, rssi, channel_rssi: rssi, snr }],
              last_battery_percentage: { value: Math.round(100 - 10 * sensor.phase), received_at: at },
            },
          },
        };
      case 'json':
        return { topic, payload: { ...values, time: at } };
      case 'plain':
        return { topic, payload: values };
    }
  }
}

/** An engineering value for the point's quantity at `time`: plausible, deterministic, varied by `phase`. */
export function modelValue(
  point: Pick<PointConfig, 'quantity' | 'measurement'>,
  time: number,
  phase: number,
): number {
  const hourOfDay = ((time % DAY_MS) / HOUR_MS + 24) % 24;
  const daily = Math.sin(((hourOfDay - 8) / 24) * 2 * Math.PI); // peaks mid-afternoon
  const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
  switch (point.quantity) {
    case 'fill_level': {
      // Fills over three days, emptied by the round; sensors out of step with each other.
      const cycle = (((time / (3 * DAY_MS) + phase) % 1) + 1) % 1;
      return round(5 + 90 * cycle);
    }
    case 'water_level': {
      // A river at 1.2 m with a slow wave and, one day in ten, a flood rising ~0.3 m/h for four hours.
      const day = Math.floor(time / DAY_MS);
      const intoDay = (time % DAY_MS) / HOUR_MS;
      const flood = day % 10 === 3 && intoDay >= 18 ? Math.min(intoDay - 18, 4) * 0.3 : 0;
      return round(1.2 + 0.1 * Math.sin(time / (5 * HOUR_MS) + phase * 6) + flood, 3);
    }
    case 'pm2_5':
      return round(14 + 8 * daily + 4 * phase);
    case 'no2':
      return round(28 + 16 * daily + 6 * phase);
    case 'noise_laeq':
      return round(52 + 9 * daily + 3 * phase);
    case 'bike_count':
      // A counter index: passages since installation, more by day.
      return Math.floor(time / 60_000 / 3) + Math.floor(phase * 1000);
    case 'weight':
      return round(38 + 6 * ((time / (30 * DAY_MS) + phase) % 1) + 0.4 * daily, 2);
    case 'temperature':
      return round(9 + 6 * daily + 2 * phase);
    case 'door':
      return 0;
    case 'voltage':
      return round(230 + 3 * Math.sin(time / HOUR_MS + phase * 6));
    default:
      return point.measurement === 'meter'
        ? Math.floor(time / 60_000)
        : round(20 + 5 * Math.sin(time / (6 * HOUR_MS) + phase * 6), 2);
  }
}

/** The raw field a device sends for an engineering value: the binding's scale and offset inverted. */
function rawOf(value: number, binding: NonNullable<PointConfig['mqtt']>): unknown {
  if (binding.states) {
    const names = Object.entries(binding.states);
    const nearest = names.reduce((best, entry) =>
      Math.abs(entry[1] - value) < Math.abs(best[1] - value) ? entry : best,
    );
    return nearest[0];
  }
  const raw = (value - binding.offset) / binding.scale;
  return Math.round(raw * 1000) / 1000;
}

function fillTopic(pattern: string, captures: Readonly<Record<string, string>>): string {
  const compiled = compileTopicPattern(pattern);
  let topic = pattern.replace(/\/#$/, '/up');
  for (const name of compiled.captures) topic = topic.replace(`{${name}}`, captures[name] ?? 'x');
  return topic;
}

function hasPath(root: Record<string, unknown>, path: string): boolean {
  let node: unknown = root;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return false;
    node = (node as Record<string, unknown>)[part];
  }
  return true;
}

function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = root;
  for (const part of parts.slice(0, -1)) {
    const child = node[part];
    node[part] = typeof child === 'object' && child !== null ? child : {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}
