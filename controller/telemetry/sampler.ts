import type { DriverError, Sample, Subscription } from '../../drivers/driver';
import type { Bus } from '../bus';
import type { Clock } from '../../core/clock';
import type { DeviceRegistry } from '../devices';
import type { Logger } from '../../core/logger';
import type { CounterStep } from './counters';
import type { DeviceBook } from './deviceBook';
import type { PointHistory } from './pointHistory';
import { type CatalogPoint, type PointCatalog } from './points';
import { ThrottledErrors } from './recorder';
import type { LineSink } from '../../drivers/timeSeries';

export interface SamplerDeps {
  catalog: PointCatalog;
  devices: DeviceRegistry;
  book: DeviceBook;
  sink: LineSink;
  bus: Bus;
  clock: Clock;
  logger: Logger;
  /** A device timestamp further than this from the clock is replaced by the time of reception. */
  maxClockSkewMs: number;
  /** Told of each new value of a watched point (alert rules), after its line is made. */
  onWatched?: (point: CatalogPoint, now: number) => void;
  /** The last 24 hours of every sensor point (the officials' curves). */
  history?: PointHistory;
}

export interface SamplerStats {
  /** Points configured, subscribed, and refused by their device at the start check. */
  points: number;
  subscribed: number;
  refused: number;
  samples: number;
  /** Samples without a usable value (quality bad). */
  badSamples: number;
  /** Samples whose device timestamp was too far off and was replaced by the time of reception. */
  skewedTimestamps: number;
  lines: number;
  /** Lines the spool could not take (disk failure, writer stopped). */
  lostLines: number;
}

/** The start check names this many refused points per device, then counts the rest. */
const REFUSALS_LISTED = 20;
const LABEL = /buildings\[(\d+)\]\.points\[(\d+)\]/;

/**
 * Samples every configured building point: checks the points against each device at start (a missing
 * register or node is logged with its configuration entry and left out; the rest goes on), subscribes
 * them per device (polled at their period on Modbus, monitored on OPC UA), and turns each sample into a
 * `sensor` or `meter` line for the spool, with the device's timestamp where it gives one.
 *
 * The hot path (samplesReceived) allocates the lines, nothing per point besides (meters: the rounding
 * of their delta): series keys and prefixes were built once by the catalog, counter state is updated in
 * place. The lines of one turn of the event loop (every message of a socket read) go to the sink in one
 * write, at its end (a microtask, before the spool's own group write in the check phase): one array and
 * one promise a turn rather than a message.
 */
export class Sampler {
  private readonly subscriptions: Subscription[] = [];
  private readonly step: CounterStep = { event: 'first', delta: Number.NaN, rate: Number.NaN };
  private readonly counters: Omit<SamplerStats, 'points' | 'subscribed' | 'refused'> = {
    samples: 0,
    badSamples: 0,
    skewedTimestamps: 0,
    lines: 0,
    lostLines: 0,
  };
  /** Lines of this turn of the event loop, not yet handed to the sink. */
  private pending: string[] = [];
  private flushQueued = false;
  private subscribedCount = 0;
  private running = false;
  private preparing: Promise<void> | undefined;
  private readonly throttle: ThrottledErrors;

  constructor(private readonly deps: SamplerDeps) {
    this.throttle = new ThrottledErrors(deps.logger, deps.clock, 'sampler');
  }

