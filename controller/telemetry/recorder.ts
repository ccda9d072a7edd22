import type { Config } from '../../config/schema';
import type { Bus } from '../bus';
import type { Clock, Timer } from '../../core/clock';
import type { DeviceRegistry } from '../devices';
import type { Component } from '../../core/lifecycle';
import type { Logger } from '../../core/logger';
import { ThrottledLog } from '../../core/throttledLog';
import type { AuditEntry } from '../audit/entry';
import type { LightingCommandEvent, LightingDispatchFailed } from '../lighting/runtime/events';
import type { DeviceBook } from './deviceBook';
import {
  EventTimeline,
  LightingLines,
  priceLines,
  deviceLine,
  eventLine,
  presenceLine,
  serviceLine,
  type ServiceFigures,
} from './lines';
import type { LineSink } from '../../drivers/timeSeries';

export interface RecorderDeps {
  config: Pick<Config, 'telemetry' | 'devices' | 'service' | 'tariffs' | 'emission_factors' | 'site'>;
  devices: DeviceRegistry;
  book: DeviceBook;
  sink: LineSink;
  bus: Bus;
  clock: Clock;
  logger: Logger;
}

/** Write failures are logged at most this often, with the count in between. */
const LOG_EVERY_MS = 60_000;

/**
 * What the lighting runtime and the drivers report, written to InfluxDB: luminaire states (`lighting`: every
 * change, and a snapshot every `telemetry.lighting_period_s`),
 * detections (`presence`), commands and their fate (`event`: relight, override, program, calendar,
 * command), device health (`device`, on each change and every `telemetry.device_period_s`), and at start
 * the dated tariffs and emission factors of the configuration (`tariff`, `emission_factor`).
 *
 * It listens from the moment the telemetry storage is up, before the drivers and the lighting start,
 * so that what they report while starting (a relight restored from disk) is written too.
 */
export class TelemetryRecorder {
  private readonly lighting: LightingLines;
  private readonly timeline = new EventTimeline();
  private readonly throttle: ThrottledErrors;
  private running = false;
  private timer: Timer | undefined;

  constructor(private readonly deps: RecorderDeps) {
    this.throttle = new ThrottledErrors(deps.logger, deps.clock, 'telemetry');
    this.lighting = new LightingLines(deps.config.telemetry.lighting_period_s * 1000);
  }

