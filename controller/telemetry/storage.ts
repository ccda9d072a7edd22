import type { InfluxConfig } from '../../config/schema';
import type { Health } from '../../drivers/driver';
import type { LineSink } from '../../drivers/timeSeries';
import { influxWriterOptionsFromConfig } from '../../drivers/influx/options';
import {
  InfluxWriter,
  type DroppedInfo,
  type InfluxWriterOptions,
  type InfluxWriterStats,
  type QuarantinedInfo,
} from '../../drivers/influx/writer';
import type { Bus } from '../bus';
import type { Clock } from '../../core/clock';
import type { Component } from '../../core/lifecycle';
import type { Logger } from '../../core/logger';

/** Where lines of line protocol go: the spool of the InfluxDB writer, or anything else that takes them. */
export interface TelemetryStorageDeps {
  influx: InfluxConfig | undefined;
  stateDir: string;
  configDir: string;
  env?: NodeJS.ProcessEnv;
  clock: Clock;
  logger: Logger;
  bus: Bus;
  /** How long stop() keeps sending what is spooled before leaving it for the next start. */
  stopTimeoutMs: number;
  /** Writer settings beyond the configuration (tests: small batches, short backoff). */
  overrides?: Partial<InfluxWriterOptions>;
}

/**
 * The service's InfluxDB writer (drivers/influx/writer.ts) and its spool, built in start() because the
 * token is read there. Its events go on the bus as telemetryHealthChanged, telemetryDropped and
 * telemetryQuarantined, which alert rules and /health listen to.
 */
export class TelemetryStorage implements LineSink {
  private writer: InfluxWriter | undefined;

  constructor(private readonly deps: TelemetryStorageDeps) {}

  component(): Component {
    return {
      name: 'telemetry storage (InfluxDB writer and spool)',
      start: (signal) => this.start(signal),
      stop: () => this.stop(),
    };
  }

  async start(signal?: AbortSignal): Promise<void> {
    const { deps } = this;
    const options = influxWriterOptionsFromConfig(deps.influx, {
      stateDir: deps.stateDir,
      configDir: deps.configDir,
      env: deps.env,
    });
    const writer = new InfluxWriter(
      { ...options, stopTimeoutMs: deps.stopTimeoutMs, ...deps.overrides },
      deps.clock,
      deps.logger,
    );
    this.writer = writer;
    writer.on('healthChanged', this.onHealth);
    writer.on('dropped', this.onDropped);
    writer.on('quarantined', this.onQuarantined);
    await writer.start(signal);
  }

  write(lines: readonly string[]): Promise<void> {
    if (!this.writer) return Promise.reject(new Error('telemetry storage is not started'));
    return this.writer.write(lines);
  }

  stats(): InfluxWriterStats | undefined {
    return this.writer?.stats();
  }

  health(): Health {
    return this.writer?.getHealth() ?? 'down';
  }

  async stop(): Promise<void> {
    const writer = this.writer;
    if (!writer) return;
    try {
      await writer.stop();
    } finally {
      writer.off('healthChanged', this.onHealth);
      writer.off('dropped', this.onDropped);
      writer.off('quarantined', this.onQuarantined);
    }
  }

  private readonly onHealth = (health: Health, reason: string): void => {
    this.deps.bus.emit('telemetryHealthChanged', { at: this.deps.clock.now(), health, reason });
  };

  private readonly onDropped = (info: DroppedInfo): void => {
    this.deps.bus.emit('telemetryDropped', { at: this.deps.clock.now(), ...info });
  };

  private readonly onQuarantined = (info: QuarantinedInfo): void => {
    this.deps.bus.emit('telemetryQuarantined', { at: this.deps.clock.now(), ...info });
  };
}