  /**
   * Listens for samples and, in the background, checks then subscribes each device's points, so that a
   * slow or absent device holds nothing up. `ready()` resolves once every device is subscribed.
   */
  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.running = true;
    const { bus, catalog, clock } = this.deps;
    const now = clock.now();
    for (const point of catalog.points) point.lastGoodAt = now;
    bus.on('samplesReceived', this, ({ deviceId, samples }) => this.ingest(deviceId, samples));
    for (const [deviceId, status] of this.deps.book.devices) {
      const driver = this.deps.devices.get(deviceId);
      if (driver && !status.known) this.deps.book.update(deviceId, driver.health(), now);
    }
    this.preparing = Promise.all(
      [...catalog.byDevice].map(([deviceId, points]) => this.prepareDevice(deviceId, points)),
    ).then(() => undefined);
    return Promise.resolve();
  }

  /** Resolves once every device's points are checked and subscribed (or found impossible to). */
  ready(): Promise<void> {
    return this.preparing ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.flush();
    try {
      await this.preparing;
    } catch (error) {
      this.deps.logger.error(`sampler: preparing subscriptions failed: ${(error as Error).message}`);
    }
    this.deps.bus.removeListeners(this);
    for (const subscription of this.subscriptions.splice(0)) {
      try {
        await subscription.close();
      } catch (error) {
        this.deps.logger.error(`sampler: closing a subscription failed: ${(error as Error).message}`);
      }
    }
  }

  stats(): SamplerStats {
    let refused = 0;
    for (const point of this.deps.catalog.points) if (point.refused !== undefined) refused++;
    return {
      points: this.deps.catalog.points.length,
      subscribed: this.subscribedCount,
      refused,
      ...this.counters,
    };
  }

  /** Samples of one device to lines: the hot path. Samples of keys not ours (lighting) are skipped. */
  ingest(deviceId: string, samples: readonly Sample[]): void {
    if (!this.running) return;
    const { catalog, maxClockSkewMs, onWatched, history } = this.deps;
    const counters = this.counters;
    const lines = this.pending;
    const before = lines.length;
    let now = 0;
    for (let i = 0; i < samples.length; i++) {
      const sample = samples[i];
      const point = catalog.byKey.get(sample.key);
      if (point === undefined || point.config.device !== deviceId) continue;
      counters.samples++;
      if (sample.value === null || sample.quality === 'bad') counters.badSamples++;
      let timestamp = sample.time;
      const source = sample.sourceTime;
      if (source !== undefined) {
        if (Math.abs(source - timestamp) <= maxClockSkewMs) timestamp = source;
        else counters.skewedTimestamps++;
      }
      if (!Number.isSafeInteger(timestamp)) timestamp = Math.round(timestamp);
      lines.push(point.ingest(sample, timestamp, this.step));
      if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(this.flush);
      }
      point.lines++;
      // Sensors only: a meter's value is its index, whose curve says nothing a day long.
      if (
        history &&
        point.counter === undefined &&
        typeof point.value === 'number' &&
        point.quality !== 'bad'
      )
        history.record(point.index, point.value, timestamp);
      if (point.watched && onWatched) {
        if (now === 0) now = this.deps.clock.now();
        onWatched(point, now);
      }
    }
    counters.lines += lines.length - before;
  }

  /** Hands the lines of this turn to the sink; a failure counts them as lost. */
  private readonly flush = (): void => {
    this.flushQueued = false;
    const lines = this.pending;
    if (lines.length === 0) return;
    this.pending = [];
    this.deps.sink.write(lines).catch((error: Error) => this.writeFailed(lines.length, error));
  };

  private writeFailed(count: number, error: Error): void {
    this.counters.lostLines += count;
    this.throttle.report(count, error);
  }

  private async prepareDevice(deviceId: string, points: CatalogPoint[]): Promise<void> {
    const { logger } = this.deps;
    const driver = this.deps.devices.get(deviceId);
    if (!driver) {
      logger.error(
        `sampler: device '${deviceId}' has no driver: its ${points.length} points are not sampled`,
      );
      return;
    }
    let errors: DriverError[] = [];
    try {
      errors = await driver.check(points.map((p) => p.ref));
    } catch (error) {
      logger.warn(
        `sampler: could not check the ${points.length} points of device '${deviceId}' (${(error as Error).message}); subscribing them all`,
      );
    }
    const byLabel = new Map(points.map((p) => [labelKey(p.label), p]));
    const refusals: string[] = [];
    let unchecked = 0;
    let uncheckedReason = '';
    for (const error of errors) {
      const point = byLabel.get(labelKey(error.message));
      if (point && (error.code === 'not-found' || error.code === 'bad-type')) {
        point.refused = error.message;
        refusals.push(error.message);
      } else {
        unchecked++;
        uncheckedReason ||= error.message;
      }
    }
    for (const message of refusals.slice(0, REFUSALS_LISTED))
      logger.error(`sampler: left out, the device refuses it: ${message}`);
    if (refusals.length > REFUSALS_LISTED)
      logger.error(
        `sampler: ${refusals.length - REFUSALS_LISTED} more points of device '${deviceId}' refused and left out`,
      );
    if (unchecked > 0)
      logger.warn(
        `sampler: ${unchecked} points of device '${deviceId}' could not be checked (${uncheckedReason}); they are sampled anyway`,
      );
    if (!this.running) return;
    const accepted = points.filter((p) => p.refused === undefined).map((p) => p.ref);
    if (accepted.length === 0) return;
    this.subscriptions.push(driver.subscribe(accepted));
    this.subscribedCount += accepted.length;
  }
}

/** `buildings[2].points[3]` found in a label or in an error message naming it; '' when absent. */
function labelKey(text: string): string {
  const match = LABEL.exec(text);
  return match ? `${match[1]}.${match[2]}` : '';
}
