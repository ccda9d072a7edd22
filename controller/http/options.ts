import path from 'node:path';
import { PROJECT_ROOT } from '../../config/paths';

/** Tunables of the HTTP API; every field optional, coerceApiOptions() sets the defaults. */
export interface ApiOptions {
  /** Requests per token (per client address before authentication) per window. Default 600. */
  requestsPerWindow?: number;
  /** Default 60 s. */
  rateWindowMs?: number;
  /**
   * Failed authentications per client address, and per credential presented, within a window; beyond it
   * failing attempts from that address or with that credential are refused (a valid token never is). Default 10.
   */
  failedAuthPerWindow?: number;
  /** Default 5 minutes. */
  failedAuthWindowMs?: number;
  /**
   * Failed sign-ins (name and password, or enrolment code) per account and per client address within a
   * window; beyond it sign-ins there are refused until the window ends, even with the right password,
   * since passwords, unlike tokens, can be guessed. Default 5.
   */
  signInFailuresPerWindow?: number;
  /** Default 15 minutes. */
  signInWindowMs?: number;
  /** Lifetime of an enrolment code (link and QR code for a phone). Default 15 minutes. */
  enrolmentTtlMs?: number;
  /** Lifetime of a one-use event-stream ticket. Default 30 s. */
  ticketTtlMs?: number;
  /** Comment line sent on idle event streams, so proxies and phones keep them open. Default 15 s. */
  heartbeatMs?: number;
  /** Event streams one user may hold open (console tabs, scripts). Default 8. */
  maxStreamsPerUser?: number;
  /** Event streams open at once, all users together. Default 200. */
  maxStreams?: number;
  /** Bytes an event stream may hold for a client that does not read before it is cut off. Default 256 KiB. */
  maxStreamBacklogBytes?: number;
  /** Largest accepted request body. Default 256 KiB. */
  bodyLimitBytes?: number;
  /** Longest wait for a command's confirmation that a client may ask for. Default 60 s. */
  maxWaitMs?: number;
  /** The web console's static files. Default: controller/http/console in the package. */
  consoleDir?: string;
}

export type ResolvedApiOptions = Required<ApiOptions>;

export function coerceApiOptions(options: ApiOptions = {}): ResolvedApiOptions {
  return {
    requestsPerWindow: options.requestsPerWindow ?? 600,
    rateWindowMs: options.rateWindowMs ?? 60_000,
    failedAuthPerWindow: options.failedAuthPerWindow ?? 10,
    failedAuthWindowMs: options.failedAuthWindowMs ?? 5 * 60_000,
    signInFailuresPerWindow: options.signInFailuresPerWindow ?? 5,
    signInWindowMs: options.signInWindowMs ?? 15 * 60_000,
    enrolmentTtlMs: options.enrolmentTtlMs ?? 15 * 60_000,
    ticketTtlMs: options.ticketTtlMs ?? 30_000,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    maxStreamsPerUser: options.maxStreamsPerUser ?? 8,
    maxStreams: options.maxStreams ?? 200,
    maxStreamBacklogBytes: options.maxStreamBacklogBytes ?? 256 * 1024,
    bodyLimitBytes: options.bodyLimitBytes ?? 256 * 1024,
    maxWaitMs: options.maxWaitMs ?? 60_000,
    consoleDir: options.consoleDir ?? path.join(PROJECT_ROOT, 'controller', 'http', 'console'),
  };
}
