import type { Clock, Timer } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import {
  backoffDelay,
  coerceBackoff,
  type BackoffOptions,
  type ResolvedBackoff,
} from '../../../drivers/backoff';
import {
  describeDriverError,
  DriverError,
  type Driver,
  type PointWrite,
  type Sample,
  type WriteResult,
} from '../../../drivers/driver';
import type { Arbiter } from '../arbiter';
import type { LightingTopology } from '../topology';
import type { DeviceBinding } from './bindings';
import { Cycle, DeviceState, READ_ALIGN } from './deviceState';

/**
 * From decisions to light: the arbiter's changes grouped per device, one write for all changed channels of
 * a device, then one read-back of their levels in effect; unconfirmed levels are retried with backoff and
 * then reported failed. A reconciler reads every device's levels in effect periodically (staggered), after
 * a reconnection and after a reboot (boot counter), and resends the differences. Devices with a watchdog
 * get it programmed (with the fail-safe level) after their first levels, and fed before it expires. What
 * the devices report (power, energy, lamp status) is telemetry, polled by the ReportPoller.
 *
 * One write per device in flight: changes arriving meanwhile coalesce into the next write, which carries
 * the latest decided levels (never a queue of stale ones) and goes out as soon as the previous write is
 * answered, without waiting for its read-back (the link keeps requests in order, so a read-back still
 * reflects the write before it). Per luminaire state lives in typed arrays.
 */

export interface DispatcherOptions {
  /** Resends of a level the device did not confirm before it is reported failed. Default 3. */
  retries?: number;
  /** Delays between those resends. Default 100 ms doubling to 2 s. */
  retryBackoff?: BackoffOptions;
  /** Reconciliation: every device's levels in effect read this often, staggered. Default 30 s. */
  reconcileMs?: number;
  /** Housekeeping tick (reconcile and watchdog feeding are checked on it). Default 1 s. */
  tickMs?: number;
}

export interface ResolvedDispatcherOptions {
  retries: number;
  retryBackoff: ResolvedBackoff;
  reconcileMs: number;
  tickMs: number;
}

export function coerceDispatcherOptions(options: DispatcherOptions = {}): ResolvedDispatcherOptions {
  return {
    retries: options.retries ?? 3,
    retryBackoff: coerceBackoff({ initialMs: 100, maxMs: 2_000, ...options.retryBackoff }),
    reconcileMs: options.reconcileMs ?? 30_000,
    tickMs: options.tickMs ?? 1_000,
  };
}

export interface DispatcherHooks {
  /** A read-back of luminaire i: `level` in effect, and whether it confirms the level last sent. */
  readBack(i: number, level: number, confirmed: boolean, at: number): void;
  /** Luminaires of a device not confirmed after their retries. */
  failed(binding: DeviceBinding, luminaires: number[], error: string, at: number): void;
  /** The reconciler found a reboot (boot counter changed). */
  rebooted?(binding: DeviceBinding, bootCount: number): void;
}

export interface DispatcherDeps {
  arbiter: Arbiter;
  topology: LightingTopology;
  bindings: readonly DeviceBinding[];
  /** The device's driver, once the registry created it (OPC UA drivers come after the first dispatch). */
  driver(deviceId: string): Driver | undefined;
  clock: Clock;
  logger: Logger;
  hooks: DispatcherHooks;
  random?: () => number;
  /**
   * Asked before every device write batch: false while this instance does not hold its shard
   * (controller/cluster/), and the writes are not made. Absent: always (single-machine mode).
   */
  mayCommand?: () => boolean;
}

export interface DispatcherStats {
  cycles: number;
  confirmed: number;
  retries: number;
  failed: number;
  reconciled: number;
}

export class Dispatcher {
  private readonly options: ResolvedDispatcherOptions;
  private readonly devices: DeviceState[];
  /** Device state by topology device index (undefined for devices without a binding). */
  private readonly byDeviceIndex: (DeviceState | undefined)[];
  private readonly byId = new Map<string, DeviceState>();
  /**
   * Per luminaire: slot on its device, level last sent, resend attempts, and the fade the device may
   * still hold for its next level write (0: none; NaN: not known, a fade write failed).
   */
  private readonly slotOf: Int32Array;
  private readonly sentLevel: Float64Array;
  private readonly pendingFade: Float64Array;
  private readonly attempts: Uint8Array;
  private readonly touched: DeviceState[] = [];
  private readonly touchedFlag: Uint8Array;
  /** Failures collected while handling one answer, reported together. */
  private readonly failures = new Map<DeviceState, { luminaires: number[]; error: string }>();
  private tickTimer: Timer | undefined;
  private running = false;
  private readonly counters: DispatcherStats = {
    cycles: 0,
    confirmed: 0,
    retries: 0,
    failed: 0,
    reconciled: 0,
  };

