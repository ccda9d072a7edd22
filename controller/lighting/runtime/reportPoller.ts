import type { Clock, Timer } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import type { Driver } from '../../../drivers/driver';
import type { DeviceBinding } from './bindings';
import { readReports, type DeviceReports } from './deviceReports';

/**
 * Device report polling: every segment controller's light output, power, energy and lamp status, read
 * every `reportMs` (staggered over the devices) and passed on. Telemetry, not dispatch: it asks each
 * device's driver as the dispatcher does, and the driver keeps them in order (the Modbus link sends queued
 * writes before queued reads, reads in the order asked), so a report never goes before a command or a
 * read-back queued ahead of it.
 */

export interface ReportPollerOptions {
  /** Output, power, energy and lamp status read this often, staggered. Default 60 s. */
  reportMs?: number;
  /** The polls due are checked this often. Default 1 s. */
  tickMs?: number;
}

export interface ResolvedReportPollerOptions {
  reportMs: number;
  tickMs: number;
}

export function coerceReportPollerOptions(options: ReportPollerOptions = {}): ResolvedReportPollerOptions {
  return {
    reportMs: options.reportMs ?? 60_000,
    tickMs: options.tickMs ?? 1_000,
  };
}

export interface ReportPollerHooks {
  /** A device's output/power/energy/lamp status poll. */
  reported(binding: DeviceBinding, reports: DeviceReports, at: number): void;
}

export interface ReportPollerDeps {
  bindings: readonly DeviceBinding[];
  /** The device's driver, once the registry created it (OPC UA drivers come after the lighting start). */
  driver(deviceId: string): Driver | undefined;
  clock: Clock;
  logger: Logger;
  hooks: ReportPollerHooks;
}

interface PolledDevice {
  readonly binding: DeviceBinding;
  nextReportAt: number;
  /** A poll is in flight: the next one waits for its answer. */
  reading: boolean;
}

export class ReportPoller {
  private readonly options: ResolvedReportPollerOptions;
  private readonly devices: PolledDevice[];
  private tickTimer: Timer | undefined;
  private running = false;

  constructor(
    private readonly deps: ReportPollerDeps,
    options: ReportPollerOptions = {},
  ) {
    this.options = coerceReportPollerOptions(options);
    this.devices = deps.bindings.map((binding) => ({ binding, nextReportAt: 0, reading: false }));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const now = this.deps.clock.now();
    const n = this.devices.length;
    // Staggered, so that 1,000 devices do not mean 1,000 reads in the same second.
    this.devices.forEach((device, k) => {
      device.nextReportAt = now + Math.round(((k + 0.5) / n) * this.options.reportMs);
    });
    this.tickTimer = this.deps.clock.setTimeout(this.tick, this.options.tickMs);
  }

  stop(): void {
    this.running = false;
    if (this.tickTimer) this.deps.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
  }

  private readonly tick = (): void => {
    this.tickTimer = undefined;
    if (!this.running) return;
    const now = this.deps.clock.now();
    for (const device of this.devices) {
      if (now < device.nextReportAt) continue;
      device.nextReportAt = now + this.options.reportMs;
      void this.poll(device);
    }
    this.tickTimer = this.deps.clock.setTimeout(this.tick, this.options.tickMs);
  };

  private async poll(device: PolledDevice): Promise<void> {
    const b = device.binding;
    const driver = this.deps.driver(b.deviceId);
    if (!driver || device.reading) return;
    device.reading = true;
    let reports: DeviceReports | undefined;
    try {
      reports = await readReports(driver, b, this.deps.logger);
    } finally {
      device.reading = false;
    }
    if (!reports || !this.running) return;
    try {
      this.deps.hooks.reported(b, reports, this.deps.clock.now());
    } catch (error) {
      // A report is telemetry: a failure in what follows it is logged, the next poll comes all the same.
      this.deps.logger.error(`reports of '${b.deviceId}' not taken: ${(error as Error).message}`);
    }
  }
}
