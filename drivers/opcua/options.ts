import { systemClock, type Clock } from '../../core/clock';
import { silentLogger, type Logger } from '../../core/logger';

/** How the OPC UA driver runs, beyond what the device's configuration says. */
export interface OpcuaDriverOptions {
  /**
   * PKI folder managed by node-opcua: own/ (the client certificate and key, created on first use),
   * trusted/ and rejected/ (server certificates). The service passes `<state_dir>/pki`.
   */
  pkiDir: string;
  /** Folder that `{file: ...}` secrets are resolved against: the configuration file's folder. */
  configDir: string;
  /** Named by the composition root (e.g. `drivers:opcua`); the driver adds the device id. */
  logger?: Logger;
  clock?: Clock;
  /** Environment that `{env: ...}` secrets are read from. */
  env?: NodeJS.ProcessEnv;
  /**
   * Trust the certificate of a server met for the first time (no trusted certificate has its application
   * URI): store it in trusted/ and log its thumbprint; later certificates for that server are refused.
   * false: refuse every unknown certificate; it lands in rejected/ until an operator moves it to
   * trusted/certs/. Default true (see docs/drivers-opcua.md).
   */
  trustServerOnFirstUse?: boolean;
  /** node-opcua connectionStrategy: first delay between connection attempts, and its cap. */
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /**
   * After the server refused the connection or the session (certificate, credentials), node-opcua does
   * not retry; the driver tries again with a fresh client after this delay.
   */
  retryAfterRefusalMs?: number;
  /**
   * start() resolves when the first connection attempt ends, or after this long: a host that swallows
   * packets would otherwise hold the service's start for the whole TCP timeout.
   */
  startWaitMs?: number;
  /** Interval of the session keep-alive read, which detects a silent server without subscription traffic. */
  keepAliveMs?: number;
  /** Client application name; also part of the client certificate's application URI. */
  applicationName?: string;
  /** Time limit of each step of stop(). */
  stopStepTimeoutMs?: number;
}

export interface ResolvedOpcuaDriverOptions {
  pkiDir: string;
  configDir: string;
  logger: Logger;
  clock: Clock;
  env: NodeJS.ProcessEnv;
  trustServerOnFirstUse: boolean;
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  retryAfterRefusalMs: number;
  startWaitMs: number;
  keepAliveMs: number;
  applicationName: string;
  stopStepTimeoutMs: number;
}

export function coerceOpcuaDriverOptions(options: OpcuaDriverOptions): ResolvedOpcuaDriverOptions {
  return {
    pkiDir: options.pkiDir,
    configDir: options.configDir,
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
    env: options.env ?? process.env,
    trustServerOnFirstUse: options.trustServerOnFirstUse ?? true,
    reconnectInitialDelayMs: options.reconnectInitialDelayMs ?? 1000,
    reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 20_000,
    retryAfterRefusalMs: options.retryAfterRefusalMs ?? 60_000,
    startWaitMs: options.startWaitMs ?? 10_000,
    keepAliveMs: options.keepAliveMs ?? 5000,
    applicationName: options.applicationName ?? 'nocturne',
    stopStepTimeoutMs: options.stopStepTimeoutMs ?? 3000,
  };
}
