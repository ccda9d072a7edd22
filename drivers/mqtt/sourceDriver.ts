import { EventEmitter } from 'node:events';
import type { Clock } from '../../core/clock';
import { excerptText } from '../../core/excerpt';
import type { Logger } from '../../core/logger';
import { DropCounter } from '../../core/dropCounter';
import {
  DriverError,
  type Driver,
  type DriverEvents,
  type DriverStats,
  type Health,
  type MqttAddress,
  type PointRef,
  type PointWrite,
  type Sample,
  type Subscription,
  type WriteResult,
} from '../driver';
import type { Messaging, QoS, Unsubscribe } from '../messaging';
import {
  compileTopicPattern,
  DEFAULT_TOPICS,
  DROP_REASONS,
  readField,
  readUplink,
  type DropReason,
  type FormatOptions,
  type TopicPattern,
  type UplinkFormat,
} from './uplinks';

export interface MqttSourceOptions {
  deviceId: string;
  format: UplinkFormat;
  /** Topic pattern with named captures; default: the format's network server topic. */
  topic?: string;
  /** `json`: dot path of the time in the payload. */
  timePath?: readonly string[];
  qos: QoS;
  /** Malformed or dropped messages are logged at most once per reason per interval. */
  logEveryMs?: number;
  /**
   * Shards by commune: how the sensors of other shards that this source also carries are named (their
   * captures). Their messages are counted as `other-shard`, neither read nor dropped as unknown.
   */
  otherShards?: readonly Readonly<Record<string, string>>[];
}

export interface MqttSourceDeps {
  /** The broker connection: the service's own, or one of the device's (then `connection` starts and stops it). */
  messaging: Messaging;
  connection?: { start(signal?: AbortSignal): Promise<void>; stop(): Promise<void> };
  clock: Clock;
  logger: Logger;
}

/** Recent duplicate keys kept per sensor: a broker redelivers within a few messages. */
const RECENT_KEYS = 8;

/**
 * The last value received is what `read` answers, sensors not being polled. It is kept as fields updated in
 * place rather than as the last Sample: a sample kept until its sensor's next uplink lives long enough to
 * reach the old generation of the heap, whose collection is the costly one at thousands of uplinks a second.
 */
interface Binding {
  ref: PointRef;
  address: MqttAddress;
  lastValue?: number | boolean;
  lastSourceTime: number;
  lastTime: number;
}

interface SensorState {
  bindings: Binding[];
  lastTime: number;
  recent: string[];
}

/**
 * Sensors whose values arrive over MQTT (LoRaWAN network servers, gateways, any JSON or plain publisher):
 * one subscription per device, each message read by its format (uplinks.ts) and delivered as samples of
 * the points bound to the sensor its topic names, with the time the message gives. What cannot be read
 * is counted per reason, logged at most once per interval and dropped; nothing else changes.
 */