  component(): Component {
    return {
      name: 'telemetry recorder (lighting, events, devices)',
      start: () => this.start(),
      stop: () => this.stop(),
    };
  }

  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.running = true;
    const { bus } = this.deps;
    bus.on('lightingReported', this, (report) => this.write(this.lighting.lines(report)));
    bus.on('presenceDetected', this, (detection) => this.write([presenceLine(this.timeline, detection)]));
    bus.on('lightingCommandChanged', this, (event) => this.write(this.commandLines(event)));
    bus.on('lightingDispatchFailed', this, (event) => this.write([this.dispatchLine(event)]));
    bus.on('auditRecorded', this, (entry) => this.write(this.auditLines(entry)));
    bus.on('deviceHealthChanged', this, ({ deviceId, health }) => {
      const now = this.deps.clock.now();
      if (this.deps.book.update(deviceId, health, now)) this.write([this.deviceLineOf(deviceId, now)]);
    });
    this.write(priceLines(this.deps.config));
    this.schedule();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.running = false;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.deps.bus.removeListeners(this);
    return Promise.resolve();
  }

  /** Every device's health and counters now. */
  snapshotDevices(): void {
    const now = this.deps.clock.now();
    const lines: string[] = [];
    for (const [deviceId, status] of this.deps.book.devices) {
      const driver = this.deps.devices.get(deviceId);
      if (driver && !status.known) this.deps.book.update(deviceId, driver.health(), now);
      lines.push(this.deviceLineOf(deviceId, now));
    }
    this.write(lines);
  }

  private deviceLineOf(deviceId: string, now: number): string {
    const status = this.deps.book.devices.get(deviceId)!;
    const driver = this.deps.devices.get(deviceId);
    return deviceLine(
      { id: deviceId, commune: status.config.commune, protocol: status.config.protocol },
      status.health,
      driver?.stats(),
      now,
    );
  }

  private commandLines(event: LightingCommandEvent): string[] {
    const communes = event.communes.length > 0 ? event.communes : ['*'];
    return communes.map((commune) =>
      eventLine(
        this.timeline,
        { commune, kind: event.kind, severity: event.severity },
        {
          message: event.message,
          source: event.source,
          actor: event.actor,
          state: event.state,
          id: event.id,
          via: event.via,
        },
        event.at,
      ),
    );
  }

  /** The audit log's entries (who asked what, from where, with what result) as `command` events. */
  private auditLines(entry: AuditEntry): string[] {
    const communes = entry.communes.length > 0 ? entry.communes : ['*'];
    return communes.map((commune) =>
      eventLine(
        this.timeline,
        { commune, kind: 'command', severity: entry.result === 'ok' ? 'info' : 'warning' },
        {
          message: entry.message,
          source: entry.target,
          actor: entry.actor,
          state: entry.result,
          id: entry.id ?? entry.action,
          via: entry.via,
          ...(entry.count !== undefined ? { count: entry.count } : {}),
        },
        entry.at,
      ),
    );
  }

  private dispatchLine(event: LightingDispatchFailed): string {
    const count = event.luminaires.length;
    return eventLine(
      this.timeline,
      { commune: event.commune, kind: 'command', severity: 'warning' },
      {
        message: `${count} luminaire(s) non confirmé(s) par ${event.deviceId} : ${event.error}`,
        source: event.deviceId,
        actor: 'nocturne',
        state: 'failed',
        id: event.deviceId,
      },
      event.at,
    );
  }

  private schedule(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      if (!this.running) return;
      this.snapshotDevices();
      this.schedule();
    }, this.deps.config.telemetry.device_period_s * 1000);
  }

  private write(lines: string[]): void {
    if (lines.length === 0) return;
    this.deps.sink.write(lines).catch((error: Error) => this.throttle.report(lines.length, error));
  }
}

/** `service` points every `telemetry.service_period_s`. */
export class ServiceMetricsWriter {
  private timer: Timer | undefined;
  private running = false;
  private readonly throttle: ThrottledErrors;

  constructor(
    private readonly deps: {
      instance: string;
      periodMs: number;
      figures: () => ServiceFigures;
      sink: LineSink;
      clock: Clock;
      logger: Logger;
    },
  ) {
    this.throttle = new ThrottledErrors(deps.logger, deps.clock, 'service metrics');
  }

  component(): Component {
    return { name: 'service metrics', start: () => this.start(), stop: () => this.stop() };
  }

  start(): Promise<void> {
    if (!this.running) {
      this.running = true;
      this.schedule();
    }
    return Promise.resolve();
  }

  /** One last point at stop, so the dashboards see the final counters. */
  stop(): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.running = false;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    return this.writeNow();
  }

  writeNow(): Promise<void> {
    const line = serviceLine(this.deps.instance, this.deps.figures(), this.deps.clock.now());
    return this.deps.sink.write([line]).catch((error: Error) => this.throttle.report(1, error));
  }

  private schedule(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      if (!this.running) return;
      void this.writeNow();
      this.schedule();
    }, this.deps.periodMs);
  }
}

/** Logs a failing write at most once a minute, with how many points were lost since the last report. */
export class ThrottledErrors {
  private readonly throttle = new ThrottledLog<'write'>(LOG_EVERY_MS);

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly what: string,
  ) {}

  report(points: number, error: Error): void {
    this.throttle.report(
      'write',
      this.clock.now(),
      (heldBack) =>
        this.logger.error(
          `${this.what}: ${heldBack + points} points not stored since the last report: ${error.message}`,
        ),
      points,
    );
  }
}
