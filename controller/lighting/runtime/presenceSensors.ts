import type { Config } from '../../../config/schema';
import type { Clock } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import type { Messaging } from '../../../drivers/messaging';
import type { Bus } from '../../bus';
import { PresenceGroup, levelForClass, presenceOptions } from '../presence';
import type { LightingParts } from './parts';
import { compileClassPath, MalformedLog, readDetection } from './presenceInput';

/** A presence sensor's topic, how to read its payload, and the group it feeds. */
interface SensorInput {
  group: PresenceGroup;
  path: readonly string[];
  sensor: string;
  zone: string;
  commune: string;
  levels: Readonly<Record<string, number>>;
}

export interface PresenceSensorsDeps {
  clock: Clock;
  logger: Logger;
  bus: Bus;
  mqtt: Messaging;
  /** Malformed messages are logged at most once per kind per interval. */
  malformedLogMs: number;
  isRunning(): boolean;
  /** Sends what the arbiter decided since the last call. */
  dispatchChanges(): void;
}

/**
 * The presence sensors: one MQTT topic each, read into its presence group (presence.ts decides), whose
 * raises go to the arbiter and out at once. Malformed messages are counted and dropped.
 */
export class PresenceSensors {
  readonly counts = { received: 0, accepted: 0, debounced: 0 };
  private readonly malformed: MalformedLog;
  private groups: PresenceGroup[] = [];
  private readonly byTopic = new Map<string, SensorInput>();
  private readonly unsubscribers: (() => Promise<void>)[] = [];

  constructor(private readonly deps: PresenceSensorsDeps) {
    this.malformed = new MalformedLog(deps.clock, deps.logger, deps.malformedLogMs);
  }

  get malformedCount(): number {
    return this.malformed.counts.total;
  }

  /** Builds one presence group per sensor group of the topology and starts them. */
  start(config: Config, t: LightingParts): void {
    const { clock, logger } = this.deps;
    const sensors = new Map(config.presence_sensors.map((s) => [s.id, s]));
    this.groups = t.topology.groups.map((g, k) => {
      const sensor = sensors.get(g.sensor)!;
      const group = new PresenceGroup(
        presenceOptions(sensor, k),
        clock,
        (output) => {
          if (!this.deps.isRunning()) return;
          const result = t.arbiter.applyPresence(output);
          if (!result.ok) logger.error(`lighting: ${result.error}`);
          this.deps.dispatchChanges();
        },
        logger.child(`presence:${g.sensor}`),
      );
      const zone = t.topology.zones[g.zone];
      this.byTopic.set(sensor.topic, {
        group,
        path: compileClassPath(sensor.class_path),
        sensor: sensor.id,
        zone: zone.id,
        commune: t.topology.communes[zone.commune],
        levels: sensor.levels,
      });
      return group;
    });
    for (const group of this.groups) group.start();
  }

  /** Subscribes to every sensor's topic; a failed subscription is logged, the others stand. */
  async subscribe(): Promise<void> {
    const subscriptions: Promise<() => Promise<void>>[] = [];
    for (const topic of this.byTopic.keys())
      subscriptions.push(this.deps.mqtt.subscribe(topic, 0, this.onMessage));
    const settled = await Promise.allSettled(subscriptions);
    for (const result of settled) {
      if (result.status === 'fulfilled') this.unsubscribers.push(result.value);
      else this.deps.logger.error(`lighting: MQTT subscription failed: ${(result.reason as Error).message}`);
    }
  }

  async unsubscribe(): Promise<void> {
    await Promise.all(this.unsubscribers.splice(0).map((u) => u()));
  }

  stop(): void {
    for (const group of this.groups) group.stop();
  }

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (!this.deps.isRunning()) return;
    this.counts.received++;
    const input = this.byTopic.get(topic);
    if (!input) {
      this.malformed.record('unknown-topic', topic, 'no presence sensor has this topic');
      return;
    }
    const detection = readDetection(payload, input.path);
    if (!detection.ok) {
      this.malformed.record(detection.problem, topic, `sensor '${input.sensor}': ${detection.detail}`);
      // Still a sign of life from the sensor (a status uplink), which keeps it out of the silent fault.
      if (detection.problem === 'no-class') input.group.heard();
      return;
    }
    const result = input.group.detect(detection.class);
    if (result === 'accepted') this.counts.accepted++;
    else if (result === 'debounced') this.counts.debounced++;
    this.deps.bus.emit('presenceDetected', {
      at: this.deps.clock.now(),
      sensor: input.sensor,
      zone: input.zone,
      commune: input.commune,
      class: detection.class,
      level: levelForClass(input.levels, detection.class),
      result,
    });
  };
}
