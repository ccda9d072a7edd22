import { EventEmitter } from 'node:events';
import type { ModbusDeviceConfig } from '../../config/schema';
import type { Clock, Timer } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { backoffDelay, coerceBackoff, type BackoffOptions, type ResolvedBackoff } from '../backoff';
import {
  DriverError,
  type Driver,
  type DriverEvents,
  type DriverStats,
  type Health,
  type PointRef,
  type PointWrite,
  type Sample,
  type Subscription,
  type WriteResult,
} from '../driver';
import { decodeRegisters } from './codec';
import { isRetryable, toDriverError } from './errors';
import { HealthTracker } from './health';
import { describeTransport, type ModbusLink, type ModbusTransport } from './link';
import type { LinkJob } from './wire';
import {
  planReads,
  planWrites,
  pointName,
  ReadRequest,
  splitRequest,
  type ReadPlan,
  type WriteRequest,
} from './plan';
import type { ModbusLinkPool } from './pool';

export interface ModbusDriverOptions {
  /** Delays between the retries of one request (the number of retries is the device's `retries`). */
  retryBackoff?: BackoffOptions;
  /** Bound on how long stop() waits for requests already on the wire. */
  stopTimeoutMs?: number;
  /** Health stays degraded this long after the last failed request. */
  degradedHoldMs?: number;
  /** Consecutive unanswered requests (after retries) before the device is reported down. */
  downAfterUnanswered?: number;
  /** Polling period for subscribed points without `periodMs`. */
  defaultPeriodMs?: number;
}

export interface ResolvedModbusDriverOptions {
  retryBackoff: ResolvedBackoff;
  stopTimeoutMs: number;
  degradedHoldMs: number;
  downAfterUnanswered: number;
  defaultPeriodMs: number;
}

export function coerceModbusDriverOptions(options: ModbusDriverOptions = {}): ResolvedModbusDriverOptions {
  return {
    retryBackoff: coerceBackoff({ initialMs: 50, maxMs: 1_000, ...options.retryBackoff }),
    stopTimeoutMs: options.stopTimeoutMs ?? 2_000,
    degradedHoldMs: options.degradedHoldMs ?? 30_000,
    downAfterUnanswered: options.downAfterUnanswered ?? 2,
    defaultPeriodMs: options.defaultPeriodMs ?? 60_000,
  };
}

export interface ModbusDriverDeps {
  /** Shared connections; created once by the composition root. */
  pool: ModbusLinkPool;
  clock: Clock;
  /** Used as given: the composition root names it (e.g. `drivers:modbus`). */
  logger: Logger;
  random?: () => number;
}

export function transportOf(config: ModbusDeviceConfig): ModbusTransport {
  switch (config.protocol) {
    case 'modbus-tcp':
      return { kind: 'tcp', host: config.host, port: config.port };
    case 'modbus-rtu-over-tcp':
      return { kind: 'rtu-over-tcp', host: config.host, port: config.port };
    case 'modbus-rtu':
      return {
        kind: 'rtu',
        path: config.serial.path,
        baudRate: config.serial.baud_rate,
        parity: config.serial.parity,
        dataBits: config.serial.data_bits,
        stopBits: config.serial.stop_bits,
      };
  }
}

class ReadBatch {
  readonly samples: Sample[];
  /** Requests not yet settled, plus one held while requests are being issued. */
  pending = 1;

  constructor(
    readonly points: readonly PointRef[],
    readonly resolve: (samples: Sample[]) => void,
  ) {
    this.samples = new Array<Sample>(points.length);
  }
}

class WriteBatch {
  readonly results: WriteResult[];
  pending = 1;

  constructor(
    writes: readonly PointWrite[],
    readonly resolve: (results: WriteResult[]) => void,
  ) {
    this.results = writes.map((w) => ({ key: w.key, ok: true }));
  }
}

interface JobSink {
  jobDone(job: Job, error: unknown, reply: unknown): void;
}

class Job implements LinkJob {
  readonly fc: ReadRequest['fc'] | WriteRequest['fc'];
  readonly address: number;
  readonly count: number;
  readonly payload: number[] | boolean[] | undefined;
  attempt = 0;

