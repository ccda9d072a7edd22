import type { ReadFunction, WriteFunction } from './plan';

/** One Modbus request as the link carries it. The link calls `complete` exactly once. */
export interface LinkJob {
  /** Who queued it, so that a stopping driver can withdraw its own requests. */
  readonly owner: object;
  readonly unitId: number;
  readonly fc: ReadFunction | WriteFunction;
  readonly address: number;
  /** Registers or bits to read (reads only). */
  readonly count: number;
  /** Values to write (writes only). */
  readonly payload: number[] | boolean[] | undefined;
  readonly timeoutMs: number;
  /**
   * With the reply (`{ buffer, offset? }`: the registers' bytes, from `offset` (0 when absent), for
   * FC3/FC4; `{ data }`: the bits, for FC1/FC2),
   * valid only during the call; or the error, in modbus-serial's shapes (`modbusCode` for an exception,
   * `errno: 'ETIMEDOUT'` for no answer, `name: 'PortNotOpenError'`); a DriverError when the link itself
   * failed the request.
   */
  complete(error: unknown, reply: unknown): void;
}

/** How a wire hands each request's outcome back to its link: `error` null and the reply, or the error. */
export type WireAnswer = (job: LinkJob, error: unknown, reply: unknown) => void;

/** What carries requests on one open connection and matches their answers. */
export interface ModbusWire {
  /** Sends now: the link has already applied its concurrency, ordering and guard interval. */
  send(job: LinkJob): void;
  /** The connection is going away: stop timers and forget what is in flight (the link fails it). */
  cancel(): void;
}
