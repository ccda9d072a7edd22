import type { Clock } from '../core/clock';
import type { Config, DeviceConfig } from '../config/schema';

/**
 * A segment controller as the field sees it, independent of the protocol that reaches it: per channel a
 * commanded level, a fade time, the level in effect (commanded, or the fail-safe level once the watchdog
 * has expired), the actual output ramping linearly with the fade, power, an energy counter and a lamp status.
 *
 * Nothing runs on its own: every read evaluates the state at clock.now() from the last write, so a
 * ManualClock drives it in tests and 1,000 channels cost no timers.
 */

/** Transport faults, honoured by whichever server exposes the device (Modbus or OPC UA). */
export interface DeviceFaults {
  /** Delay before every answer. */
  delayMs: number;
  /** Requests go unanswered (the client times out). */
  silent: boolean;
}

export const LampStatus = { Ok: 0, LampFailure: 1, DriverFailure: 2 } as const;
export type LampStatusCode = (typeof LampStatus)[keyof typeof LampStatus];
/** lamp: the lamp is dead (status 1 while the device tries to light it); driver: the driver is (status 2). */
export type LampFault = 'lamp' | 'driver';

export const MAX_FADE_S = 6553.5;
export const MAX_WATCHDOG_S = 65535;

export interface ChannelSpec {
  /** Rated power at 100 %; 0 when no luminaire is bound to the channel. */
  ratedPowerW: number;
  luminaire?: string;
}

export interface SegmentControllerSpec {
  deviceId: string;
  /** channels[0] is channel 1. */
  channels: ChannelSpec[];
  failSafeLevel: number;
  watchdogS: number;
  /** The fade is kept until changed (DALI gear); else nocturne's one-shot fade, cleared by the next level. */
  fadeStored?: boolean;
}

export interface ChannelSnapshot {
  channel: number;
  luminaire?: string;
  ratedPowerW: number;
  commanded: number;
  fadeS: number;
  /** Fade writes received: a stored fade wears the gear's memory, so the service writes it only on change. */
  fadeWrites: number;
  inEffect: number;
  output: number;
  powerW: number;
  energyWh: number;
  status: LampStatusCode;
  fault?: LampFault;
}

export interface DeviceSnapshot {
  deviceId: string;
  bootCount: number;
  watchdogS: number;
  failSafeLevel: number;
  /** True while the watchdog has expired and the fail-safe level is in effect. */
  failSafeActive: boolean;
  lastWriteAt: number;
  faults: DeviceFaults;
}

/** Builds the spec of a device from configuration: rated power from the luminaire bound to each channel. */
export function segmentSpecFromConfig(config: Config, device: DeviceConfig): SegmentControllerSpec {
  const lighting = device.lighting;
  if (!lighting) throw new Error(`device '${device.id}' is not a segment controller (no 'lighting' section)`);
  const channels: ChannelSpec[] = Array.from({ length: lighting.channels }, () => ({ ratedPowerW: 0 }));
  for (const zone of config.zones) {
    for (const lum of zone.luminaires) {
      if (lum.device !== device.id || lum.channel < 1 || lum.channel > channels.length) continue;
      channels[lum.channel - 1] = { ratedPowerW: lum.power_w, luminaire: lum.id };
    }
  }
  return {
    deviceId: device.id,
    channels,
    failSafeLevel: lighting.fail_safe_level,
    watchdogS: lighting.watchdog_s,
    fadeStored: config.register_maps.find((m) => m.id === lighting.map)?.fade_stored ?? false,
  };
}

/** Output ramps linearly from `from` (at `start`) to `to` (at `start + durationMs`), then stays. */
interface Ramp {
  from: number;
  to: number;
  start: number;
  durationMs: number;
}

interface ChannelState {
  spec: ChannelSpec;
  commanded: number;
  fadeS: number;
  fadeWrites: number;
  ramp: Ramp;
  energyWh: number;
  fault?: LampFault;
}

const MS_PER_HOUR = 3_600_000;