  constructor(
    readonly owner: JobSink,
    readonly unitId: number,
    readonly timeoutMs: number,
    readonly batch: ReadBatch | WriteBatch,
    readonly request: ReadRequest | WriteRequest,
  ) {
    this.fc = request.fc;
    this.address = request.start;
    if (request instanceof ReadRequest) {
      this.count = request.count;
      this.payload = undefined;
    } else {
      this.count = request.payload.length;
      this.payload = request.payload;
    }
  }

  complete(error: unknown, reply: unknown): void {
    this.owner.jobDone(this, error, reply);
  }
}

/** Polls one group of points (same period) with one precomputed plan; never overlaps itself. */
class Poller {
  private timer?: Timer;
  private running?: Promise<void>;
  private nextAt = 0;
  closed = false;

  constructor(
    private readonly points: readonly PointRef[],
    private readonly periodMs: number,
    private readonly clock: Clock,
    private readonly poll: (poller: Poller, points: readonly PointRef[]) => Promise<void>,
  ) {}

  start(): void {
    this.nextAt = this.clock.now();
    this.tick();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.closed) return;
    this.running = this.poll(this, this.points).finally(() => {
      this.running = undefined;
      this.schedule();
    });
  };

  private schedule(): void {
    if (this.closed) return;
    const now = this.clock.now();
    this.nextAt += this.periodMs;
    // A poll slower than the period skips the ticks it overran instead of firing them back to back.
    if (this.nextAt < now) this.nextAt += Math.ceil((now - this.nextAt) / this.periodMs) * this.periodMs;
    this.timer = this.clock.setTimeout(this.tick, this.nextAt - now);
  }
}

/**
 * A Modbus device (one unit id) behind a shared connection from the pool. Reads are merged per
 * table within `max_read_gap`, from a plan computed once per point set; writes are grouped into
 * write-multiple requests (or single writes for `write_multiple: false`). Timeouts and transient
 * exceptions are retried with backoff; Modbus exceptions keep the link; transport errors and
 * repeated timeouts make the link reconnect (see ModbusLink).
 */