  constructor(
    private readonly deps: DispatcherDeps,
    options: DispatcherOptions = {},
  ) {
    this.options = coerceDispatcherOptions(options);
    const count = deps.topology.count;
    this.slotOf = new Int32Array(count).fill(-1);
    this.sentLevel = new Float64Array(count).fill(Number.NaN);
    // The fade register is one-shot and 0 at power-on: a device holds none until one is written.
    this.pendingFade = new Float64Array(count);
    this.attempts = new Uint8Array(count);
    this.devices = deps.bindings.map((b) => new DeviceState(b));
    this.byDeviceIndex = new Array<DeviceState | undefined>(deps.topology.devices.length).fill(undefined);
    this.touchedFlag = new Uint8Array(deps.topology.devices.length);
    for (const device of this.devices) {
      const b = device.binding;
      this.byDeviceIndex[b.index] = device;
      // A stored fade (DALI) is whatever the gear kept: not known until written.
      if (b.fadeStored) for (const i of b.luminaires) this.pendingFade[i] = Number.NaN;
      this.byId.set(b.deviceId, device);
      for (let k = 0; k < b.luminaires.length; k++) this.slotOf[b.luminaires[k]] = k;
    }
  }

  /** Begins the housekeeping tick and sends every decided level (the first dispatch of the service). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const now = this.deps.clock.now();
    const n = this.devices.length;
    this.devices.forEach((device, k) => {
      // Staggered, so that reconciling 1,000 devices does not mean 1,000 reads in the same second.
      device.nextReconcileAt = now + Math.round(((k + 1) / n) * this.options.reconcileMs);
    });
    for (const device of this.devices) this.resync(device);
    this.tickTimer = this.deps.clock.setTimeout(this.tick, this.options.tickMs);
  }

  stop(): void {
    this.running = false;
    if (this.tickTimer) this.deps.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    for (const device of this.devices) {
      if (device.retryTimer) this.deps.clock.clearTimeout(device.retryTimer);
      device.retryTimer = undefined;
    }
  }

  stats(): DispatcherStats {
    return { ...this.counters };
  }

  binding(deviceId: string): DeviceBinding | undefined {
    return this.byId.get(deviceId)?.binding;
  }

  /** Sends the arbiter's changes (ascending luminaire indices, as takeChanges returns them). */
  dispatch(changes: Int32Array): void {
    for (let j = 0; j < changes.length; j++) this.markToSend(changes[j]);
    this.flushTouched();
  }

  /** Sends luminaire i again even if its level did not change (a command replaced by an equal one). */
  resend(indices: Iterable<number>): void {
    for (const i of indices) this.markToSend(i);
    this.flushTouched();
  }

  /** The device came back, rebooted or appeared: every decided level again, then its watchdog. */
  resyncDevice(deviceId: string): void {
    const device = this.byId.get(deviceId);
    if (device) this.resync(device);
  }

  /** Reads the device's levels in effect now and resends differences (what a reconcile tick does). */
  reconcileDevice(deviceId: string): Promise<void> {
    const device = this.byId.get(deviceId);
    return device ? this.reconcile(device) : Promise.resolve();
  }

  /** The level last sent to luminaire i (NaN when none). */
  sentLevelOf(i: number): number {
    return this.sentLevel[i];
  }

  /** How luminaire i's device compares two levels: the same value in its own units (see bindings.ts). */
  matcherOf(i: number): (level: number, other: number) => boolean {
    const device = this.byDeviceIndex[this.deps.topology.deviceOf[i]];
    return device ? device.binding.matches : withinHalfPercent;
  }

  // ---- sending ----

  private mayWrite(): boolean {
    return this.running && (this.deps.mayCommand?.() ?? true);
  }