export class SegmentController {
  readonly faults: DeviceFaults = { delayMs: 0, silent: false };
  private readonly channels: ChannelState[];
  private watchdogS: number;
  private failSafeLevel: number;
  private bootCount = 1;
  private lastWriteAt: number;
  private failSafeActive = false;
  private evaluatedAt: number;

  constructor(
    readonly spec: SegmentControllerSpec,
    private readonly clock: Clock,
  ) {
    const now = clock.now();
    this.watchdogS = spec.watchdogS;
    this.failSafeLevel = spec.failSafeLevel;
    this.lastWriteAt = now;
    this.evaluatedAt = now;
    this.channels = spec.channels.map((channel) => ({
      spec: channel,
      commanded: spec.failSafeLevel,
      fadeS: 0,
      fadeWrites: 0,
      ramp: { from: spec.failSafeLevel, to: spec.failSafeLevel, start: now, durationMs: 0 },
      energyWh: 0,
    }));
  }

  get deviceId(): string {
    return this.spec.deviceId;
  }

  get channelCount(): number {
    return this.channels.length;
  }

  channel(channel: number): ChannelSnapshot {
    const now = this.advance();
    return this.snapshotOf(channel, this.state(channel), now);
  }

  allChannels(): ChannelSnapshot[] {
    const now = this.advance();
    return this.channels.map((state, i) => this.snapshotOf(i + 1, state, now));
  }

  device(): DeviceSnapshot {
    this.advance();
    return {
      deviceId: this.deviceId,
      bootCount: this.bootCount,
      watchdogS: this.watchdogS,
      failSafeLevel: this.failSafeLevel,
      failSafeActive: this.failSafeActive,
      lastWriteAt: this.lastWriteAt,
      faults: { ...this.faults },
    };
  }

  writeCommandedLevel(channel: number, level: number): void {
    checkRange(`commanded level of channel ${channel}`, level, 0, 100);
    const state = this.state(channel);
    const now = this.advance();
    state.commanded = level;
    if (!this.failSafeActive) this.rampTo(state, level, now);
    this.fed(now);
    // One-shot: the fade time applies to this level write only (register map contract), unless stored.
    if (!this.spec.fadeStored) state.fadeS = 0;
  }

  writeFade(channel: number, seconds: number): void {
    checkRange(`fade time of channel ${channel}`, seconds, 0, MAX_FADE_S);
    const state = this.state(channel);
    const now = this.advance();
    // Applies to the next write of the level (then goes back to 0 unless stored); a ramp under way keeps its pace.
    state.fadeS = seconds;
    state.fadeWrites++;
    this.fed(now);
  }

  writeWatchdog(seconds: number): void {
    checkRange('watchdog time', seconds, 0, MAX_WATCHDOG_S);
    const now = this.advance();
    this.watchdogS = seconds;
    this.fed(now);
  }

  writeFailSafeLevel(level: number): void {
    checkRange('fail-safe level', level, 0, 100);
    const now = this.advance();
    this.failSafeLevel = level;
    this.fed(now);
  }

  setLampFault(channel: number, fault: LampFault | undefined): void {
    const state = this.state(channel);
    // Energy up to now was drawn with the lamp as it was.
    this.advance();
    state.fault = fault;
  }

  /** Clears lamp and transport faults. */
  clearFaults(): void {
    this.advance();
    for (const state of this.channels) state.fault = undefined;
    this.faults.delayMs = 0;
    this.faults.silent = false;
  }

  /**
   * A power cut or a reset: levels and fades are volatile and come back at the power-on level (the fail-safe
   * level); watchdog and fail-safe settings and the energy counter are kept; the boot counter increments.
   */
  reboot(): void {
    const now = this.advance();
    this.bootCount++;
    this.failSafeActive = false;
    this.lastWriteAt = now;
    for (const state of this.channels) {
      state.commanded = this.failSafeLevel;
      // A stored fade (DALI) is in the gear's memory; nocturne's one-shot fade is volatile.
      if (!this.spec.fadeStored) state.fadeS = 0;
      state.ramp = { from: this.failSafeLevel, to: this.failSafeLevel, start: now, durationMs: 0 };
    }
  }

