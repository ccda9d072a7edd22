import type { Health } from '../../../drivers/driver';
import type { MessageFields } from './messages';
import type { AlertText } from './texts';
import { devicesInScope } from './scope';
import { Runner, type RuleHost, type RuleOf, type TelemetrySignal, type Tracker } from './rule';

/** Rules on the service's own path: a device unreachable, InfluxDB not taking telemetry. */

export class DeviceUnreachableRunner extends Runner {
  declare readonly rule: RuleOf<'device-unreachable'>;
  private readonly devices: Set<string>;
  /** Devices last reported down, for a window opening while they are. */
  private readonly down = new Set<string>();

  constructor(rule: RuleOf<'device-unreachable'>, engine: RuleHost) {
    super(rule, engine);
    this.devices = devicesInScope(rule.scope, engine.deps.config, engine.deps.deviceCommune);
  }

  override onDevice(deviceId: string, health: Health, at: number): void {
    if (!this.devices.has(deviceId)) return;
    if (health === 'down') this.down.add(deviceId);
    else this.down.delete(deviceId);
    this.report(
      deviceId,
      this.engine.deps.deviceCommune(deviceId),
      health === 'down',
      health !== 'down',
      undefined,
      at,
    );
  }

  override revisit(now: number): void {
    for (const deviceId of this.down)
      this.report(deviceId, this.engine.deps.deviceCommune(deviceId), true, false, undefined, now);
  }

  fields(tracker: Tracker): MessageFields {
    const device = this.engine.deps.config.devices.find((d) => d.id === tracker.source);
    return {
      source: tracker.source,
      name: device?.name ?? tracker.source,
      rule: this.rule.name ?? this.rule.id,
      commune: tracker.commune,
    };
  }

  text(_tracker: Tracker, fields: MessageFields): AlertText {
    return {
      code: 'device-unreachable',
      params: { forMs: this.forMs, name: fields.name, device: fields.source },
    };
  }
}

export class TelemetryStorageRunner extends Runner {
  declare readonly rule: RuleOf<'telemetry-storage'>;
  private readonly lastAt = new Map<string, number>();
  private watchingSince: number | undefined;
  private influxDown = false;

  override onTelemetry(signal: TelemetrySignal, at: number): void {
    if (signal.type === 'health') {
      if (!this.engine.deps.influxConfigured) return;
      this.influxDown = signal.health === 'down';
      this.report('influx', '*', signal.health === 'down', signal.health !== 'down', undefined, at);
      return;
    }
    const source = signal.type === 'dropped' ? 'spool' : 'quarantine';
    const tracker = this.engine.tracker(this, source, '*', 0);
    this.lastAt.set(source, at);
    // An open alert counts every point lost since it was raised.
    const total = (tracker.alert ? (tracker.value ?? 0) : 0) + signal.points;
    if (tracker.alert) tracker.alert.value = total;
    this.engine.evaluate(tracker, true, false, total, at);
  }

  override tick(now: number): void {
    const quietMs = this.rule.quiet_s * 1000;
    this.watchingSince ??= now;
    for (const tracker of this.engine.trackersOf(this)) {
      if (tracker.source === 'influx') continue;
      const last = this.lastAt.get(tracker.source) ?? this.watchingSince;
      if (now - last >= quietMs) this.engine.evaluate(tracker, false, true, undefined, now);
    }
  }

  /** InfluxDB still down when a window opens; lost points are news only when they happen. */
  override revisit(now: number): void {
    if (this.influxDown) this.report('influx', '*', true, false, undefined, now);
  }

  fields(tracker: Tracker): MessageFields {
    return {
      source: tracker.source,
      name: tracker.source,
      value: tracker.value,
      rule: this.rule.name ?? this.rule.id,
      commune: tracker.commune,
    };
  }

  text(tracker: Tracker): AlertText {
    switch (tracker.source) {
      case 'influx':
        return { code: 'influx-down', params: { forMs: this.forMs } };
      case 'spool':
        return { code: 'spool-full', params: { count: tracker.value } };
      default:
        return { code: 'quarantined', params: { count: tracker.value } };
    }
  }
}