  private markToSend(i: number): void {
    const device = this.byDeviceIndex[this.deps.topology.deviceOf[i]];
    if (!device) return;
    device.markDirty(this.slotOf[i]);
    const index = device.binding.index;
    if (this.touchedFlag[index] === 0) {
      this.touchedFlag[index] = 1;
      this.touched.push(device);
    }
  }

  private flushTouched(): void {
    for (const device of this.touched) {
      this.touchedFlag[device.binding.index] = 0;
      this.send(device);
    }
    this.touched.length = 0;
  }

  private resync(device: DeviceState): void {
    const b = device.binding;
    device.needsSetup = true;
    for (let k = 0; k < b.luminaires.length; k++) {
      const i = b.luminaires[k];
      device.retry[k] = 0;
      if (!Number.isNaN(this.deps.arbiter.levelOf(i))) device.markDirty(k);
    }
    if (device.dirtyCount === 0) this.setup(device);
    else this.send(device);
  }

  private send(device: DeviceState): void {
    if (device.writing || device.dirtyCount === 0 || !this.mayWrite()) return;
    const b = device.binding;
    const driver = this.deps.driver(b.deviceId);
    // Not created yet (OPC UA starts after lighting): the levels stay marked; its health going up resyncs it.
    if (!driver) return;
    const { arbiter } = this.deps;
    const now = this.deps.clock.now();
    const n = device.dirtyCount;
    const cycle = this.takeCycle(device);
    const { slots, levels, writes, fades } = cycle;
    let lo = Number.MAX_SAFE_INTEGER;
    let hi = -1;
    let count = 0;
    for (let j = 0; j < n; j++) {
      const k = device.dirtyList[j];
      device.dirty[k] = 0;
      const i = b.luminaires[k];
      const level = arbiter.levelOf(i);
      // Undecided: nothing is sent, the device's fail-safe applies.
      if (Number.isNaN(level)) continue;
      slots[count] = k;
      levels[count] = level;
      count++;
      if (k < lo) lo = k;
      if (k > hi) hi = k;
      writes.push(device.levelWrite(k, b.toRaw(level)));
      if (b.fade) {
        // nocturne's fade register is one-shot: it applies to the next level write, then the device
        // clears it. A ramp is [fade][level]; a raise (presence, relight) is its level alone, unless a
        // fade the device may still hold must be replaced by 0 first. A stored fade (DALI) is kept by the
        // gear, whose memory rewrites wear: written only when it changes.
        const fade = b.fadeValue(arbiter.transitionSOf(i));
        const held = this.pendingFade[i];
        if (b.fadeStored ? fade !== held : fade > 0 || held !== 0) fades.push(device.fadeWrite(k, fade));
        this.pendingFade[i] = fade;
      }
      this.sentLevel[i] = level;
      arbiter.recordCommanded(i, level, now);
    }
    device.dirtyCount = 0;
    if (count === 0) {
      device.freeCycles.push(cycle);
      return;
    }
    // The read-back covers the smallest aligned block of 8, 16, 32... channels holding every slot sent:
    // about 2n/8 distinct ranges on a device of n channels, so their arrays and the driver's read plans
    // are built once (a range per group of luminaires would be one per sensor, and any lo..hi pair
    // of blocks one per combination of sensors detected together).
    let block = READ_ALIGN;
    while ((lo ^ hi) >= block) block *= 2;
    lo &= ~(block - 1);
    hi = Math.min(b.luminaires.length - 1, lo + block - 1);
    cycle.count = count;
    cycle.lo = lo;
    cycle.hi = hi;
    cycle.failed.fill(0, 0, count);
    const shared = sharedWrites(b, slots, levels, writes);
    if (shared) cycle.writeOf = shared.writeOf;
    cycle.pending = fades.length > 0 ? 3 : 2;
    device.writing = true;
    device.sendSeq++;
    this.counters.cycles++;
    // Everything goes out now, in this order, on one link, which keeps writes in order: the device
    // applies the fades before the levels, and the read-back, queued behind them, reads them applied.
    // Queuing it now rather than when the write is answered saves a turn through this process per device.
    if (fades.length > 0) driver.write(fades).then(cycle.onFadesWritten, cycle.onFadesFailed);
    driver.write(shared?.writes ?? writes).then(cycle.onWritten, cycle.onWriteFailed);
    // Its own request after the levels (a write plan orders registers by address): the read-back
    // tells whether the device applied them.
    const counter = device.nextCommandCounter();
    if (counter)
      driver
        .write([counter])
        .catch((error: unknown) =>
          this.deps.logger.debug(
            () => `device '${b.deviceId}': command counter not written: ${describeDriverError(error)}`,
          ),
        );
    driver.read(device.range(lo, hi)).then(cycle.onRead, cycle.onReadFailed);
  }

