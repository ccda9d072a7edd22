import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  connect,
  ReasonCodes,
  type IClientPublishOptions,
  type IConnackPacket,
  type IPublishPacket,
  type ClientSubscribeCallback,
  type ISubscriptionMap,
  type MqttClient,
} from 'mqtt';
import type { Clock, Timer } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { DriverError, type Health } from '../driver';
import type {
  MessageHandler,
  Messaging,
  MessagingStats,
  PublishOptions,
  QoS,
  Unsubscribe,
} from '../messaging';
import {
  OFFLINE_PAYLOAD,
  ONLINE_PAYLOAD,
  clientOptions,
  coerceMqttConnectionOptions,
  displayUrl,
  readConnectionSecrets,
  type MqttConnectionOptions,
  type ResolvedMqttConnectionOptions,
} from './options';
import { hasWildcard, matchPattern, topicFilterProblem, topicMatches, topicNameProblem } from './topics';

export interface MqttConnectionEvents {
  /** up: connected; degraded: connected, but the broker refused a subscription; down: not connected. */
  healthChanged: [health: Health, error?: DriverError];
  /** Every established connection; `reconnect` is true after a loss, so owners can republish state. */
  connected: [info: { reconnect: boolean }];
}

type SubackPacket = Parameters<ClientSubscribeCallback>[2];

type SubscriptionState = 'pending' | 'requested' | 'active' | 'refused';

interface HandlerRecord {
  readonly handler: MessageHandler;
  readonly filter: string;
  lastReportAt: number;
  unreported: number;
}

interface FilterEntry {
  readonly filter: string;
  /** The filter without `$share/<group>/`, as topics are matched against it. */
  readonly pattern: string;
  qos: QoS;
  /** Replaced, never mutated, so a dispatch in progress keeps a consistent list. */
  handlers: readonly HandlerRecord[];
  state: SubscriptionState;
  refusal?: string;
  request?: Promise<void>;
}

const PUBLISH_OPTIONS: Record<QoS, readonly [IClientPublishOptions, IClientPublishOptions]> = {
  0: [
    { qos: 0, retain: false },
    { qos: 0, retain: true },
  ],
  1: [
    { qos: 1, retain: false },
    { qos: 1, retain: true },
  ],
  2: [
    { qos: 2, retain: false },
    { qos: 2, retain: true },
  ],
};
const NO_PUBLISH_OPTIONS: PublishOptions = {};
/** A handler that keeps failing is reported at most this often; the failures in between are counted. */
const HANDLER_ERROR_REPORT_MS = 10_000;

/**
 * One MQTT connection of the service, over mqtt.js. mqtt.js reconnects on its own (reconnectPeriod)
 * and this class passes its events on as health and `connected`. The session is persistent
 * (clean: false, stable client id), so QoS 1 messages sent while the service was away are delivered
 * when it comes back. A retained last will says `{"state":"offline"}` on `<base>/bridge/state`;
 * every (re)connection publishes `{"state":"online"}` there and makes sure every subscription is
 * active again. Incoming messages go to handlers through a Map of exact topics and, only when there
 * are any, a list of wildcard filters, without allocating per message.
 */
export class MqttConnection extends EventEmitter<MqttConnectionEvents> implements Messaging {
  private readonly options: ResolvedMqttConnectionOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private client?: MqttClient;
  private lifecycle: 'idle' | 'started' | 'stopping' | 'stopped' = 'idle';
  private stopping?: Promise<void>;
  private isConnected = false;
  private everConnected = false;
  private currentHealth: Health = 'down';
  private currentError?: DriverError;
  /** Why the current connection attempt failed, reported when it closes. */
  private attemptError?: DriverError;
  private readonly filters = new Map<string, FilterEntry>();
  private readonly entriesByPattern = new Map<string, FilterEntry[]>();
  private readonly exactHandlers = new Map<string, readonly HandlerRecord[]>();
  private wildcardEntries: readonly FilterEntry[] = [];
  /** Filters dropped while disconnected, still in the broker's session until unsubscribed. */
  private readonly unsubscribeOnConnect = new Set<string>();
  private readonly counters: MessagingStats = {
    received: 0,
    published: 0,
    dropped: 0,
    reconnects: 0,
    handlerErrors: 0,
  };

  constructor(options: MqttConnectionOptions) {
    super();
    this.options = coerceMqttConnectionOptions(options);
    this.logger = this.options.logger;
    this.clock = this.options.clock;
  }

