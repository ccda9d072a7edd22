import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Clock, Timer } from '../core/clock';
import type { Logger } from '../core/logger';
import { readSecret } from '../config/secrets';
import type { MqttConfig, PresenceSensorConfig } from '../config/schema';
import { exponentialDelayMs, seededRandom, type Random } from './random';

/**
 * Presence sensors on their poles: detections published on each sensor's MQTT topic, arriving as a
 * Poisson process, with the class at the sensor's class_path (nested JSON like a The Things Network uplink).
 */

export const DETECTION_CLASSES = ['pedestrian', 'cyclist', 'vehicle'] as const;
export type DetectionClass = (typeof DETECTION_CLASSES)[number];

export interface PresenceOptions {
  /** Detections per second over all sensors. Takes precedence over ratePerSensor. Default 0. */
  ratePerSecond?: number;
  /** Detections per second for each sensor. */
  ratePerSensor?: number;
  /** Relative frequency of each class. Default: pedestrian 6, vehicle 3, cyclist 1. */
  classWeights?: Partial<Record<DetectionClass, number>>;
  seed?: number;
  /** Relative paths of secret and TLS files are resolved from here. Default: the working directory. */
  configDir?: string;
  clientId?: string;
}

export interface ResolvedPresenceOptions {
  ratePerSecond: number;
  classWeights: Record<DetectionClass, number>;
  seed: number;
  configDir: string;
  clientId: string;
}

export function coercePresenceOptions(
  options: PresenceOptions,
  sensorCount: number,
): ResolvedPresenceOptions {
  const perSensor = options.ratePerSensor ?? 0;
  const ratePerSecond = options.ratePerSecond ?? perSensor * sensorCount;
  if (!Number.isFinite(ratePerSecond) || ratePerSecond < 0)
    throw new RangeError(`presence rate must be a number of detections per second ≥ 0 (is ${ratePerSecond})`);
  return {
    ratePerSecond,
    classWeights: { pedestrian: 6, vehicle: 3, cyclist: 1, ...options.classWeights },
    seed: options.seed ?? 1,
    configDir: options.configDir ?? process.cwd(),
    clientId: options.clientId ?? `nocturne-presence-sim-${process.pid}`,
  };
}

/** How a simulator connects to the service's broker: its credentials and TLS files, as the service does. */
export function brokerClientOptions(mqtt: MqttConfig, configDir: string, clientId: string): IClientOptions {
  const file = (name: string): Buffer => readFileSync(path.resolve(configDir, name));
  return {
    clientId,
    reconnectPeriod: mqtt.reconnect_ms,
    connectTimeout: 5000,
    keepalive: mqtt.keepalive_s,
    clean: true,
    // Detections and uplinks are lost while the broker is away, never queued: as on a radio network.
    queueQoSZero: false,
    ...(mqtt.username !== undefined ? { username: mqtt.username } : {}),
    ...(mqtt.password ? { password: readSecret(mqtt.password, configDir) } : {}),
    ...(mqtt.tls
      ? {
          ...(mqtt.tls.ca_file ? { ca: file(mqtt.tls.ca_file) } : {}),
          ...(mqtt.tls.cert_file ? { cert: file(mqtt.tls.cert_file) } : {}),
          ...(mqtt.tls.key_file ? { key: file(mqtt.tls.key_file) } : {}),
          rejectUnauthorized: mqtt.tls.reject_unauthorized,
        }
      : {}),
  };
}

/** The broker the service uses: its URL, or the embedded broker's address when none is set. */
export function brokerUrl(mqtt: MqttConfig): string {
  return mqtt.url ?? `mqtt://${mqtt.embedded_host}:${mqtt.embedded_port}`;
}

/**
 * The JSON a sensor publishes: the class at `class_path`, with a sequence number and a timestamp next
 * to it, and the sensor id at the top.
 */
export function detectionPayload(
  sensor: Pick<PresenceSensorConfig, 'id' | 'class_path'>,
  detectionClass: string,
  seq: number,
  time: number,
): Record<string, unknown> {
  const keys = sensor.class_path.split('.');
  const leaf = keys.pop()!;
  const root: Record<string, unknown> = { sensor: sensor.id };
  let parent = root;
  for (const key of keys) {
    const child: Record<string, unknown> = {};
    parent[key] = child;
    parent = child;
  }
  parent.seq = seq;
  parent.timestamp = new Date(time).toISOString();
  parent[leaf] = detectionClass;
  return root;
}

export interface PresenceStats {
  connected: boolean;
  ratePerSecond: number;
  published: number;
  /** Detections that fell while the broker was unreachable (QoS 0: not queued), or skipped after a stall. */
  dropped: number;
}

/** Arrivals more than this late (the process was paused) are skipped rather than published in a burst. */
const MAX_CATCH_UP_MS = 1000;