  /** A free cycle of the device, or a new one with its answer callbacks bound once. */
  private takeCycle(device: DeviceState): Cycle {
    const free = device.freeCycles.pop();
    if (free) {
      free.reset();
      return free;
    }
    const cycle = new Cycle(device.binding.luminaires.length);
    cycle.onWritten = (results) => this.written(device, cycle, results, undefined);
    cycle.onWriteFailed = (error) => this.written(device, cycle, undefined, error);
    cycle.onRead = (samples) => this.readBack(device, cycle, samples);
    cycle.onReadFailed = (error) => this.readBack(device, cycle, undefined, error);
    cycle.onFadesWritten = (results) => this.fadesWritten(device, cycle, results);
    cycle.onFadesFailed = (error) => this.fadesWritten(device, cycle, undefined, error);
    return cycle;
  }

  /** One of the cycle's answers has come; after the last, the cycle serves the device's next write. */
  private answered(device: DeviceState, cycle: Cycle): void {
    if (--cycle.pending === 0) device.freeCycles.push(cycle);
  }

  private fadesWritten(
    device: DeviceState,
    cycle: Cycle,
    results: WriteResult[] | undefined,
    error?: unknown,
  ): void {
    const writes = cycle.fades;
    const b = device.binding;
    for (let j = 0; j < writes.length; j++) {
      if (results?.[j]?.ok) continue;
      // Not known what the device holds: the next level write replaces it.
      const k = b.fade!.indexOf(writes[j].address);
      if (k >= 0) this.pendingFade[b.luminaires[k]] = Number.NaN;
    }
    if (!results || results.some((r) => !r.ok))
      this.deps.logger.debug(
        () =>
          `device '${b.deviceId}': fade write failed: ${describeDriverError(error ?? results?.find((r) => !r.ok)?.error)}`,
      );
    this.answered(device, cycle);
  }

  private written(
    device: DeviceState,
    cycle: Cycle,
    results: WriteResult[] | undefined,
    error: unknown,
  ): void {
    device.writing = false;
    if (!this.running) {
      this.answered(device, cycle);
      return;
    }
    const now = this.deps.clock.now();
    let anyOk = false;
    let failure: string | undefined;
    const b = device.binding;
    for (let j = 0; j < cycle.count; j++) {
      const result = results?.[cycle.writeOf ? cycle.writeOf[j] : j];
      if (result?.ok) {
        anyOk = true;
        // The level write used up a one-shot fade (unless that write failed: then it is not known).
        const i = b.luminaires[cycle.slots[j]];
        if (!b.fadeStored && !Number.isNaN(this.pendingFade[i])) this.pendingFade[i] = 0;
      } else {
        failure ??= describeDriverError(result?.error ?? error);
        cycle.failed[j] = 1;
        const cause = result?.error ?? error;
        if (cause instanceof DriverError && cause.code === 'exception')
          this.deps.arbiter.recordRefused(b.luminaires[cycle.slots[j]], cycle.levels[j], now);
        this.unconfirmed(device, cycle.slots[j], cycle.levels[j], failure);
      }
    }
    if (anyOk) {
      device.lastWriteAt = now;
      if (device.needsSetup) this.setup(device);
    }
    this.finishFailures(device, now);
    this.answered(device, cycle);
    this.send(device);
  }