  get clientId(): string {
    return this.options.clientId;
  }

  get baseTopic(): string {
    return this.options.baseTopic;
  }

  /**
   * Connects and resolves after the first attempt, whether it succeeded or not; mqtt.js keeps trying
   * every `reconnect_ms`. Throws only for configuration it cannot use (unreadable secret or certificate).
   * Handlers subscribed before start() also receive the messages the broker queued for the session.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.lifecycle !== 'idle')
      throw new Error(`MqttConnection ${this.clientId}: start() called when already ${this.lifecycle}`);
    signal?.throwIfAborted();
    const secrets = readConnectionSecrets(this.options);
    this.lifecycle = 'started';
    const client = connect(this.options.url, clientOptions(this.options, secrets));
    this.client = client;
    client.on('connect', this.onConnect);
    client.on('close', this.onClose);
    client.on('error', this.onError);
    client.on('reconnect', this.onReconnect);
    client.on('message', this.onMessage);
    this.logger.info(`connecting to ${displayUrl(this.options.url)} as '${this.clientId}'`);

    if ((await waitForEvent(client, ['connect', 'close'], signal)) === 'aborted') {
      await this.stop();
      signal?.throwIfAborted();
    }
  }

  /** Publishes the offline state, waits (bounded) for pending acknowledgements and disconnects; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  health(): Health {
    return this.currentHealth;
  }

  stats(): MessagingStats {
    return { ...this.counters };
  }

  /**
   * Adds a handler for a filter (`a/b`, `a/+/c`, `a/#`, `$share/<group>/a/#`). Several handlers may
   * share a filter; the broker subscription takes the highest QoS asked for. Resolves once the broker
   * answered, or at once while disconnected (the subscription is made on connection). A refusal by
   * the broker does not reject: it turns health to degraded and is retried on every reconnection.
   */
  async subscribe(filter: string, qos: QoS, handler: MessageHandler): Promise<Unsubscribe> {
    const problem = topicFilterProblem(filter);
    if (problem !== undefined) throw new Error(`MQTT subscribe: topic filter '${filter}' ${problem}`);
    if (qos !== 0 && qos !== 1 && qos !== 2)
      throw new Error(`MQTT subscribe to '${filter}': QoS must be 0, 1 or 2 (is ${String(qos)})`);
    if (this.lifecycle === 'stopping' || this.lifecycle === 'stopped')
      throw new DriverError('stopped', `MQTT subscribe to '${filter}': the connection is stopped`);

    let entry = this.filters.get(filter);
    if (entry === undefined) {
      entry = { filter, pattern: matchPattern(filter), qos, handlers: [], state: 'pending' };
      this.addEntry(entry);
      this.unsubscribeOnConnect.delete(filter);
    } else if (qos > entry.qos) {
      entry.qos = qos;
      entry.state = 'pending';
    }
    const record: HandlerRecord = { handler, filter, lastReportAt: -Infinity, unreported: 0 };
    entry.handlers = [...entry.handlers, record];
    this.reindex(entry.pattern);

    if (entry.state === 'pending') await this.requestSubscriptions([entry]);
    else if (entry.state === 'requested') await entry.request;
    const subscribed = entry;
    return () => this.removeHandler(subscribed, record);
  }

