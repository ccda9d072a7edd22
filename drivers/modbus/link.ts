import { EventEmitter } from 'node:events';
import { connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import ModbusRTU from 'modbus-serial';
import type { Clock, Timer } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { backoffDelay, coerceBackoff, type BackoffOptions, type ResolvedBackoff } from '../backoff';
import { DriverError } from '../driver';
import { errnoOf } from './errors';
import { LibraryWire } from './libraryWire';
import { MbapWire } from './mbapWire';
import type { LinkJob, ModbusWire } from './wire';

/** Where requests travel: a Modbus TCP socket, raw RTU frames on a TCP socket (serial gateway), or a serial port. */
export type ModbusTransport =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu-over-tcp'; host: string; port: number }
  | {
      kind: 'rtu';
      path: string;
      baudRate: number;
      parity: 'none' | 'even' | 'odd';
      dataBits: 7 | 8;
      stopBits: 1 | 2;
    };

/** One connection per key: a TCP endpoint or a serial port, whatever the framing. */
export function transportKey(transport: ModbusTransport): string {
  return transport.kind === 'rtu' ? `serial:${transport.path}` : `tcp:${transport.host}:${transport.port}`;
}

export function describeTransport(transport: ModbusTransport): string {
  switch (transport.kind) {
    case 'tcp':
      return `modbus-tcp ${transport.host}:${transport.port}`;
    case 'rtu-over-tcp':
      return `modbus-rtu-over-tcp ${transport.host}:${transport.port}`;
    case 'rtu':
      return `modbus-rtu ${transport.path} ${transport.baudRate} ${transport.dataBits}${transport.parity[0].toUpperCase()}${transport.stopBits}`;
  }
}

export interface ModbusLinkOptions {
  /** Delays between connection attempts (exponential, with jitter). */
  reconnect?: BackoffOptions;
  /** A TCP connection not established within this time counts as a failed attempt. */
  connectTimeoutMs?: number;
  /** Consecutive unanswered requests on the link (no reply from any unit) before it is closed and reopened. */
  timeoutsBeforeReconnect?: number;
  /** Bound on waiting for the transport to close. */
  closeTimeoutMs?: number;
  /** TCP keep-alive probe delay, so a silently dead peer is noticed even without traffic. */
  keepAliveMs?: number;
}

export interface ResolvedModbusLinkOptions {
  reconnect: ResolvedBackoff;
  connectTimeoutMs: number;
  timeoutsBeforeReconnect: number;
  closeTimeoutMs: number;
  keepAliveMs: number;
}

export function coerceModbusLinkOptions(options: ModbusLinkOptions = {}): ResolvedModbusLinkOptions {
  return {
    reconnect: coerceBackoff({ initialMs: 500, maxMs: 30_000, ...options.reconnect }),
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    timeoutsBeforeReconnect: options.timeoutsBeforeReconnect ?? 3,
    closeTimeoutMs: options.closeTimeoutMs ?? 1_000,
    keepAliveMs: options.keepAliveMs ?? 10_000,
  };
}

export interface ModbusLinkEvents {
  opened: [info: { reconnect: boolean }];
  lost: [error: DriverError];
  connectFailed: [error: DriverError];
}

export interface ModbusLinkDeps {
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

type LinkState = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';

/** A Modbus TCP connection's read buffer: several answers (at most 260 bytes each); more wait for the next read. */
const RECEIVE_BUFFER_BYTES = 2048;

/**
 * One connection to a transport, shared by every device (unit id) behind it, with at most `concurrency`
 * requests in flight: Modbus TCP matches replies by transaction id, so several may be outstanding; RTU
 * (serial or over TCP) is a bus where one request at a time is allowed. Queued writes go before queued
 * reads, each in the order given: a command (an emergency relight, a presence raise) never waits behind
 * polls or read-backs, and a read queued before a write may read the written value. Nothing in flight is
 * reordered. Reconnects on its own with exponential backoff and jitter until closed.
 */
export class ModbusLink extends EventEmitter<ModbusLinkEvents> {
  private state: LinkState = 'idle';
  private wire?: ModbusWire;
  private socket?: Socket;
  private connectingSocket?: Socket;
  /** Commands go before polls: a write never waits behind queued reads (see the class comment). */
  private readonly writes = new JobQueue();
  private readonly reads = new JobQueue();
  private readonly inFlight = new InFlight();
  private concurrency = 1;
  /** Reconnection attempts scheduled since the last successful connection: the backoff step. */
  private reconnectAttempts = 0;
  private opens = 0;
  private unansweredInARow = 0;
  private generation = 0;
  private attempted = false;
  private attemptWaiters: (() => void)[] = [];
  private reconnectTimer?: Timer;
  private closing?: Promise<void>;
  /** True while a job's completion runs: requests it submits wait for the pump (see finished()). */
  private completing = false;
  private pumpScheduled = false;
  /** Least time from an answer to the next request (a gateway's guard interval); wire pacing, in real time. */
  private guardMs = 0;
  private lastAnswerAt = Number.NEGATIVE_INFINITY;
  private guardTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly transport: ModbusTransport,
    private readonly options: ResolvedModbusLinkOptions,
    private readonly deps: ModbusLinkDeps,
  ) {
    super();
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get name(): string {
    return describeTransport(this.transport);
  }

  /** RTU transports are buses: always one request at a time, whatever is asked. */
  setConcurrency(requested: number): void {
    this.concurrency = this.transport.kind === 'tcp' ? Math.max(1, Math.floor(requested)) : 1;
    this.pump();
  }

  /** Least time between an answer and the next request on this link. */
  setGuard(ms: number): void {
    this.guardMs = Math.max(0, ms);
    this.pump();
  }

  /** Starts connecting (once); reconnection then continues on its own until close(). */
  start(): void {
    if (this.state !== 'idle') return;
    void this.connect();
  }

  /** Resolves once the first connection attempt has ended, successful or not, or when `signal` aborts. */
  firstAttempt(signal?: AbortSignal): Promise<void> {
    if (this.attempted || this.state === 'closed' || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      signal?.addEventListener('abort', done, { once: true });
      this.attemptWaiters.push(done);
    });
  }

  /** Queues a request. False (and the job untouched) when the link is not open. */
  submit(job: LinkJob): boolean {
    if (this.state !== 'open') return false;
    const queue = isWrite(job) ? this.writes : this.reads;
    if (
      !this.completing &&
      this.writes.size === 0 &&
      queue.size === 0 &&
      this.inFlight.size < this.concurrency &&
      this.guardPassed()
    )
      this.dispatch(job);
    else queue.push(job);
    return true;
  }

  /** Withdraws the queued (not yet sent) requests of `owner`, completing them with `error`. */
  cancel(owner: object, error: DriverError): void {
    const withdrawn = [
      ...this.writes.remove((job) => job.owner === owner),
      ...this.reads.remove((job) => job.owner === owner),
    ];
    for (const job of withdrawn) this.completeSafely(job, error, undefined);
  }

  /** Stops reconnecting, fails what is queued or in flight, and closes the transport. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.generation++;
    this.state = 'closed';
    clearTimeout(this.guardTimer);
    this.guardTimer = undefined;
    if (this.reconnectTimer) this.deps.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.connectingSocket?.destroy();
    this.failAll(new DriverError('stopped', `${this.name}: connection closed`));
    this.finishAttempt();
    this.closing = this.teardown();
    return this.closing;
  }

  private pump(): void {
    while (this.state === 'open' && this.inFlight.size < this.concurrency) {
      if ((this.writes.size > 0 || this.reads.size > 0) && !this.guardPassed()) break;
      const job = this.writes.shift() ?? this.reads.shift();
      if (!job) break;
      this.dispatch(job);
    }
  }

  private dispatch(job: LinkJob): void {
    this.inFlight.add(job);
    (this.wire as ModbusWire).send(job);
  }

  private finished(job: LinkJob, wire: ModbusWire, error: unknown, result: unknown): void {
    // Already failed when the connection went away: a late callback from modbus-serial is ignored.
    if (!this.inFlight.remove(job)) return;
    this.lastAnswerAt = performance.now();
    const e = error as { errno?: unknown; modbusCode?: unknown; name?: unknown } | null | undefined;
    const timedOut = e?.errno === 'ETIMEDOUT';
    const portClosed = e?.name === 'PortNotOpenError';
    if (!e || typeof e.modbusCode === 'number') this.unansweredInARow = 0;
    else if (timedOut) this.unansweredInARow++;
    this.completing = true;
    try {
      this.completeSafely(job, error ?? null, result);
    } finally {
      this.completing = false;
    }
    if (this.wire !== wire || this.state !== 'open') return;
    if (portClosed) this.drop(new DriverError('disconnected', `${this.name}: port closed`));
    else if (this.unansweredInARow >= this.options.timeoutsBeforeReconnect)
      this.drop(
        new DriverError(
          'timeout',
          `${this.name}: ${this.unansweredInARow} requests in a row without an answer; reconnecting`,
        ),
      );
    else if (wire instanceof MbapWire) this.pump();
    // modbus-serial's RTU ports call back from inside their receive handler and reset their
    // expected-reply state after it (TelnetPort._emitData): the next request must wait until then.
    else if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      queueMicrotask(this.pumpLater);
    }
  }

  /** True when a request may go now; else the pump runs again once the guard interval has passed. */
  private guardPassed(): boolean {
    if (this.guardMs <= 0) return true;
    const wait = this.lastAnswerAt + this.guardMs - performance.now();
    if (wait <= 0) return true;
    this.guardTimer ??= setTimeout(() => {
      this.guardTimer = undefined;
      this.pump();
    }, wait);
    return false;
  }

  private readonly pumpLater = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  private completeSafely(job: LinkJob, error: unknown, result: unknown): void {
    try {
      job.complete(error, result);
    } catch (e) {
      this.deps.logger.error(`ModbusLink/complete: ${(e as Error).message}`, { link: this.name });
    }
  }

  /** The open transport failed: fail its requests, tell the users, reconnect later. */
  private drop(error: DriverError): void {
    if (this.state !== 'open') return;
    this.state = 'waiting';
    void this.teardown();
    this.deps.logger.warn(`connection lost: ${error.message}`, { link: this.name });
    this.tell('lost', error);
    this.failAll(new DriverError('disconnected', error.message, error.detail, { cause: error }));
    this.scheduleReconnect();
  }

  private failAll(error: DriverError): void {
    const jobs = [
      ...this.inFlight.drain(),
      ...this.writes.remove(() => true),
      ...this.reads.remove(() => true),
    ];
    for (const job of jobs) this.completeSafely(job, error, undefined);
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.state = 'connecting';
    let opened: OpenedTransport;
    try {
      opened = await this.openTransport();
    } catch (error) {
      if (generation !== this.generation) return;
      const failure =
        error instanceof DriverError
          ? error
          : new DriverError('disconnected', `${this.name}: ${(error as Error).message}`, errnoOf(error), {
              cause: error,
            });
      this.state = 'waiting';
      this.finishAttempt();
      this.tell('connectFailed', failure);
      this.scheduleReconnect();
      return;
    }
    if (generation !== this.generation) {
      void this.teardownTransport(opened);
      return;
    }
    this.wire = opened.wire;
    this.socket = opened.socket;
    this.state = 'open';
    this.reconnectAttempts = 0;
    this.unansweredInARow = 0;
    this.opens++;
    this.finishAttempt();
    this.deps.logger.info(this.opens > 1 ? 'reconnected' : 'connected', { link: this.name });
    this.tell('opened', { reconnect: this.opens > 1 });
    this.pump();
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed' || this.reconnectTimer) return;
    const delay = backoffDelay(this.reconnectAttempts++, this.options.reconnect, this.deps.random);
    this.reconnectTimer = this.deps.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state === 'waiting') void this.connect();
    }, delay);
  }

  private finishAttempt(): void {
    this.attempted = true;
    const waiters = this.attemptWaiters;
    this.attemptWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private tell<K extends keyof ModbusLinkEvents>(event: K, ...args: ModbusLinkEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: ModbusLinkEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.deps.logger.error(`ModbusLink/${event}: ${(error as Error).message}`, { link: this.name });
    }
  }

  private async openTransport(): Promise<OpenedTransport> {
    const transport = this.transport;
    if (transport.kind === 'rtu') {
      const client = new ModbusRTU();
      const wire = this.libraryWire(client);
      client.on('error', (error) => this.transportFailed(wire, error));
      await new Promise<void>((resolve, reject) => {
        client.connectRTUBuffered(
          transport.path,
          {
            baudRate: transport.baudRate,
            parity: transport.parity,
            dataBits: transport.dataBits,
            stopBits: transport.stopBits,
          },
          (error?: Error | null) => (error ? reject(error) : resolve()),
        );
      });
      client.on('close', () => this.transportFailed(wire, undefined));
      return { wire };
    }
    // Modbus TCP is read into one buffer per connection, reused for every read (net's `onread`): no Buffer
    // and no stream bookkeeping per answer. Raw RTU frames go through modbus-serial, which needs 'data'.
    let framing: MbapWire | undefined;
    const received = Buffer.allocUnsafeSlow(RECEIVE_BUFFER_BYTES);
    const socket = await this.openSocket(
      transport.host,
      transport.port,
      transport.kind === 'tcp'
        ? {
            buffer: received,
            callback: (length) => {
              framing?.received(received, length);
              return true;
            },
          }
        : undefined,
    );
    socket.setNoDelay(true);
    socket.setKeepAlive(true, this.options.keepAliveMs);
    let lastError: Error | undefined;
    socket.on('error', (error) => {
      lastError = error;
    });
    if (transport.kind === 'tcp') {
      // Modbus TCP framed by us (mbapWire.ts): what a request costs is the point of it.
      const wire: MbapWire = new MbapWire(socket, (job, error, reply) =>
        this.finished(job, wire, error, reply),
      );
      framing = wire;
      socket.on('close', () => this.transportFailed(wire, lastError));
      return { wire, socket };
    }
    // Raw RTU frames to a serial gateway: modbus-serial frames on its TelnetPort, we own the socket.
    // (Its TcpRTUBufferedPort, despite the name, speaks MBAP and cannot reach an RTU gateway.)
    const client = new ModbusRTU();
    const wire = this.libraryWire(client);
    socket.on('close', () => this.transportFailed(wire, lastError));
    client.on('error', (error) => this.transportFailed(wire, error));
    await new Promise<void>((resolve, reject) => {
      client.linkTelnet(socket, { port: transport.port }, (error?: Error | null) =>
        error ? reject(error) : resolve(),
      );
    });
    return { wire, socket };
  }

  private libraryWire(client: ModbusRTU): LibraryWire {
    const wire: LibraryWire = new LibraryWire(client, (job, error, reply) =>
      this.finished(job, wire, error, reply),
    );
    return wire;
  }

  private openSocket(host: string, port: number, onread?: OnReadOpts): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port, onread });
      this.connectingSocket = socket;
      const clock = this.deps.clock;
      const cleanup = (): void => {
        clock.clearTimeout(timer);
        socket.off('connect', onConnect);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (this.connectingSocket === socket) this.connectingSocket = undefined;
      };
      const onConnect = (): void => {
        cleanup();
        resolve(socket);
      };
      const onError = (error: Error): void => {
        cleanup();
        socket.destroy();
        reject(
          new DriverError('disconnected', `${this.name}: ${error.message}`, errnoOf(error), { cause: error }),
        );
      };
      const onClose = (): void => {
        cleanup();
        reject(new DriverError('stopped', `${this.name}: connection attempt abandoned`));
      };
      const timer = clock.setTimeout(() => {
        cleanup();
        socket.destroy();
        reject(
          new DriverError(
            'timeout',
            `${this.name}: no connection within ${this.options.connectTimeoutMs} ms`,
            'ETIMEDOUT',
          ),
        );
      }, this.options.connectTimeoutMs);
      socket.once('connect', onConnect);
      socket.once('error', onError);
      socket.once('close', onClose);
    });
  }

  /** The socket or serial port closed or failed under an open link. */
  private transportFailed(wire: ModbusWire, error: unknown): void {
    if (this.wire !== wire) return;
    const detail = errnoOf(error);
    // modbus-serial relays serial errors as plain objects with a message, not Error instances.
    const message = (error as { message?: unknown } | undefined)?.message;
    const reason = typeof message === 'string' ? message : 'closed by the peer';
    this.drop(
      new DriverError('disconnected', `${this.name}: connection lost (${reason})`, detail, { cause: error }),
    );
  }

  private teardown(): Promise<void> {
    const wire = this.wire;
    const socket = this.socket;
    this.wire = undefined;
    this.socket = undefined;
    return wire ? this.teardownTransport({ wire, socket }) : Promise.resolve();
  }

  private teardownTransport({ wire, socket }: OpenedTransport): Promise<void> {
    wire.cancel();
    return new Promise<void>((resolve) => {
      const clock = this.deps.clock;
      const timer = clock.setTimeout(done, this.options.closeTimeoutMs);
      function done(): void {
        clock.clearTimeout(timer);
        resolve();
      }
      if (socket) {
        if (socket.closed) done();
        else {
          socket.once('close', done);
          socket.destroy();
        }
      } else if (wire instanceof LibraryWire) {
        try {
          wire.client.close(done);
        } catch {
          done();
        }
      } else done();
    });
  }
}