  private readBack(device: DeviceState, cycle: Cycle, samples: Sample[] | undefined, error?: unknown): void {
    if (!this.running) {
      this.answered(device, cycle);
      return;
    }
    const b = device.binding;
    const { arbiter } = this.deps;
    const now = this.deps.clock.now();
    // Slots of the range that were not part of the cycle are read too: their levels in effect are news.
    if (samples) {
      for (let k = cycle.lo; k <= cycle.hi; k++) {
        const sample = samples[k - cycle.lo];
        if (sample?.quality === 'good' && typeof sample.value === 'number')
          arbiter.recordInEffect(b.luminaires[k], b.toLevel(sample.value), now);
      }
    }
    for (let j = 0; j < cycle.count; j++) {
      // A failed write was already counted (and is being retried) when its answer came.
      if (cycle.failed[j]) continue;
      const k = cycle.slots[j];
      const i = b.luminaires[k];
      const level = cycle.levels[j];
      const sample = samples?.[k - cycle.lo];
      if (!sample || sample.quality !== 'good' || typeof sample.value !== 'number') {
        this.unconfirmed(device, k, level, describeDriverError(sample?.error ?? error));
        continue;
      }
      const inEffect = b.toLevel(sample.value);
      const confirmed = b.matches(level, inEffect);
      if (confirmed) {
        this.attempts[i] = 0;
        device.retry[k] = 0;
        this.counters.confirmed++;
      } else
        this.unconfirmed(
          device,
          k,
          level,
          `read back ${round(inEffect)} % in effect instead of ${round(level)} %`,
        );
      this.deps.hooks.readBack(i, inEffect, confirmed, now);
    }
    this.finishFailures(device, now);
    this.answered(device, cycle);
  }

  private unconfirmed(device: DeviceState, k: number, level: number, error: string): void {
    const i = device.binding.luminaires[k];
    // A newer level is queued or on its way: that one will be confirmed or not.
    if (device.dirty[k] === 1 || this.sentLevel[i] !== level) return;
    if (this.attempts[i] < this.options.retries) {
      this.attempts[i]++;
      if (device.retry[k] === 0) {
        device.retry[k] = 1;
        device.retryList.push(k);
      }
      this.scheduleRetry(device, this.attempts[i] - 1);
      return;
    }
    this.attempts[i] = 0;
    let entry = this.failures.get(device);
    if (!entry) this.failures.set(device, (entry = { luminaires: [], error }));
    entry.luminaires.push(i);
  }

  private finishFailures(device: DeviceState, now: number): void {
    const entry = this.failures.get(device);
    if (!entry) return;
    this.failures.delete(device);
    this.counters.failed += entry.luminaires.length;
    const b = device.binding;
    this.deps.logger.warn(
      `device '${b.deviceId}': ${entry.luminaires.length} level(s) not confirmed after ${this.options.retries} resends: ${entry.error}; the reconciler keeps trying`,
      { device: b.deviceId },
    );
    this.deps.hooks.failed(b, entry.luminaires, entry.error, now);
  }

  private scheduleRetry(device: DeviceState, attempt: number): void {
    if (device.retryTimer) return;
    const delay = backoffDelay(attempt, this.options.retryBackoff, this.deps.random);
    device.retryTimer = this.deps.clock.setTimeout(() => {
      device.retryTimer = undefined;
      const list = device.retryList;
      device.retryList = [];
      for (const k of list) {
        // Confirmed, or resent by a resync, since: nothing to retry.
        if (device.retry[k] === 0) continue;
        device.retry[k] = 0;
        device.markDirty(k);
      }
      this.counters.retries += device.dirtyCount > 0 ? list.length : 0;
      this.send(device);
    }, delay);
  }

  /** Watchdog timeout and fail-safe level, where the device has them, after its levels. */
  private setup(device: DeviceState): void {
    const b = device.binding;
    const driver = this.deps.driver(b.deviceId);
    if (!driver || !this.mayWrite()) return;
    device.needsSetup = false;
    this.checkIdentity(device, driver);
    const writes: PointWrite[] = [];
    if (b.failSafe) writes.push({ key: 'fail_safe_level', address: b.failSafe, value: b.failSafeValue });
    if (b.watchdog) writes.push({ key: 'watchdog_s', address: b.watchdog, value: b.watchdogValue });
    if (writes.length === 0) return;
    driver.write(writes).then(
      (results) => {
        const bad = results.find((r) => !r.ok);
        if (!bad) {
          device.lastWriteAt = this.deps.clock.now();
          return;
        }
        device.needsSetup = true;
        this.deps.logger.warn(
          `device '${b.deviceId}': watchdog/fail-safe not programmed: ${describeDriverError(bad.error)}; retried with the next levels`,
        );
      },
      (error: unknown) => {
        device.needsSetup = true;
        this.deps.logger.warn(
          `device '${b.deviceId}': watchdog/fail-safe not programmed: ${describeDriverError(error)}`,
        );
      },
    );
  }