export class ModbusDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly deviceId: string;
  private readonly options: ResolvedModbusDriverOptions;
  private readonly tracker: HealthTracker;
  private readonly plans = new WeakMap<readonly PointRef[], ReadPlan>();
  private readonly sink: JobSink;
  private readonly retryTimers = new Map<Job, Timer>();
  private readonly pollers = new Set<Poller>();
  private readonly counters: DriverStats = { requests: 0, errors: 0, reconnects: 0 };
  private lifecycle: 'new' | 'started' | 'stopped' = 'new';
  private link?: ModbusLink;
  private reported: Health = 'down';
  private connectedOnce = false;
  private outstanding = 0;
  private idleWaiters: (() => void)[] = [];
  private healthTimer?: Timer;
  private stopping?: Promise<void>;

  constructor(
    private readonly config: ModbusDeviceConfig,
    private readonly deps: ModbusDriverDeps,
    options: ModbusDriverOptions = {},
  ) {
    super();
    this.deviceId = config.id;
    this.options = coerceModbusDriverOptions(options);
    this.tracker = new HealthTracker(this.options);
    this.sink = { jobDone: (job, error, reply) => this.jobDone(job, error, reply) };
  }

  async start(signal?: AbortSignal): Promise<void> {
    if (this.lifecycle !== 'new') return;
    this.lifecycle = 'started';
    const link = this.deps.pool.acquire(transportOf(this.config), {
      deviceId: this.deviceId,
      concurrency: this.config.concurrency,
      guardMs: this.config.guard_ms ?? 0,
    });
    this.link = link;
    link.on('opened', this.onOpened);
    link.on('lost', this.onLost);
    link.on('connectFailed', this.onConnectFailed);
    if (link.isOpen) this.onOpened();
    await link.firstAttempt(signal);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  health(): Health {
    return this.reported;
  }

  stats(): DriverStats {
    return { ...this.counters };
  }

  read(points: readonly PointRef[]): Promise<Sample[]> {
    return this.execute(this.planFor(points), points);
  }

  write(writes: readonly PointWrite[]): Promise<WriteResult[]> {
    return new Promise((resolve) => {
      const batch = new WriteBatch(writes, resolve);
      const plan = planWrites(writes, this.config.write_multiple);
      for (const { index, error } of plan.rejected)
        batch.results[index] = { key: writes[index].key, ok: false, error };
      for (const request of plan.requests) {
        batch.pending++;
        this.submit(new Job(this.sink, this.config.unit_id, this.config.timeout_ms, batch, request));
      }
      this.settle(batch);
    });
  }

  /**
   * Reads every point on its own range (no gaps merged) and reports one error per point the device
   * refuses (`not-found`, detail IllegalDataAddress). Points that could not be checked (timeout,
   * disconnected...) are reported with that error's code.
   */
  async check(points: readonly PointRef[]): Promise<DriverError[]> {
    const plan = planReads(points, 0);
    const samples = await this.execute(plan, points);
    const unusable = new Set(plan.invalid.map((p) => p.index));
    const errors: DriverError[] = [];
    for (let i = 0; i < points.length; i++) {
      const error = samples[i].error;
      if (!error) continue;
      const point = points[i];
      if (unusable.has(i) || point.address.protocol !== 'modbus') errors.push(error);
      else if (error.detail === 'IllegalDataAddress') {
        const a = point.address;
        errors.push(
          new DriverError(
            'not-found',
            `${pointName(point)}: ${a.table} ${a.address} (${a.type}) refused by device '${this.deviceId}' (IllegalDataAddress)`,
            'IllegalDataAddress',
            { cause: error },
          ),
        );
      } else
        errors.push(
          new DriverError(error.code, `${pointName(point)}: ${error.message}`, error.detail, {
            cause: error,
          }),
        );
    }
    return errors;
  }

  subscribe(points: readonly PointRef[]): Subscription {
    if (this.lifecycle === 'stopped') return { close: () => Promise.resolve() };
    const groups = new Map<number, PointRef[]>();
    for (const point of points) {
      const period =
        point.periodMs !== undefined && Number.isFinite(point.periodMs) && point.periodMs > 0
          ? point.periodMs
          : this.options.defaultPeriodMs;
      let group = groups.get(period);
      if (!group) groups.set(period, (group = []));
      group.push(point);
    }
    const pollers = [...groups].map(
      ([period, group]) => new Poller(group, period, this.deps.clock, this.pollOnce),
    );
    for (const poller of pollers) {
      this.pollers.add(poller);
      poller.start();
    }
    return {
      close: async () => {
        await Promise.all(
          pollers.map((poller) => {
            this.pollers.delete(poller);
            return poller.close();
          }),
        );
      },
    };
  }

  private readonly pollOnce = async (poller: Poller, points: readonly PointRef[]): Promise<void> => {
    const samples = await this.read(points);
    if (!poller.closed) this.emitSafe('samples', samples);
  };

  private planFor(points: readonly PointRef[]): ReadPlan {
    const cached = this.plans.get(points);
    if (cached && samePoints(cached.points, points)) return cached;
    const plan = planReads(points, this.config.max_read_gap);
    this.plans.set(points, plan);
    return plan;
  }

  private execute(plan: ReadPlan, points: readonly PointRef[]): Promise<Sample[]> {
    return new Promise((resolve) => {
      const batch = new ReadBatch(points, resolve);
      if (plan.invalid.length > 0) {
        const time = this.deps.clock.now();
        for (const { index, error } of plan.invalid)
          batch.samples[index] = badSample(points[index].key, time, error);
      }
      for (const request of plan.requests) this.issueRead(batch, request);
      this.settle(batch);
    });
  }

  private issueRead(batch: ReadBatch, request: ReadRequest): void {
    if (request.split) {
      for (const part of request.split) this.issueRead(batch, part);
      return;
    }
    batch.pending++;
    this.submit(new Job(this.sink, this.config.unit_id, this.config.timeout_ms, batch, request));
  }

  private submit(job: Job): void {
    if (this.lifecycle === 'started' && this.link) {
      this.outstanding++;
      if (this.link.submit(job)) {
        this.counters.requests++;
        return;
      }
      this.outstanding--;
    }
    const error =
      this.lifecycle === 'stopped'
        ? new DriverError('stopped', `device '${this.deviceId}': driver stopped`)
        : new DriverError(
            'disconnected',
            `device '${this.deviceId}': not connected (${this.transportName()})`,
          );
    this.fail(job, error);
  }

  private jobDone(job: Job, error: unknown, reply: unknown): void {
    this.outstanding--;
    if (error) this.jobFailed(job, error);
    else {
      if (this.tracker.answered()) this.cameBack();
      // Degraded turns up again on the health timer (refreshHealth), not on each answer.
      else if (this.reported === 'down') this.refreshHealth();
      if (job.batch instanceof ReadBatch) this.fillSamples(job.batch, job.request as ReadRequest, reply);
      this.settle(job.batch);
    }
    if (this.outstanding === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private jobFailed(job: Job, raw: unknown): void {
    const error = raw instanceof DriverError ? raw : toDriverError(raw, this.describe(job), job.timeoutMs);
    if (error.code === 'stopped') {
      this.fail(job, error);
      return;
    }
    this.counters.errors++;
    if (this.lifecycle === 'started' && job.attempt < this.config.retries && isRetryable(error)) {
      const delay = backoffDelay(job.attempt, this.options.retryBackoff, this.deps.random);
      job.attempt++;
      this.retryTimers.set(
        job,
        this.deps.clock.setTimeout(() => {
          this.retryTimers.delete(job);
          this.submit(job);
        }, delay),
      );
      return;
    }
    const now = this.deps.clock.now();
    this.deps.logger.debug(
      () => `${error.message}${job.attempt > 0 ? ` (after ${job.attempt} retries)` : ''}`,
      {
        device: this.deviceId,
      },
    );
    if (error.code !== 'disconnected' && this.tracker.failed(error, now)) this.cameBack();
    else this.refreshHealth();
    if (error.detail === 'IllegalDataAddress' && job.request instanceof ReadRequest) {
      // A merged range may cover registers the device does not have: read the parts it does have.
      const parts = splitRequest(job.request);
      if (parts) {
        job.request.split = parts;
        for (const part of parts) this.issueRead(job.batch as ReadBatch, part);
        this.settle(job.batch);
        return;
      }
    }
    this.fail(job, error);
  }

  /** Settles a job that will not be answered: bad samples or failed write results. */
  private fail(job: Job, error: DriverError): void {
    const batch = job.batch;
    if (batch instanceof ReadBatch) {
      const time = this.deps.clock.now();
      for (const p of (job.request as ReadRequest).points)
        batch.samples[p.index] = badSample(batch.points[p.index].key, time, error);
    } else {
      for (const index of (job.request as WriteRequest).writes)
        batch.results[index] = { key: batch.results[index].key, ok: false, error };
    }
    this.settle(batch);
  }

  private fillSamples(batch: ReadBatch, request: ReadRequest, reply: unknown): void {
    const time = this.deps.clock.now();
    const samples = batch.samples;
    if (request.fc === 1 || request.fc === 2) {
      const bits = (reply as { data: boolean[] }).data;
      for (const p of request.points)
        samples[p.index] = { key: p.key, value: bits[p.offset] === true, quality: 'good', time };
      return;
    }
    const { buffer, offset = 0 } = reply as { buffer: Buffer; offset?: number };
    const planned = request.points;
    for (let i = 0; i < planned.length; i++) {
      const p = planned[i];
      const at = offset + p.offset * 2;
      const value =
        p.fast === 1
          ? buffer.readUInt16BE(at)
          : p.fast === 2
            ? buffer.readInt16BE(at)
            : decodeRegisters(buffer, at, p.address);
      samples[p.index] = { key: p.key, value, quality: 'good', time };
    }
  }

  private settle(batch: ReadBatch | WriteBatch): void {
    if (--batch.pending !== 0) return;
    if (batch instanceof ReadBatch) batch.resolve(batch.samples);
    else batch.resolve(batch.results);
  }

  private readonly onOpened = (): void => {
    this.tracker.linkOpened();
    const reconnect = this.connectedOnce;
    this.connectedOnce = true;
    if (reconnect) this.counters.reconnects++;
    this.refreshHealth();
    this.emitSafe('connected', { reconnect });
  };

  private readonly onLost = (error: DriverError): void => {
    this.tracker.linkLost(error);
    this.refreshHealth();
  };

  private readonly onConnectFailed = (error: DriverError): void => {
    this.tracker.connectFailed(error);
    this.refreshHealth();
  };

  /** The device answers again after being counted down while its connection stayed up. */
  private cameBack(): void {
    this.counters.reconnects++;
    this.refreshHealth();
    this.emitSafe('connected', { reconnect: true });
  }

  private refreshHealth(): void {
    if (this.lifecycle === 'stopped') return;
    const now = this.deps.clock.now();
    const { health, error } = this.tracker.current(now);
    if (health !== this.reported) {
      const from = this.reported;
      this.reported = health;
      const fields = { device: this.deviceId, from, to: health };
      if (health === 'up') this.deps.logger.info('device healthy', fields);
      else this.deps.logger.warn(`device ${health}${error ? `: ${error.message}` : ''}`, fields);
      this.emitSafe('healthChanged', health, error);
    }
    const until = health === 'degraded' ? this.tracker.degradedUntil() : undefined;
    if (until !== undefined && !this.healthTimer)
      this.healthTimer = this.deps.clock.setTimeout(
        () => {
          this.healthTimer = undefined;
          this.refreshHealth();
        },
        Math.max(0, until - now) + 1,
      );
  }

  private emitSafe<K extends keyof DriverEvents>(event: K, ...args: DriverEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: DriverEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.deps.logger.error(`ModbusDriver/${event}: ${(error as Error).message}`, { device: this.deviceId });
    }
  }

  private describe(job: Job): string {
    const request = job.request;
    const what =
      request instanceof ReadRequest
        ? `read ${request.table} ${request.start}..${request.start + request.count - 1}`
        : `write ${request.table} ${request.start}..${request.start + request.payload.length - 1} (FC${request.fc})`;
    return `device '${this.deviceId}' (unit ${this.config.unit_id}, ${this.transportName()}) ${what}`;
  }

  private transportName(): string {
    return describeTransport(transportOf(this.config));
  }

  /** Reverse order of start; each step on its own so one failure does not keep the others from running. */
  private async shutdown(): Promise<void> {
    this.lifecycle = 'stopped';
    const stopped = new DriverError('stopped', `device '${this.deviceId}': driver stopped`);
    const log = (step: string, error: unknown): void =>
      this.deps.logger.error(`ModbusDriver/stop ${step}: ${(error as Error).message}`, {
        device: this.deviceId,
      });
    const pollers = [...this.pollers];
    this.pollers.clear();
    const pollersClosed = Promise.all(pollers.map((p) => p.close()));
    try {
      for (const [job, timer] of this.retryTimers) {
        this.deps.clock.clearTimeout(timer);
        this.fail(job, stopped);
      }
      this.retryTimers.clear();
    } catch (error) {
      log('retries', error);
    }
    try {
      this.link?.cancel(this.sink, stopped);
    } catch (error) {
      log('queue', error);
    }
    try {
      await this.idle(this.options.stopTimeoutMs);
      await pollersClosed;
    } catch (error) {
      log('in-flight', error);
    }
    if (this.healthTimer) this.deps.clock.clearTimeout(this.healthTimer);
    this.healthTimer = undefined;
    const link = this.link;
    this.link = undefined;
    if (link) {
      link.off('opened', this.onOpened);
      link.off('lost', this.onLost);
      link.off('connectFailed', this.onConnectFailed);
      try {
        await this.deps.pool.release(link, this.deviceId);
      } catch (error) {
        log('release', error);
      }
    }
    this.reported = 'down';
  }

  /** Resolves when no request of this driver is on the wire, or after `boundMs`. */
  private idle(boundMs: number): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.deps.clock.setTimeout(done, boundMs);
      const clock = this.deps.clock;
      function done(): void {
        clock.clearTimeout(timer);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }
}

function badSample(key: string, time: number, error: DriverError): Sample {
  return { key, value: null, quality: 'bad', time, error };
}

function samePoints(a: readonly PointRef[], b: readonly PointRef[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
