import { once } from 'node:events';
import type { Server, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ServerTCP, type IServiceVector } from 'modbus-serial';

export type Table = 'holding' | 'input' | 'coil' | 'discrete';

/** Modbus exception codes a simulated device can answer with. */
export const ModbusException = {
  IllegalFunction: 1,
  IllegalDataAddress: 2,
  IllegalDataValue: 3,
  SlaveDeviceFailure: 4,
  SlaveDeviceBusy: 6,
  GatewayTargetDeviceFailedToRespond: 11,
} as const;

export class ModbusExceptionError extends Error {
  constructor(readonly modbusErrorCode: number) {
    super(`Modbus exception ${modbusErrorCode}`);
  }
}

/** What a simulated device stores. Throw ModbusExceptionError to answer with an exception. */
export interface RegisterBank {
  readRegisters(table: 'holding' | 'input', address: number, count: number, unitId: number): number[];
  readBits(table: 'coil' | 'discrete', address: number, count: number, unitId: number): boolean[];
  writeRegisters(address: number, values: number[], unitId: number): void;
  writeBits(address: number, values: boolean[], unitId: number): void;
}

export interface ModbusSimServerOptions {
  host: string;
  port: number;
  /** Unit ids answered; others get no reply, as on a real bus. Default: all. */
  unitIds?: number[];
  /** Faults of one unit (a device behind a gateway), added to the server-wide ones. */
  unitFaults?: (unitId: number) => UnitFaults | undefined;
  /**
   * Stamp every request when its bytes reach the server's socket (`requestArrivedAt`, epoch ms with
   * sub-millisecond precision), for latency benchmarks: modbus-serial's ServerTCP answers each request
   * from a timer at least a millisecond later. One stamp per request, so function 15 (one bank call per
   * coil) is not supported with it.
   */
  stampArrivals?: boolean;
}

export interface UnitFaults {
  delayMs: number;
  silent: boolean;
}

/** Faults a device shows in the field, injectable at any time. */
export interface ModbusFaults {
  /** Delay before every answer. */
  delayMs: number;
  /** Requests left unanswered (the client times out). */
  silent: boolean;
  /** Unit ids that answer GatewayTargetDeviceFailedToRespond (a gateway whose downstream device is gone). */
  deadUnits: Set<number>;
}

/**
 * A Modbus TCP server over a register bank, built on modbus-serial's ServerTCP, with injectable faults:
 * slow answers, silence, dropped connections. Used by the simulators and by the driver tests.
 */
export class ModbusSimServer {
  readonly faults: ModbusFaults = { delayMs: 0, silent: false, deadUnits: new Set() };
  private server?: ServerTCP;
  private requestCount = 0;
  /** Arrival stamps of requests not answered yet, oldest first (ServerTCP answers in arrival order). */
  private readonly arrivals: { at: number; from: number | undefined }[] = [];
  /** When the request being answered reached the socket (with `stampArrivals`). */
  requestArrivedAt: number | undefined;
  /** The client's TCP port of the request being answered (with `stampArrivals`): who sent it. */
  requestFrom: number | undefined;
  /** Answers waiting out a delay; cleared on stop so no timer outlives the server. */
  private readonly delayed = new Set<NodeJS.Timeout>();

  constructor(
    private readonly bank: RegisterBank,
    private readonly options: ModbusSimServerOptions,
  ) {}

  get requests(): number {
    return this.requestCount;
  }

  get port(): number {
    return this.options.port;
  }