  /**
   * The profile's identification registers, read once the device answers: a map version other than the
   * profile's, or fewer channels than the configuration drives (DALI gear missing from the line), is
   * reported for the luminaires it affects, naming the device and the mismatch.
   */
  private checkIdentity(device: DeviceState, driver: Driver): void {
    const b = device.binding;
    const { mapVersion, channelCount } = b.identification;
    const refs = [mapVersion?.ref, channelCount].filter((r) => r !== undefined);
    if (refs.length === 0) return;
    driver.read(refs).then(
      (samples) => {
        const value = (key: string): number | undefined => {
          const sample = samples.find((s) => s.key === key);
          return sample?.quality === 'good' && typeof sample.value === 'number' ? sample.value : undefined;
        };
        const version = value('map_version');
        const at = this.deps.clock.now();
        if (mapVersion && version !== undefined && version !== mapVersion.equals) {
          const error = `device '${b.deviceId}' answers map version ${version} where its profile '${b.profile}' expects ${mapVersion.equals}: its registers may not be where the profile says`;
          this.deps.logger.error(error, { device: b.deviceId });
          this.deps.hooks.failed(b, Array.from(b.luminaires), error, at);
        }
        const count = value('channel_count');
        if (count === undefined) return;
        const missing = Array.from(b.luminaires).filter((_, k) => b.channels[k] > count);
        if (missing.length === 0) return;
        const error = `device '${b.deviceId}' reports ${count} channel(s) (DALI gear found on its line); the configuration drives channels up to ${b.channels[b.channels.length - 1]}: ${missing.length} luminaire(s) beyond it cannot be driven`;
        this.deps.logger.error(error, { device: b.deviceId });
        this.deps.hooks.failed(b, missing, error, at);
      },
      (error: unknown) =>
        this.deps.logger.warn(
          `device '${b.deviceId}': identification not read: ${describeDriverError(error)}; read again at the next connection`,
        ),
    );
  }

  // ---- housekeeping: reconciliation, watchdog ----

  private readonly tick = (): void => {
    this.tickTimer = undefined;
    if (!this.running) return;
    const now = this.deps.clock.now();
    for (const device of this.devices) {
      try {
        this.housekeep(device, now);
      } catch (error) {
        this.deps.logger.error(`device '${device.binding.deviceId}': ${(error as Error).message}`);
      }
    }
    this.tickTimer = this.deps.clock.setTimeout(this.tick, this.options.tickMs);
  };

  private housekeep(device: DeviceState, now: number): void {
    const b = device.binding;
    if (now >= device.nextReconcileAt) {
      device.nextReconcileAt = now + this.options.reconcileMs;
      void this.reconcile(device);
    }
    if (b.watchdogS > 0 && now - device.lastWriteAt >= (b.watchdogS * 1000) / 3) this.feed(device, now);
  }

  /** A write before the watchdog expires: the watchdog register itself, or the levels when there is none. */
  private feed(device: DeviceState, now: number): void {
    const b = device.binding;
    const driver = this.deps.driver(b.deviceId);
    if (!driver || device.writing || !this.mayWrite()) return;
    // Counted as fed now so that a slow answer does not queue one feed per tick.
    device.lastWriteAt = now;
    if (!b.watchdog) {
      this.resend(Array.from(b.luminaires).filter((i) => !Number.isNaN(this.deps.arbiter.levelOf(i))));
      return;
    }
    driver.write([{ key: 'watchdog_s', address: b.watchdog, value: b.watchdogValue }]).then(
      (results) => {
        if (!results[0]?.ok)
          this.deps.logger.debug(
            () => `device '${b.deviceId}': watchdog feed failed: ${describeDriverError(results[0]?.error)}`,
          );
      },
      (error: unknown) =>
        this.deps.logger.debug(
          () => `device '${b.deviceId}': watchdog feed failed: ${describeDriverError(error)}`,
        ),
    );
  }