export class MqttSourceDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly deviceId: string;
  private readonly pattern: TopicPattern;
  private readonly formatOptions: FormatOptions;
  /** The captures naming a sensor, in the order of its key; empty: one sensor per device. */
  private sensorCaptures: readonly string[] = [];
  private readonly sensors = new Map<string, SensorState>();
  private readonly bindingsByKey = new Map<string, Binding>();
  private unsubscribe?: Unsubscribe;
  private received = 0;
  private reconnects = 0;
  private readonly drops: DropCounter<DropReason>;
  private running = false;
  /** Keys of other shards' sensors, made once this source's own sensors say which captures name one. */
  private otherShardKeys?: ReadonlySet<string>;
  private otherShardMessages = 0;

  constructor(
    private readonly options: MqttSourceOptions,
    private readonly deps: MqttSourceDeps,
  ) {
    super();
    this.deviceId = options.deviceId;
    const topic = options.topic ?? DEFAULT_TOPICS[options.format];
    if (topic === undefined)
      throw new Error(`device '${options.deviceId}': format '${options.format}' needs a topic`);
    this.pattern = compileTopicPattern(topic);
    this.formatOptions = { format: options.format, timePath: options.timePath };
    this.drops = new DropCounter(DROP_REASONS, deps.clock, deps.logger, options.logEveryMs);
  }

  async start(signal?: AbortSignal): Promise<void> {
    this.running = true;
    const { messaging, connection } = this.deps;
    messaging.on('connected', this.onConnected);
    messaging.on('healthChanged', this.onHealth);
    await connection?.start(signal);
    try {
      this.unsubscribe = await messaging.subscribe(this.pattern.filter, this.options.qos, this.onMessage);
    } catch (error) {
      this.deps.logger.error(
        `device '${this.deviceId}': subscription to '${this.pattern.filter}' failed: ${(error as Error).message}`,
      );
    }
    this.emit('healthChanged', this.health());
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.deps.messaging.off('connected', this.onConnected);
    this.deps.messaging.off('healthChanged', this.onHealth);
    await this.unsubscribe?.().catch(() => undefined);
    this.unsubscribe = undefined;
    await this.deps.connection?.stop();
  }

  health(): Health {
    return this.running ? this.deps.messaging.health() : 'down';
  }

  /** MQTT sources have no addresses to check: a point exists once its sensor publishes. */
  check(): Promise<DriverError[]> {
    return Promise.resolve([]);
  }

  /** The last value received for each point (bad quality when none came yet): sensors are not polled. */
  read(points: readonly PointRef[]): Promise<Sample[]> {
    const now = this.deps.clock.now();
    return Promise.resolve(
      points.map((p): Sample => {
        const binding = this.bindingsByKey.get(p.key);
        if (binding?.lastValue !== undefined)
          return {
            key: p.key,
            value: binding.lastValue,
            quality: 'good',
            sourceTime: binding.lastSourceTime,
            time: binding.lastTime,
          };
        return {
          key: p.key,
          value: null,
          quality: 'bad',
          time: now,
          error: new DriverError('timeout', `no message yet for '${p.label ?? p.key}'`),
        };
      }),
    );
  }

  write(writes: readonly PointWrite[]): Promise<WriteResult[]> {
    return Promise.resolve(
      writes.map((w) => ({
        key: w.key,
        ok: false,
        error: new DriverError(
          'exception',
          `device '${this.deviceId}' is an MQTT source: it cannot be written`,
        ),
      })),
    );
  }

  subscribe(points: readonly PointRef[]): Subscription {
    const added: PointRef[] = [];
    for (const ref of points) {
      const address = ref.address;
      if (address.protocol !== 'mqtt')
        throw new Error(`${ref.label ?? ref.key}: not an MQTT address on MQTT device '${this.deviceId}'`);
      if (this.sensors.size === 0) this.sensorCaptures = Object.keys(address.match).sort();
      const key = this.sensorKey(address.match);
      if (key === undefined)
        throw new Error(
          `${ref.label ?? ref.key}: names its sensor by ${Object.keys(address.match).join(', ') || 'nothing'}, the other points of device '${this.deviceId}' by ${this.sensorCaptures.join(', ') || 'nothing'}`,
        );
      const sensor = this.sensors.get(key) ?? {
        bindings: [],
        lastTime: Number.NEGATIVE_INFINITY,
        recent: [],
      };
      const binding: Binding = { ref, address, lastSourceTime: 0, lastTime: 0 };
      sensor.bindings.push(binding);
      this.bindingsByKey.set(ref.key, binding);
      this.sensors.set(key, sensor);
      added.push(ref);
    }
    return {
      close: () => {
        for (const ref of added) {
          const address = ref.address as MqttAddress;
          const key = this.sensorKey(address.match)!;
          const sensor = this.sensors.get(key);
          if (!sensor) continue;
          sensor.bindings = sensor.bindings.filter((b) => b.ref !== ref);
          if (this.bindingsByKey.get(ref.key)?.ref === ref) this.bindingsByKey.delete(ref.key);
          if (sensor.bindings.length === 0) this.sensors.delete(key);
        }
        return Promise.resolve();
      },
    };
  }

  stats(): DriverStats {
    return {
      requests: this.received,
      errors: this.drops.total,
      reconnects: this.reconnects,
      dropped: {
        ...this.drops.counts,
        ...(this.options.otherShards ? { 'other-shard': this.otherShardMessages } : {}),
      },
    };
  }

  private isOtherShards(key: string): boolean {
    const others = this.options.otherShards;
    if (!others || this.sensors.size === 0) return false;
    this.otherShardKeys ??= new Set(
      others.map((match) => this.sensorKey(match)).filter((k): k is string => k !== undefined),
    );
    return this.otherShardKeys.has(key);
  }

  /** The key of a sensor from the captures of a topic: its naming captures' values, in lower case. */
  private keyOfTopic(captures: Readonly<Record<string, string>>): string | undefined {
    if (this.sensorCaptures.length === 1) return captures[this.sensorCaptures[0]]?.toLowerCase();
    let key = '';
    for (const name of this.sensorCaptures) {
      const value = captures[name];
      if (value === undefined) return undefined;
      key = key === '' ? value.toLowerCase() : `${key}/${value.toLowerCase()}`;
    }
    return key;
  }

  private sensorKey(match: Readonly<Record<string, string>>): string | undefined {
    const names = Object.keys(match);
    if (names.length !== this.sensorCaptures.length || !names.every((n) => this.sensorCaptures.includes(n)))
      return undefined;
    return this.sensorCaptures.map((n) => match[n].toLowerCase()).join('/');
  }

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (!this.running) return;
    this.received++;
    const captures = this.pattern.match(topic);
    if (!captures) return this.drop('unknown-sensor', topic, 'the topic does not match the pattern');
    const key = this.keyOfTopic(captures);
    const sensor = key === undefined ? undefined : this.sensors.get(key);
    if (!sensor) {
      if (key !== undefined && this.isOtherShards(key)) {
        this.otherShardMessages++;
        return;
      }
      return this.drop('unknown-sensor', topic, 'no point is bound to this sensor');
    }
    const read = readUplink(payload, captures, this.formatOptions);
    if (read.ok === 'ignored') return;
    if (!read.ok) return this.drop(read.reason, topic, read.detail);
    const { uplink } = read;
    const now = this.deps.clock.now();
    const time = uplink.time ?? now;
    if (uplink.dedup !== undefined) {
      // A repeat carries the time of its first delivery, which either moved lastTime to at least that
      // or was dropped as older: a message timed after lastTime is no repeat, and the recent keys (cold
      // in memory among thousands of sensors) need not be compared.
      const maybeRepeat = uplink.time === undefined || time <= sensor.lastTime;
      if (maybeRepeat && sensor.recent.includes(uplink.dedup))
        return this.drop('duplicate', topic, `uplink '${uplink.dedup}' again`);
      sensor.recent.push(uplink.dedup);
      if (sensor.recent.length > RECENT_KEYS) sensor.recent.shift();
    }
    if (time < sensor.lastTime)
      return this.drop(
        'out-of-order',
        topic,
        `taken at ${new Date(time).toISOString()}, before the last one (${new Date(sensor.lastTime).toISOString()})`,
      );
    sensor.lastTime = time;
    const samples: Sample[] = [];
    for (const binding of sensor.bindings) {
      const { ref, address } = binding;
      let value: number | boolean;
      if (address.radio !== undefined) {
        const radio = uplink.radio[address.radio];
        if (radio === undefined) continue; // not every uplink carries every radio reading
        value = radio;
      } else {
        if (uplink.statusOnly) continue;
        const field = readField(uplink.values, address);
        if (!field.ok) {
          this.drop(field.reason, topic, `${ref.label ?? ref.key}: ${field.detail}`);
          continue;
        }
        value = field.value;
      }
      binding.lastValue = value;
      binding.lastSourceTime = time;
      binding.lastTime = now;
      samples.push({ key: ref.key, value, quality: 'good', sourceTime: time, time: now });
    }
    if (samples.length > 0) this.emit('samples', samples);
  };

  private drop(reason: DropReason, topic: string, detail: string): void {
    this.drops.drop(
      reason,
      () =>
        `device '${this.deviceId}': message on '${excerptText(topic, 120)}' dropped (${reason}): ${excerptText(detail, 200)}`,
    );
  }

  private readonly onConnected = (info: { reconnect: boolean }): void => {
    if (info.reconnect) this.reconnects++;
    this.emit('connected', info);
    this.emit('healthChanged', this.health());
  };

  private readonly onHealth = (health: Health, error?: DriverError): void => {
    this.emit('healthChanged', health, error);
  };
}