  /** Brings the state to clock.now(), letting the watchdog expire on the way; returns now. */
  private advance(): number {
    const now = Math.max(this.clock.now(), this.evaluatedAt);
    if (!this.failSafeActive && this.watchdogS > 0) {
      const expiry = Math.max(this.lastWriteAt + this.watchdogS * 1000, this.evaluatedAt);
      if (expiry <= now) {
        this.integrateTo(expiry);
        this.failSafeActive = true;
        for (const state of this.channels) this.rampTo(state, this.failSafeLevel, expiry);
      }
    }
    this.integrateTo(now);
    return now;
  }

  /** Any write is a sign of life: it feeds the watchdog and, if the fail-safe was in effect, ends it. */
  private fed(now: number): void {
    this.lastWriteAt = now;
    if (!this.failSafeActive) return;
    this.failSafeActive = false;
    for (const state of this.channels) this.rampTo(state, state.commanded, now);
  }

  private rampTo(state: ChannelState, level: number, now: number): void {
    state.ramp = { from: outputAt(state.ramp, now), to: level, start: now, durationMs: state.fadeS * 1000 };
  }

  private integrateTo(time: number): void {
    if (time <= this.evaluatedAt) return;
    for (const state of this.channels) {
      if (state.fault || state.spec.ratedPowerW === 0) continue;
      const levelMs = outputIntegral(state.ramp, this.evaluatedAt, time);
      state.energyWh += (state.spec.ratedPowerW * levelMs) / 100 / MS_PER_HOUR;
    }
    this.evaluatedAt = time;
  }

  private state(channel: number): ChannelState {
    const state = Number.isInteger(channel) ? this.channels[channel - 1] : undefined;
    if (!state)
      throw new RangeError(
        `device '${this.deviceId}' has channels 1-${this.channels.length} (asked for ${channel})`,
      );
    return state;
  }

  private snapshotOf(channel: number, state: ChannelState, now: number): ChannelSnapshot {
    const output = outputAt(state.ramp, now);
    const inEffect = this.failSafeActive ? this.failSafeLevel : state.commanded;
    const lit = !state.fault && state.spec.ratedPowerW > 0;
    return {
      channel,
      ...(state.spec.luminaire !== undefined ? { luminaire: state.spec.luminaire } : {}),
      ratedPowerW: state.spec.ratedPowerW,
      commanded: state.commanded,
      fadeS: state.fadeS,
      fadeWrites: state.fadeWrites,
      inEffect,
      output,
      powerW: lit ? (state.spec.ratedPowerW * output) / 100 : 0,
      energyWh: state.energyWh,
      status: lampStatus(state.fault, inEffect),
      ...(state.fault ? { fault: state.fault } : {}),
    };
  }
}

function lampStatus(fault: LampFault | undefined, inEffect: number): LampStatusCode {
  if (fault === 'driver') return LampStatus.DriverFailure;
  // A dead lamp is only noticed when the device tries to light it.
  if (fault === 'lamp' && inEffect > 0) return LampStatus.LampFailure;
  return LampStatus.Ok;
}

export function outputAt(ramp: Ramp, time: number): number {
  if (time >= ramp.start + ramp.durationMs || ramp.durationMs <= 0) return ramp.to;
  if (time <= ramp.start) return ramp.from;
  return ramp.from + ((ramp.to - ramp.from) * (time - ramp.start)) / ramp.durationMs;
}

/** ∫ output dt over [a, b] in %·ms: linear while ramping, constant after. */
export function outputIntegral(ramp: Ramp, a: number, b: number): number {
  if (b <= a) return 0;
  const end = ramp.start + Math.max(0, ramp.durationMs);
  let total = 0;
  if (a < end) {
    const segmentEnd = Math.min(b, end);
    total += ((outputAt(ramp, a) + outputAt(ramp, segmentEnd)) / 2) * (segmentEnd - a);
  }
  if (b > end) total += ramp.to * (b - Math.max(a, end));
  return total;
}

function checkRange(what: string, value: number, min: number, max: number): void {
  if (!Number.isFinite(value) || value < min || value > max)
    throw new RangeError(`${what} must be ${min}-${max} (is ${value})`);
}