  async start(): Promise<void> {
    if (this.options.port === 0)
      throw new Error('ModbusSimServer needs an explicit port (ServerTCP treats 0 as 502)');
    const server = new ServerTCP(this.vector(), {
      host: this.options.host,
      port: this.options.port,
      unitID: 255,
    });
    this.server = server;
    if (this.options.stampArrivals) this.stampArrivals(server);
    await Promise.race([
      once(server, 'initialized'),
      once(server, 'serverError').then(([error]) => {
        throw error as Error;
      }),
    ]);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    this.dropConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Closes every client connection, as a device reboot or a cut cable would. */
  dropConnections(): void {
    for (const socket of this.server?.socks.keys() ?? []) socket.destroy();
  }

  connectionCount(): number {
    return this.server?.socks.size ?? 0;
  }

  private stampArrivals(server: ServerTCP): void {
    // ServerTCP keeps its net.Server private; its own 'data' listener is attached first, so both see
    // the same bytes in the same order.
    const tcp = (server as unknown as { _server: Server })._server;
    tcp.on('connection', (socket: Socket) => {
      let pending: Buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        const at = performance.timeOrigin + performance.now();
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        // MBAP header: transaction (2), protocol (2), length of what follows (2).
        while (pending.length >= 6 && pending.length >= 6 + pending.readUInt16BE(4)) {
          this.arrivals.push({ at, from: socket.remotePort });
          pending = pending.subarray(6 + pending.readUInt16BE(4));
        }
      });
    });
  }

  private vector(): IServiceVector {
    const answer = <T>(unitId: number, cb: (err: Error | null, value: T) => void, work: () => T): void => {
      this.requestCount++;
      if (this.options.stampArrivals) {
        const arrival = this.arrivals.shift();
        this.requestArrivedAt = arrival?.at;
        this.requestFrom = arrival?.from;
      }
      if (this.options.unitIds && !this.options.unitIds.includes(unitId)) return;
      const unitFaults = this.options.unitFaults?.(unitId);
      if (this.faults.silent || unitFaults?.silent) return;
      const delayMs = this.faults.delayMs + (unitFaults?.delayMs ?? 0);
      const run = (): void => {
        if (this.faults.deadUnits.has(unitId)) {
          cb(new ModbusExceptionError(ModbusException.GatewayTargetDeviceFailedToRespond), undefined as T);
          return;
        }
        try {
          cb(null, work());
        } catch (error) {
          const code =
            (error as { modbusErrorCode?: number }).modbusErrorCode ?? ModbusException.SlaveDeviceFailure;
          cb(Object.assign(new Error((error as Error).message), { modbusErrorCode: code }), undefined as T);
        }
      };
      if (delayMs > 0) {
        const timer = setTimeout(() => {
          this.delayed.delete(timer);
          run();
        }, delayMs);
        this.delayed.add(timer);
      } else run();
    };
    const bank = this.bank;
    return {
      getMultipleHoldingRegisters: (
        addr: number,
        length: number,
        unitId: number,
        cb: (e: Error | null, v: number[]) => void,
      ) => answer(unitId, cb, () => bank.readRegisters('holding', addr, length, unitId)),
      getMultipleInputRegisters: (
        addr: number,
        length: number,
        unitId: number,
        cb: (e: Error | null, v: number[]) => void,
      ) => answer(unitId, cb, () => bank.readRegisters('input', addr, length, unitId)),
      getHoldingRegister: (addr: number, unitId: number, cb: (e: Error | null, v: number) => void) =>
        answer(unitId, cb, () => bank.readRegisters('holding', addr, 1, unitId)[0]),
      getInputRegister: (addr: number, unitId: number, cb: (e: Error | null, v: number) => void) =>
        answer(unitId, cb, () => bank.readRegisters('input', addr, 1, unitId)[0]),
      getCoil: (addr: number, unitId: number, cb: (e: Error | null, v: boolean) => void) =>
        answer(unitId, cb, () => bank.readBits('coil', addr, 1, unitId)[0]),
      getDiscreteInput: (addr: number, unitId: number, cb: (e: Error | null, v: boolean) => void) =>
        answer(unitId, cb, () => bank.readBits('discrete', addr, 1, unitId)[0]),
      setRegister: (addr: number, value: number, unitId: number, cb: (e: Error | null) => void) =>
        answer(unitId, cb, () => bank.writeRegisters(addr, [value], unitId)),
      setRegisterArray: (addr: number, values: number[], unitId: number, cb: (e: Error | null) => void) =>
        answer(unitId, cb, () => bank.writeRegisters(addr, values, unitId)),
      setCoil: (addr: number, value: boolean, unitId: number, cb: (e: Error | null) => void) =>
        answer(unitId, cb, () => bank.writeBits(addr, [value], unitId)),
    };
  }
}

/** A plain register bank: every table a sparse array, unmapped addresses answer IllegalDataAddress. */
export class MemoryBank implements RegisterBank {
  readonly holding = new Map<number, number>();
  readonly input = new Map<number, number>();
  readonly coil = new Map<number, boolean>();
  readonly discrete = new Map<number, boolean>();
  /** Called after each write, e.g. to log commands. */
  onWrite?: (table: 'holding' | 'coil', address: number, count: number) => void;

  readRegisters(table: 'holding' | 'input', address: number, count: number): number[] {
    const map = this[table];
    return Array.from({ length: count }, (_, i) => {
      const value = map.get(address + i);
      if (value === undefined) throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
      return value;
    });
  }

  readBits(table: 'coil' | 'discrete', address: number, count: number): boolean[] {
    const map = this[table];
    return Array.from({ length: count }, (_, i) => {
      const value = map.get(address + i);
      if (value === undefined) throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
      return value;
    });
  }

  writeRegisters(address: number, values: number[]): void {
    values.forEach((_, i) => {
      if (!this.holding.has(address + i)) throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
    });
    values.forEach((v, i) => this.holding.set(address + i, v & 0xffff));
    this.onWrite?.('holding', address, values.length);
  }

  writeBits(address: number, values: boolean[]): void {
    values.forEach((_, i) => {
      if (!this.coil.has(address + i)) throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
    });
    values.forEach((v, i) => this.coil.set(address + i, v));
    this.onWrite?.('coil', address, values.length);
  }
}