  private async reconcile(device: DeviceState): Promise<void> {
    const b = device.binding;
    const driver = this.deps.driver(b.deviceId);
    if (!driver || device.polling) return;
    device.polling = true;
    const seq = device.sendSeq;
    let samples: Sample[];
    try {
      samples = await driver.read(device.pollRefs);
    } catch (error) {
      this.deps.logger.debug(
        () => `device '${b.deviceId}': reconcile read failed: ${describeDriverError(error)}`,
      );
      return;
    } finally {
      device.polling = false;
    }
    if (!this.running) return;
    const now = this.deps.clock.now();
    if (b.bootCount) {
      const boot = samples[samples.length - 1];
      if (boot?.quality === 'good' && typeof boot.value === 'number') {
        const before = device.bootCount;
        device.bootCount = boot.value;
        if (!Number.isNaN(before) && before !== boot.value) {
          this.deps.logger.warn(
            `device '${b.deviceId}' restarted (boot counter ${before} → ${boot.value}): its levels are sent again`,
            { device: b.deviceId },
          );
          this.deps.hooks.rebooted?.(b, boot.value);
          this.counters.reconciled += b.luminaires.length;
          this.resync(device);
          return;
        }
      }
    }
    // A levels write went out after this read was asked for: its own read-back judges, not this one.
    if (seq !== device.sendSeq || device.writing) return;
    const { arbiter } = this.deps;
    let resent = 0;
    for (let k = 0; k < b.luminaires.length; k++) {
      const sample = samples[k];
      if (sample?.quality !== 'good' || typeof sample.value !== 'number') continue;
      const i = b.luminaires[k];
      const inEffect = b.toLevel(sample.value);
      arbiter.recordInEffect(i, inEffect, now);
      const level = arbiter.levelOf(i);
      if (Number.isNaN(level) || b.matches(level, inEffect)) continue;
      if (device.retry[k] === 0 && device.markDirty(k)) resent++;
    }
    if (resent > 0) {
      this.counters.reconciled += resent;
      this.deps.logger.info(
        `device '${b.deviceId}': ${resent} level(s) differ from the decided ones; resent`,
        { device: b.deviceId },
      );
      this.send(device);
    }
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** A luminaire on no known device: levels within half a percent. */
function withinHalfPercent(level: number, other: number): boolean {
  return Math.abs(level - other) <= 0.5;
}

/**
 * Where the profile has them, one broadcast or DALI group write stands for the levels of all its members
 * (a slow DALI line carries ~30 frames a second): the broadcast when every channel of the device goes to
 * one level, else each group whose members all go to one level. Returns the writes and, per slot sent,
 * the index of the write that carries it; undefined when every slot goes out on its own.
 */
function sharedWrites(
  b: DeviceBinding,
  slots: Int32Array,
  levels: Float64Array,
  writes: PointWrite[],
): { writes: PointWrite[]; writeOf: Int32Array } | undefined {
  // The slots and levels arrays are a pooled cycle's: one per write, the rest unused.
  const count = writes.length;
  if (count < 2 || (!b.broadcast && b.groups.length === 0)) return undefined;
  const value = writes[0].value;
  if (b.broadcast && count === b.luminaires.length && writes.every((w) => w.value === value))
    return {
      writes: [{ key: 'broadcast', address: b.broadcast, value }],
      writeOf: new Int32Array(count),
    };
  const position = new Map<number, number>();
  for (let j = 0; j < count; j++) position.set(slots[j], j);
  const writeOf = new Int32Array(count).fill(-1);
  const out: PointWrite[] = [];
  for (const group of b.groups) {
    const first = position.get(group.slots[0]);
    if (first === undefined) continue;
    const level = levels[first];
    let all = true;
    for (const slot of group.slots) {
      const j = position.get(slot);
      if (j === undefined || levels[j] !== level || writeOf[j] !== -1) all = false;
    }
    if (!all) continue;
    for (const slot of group.slots) writeOf[position.get(slot)!] = out.length;
    out.push({ key: `group#${group.group}`, address: group.address, value: writes[first].value });
  }
  if (out.length === 0) return undefined;
  for (let j = 0; j < count; j++)
    if (writeOf[j] === -1) {
      writeOf[j] = out.length;
      out.push(writes[j]);
    }
  return { writes: out, writeOf };
}
