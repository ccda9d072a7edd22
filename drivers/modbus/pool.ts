import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import {
  coerceModbusLinkOptions,
  describeTransport,
  ModbusLink,
  transportKey,
  type ModbusLinkOptions,
  type ModbusTransport,
} from './link';

export interface ModbusLinkPoolDeps {
  clock: Clock;
  logger: Logger;
  /** For reconnect jitter; injectable so tests can make delays predictable. */
  random?: () => number;
}

export interface ModbusLinkUser {
  deviceId: string;
  /** Requests the device accepts in flight at once. */
  concurrency: number;
  /** Least time the device needs between an answer and the next request. */
  guardMs: number;
}

interface Entry {
  link: ModbusLink;
  users: Map<string, Pick<ModbusLinkUser, 'concurrency' | 'guardMs'>>;
}

/**
 * The connections of all Modbus drivers, one per transport (TCP endpoint or serial port), shared by
 * the devices behind it and reference-counted: the first user opens it, the last one closes it.
 * Created by the composition root and handed to every ModbusDriver.
 *
 * A shared connection carries the smallest concurrency its devices declare: pipelining is a property
 * of the server (gateway) at the other end, and one device saying it cannot means the server cannot.
 * For the same reason it waits the longest guard interval its devices need between requests.
 */
export class ModbusLinkPool {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly deps: ModbusLinkPoolDeps,
    private readonly options: ModbusLinkOptions = {},
  ) {}

  /** The shared link for `transport`, started; throws when it conflicts with how another device uses it. */
  acquire(transport: ModbusTransport, user: ModbusLinkUser): ModbusLink {
    const key = transportKey(transport);
    let entry = this.entries.get(key);
    if (entry) {
      const existing = describeTransport(entry.link.transport);
      if (existing !== describeTransport(transport)) {
        const holder = [...entry.users.keys()].join("', '");
        throw new Error(
          `device '${user.deviceId}': ${describeTransport(transport)} conflicts with ${existing} used by device '${holder}' (one connection per endpoint: same protocol and serial settings required)`,
        );
      }
      if (entry.users.has(user.deviceId))
        throw new Error(`device '${user.deviceId}': already connected through ${existing}`);
    } else {
      entry = {
        link: new ModbusLink(transport, coerceModbusLinkOptions(this.options), {
          clock: this.deps.clock,
          logger: this.deps.logger,
          random: this.deps.random,
        }),
        users: new Map(),
      };
      this.entries.set(key, entry);
    }
    entry.users.set(user.deviceId, { concurrency: user.concurrency, guardMs: user.guardMs });
    shareLink(entry);
    entry.link.start();
    return entry.link;
  }

  /** Gives the link back; the last user closes it. */
  async release(link: ModbusLink, deviceId: string): Promise<void> {
    const key = transportKey(link.transport);
    const entry = this.entries.get(key);
    if (!entry || entry.link !== link || !entry.users.delete(deviceId)) return;
    if (entry.users.size > 0) {
      shareLink(entry);
      return;
    }
    this.entries.delete(key);
    await link.close();
  }

  /** Closes every link still held (for a composition root stopping after its drivers). */
  async close(): Promise<void> {
    const links = [...this.entries.values()].map((e) => e.link);
    this.entries.clear();
    await Promise.all(links.map((link) => link.close()));
  }

  /** Open or opening connections, for tests and diagnostics. */
  get size(): number {
    return this.entries.size;
  }
}

/** The smallest concurrency and the longest guard interval of the devices behind one connection. */
function shareLink(entry: Entry): void {
  const users = [...entry.users.values()];
  entry.link.setConcurrency(Math.min(...users.map((u) => u.concurrency)));
  entry.link.setGuard(Math.max(...users.map((u) => u.guardMs)));
}