/** An open connection: its wire, and the socket under it (none for a serial port). */
interface OpenedTransport {
  wire: ModbusWire;
  socket?: Socket;
}

function isWrite(job: LinkJob): boolean {
  return job.fc === 5 || job.fc === 6 || job.fc === 15 || job.fc === 16;
}

/** A FIFO of requests without shifting arrays on every dequeue. */
class JobQueue {
  private items: (LinkJob | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(job: LinkJob): void {
    this.items.push(job);
  }

  shift(): LinkJob | undefined {
    if (this.head === this.items.length) return undefined;
    const job = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
    return job;
  }

  /** Takes out the jobs that match, keeping the others in order. */
  remove(matches: (job: LinkJob) => boolean): LinkJob[] {
    const removed: LinkJob[] = [];
    const kept: LinkJob[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const job = this.items[i]!;
      (matches(job) ? removed : kept).push(job);
    }
    this.items = kept;
    this.head = 0;
    return removed;
  }
}

/**
 * The requests sent and not yet answered: at most `concurrency`, in slots that are reused. A Set (or an
 * array's push and pop) would allocate a new table each time it grows again from empty, which is nearly
 * every request on a device answering one at a time.
 */
class InFlight {
  private readonly jobs: (LinkJob | undefined)[] = [];
  size = 0;

  add(job: LinkJob): void {
    this.jobs[this.size++] = job;
  }

  /** False when `job` is not in flight (already failed). */
  remove(job: LinkJob): boolean {
    const jobs = this.jobs;
    let at = 0;
    while (at < this.size && jobs[at] !== job) at++;
    if (at === this.size) return false;
    // Kept in the order sent: a dropped connection fails them in that order.
    for (this.size--; at < this.size; at++) jobs[at] = jobs[at + 1];
    jobs[this.size] = undefined;
    return true;
  }

  /** Takes every job out. */
  drain(): LinkJob[] {
    const taken = this.jobs.slice(0, this.size) as LinkJob[];
    this.jobs.fill(undefined, 0, this.size);
    this.size = 0;
    return taken;
  }
}
