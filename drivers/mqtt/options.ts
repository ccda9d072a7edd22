import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { IClientOptions } from 'mqtt';
import type { MqttConfig } from '../../config/schema';
import { readSecret } from '../../config/secrets';
import { systemClock, type Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';

export interface MqttConnectionOptions {
  /** The validated `mqtt` section of the configuration. */
  config: MqttConfig;
  /** `service.instance`: the client id is `nocturne-<instance>` unless `mqtt.client_id` is set. */
  instance: string;
  /** Directory of the configuration file; relative secret and certificate paths start there. */
  configDir: string;
  logger: Logger;
  clock?: Clock;
  /** The embedded broker's URL, used when `mqtt.url` is absent. Default: embedded_host:embedded_port. */
  embeddedUrl?: string;
  /** Time a connection attempt may take, TCP and TLS handshakes and CONNACK included. */
  connectTimeoutMs?: number;
  /** Upper bound of stop(): offline state, pending acknowledgements, DISCONNECT. */
  stopTimeoutMs?: number;
  /** Where `{env: NAME}` secrets are looked up. */
  env?: NodeJS.ProcessEnv;
  /**
   * Publish the online/offline state (and its last will) on `<base>/bridge/state`. Default true; false for
   * a connection to someone else's broker (a LoRaWAN network server's) that only reads from it.
   */
  announceState?: boolean;
  /**
   * Several instances share the broker (cluster.etcd): each announces on `<base>/bridge/state/<instance>`,
   * so that one's last will cannot say that another, still connected, is offline.
   */
  sharedBroker?: boolean;
}

export interface ResolvedMqttConnectionOptions {
  config: MqttConfig;
  url: string;
  clientId: string;
  baseTopic: string;
  /**
   * `<base>/bridge/state` (`<base>/bridge/state/<instance>` on a shared broker): retained `{"state":"online"}`
   * while connected, the last will otherwise; none when not announced.
   */
  stateTopic: string | undefined;
  configDir: string;
  logger: Logger;
  clock: Clock;
  connectTimeoutMs: number;
  stopTimeoutMs: number;
  env: NodeJS.ProcessEnv;
}

export const ONLINE_PAYLOAD = '{"state":"online"}';
export const OFFLINE_PAYLOAD = '{"state":"offline"}';

export function coerceMqttConnectionOptions(options: MqttConnectionOptions): ResolvedMqttConnectionOptions {
  const { config } = options;
  const baseTopic = config.base_topic.replace(/\/+$/, '');
  return {
    config,
    url: brokerUrl(config, options.embeddedUrl),
    clientId: config.client_id ?? `nocturne-${options.instance}`,
    baseTopic,
    stateTopic:
      options.announceState === false
        ? undefined
        : options.sharedBroker === true
          ? `${baseTopic}/bridge/state/${options.instance}`
          : `${baseTopic}/bridge/state`,
    configDir: options.configDir,
    logger: options.logger,
    clock: options.clock ?? systemClock,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
    env: options.env ?? process.env,
  };
}

/** The configured broker, or the embedded one when no URL is configured. */
export function brokerUrl(config: MqttConfig, embeddedUrl?: string): string {
  if (config.url !== undefined) return config.url;
  if (embeddedUrl !== undefined) return embeddedUrl;
  // A broker listening on every interface is reached on loopback.
  const host = ['0.0.0.0', '::'].includes(config.embedded_host) ? '127.0.0.1' : config.embedded_host;
  return `mqtt://${host.includes(':') ? `[${host}]` : host}:${config.embedded_port}`;
}

/** The URL without its password, for logs and error messages. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** What start() reads from disk or the environment before connecting. */
export interface ConnectionSecrets {
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Reads the password and TLS files, naming the configuration entry in every error. */
export function readConnectionSecrets(options: ResolvedMqttConnectionOptions): ConnectionSecrets {
  const { config, configDir } = options;
  const secrets: ConnectionSecrets = {};
  if (config.password) {
    try {
      secrets.password = readSecret(config.password, configDir, options.env);
    } catch (error) {
      throw new Error(`mqtt.password: ${(error as Error).message}`, { cause: error });
    }
  }
  const tls = config.tls;
  if (tls) {
    if (!/^(mqtts|ssl|wss):/.test(options.url))
      throw new Error(
        `mqtt.tls is set but the broker URL '${displayUrl(options.url)}' is not encrypted; use mqtts:// (or wss://)`,
      );
    if ((tls.cert_file === undefined) !== (tls.key_file === undefined))
      throw new Error('mqtt.tls: cert_file and key_file go together (client certificate and its key)');
    const read = (
      key: 'ca_file' | 'cert_file' | 'key_file',
      file: string | undefined,
    ): Buffer | undefined => {
      if (file === undefined) return undefined;
      const resolved = path.resolve(configDir, file);
      try {
        return readFileSync(resolved);
      } catch (error) {
        throw new Error(`mqtt.tls.${key}: cannot read '${resolved}': ${(error as Error).message}`, {
          cause: error,
        });
      }
    };
    secrets.ca = read('ca_file', tls.ca_file);
    secrets.cert = read('cert_file', tls.cert_file);
    secrets.key = read('key_file', tls.key_file);
  }
  return secrets;
}

const MQTTJS_DEBUG = /mqttjs|\*/;
const ignoreLog = (): void => undefined;

/**
 * mqtt.js options. Reconnection is mqtt.js's own (reconnectPeriod), also after a refused CONNACK so a
 * fixed password or ACL is picked up without a restart. Resubscription is ours (see MqttConnection):
 * mqtt.js skips it when the broker reports a session, even for subscriptions whose SUBACK was lost.
 */
export function clientOptions(
  options: ResolvedMqttConnectionOptions,
  secrets: ConnectionSecrets,
): IClientOptions {
  const { config } = options;
  const clientOptions: IClientOptions = {
    clientId: options.clientId,
    protocolVersion: 4,
    clean: config.clean_session,
    keepalive: config.keepalive_s,
    reconnectPeriod: config.reconnect_ms,
    reconnectOnConnackError: true,
    connectTimeout: options.connectTimeoutMs,
    resubscribe: false,
    // A QoS 0 message that cannot be sent now is refused rather than sent late: QoS 0 carries state
    // that is republished on reconnect, and an unbounded queue would grow through a long outage.
    queueQoSZero: false,
    // mqtt.js logs a dozen times per message through `debug`, which gathers its arguments into an array
    // even when disabled: at thousands of messages a second, garbage for nothing. Its log stays for
    // whoever asks for it (DEBUG=mqttjs*).
    ...(MQTTJS_DEBUG.test(process.env.DEBUG ?? '') ? {} : { log: ignoreLog }),
    ...(options.stateTopic === undefined
      ? {}
      : {
          will: {
            topic: options.stateTopic,
            payload: Buffer.from(OFFLINE_PAYLOAD),
            qos: 1 as const,
            retain: true,
          },
        }),
  };
  if (config.username !== undefined) clientOptions.username = config.username;
  if (secrets.password !== undefined) clientOptions.password = secrets.password;
  if (config.tls) {
    clientOptions.rejectUnauthorized = config.tls.reject_unauthorized;
    if (secrets.ca) clientOptions.ca = secrets.ca;
    if (secrets.cert) clientOptions.cert = secrets.cert;
    if (secrets.key) clientOptions.key = secrets.key;
  }
  return clientOptions;
}