  /**
   * Publishes a message. QoS 0 resolves once written, QoS 1 and 2 once acknowledged; QoS 1 and 2
   * messages published while disconnected are sent on reconnection, QoS 0 ones are refused
   * (DriverError 'disconnected'). Throws at once for a topic holding a wildcard.
   */
  publish(
    topic: string,
    payload: string | Buffer,
    options: PublishOptions = NO_PUBLISH_OPTIONS,
  ): Promise<void> {
    const problem = topicNameProblem(topic);
    if (problem !== undefined) throw new Error(`MQTT publish to '${topic}' refused: the topic ${problem}`);
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2)
      throw new Error(`MQTT publish to '${topic}': QoS must be 0, 1 or 2 (is ${String(qos)})`);
    const client = this.client;
    if (client === undefined || this.lifecycle !== 'started') {
      this.counters.dropped++;
      const code = this.lifecycle === 'idle' ? 'disconnected' : 'stopped';
      return Promise.reject(
        new DriverError(
          code,
          `MQTT publish to '${topic}': the connection is ${this.lifecycle === 'idle' ? 'not started' : 'stopped'}`,
        ),
      );
    }
    return this.send(client, topic, payload, PUBLISH_OPTIONS[qos][options.retain ? 1 : 0]);
  }

  private send(
    client: MqttClient,
    topic: string,
    payload: string | Buffer,
    options: IClientPublishOptions,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, options, (error) => {
        if (error) {
          this.counters.dropped++;
          reject(this.publishError(error, topic, options.qos ?? 0));
        } else {
          this.counters.published++;
          resolve();
        }
      });
    });
  }

  private publishError(error: Error, topic: string, qos: number): DriverError {
    const where = `MQTT publish to '${topic}' (QoS ${qos})`;
    if (this.lifecycle !== 'started')
      return new DriverError(
        'stopped',
        `${where}: the connection stopped before the broker took it`,
        undefined,
        {
          cause: error,
        },
      );
    if (error.message === 'No connection to broker')
      return new DriverError(
        'disconnected',
        `${where} dropped: not connected to ${displayUrl(this.options.url)}`,
        undefined,
        { cause: error },
      );
    return new DriverError('disconnected', `${where} failed: ${error.message}`, undefined, { cause: error });
  }

  // ---- incoming messages: the hot path ----

  private readonly onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    this.counters.received++;
    const exact = this.exactHandlers.get(topic);
    if (exact !== undefined) this.deliver(exact, topic, payload, packet);
    const wildcards = this.wildcardEntries;
    for (let i = 0; i < wildcards.length; i++) {
      const entry = wildcards[i];
      if (topicMatches(entry.pattern, topic)) this.deliver(entry.handlers, topic, payload, packet);
    }
  };

  private deliver(
    records: readonly HandlerRecord[],
    topic: string,
    payload: Buffer,
    packet: IPublishPacket,
  ): void {
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      try {
        const result = record.handler(topic, payload, packet);
        if (result instanceof Promise)
          result.catch((error: unknown) => this.handlerFailed(record, topic, error));
      } catch (error) {
        this.handlerFailed(record, topic, error);
      }
    }
  }

  private handlerFailed(record: HandlerRecord, topic: string, error: unknown): void {
    this.counters.handlerErrors++;
    const now = this.clock.now();
    if (now - record.lastReportAt < HANDLER_ERROR_REPORT_MS) {
      record.unreported++;
      return;
    }
    const more =
      record.unreported > 0
        ? ` (${record.unreported} more failures of this handler since the last report)`
        : '';
    this.logger.error(
      `MqttConnection/message: handler for '${record.filter}' failed on '${topic}': ${errorMessage(error)}${more}`,
      { stack: (error as Error | undefined)?.stack },
    );
    record.lastReportAt = now;
    record.unreported = 0;
  }

  // ---- subscriptions ----

  private addEntry(entry: FilterEntry): void {
    this.filters.set(entry.filter, entry);
    const siblings = this.entriesByPattern.get(entry.pattern);
    if (siblings) siblings.push(entry);
    else this.entriesByPattern.set(entry.pattern, [entry]);
  }

  private removeEntry(entry: FilterEntry): void {
    this.filters.delete(entry.filter);
    const remaining = (this.entriesByPattern.get(entry.pattern) ?? []).filter((e) => e !== entry);
    if (remaining.length > 0) this.entriesByPattern.set(entry.pattern, remaining);
    else this.entriesByPattern.delete(entry.pattern);
  }

  /** Rebuilds the dispatch tables for one pattern after its handlers changed. */
  private reindex(pattern: string): void {
    if (hasWildcard(pattern)) {
      this.wildcardEntries = [...this.filters.values()].filter(
        (e) => e.handlers.length > 0 && hasWildcard(e.pattern),
      );
      return;
    }
    const handlers = (this.entriesByPattern.get(pattern) ?? []).flatMap((e) => e.handlers);
    if (handlers.length > 0) this.exactHandlers.set(pattern, handlers);
    else this.exactHandlers.delete(pattern);
  }

  private async removeHandler(entry: FilterEntry, record: HandlerRecord): Promise<void> {
    if (!entry.handlers.includes(record)) return;
    entry.handlers = entry.handlers.filter((r) => r !== record);
    if (entry.handlers.length > 0) {
      this.reindex(entry.pattern);
      return;
    }
    this.removeEntry(entry);
    this.reindex(entry.pattern);
    this.updateHealth();
    const client = this.client;
    if (this.lifecycle !== 'started' || client === undefined) return;
    if (!client.connected) {
      this.unsubscribeOnConnect.add(entry.filter);
      return;
    }
    await this.unsubscribeAtBroker(client, [entry.filter]);
  }

  private unsubscribeAtBroker(client: MqttClient, filters: string[]): Promise<void> {
    return new Promise((resolve) => {
      client.unsubscribe(filters, (error) => {
        if (error) {
          // Retried on the next connection: the session would otherwise keep queueing for them.
          for (const f of filters) if (!this.filters.has(f)) this.unsubscribeOnConnect.add(f);
          this.logger.warn(
            `unsubscribe from ${filters.map((f) => `'${f}'`).join(', ')} failed: ${error.message}`,
          );
        }
        resolve();
      });
    });
  }

  /** Sends one SUBSCRIBE for the entries; never rejects: what did not get through stays pending. */
  private requestSubscriptions(entries: FilterEntry[]): Promise<void> {
    const client = this.client;
    if (client === undefined || !client.connected || entries.length === 0) return Promise.resolve();
    const request: ISubscriptionMap = {};
    for (const entry of entries) {
      request[entry.filter] = { qos: entry.qos };
      entry.state = 'requested';
    }
    const promise = new Promise<void>((resolve) => {
      client.subscribe(request, (error, _granted, packet?: SubackPacket) => {
        const granted = packet?.granted;
        entries.forEach((entry, i) => {
          // Unsubscribed, or asked again with a higher QoS, while this request was under way.
          if (entry.state !== 'requested' || this.filters.get(entry.filter) !== entry) return;
          const code = granted?.[i];
          if (typeof code !== 'number') {
            entry.state = 'pending';
            if (error && this.lifecycle === 'started')
              this.logger.debug(() => `subscribe to '${entry.filter}' deferred: ${error.message}`);
          } else if ((code & 0x80) !== 0) {
            entry.state = 'refused';
            entry.refusal = ReasonCodes[code as keyof typeof ReasonCodes] ?? `reason code ${code}`;
            this.logger.error(
              `broker refused the subscription to '${entry.filter}': ${entry.refusal} (check the broker's ACL for user '${this.options.config.username ?? '(anonymous)'}')`,
            );
          } else {
            entry.state = 'active';
            entry.refusal = undefined;
            if (code < entry.qos)
              this.logger.warn(`broker granted QoS ${code} instead of ${entry.qos} for '${entry.filter}'`);
          }
        });
        entries.forEach((entry) => {
          if (entry.request === promise) entry.request = undefined;
        });
        this.updateHealth();
        resolve();
      });
    });
    for (const entry of entries) entry.request = promise;
    return promise;
  }

  // ---- connection events from mqtt.js ----

  private readonly onConnect = (connack: IConnackPacket): void => {
    const client = this.client;
    if (this.lifecycle !== 'started' || client === undefined) return;
    const reconnect = this.everConnected;
    this.everConnected = true;
    this.isConnected = true;
    this.attemptError = undefined;
    if (reconnect) this.counters.reconnects++;
    coalesceAcknowledgements(client.stream);
    const resumed = connack.sessionPresent;
    this.logger.info(
      `connected to ${displayUrl(this.options.url)} as '${this.clientId}'${resumed ? ', session resumed' : ''}`,
    );

    const { stateTopic } = this.options;
    if (stateTopic !== undefined)
      this.send(client, stateTopic, ONLINE_PAYLOAD, PUBLISH_OPTIONS[1][1]).catch((error: unknown) =>
        this.logger.warn(`online state on '${stateTopic}' not published: ${errorMessage(error)}`),
      );

    // Without a session the broker lost every subscription (restart without persistence, expiry).
    // With one, subscriptions whose SUBACK never came back and refused ones are asked again.
    if (!resumed) this.unsubscribeOnConnect.clear();
    else if (this.unsubscribeOnConnect.size > 0) {
      const stale = [...this.unsubscribeOnConnect];
      this.unsubscribeOnConnect.clear();
      void this.unsubscribeAtBroker(client, stale);
    }
    const toRequest: FilterEntry[] = [];
    for (const entry of this.filters.values()) {
      if (!resumed || entry.state !== 'active') toRequest.push(entry);
    }
    void this.requestSubscriptions(toRequest);

    this.updateHealth();
    this.emitSafely('connected', { reconnect });
  };

  private readonly onClose = (): void => {
    const wasConnected = this.isConnected;
    this.isConnected = false;
    if (this.lifecycle !== 'started') return;
    const error =
      this.attemptError ??
      new DriverError('disconnected', `MQTT broker ${displayUrl(this.options.url)} closed the connection`);
    if (wasConnected)
      this.logger.warn(
        `connection lost: ${error.message}; reconnecting every ${this.options.config.reconnect_ms} ms`,
      );
    this.setHealth('down', error);
  };

  private readonly onError = (error: Error): void => {
    if (this.lifecycle !== 'started') {
      this.logger.debug(() => `error while stopping: ${error.message}`);
      return;
    }
    const driverError = describeConnectionError(error, this.options);
    this.attemptError = driverError;
    if (driverError.message === this.currentError?.message) this.logger.debug(driverError.message);
    else this.logger.warn(driverError.message);
    if (!this.isConnected) this.setHealth('down', driverError);
  };

  private readonly onReconnect = (): void => {
    this.attemptError = undefined;
    this.logger.debug(() => `reconnecting to ${displayUrl(this.options.url)}`);
  };

  // ---- health ----

  private updateHealth(): void {
    if (!this.isConnected || this.lifecycle !== 'started') {
      this.setHealth('down', this.currentError);
      return;
    }
    // Called once per subscription answered: no array of all the filters (thousands of sensors).
    let refused: FilterEntry[] | undefined;
    for (const entry of this.filters.values()) if (entry.state === 'refused') (refused ??= []).push(entry);
    if (refused === undefined) {
      this.setHealth('up');
      return;
    }
    const list = refused.map((e) => `'${e.filter}' (${e.refusal})`).join(', ');
    this.setHealth(
      'degraded',
      new DriverError(
        'security',
        `MQTT broker ${displayUrl(this.options.url)} refused subscriptions: ${list}`,
      ),
    );
  }

  private setHealth(health: Health, error?: DriverError): void {
    if (health === this.currentHealth && error?.message === this.currentError?.message) return;
    this.currentHealth = health;
    this.currentError = error;
    this.emitSafely('healthChanged', health, error);
  }

  private emitSafely<E extends keyof MqttConnectionEvents>(event: E, ...args: MqttConnectionEvents[E]): void {
    try {
      (this.emit as (event: E, ...args: MqttConnectionEvents[E]) => boolean)(event, ...args);
    } catch (error) {
      this.logger.error(`MqttConnection/${event}: listener failed: ${errorMessage(error)}`, {
        stack: (error as Error | undefined)?.stack,
      });
    }
  }

  // ---- stop ----

  private async shutdown(): Promise<void> {
    const client = this.client;
    this.lifecycle = 'stopping';
    if (client !== undefined) {
      let timer: Timer | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = this.clock.setTimeout(() => resolve('expired'), this.options.stopTimeoutMs);
      });
      try {
        await this.disconnect(client, expired);
      } finally {
        if (timer !== undefined) this.clock.clearTimeout(timer);
      }
      try {
        // The memory store keeps unacknowledged QoS 1 messages for a reconnection that will not come:
        // fail their promises rather than leave them pending forever.
        for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
      } catch (error) {
        this.logger.warn(`stop: releasing pending messages failed: ${errorMessage(error)}`);
      }
    }
    this.lifecycle = 'stopped';
    this.isConnected = false;
    this.setHealth('down', new DriverError('stopped', 'MQTT connection stopped'));
    if (client !== undefined) this.logger.info(`disconnected from ${displayUrl(this.options.url)}`);
  }

  /** Offline state, pending acknowledgements, DISCONNECT: each step bounded by the one stop deadline. */
  private async disconnect(client: MqttClient, expired: Promise<'expired'>): Promise<void> {
    const { stateTopic } = this.options;
    if (client.connected && stateTopic !== undefined) {
      // An orderly DISCONNECT discards the last will, so the offline state is published first.
      const offline = this.send(client, stateTopic, OFFLINE_PAYLOAD, PUBLISH_OPTIONS[1][1]).then(
        () => 'done' as const,
        (error: unknown) => {
          this.logger.warn(`stop: offline state not published: ${errorMessage(error)}`);
          return 'done' as const;
        },
      );
      if ((await Promise.race([offline, expired])) === 'expired')
        this.logger.warn('stop: the broker did not acknowledge the offline state in time');
    }
    if (client.connected && pendingCount(client) > 0) {
      const waiting = new AbortController();
      const emptied = waitForEvent(client, ['outgoingEmpty', 'close'], waiting.signal);
      if ((await Promise.race([emptied, expired])) === 'expired') {
        waiting.abort();
        this.logger.warn(`stop: ${pendingCount(client)} messages still unacknowledged`);
      }
    }
    const ended = client.endAsync(!client.connected || pendingCount(client) > 0).then(
      () => 'done' as const,
      (error: unknown) => {
        this.logger.warn(`stop: ending the client failed: ${errorMessage(error)}`);
        return 'done' as const;
      },
    );
    if ((await Promise.race([ended, expired])) === 'expired') {
      this.logger.warn('stop: DISCONNECT did not complete in time; closing the socket');
      client.stream.destroy();
      await ended;
    }
  }
}

