import { EventEmitter } from 'node:events';
import {
  DriverError,
  type Driver,
  type DriverEvents,
  type DriverStats,
  type Health,
  type PointAddress,
  type PointRef,
  type PointWrite,
  type Sample,
  type Subscription,
  type Value,
  type WriteResult,
} from '../driver';

/**
 * An in-memory device for tests of decision and dispatch logic. It fails the way real devices do:
 * unknown addresses, a device gone down (every request fails 'disconnected'), and per-address faults.
 */
export class FakeDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly values = new Map<string, Value>();
  /** Addresses whose next requests fail with this error. */
  readonly faults = new Map<string, DriverError>();
  private currentHealth: Health = 'down';
  private running = false;
  private requestCount = 0;
  private errorCount = 0;
  private reconnectCount = 0;
  private readonly subscriptions = new Set<readonly PointRef[]>();

  constructor(
    readonly deviceId: string,
    initial: Iterable<[PointAddress, Value]> = [],
  ) {
    super();
    for (const [address, value] of initial) this.values.set(addressKey(address), value);
  }

  start(): Promise<void> {
    this.running = true;
    this.setHealth('up');
    this.emit('connected', { reconnect: false });
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.running = false;
    this.subscriptions.clear();
    this.setHealth('down');
    return Promise.resolve();
  }

  health(): Health {
    return this.currentHealth;
  }

  /** Simulates the link going down and coming back. */
  disconnect(): void {
    this.setHealth('down');
  }

  reconnect(): void {
    this.reconnectCount++;
    this.setHealth('up');
    this.emit('connected', { reconnect: true });
  }

  check(points: readonly PointRef[]): Promise<DriverError[]> {
    return Promise.resolve(
      points
        .filter((p) => !this.values.has(addressKey(p.address)))
        .map(
          (p) =>
            new DriverError(
              'not-found',
              `${p.label ?? p.key}: no ${describe(p.address)} on device '${this.deviceId}'`,
            ),
        ),
    );
  }

  read(points: readonly PointRef[]): Promise<Sample[]> {
    this.requestCount++;
    const time = Date.now();
    return Promise.resolve(
      points.map((p) => {
        const error = this.failure(p.address, p.label ?? p.key);
        if (error) return { key: p.key, value: null, quality: 'bad' as const, time, error };
        return { key: p.key, value: this.values.get(addressKey(p.address))!, quality: 'good' as const, time };
      }),
    );
  }

  write(writes: readonly PointWrite[]): Promise<WriteResult[]> {
    this.requestCount++;
    return Promise.resolve(
      writes.map((w) => {
        const error = this.failure(w.address, w.key);
        if (error) return { key: w.key, ok: false, error };
        this.values.set(addressKey(w.address), w.value);
        return { key: w.key, ok: true };
      }),
    );
  }

  subscribe(points: readonly PointRef[]): Subscription {
    this.subscriptions.add(points);
    return {
      close: () => {
        this.subscriptions.delete(points);
        return Promise.resolve();
      },
    };
  }

  /** Delivers the current values of every subscribed point, as one poll would. */
  async poll(): Promise<void> {
    for (const points of this.subscriptions) this.emit('samples', await this.read(points));
  }

  stats(): DriverStats {
    return { requests: this.requestCount, errors: this.errorCount, reconnects: this.reconnectCount };
  }

  private failure(address: PointAddress, label: string): DriverError | undefined {
    let error: DriverError | undefined;
    if (!this.running) error = new DriverError('stopped', `device '${this.deviceId}' is stopped`);
    else if (this.currentHealth === 'down')
      error = new DriverError('disconnected', `device '${this.deviceId}' is unreachable`);
    else error = this.faults.get(addressKey(address));
    if (!error && !this.values.has(addressKey(address))) {
      error = new DriverError('not-found', `${label}: no ${describe(address)} on device '${this.deviceId}'`);
    }
    if (error) this.errorCount++;
    return error;
  }

  private setHealth(health: Health): void {
    if (health === this.currentHealth) return;
    this.currentHealth = health;
    this.emit('healthChanged', health);
  }
}

export function addressKey(address: PointAddress): string {
  switch (address.protocol) {
    case 'modbus':
      return `${address.table}:${address.address}`;
    case 'opcua':
      return address.nodeId;
    case 'mqtt':
      return `${JSON.stringify(address.match)}:${address.radio ?? address.path.join('.')}`;
    case 'http':
      return `http:${address.path.join('.')}`;
  }
}

function describe(address: PointAddress): string {
  switch (address.protocol) {
    case 'modbus':
      return `${address.table} register ${address.address}`;
    case 'opcua':
      return `node ${address.nodeId}`;
    case 'mqtt':
    case 'http':
      return `field ${'radio' in address && address.radio ? address.radio : address.path.join('.')}`;
  }
}
