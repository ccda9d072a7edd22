import path from 'node:path';
import { PROJECT_ROOT } from '../../config/paths';

/** Tunables of the HTTP API; every field optional, coerceApiOptions() sets the defaults. */
export interface ApiOptions {
  /** Requests per token (per client address before authentication) per window. Default 600. */
  requestsPerWindow?: number;
  /** Default 60 s. */
  rateWindowMs?: number;
  /** Failed authentications per client address per window before it is refused. Default 10. */
  failedAuthPerWindow?: number;
  /** Default 5 minutes. */
  failedAuthWindowMs?: number;
  /** Lifetime of a one-use event-stream ticket. Default 30 s. */
  ticketTtlMs?: number;
  /** Comment line sent on idle event streams, so proxies and phones keep them open. Default 15 s. */
  heartbeatMs?: number;
  /** Largest accepted request body. Default 256 KiB. */
  bodyLimitBytes?: number;
  /** Longest wait for a command's confirmation that a client may ask for. Default 60 s. */
  maxWaitMs?: number;
  /** The web console's static files. Default: controller/api/console in the package. */
  consoleDir?: string;
}

export type ResolvedApiOptions = Required<ApiOptions>;

export function coerceApiOptions(options: ApiOptions = {}): ResolvedApiOptions {
  return {
    requestsPerWindow: options.requestsPerWindow ?? 600,
    rateWindowMs: options.rateWindowMs ?? 60_000,
    failedAuthPerWindow: options.failedAuthPerWindow ?? 10,
    failedAuthWindowMs: options.failedAuthWindowMs ?? 5 * 60_000,
    ticketTtlMs: options.ticketTtlMs ?? 30_000,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    bodyLimitBytes: options.bodyLimitBytes ?? 256 * 1024,
    maxWaitMs: options.maxWaitMs ?? 60_000,
    consoleDir: options.consoleDir ?? path.join(PROJECT_ROOT, 'controller', 'api', 'console'),
  };
}