export class PresencePublisher {
  private client?: MqttClient;
  private timer?: Timer;
  private nextAt?: number;
  private ratePerSecond: number;
  private readonly random: Random;
  private readonly sequences = new Map<string, number>();
  private readonly sensors: Map<string, PresenceSensorConfig>;
  private readonly classes: { name: DetectionClass; cumulative: number }[];
  private published = 0;
  private dropped = 0;
  private wasConnected = false;

  constructor(
    sensors: readonly PresenceSensorConfig[],
    private readonly mqtt: MqttConfig,
    private readonly options: ResolvedPresenceOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.sensors = new Map(sensors.map((s) => [s.id, s]));
    this.ratePerSecond = options.ratePerSecond;
    this.random = seededRandom(options.seed);
    let total = 0;
    this.classes = DETECTION_CLASSES.map((name) => {
      total += Math.max(0, options.classWeights[name]);
      return { name, cumulative: total };
    });
  }

  /** Connects in the background (retrying until the broker is up) and starts the arrivals. */
  start(): void {
    const url = brokerUrl(this.mqtt);
    const client = connect(
      url,
      brokerClientOptions(this.mqtt, this.options.configDir, this.options.clientId),
    );
    this.client = client;
    client.on('connect', () => {
      this.wasConnected = true;
      this.logger.info(`connected to ${url}`);
    });
    client.on('offline', () => {
      if (this.wasConnected) this.logger.warn(`lost ${url}; reconnecting every ${this.mqtt.reconnect_ms} ms`);
      this.wasConnected = false;
    });
    client.on('error', (error) => this.logger.debug(() => `${url}: ${error.message}`));
    this.schedule();
  }

  async stop(): Promise<void> {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    if (client) await client.endAsync(true);
  }

  setRate(ratePerSecond: number): void {
    if (!Number.isFinite(ratePerSecond) || ratePerSecond < 0)
      throw new RangeError(
        `presence rate must be a number of detections per second ≥ 0 (is ${ratePerSecond})`,
      );
    this.ratePerSecond = ratePerSecond;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAt = undefined;
    if (this.client) this.schedule();
  }

  stats(): PresenceStats {
    return {
      connected: this.client?.connected ?? false,
      ratePerSecond: this.ratePerSecond,
      published: this.published,
      dropped: this.dropped,
    };
  }

  /** One detection now, of the given class or a random one; returns what was published. */
  detect(sensorId: string, detectionClass?: string): { topic: string; payload: Record<string, unknown> } {
    const sensor = this.sensors.get(sensorId);
    if (!sensor) throw new Error(`unknown presence sensor '${sensorId}'`);
    if (!this.client?.connected) throw new Error(`not connected to the broker ${brokerUrl(this.mqtt)}`);
    return this.publish(sensor, detectionClass ?? this.randomClass(), this.clock.now());
  }

  private schedule(): void {
    if (this.ratePerSecond <= 0 || this.sensors.size === 0) return;
    const now = this.clock.now();
    this.nextAt ??= now + exponentialDelayMs(this.random, this.ratePerSecond);
    this.timer = this.clock.setTimeout(() => this.tick(), Math.max(0, this.nextAt - now));
  }

  private tick(): void {
    this.timer = undefined;
    const now = this.clock.now();
    if (this.nextAt !== undefined && now - this.nextAt > MAX_CATCH_UP_MS) {
      this.dropped += Math.round(((now - this.nextAt) / 1000) * this.ratePerSecond);
      this.nextAt = now;
    }
    const sensors = [...this.sensors.values()];
    while (this.nextAt !== undefined && this.nextAt <= now) {
      // Independent Poisson sensors of equal rate are one process of the summed rate, spread uniformly.
      const sensor = sensors[Math.floor(this.random() * sensors.length)];
      const detectionClass = this.randomClass();
      if (this.client?.connected) this.publish(sensor, detectionClass, this.nextAt);
      else this.dropped++;
      this.nextAt += exponentialDelayMs(this.random, this.ratePerSecond);
    }
    this.schedule();
  }

  private publish(
    sensor: PresenceSensorConfig,
    detectionClass: string,
    time: number,
  ): { topic: string; payload: Record<string, unknown> } {
    const seq = (this.sequences.get(sensor.id) ?? 0) + 1;
    this.sequences.set(sensor.id, seq);
    const payload = detectionPayload(sensor, detectionClass, seq, time);
    this.client!.publish(sensor.topic, JSON.stringify(payload), { qos: 0 });
    this.published++;
    return { topic: sensor.topic, payload };
  }

  private randomClass(): DetectionClass {
    const total = this.classes[this.classes.length - 1].cumulative;
    const pick = this.random() * total;
    return (this.classes.find((c) => pick < c.cumulative) ?? this.classes[0]).name;
  }
}