/** Resolves on the first of the events, or when the signal aborts; removes its listeners either way. */
function waitForEvent(
  client: MqttClient,
  events: readonly ('connect' | 'close' | 'outgoingEmpty')[],
  signal?: AbortSignal,
): Promise<'event' | 'aborted'> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve('aborted');
      return;
    }
    const settle = (outcome: 'event' | 'aborted'): void => {
      for (const event of events) client.off(event, onEvent);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onEvent = (): void => settle('event');
    const onAbort = (): void => settle('aborted');
    for (const event of events) client.on(event, onEvent);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function pendingCount(client: MqttClient): number {
  return Object.keys(client.outgoing).length;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const TLS_ERROR = /CERT|SSL|TLS|ISSUER|SIGNATURE|EPROTO/;

/** Maps an mqtt.js or socket error to a DriverError that says what to check. */
export function describeConnectionError(
  error: Error & { code?: unknown },
  options: Pick<ResolvedMqttConnectionOptions, 'url' | 'clientId' | 'config'>,
): DriverError {
  const broker = `MQTT broker ${displayUrl(options.url)}`;
  const code = error.code;
  if (typeof code === 'number') {
    // CONNACK return codes of MQTT 3.1.1.
    switch (code) {
      case 4:
      case 5: {
        const user =
          options.config.username === undefined ? 'anonymous' : `user '${options.config.username}'`;
        return new DriverError(
          'security',
          `${broker} refused the connection (${user}): ${error.message.replace(/^Connection refused: /, '')}; check mqtt.username and mqtt.password`,
          ReasonCodes[code],
          { cause: error },
        );
      }
      case 2:
        return new DriverError(
          'exception',
          `${broker} rejected the client id '${options.clientId}'; set mqtt.client_id`,
          ReasonCodes[code],
          { cause: error },
        );
      default:
        return new DriverError('exception', `${broker}: ${error.message}`, String(code), { cause: error });
    }
  }
  if (typeof code === 'string' && TLS_ERROR.test(code)) {
    return new DriverError(
      'security',
      `${broker}: TLS handshake failed: ${error.message} (${code}); check mqtt.tls.ca_file and the server certificate`,
      code,
      { cause: error },
    );
  }
  if (code === 'ETIMEDOUT' || /connack timeout|keepalive timeout/i.test(error.message)) {
    return new DriverError(
      'timeout',
      `${broker}: ${error.message}`,
      typeof code === 'string' ? code : undefined,
      {
        cause: error,
      },
    );
  }
  return new DriverError(
    'disconnected',
    `${broker}: ${error.message}`,
    typeof code === 'string' ? code : undefined,
    { cause: error },
  );
}

/**
 * mqtt.js writes the acknowledgement of each QoS 1 message on its own, one system call and one TCP
 * segment per message (with TCP_NODELAY). The messages of one received chunk are handled before the
 * event loop goes on, so corking the socket when a chunk arrives and uncorking it right after (the check
 * phase) sends their acknowledgements in one write, a few microseconds later.
 */
function coalesceAcknowledgements(stream: Duplex): void {
  if (corked.has(stream)) return;
  corked.add(stream);
  let pending = false;
  const uncork = (): void => {
    pending = false;
    stream.uncork();
  };
  stream.prependListener('data', () => {
    if (pending) return;
    pending = true;
    stream.cork();
    setImmediate(uncork);
  });
}

const corked = new WeakSet<Duplex>();
