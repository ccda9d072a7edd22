import { EventEmitter } from 'node:events';
import {
  AttributeIds,
  NodeClass,
  OPCUAClient,
  StatusCodes,
  UserTokenType,
  VariableIds,
  makeBrowsePath,
  type ClientSession,
  type DataType,
  type DataValue,
  type NodeId,
  type ReadValueIdOptions,
  type StatusCode,
  type UserIdentityInfo,
  type Variant,
  type WriteValueOptions,
} from 'node-opcua';
import type { Timer } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { readSecret } from '../../config/secrets';
import type { OpcuaDeviceConfig } from '../../config/schema';
import {
  DriverError,
  type Driver,
  type DriverEvents,
  type DriverStats,
  type Health,
  type PointRef,
  type PointWrite,
  type Sample,
  type Subscription,
  type WriteResult,
} from '../driver';
import { INITIAL_LINK_STATE, isUsable, nextLinkState, type LinkEvent, type LinkState } from './linkState';
import {
  coerceOpcuaDriverOptions,
  type OpcuaDriverOptions,
  type ResolvedOpcuaDriverOptions,
} from './options';
import { Monitoring, withTimeLimit } from './monitoring';
import { ClientPki } from './pki';
import {
  builtInTypeOf,
  chunks,
  euRangeMissing,
  limitOf,
  resolveTargets,
  securityOf,
  type Target,
} from './targets';
import {
  classifyError,
  decodeValue,
  encodeValue,
  errorCodeOf,
  failedSample,
  prefixed,
  qualityOf,
  sampleOf,
  statusError,
} from './values';

/** One OPC UA client with its PKI and session: replaced whole after a refusal. */
interface Connection {
  client: OPCUAClient;
  pki: ClientPki;
  session?: ClientSession;
  /** The server's operation limits (0: none), read once per session. */
  maxNodesPerRead: number;
  maxNodesPerWrite: number;
  closed: boolean;
  closing?: Promise<void>;
  /** Removes the listeners this driver added to the client and session. */
  detach: (() => void)[];
}

/**
 * A Driver for one OPC UA server, built on node-opcua's OPCUAClient.
 *
 * Reconnection belongs to node-opcua (`connectionStrategy`, infinite retries): after a server restart it
 * recreates the session, the subscription and its monitored items. The driver maps the library's events
 * to health and `connected` (wireClient/wireSession → onLink → linkState.ts), and checks after each
 * reconnection that the monitored items really exist again (Monitoring.restore): node-opcua gives up on
 * them silently when the server's MaxNodesPerRead is below 12 (it reads all operation limits in one
 * request first). When the server refuses the connection or the session, node-opcua gives up too; the
 * driver tries again with a fresh client after `retryAfterRefusalMs`.
 */
export class OpcuaDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly deviceId: string;
  private readonly options: ResolvedOpcuaDriverOptions;
  private readonly log: Logger;
  private link: LinkState = INITIAL_LINK_STATE;
  private running = false;
  private connection?: Connection;
  private retryTimer?: Timer;
  private stopping?: Promise<void>;
  private settleFirstAttempt?: () => void;
  private readonly monitoring: Monitoring;
  /** Built-in type of each written node, read once from its DataType attribute. */
  private readonly dataTypes = new Map<string, DataType>();
  private readonly counters: DriverStats = { requests: 0, errors: 0, reconnects: 0 };

  constructor(
    private readonly config: OpcuaDeviceConfig,
    options: OpcuaDriverOptions,
  ) {
    super();
    this.deviceId = config.id;
    this.options = coerceOpcuaDriverOptions(options);
    this.log = this.options.logger.child(config.id);
    this.monitoring = new Monitoring({
      clock: this.options.clock,
      log: this.log,
      publishingMs: config.publishing_ms,
      stepTimeoutMs: this.options.stopStepTimeoutMs,
      reachable: () => isUsable(this.link),
      call: (what, request) => this.call(what, request),
      deliver: (samples) => {
        if (this.running) this.emitSafely('samples', samples);
      },
    });
  }

  async start(signal?: AbortSignal): Promise<void> {
    if (this.running) return;
    await this.stopping;
    this.running = true;
    this.link = INITIAL_LINK_STATE;
    await this.open(signal);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  health(): Health {
    return this.link.health;
  }

  stats(): DriverStats {
    return { ...this.counters };
  }

  async check(points: readonly PointRef[]): Promise<DriverError[]> {
    const { targets, failures } = resolveTargets(points);
    const errors = failures.map((f) => f.error);
    if (targets.length === 0) return errors;
    const session = this.usableSession();
    if (session instanceof DriverError) {
      return [
        ...errors,
        ...targets.map((t) => prefixed(session, `${t.label}: cannot check node ${t.nodeIdText}`)),
      ];
    }
    try {
      const dataValues = await this.readAttributes(
        session,
        targets.flatMap((t) => [
          { nodeId: t.nodeId, attributeId: AttributeIds.NodeClass },
          { nodeId: t.nodeId, attributeId: AttributeIds.Value },
        ]),
        'check nodes',
      );
      const present: Target[] = [];
      targets.forEach((t, i) => {
        const error = this.checkNode(t, dataValues[2 * i], dataValues[2 * i + 1]);
        if (error) errors.push(error);
        else present.push(t);
      });
      errors.push(...(await this.checkEuRanges(session, present)));
    } catch (error) {
      errors.push(
        ...targets.map((t) =>
          prefixed(error as DriverError, `${t.label}: cannot check node ${t.nodeIdText}`),
        ),
      );
    }
    return errors;
  }

  async read(points: readonly PointRef[]): Promise<Sample[]> {
    const now = this.options.clock.now();
    const samples: Sample[] = new Array<Sample>(points.length);
    const { targets, failures } = resolveTargets(points);
    for (const f of failures) samples[f.index] = failedSample(points[f.index].key, f.error, now);
    if (targets.length === 0) return samples;
    const session = this.usableSession();
    if (session instanceof DriverError) {
      for (const t of targets) samples[t.index] = failedSample(t.key, session, now);
      return samples;
    }
    try {
      const dataValues = await this.readAttributes(
        session,
        targets.map((t) => ({ nodeId: t.nodeId, attributeId: AttributeIds.Value })),
        'read',
      );
      const time = this.options.clock.now();
      targets.forEach((t, i) => {
        samples[t.index] = sampleOf(t.key, t.label, t.nodeIdText, dataValues[i], time);
      });
    } catch (error) {
      for (const t of targets) samples[t.index] = failedSample(t.key, error as DriverError, now);
    }
    return samples;
  }

  async write(writes: readonly PointWrite[]): Promise<WriteResult[]> {
    const results: WriteResult[] = new Array<WriteResult>(writes.length);
    const fail = (index: number, error: DriverError): void => {
      results[index] = { key: writes[index].key, ok: false, error };
    };
    const { targets, failures } = resolveTargets(writes);
    for (const f of failures) fail(f.index, f.error);
    if (targets.length === 0) return results;
    const session = this.usableSession();
    if (session instanceof DriverError) {
      for (const t of targets) fail(t.index, session);
      return results;
    }
    const ready: { target: Target; variant: Variant }[] = [];
    try {
      const types = await this.dataTypesOf(session, targets);
      targets.forEach((t, i) => {
        const type = types[i];
        if (type instanceof DriverError) {
          fail(t.index, prefixed(type, `${t.label}: cannot write node ${t.nodeIdText}`));
          return;
        }
        try {
          ready.push({ target: t, variant: encodeValue(writes[t.index].value, type, t.label, t.nodeIdText) });
        } catch (error) {
          fail(t.index, error as DriverError);
        }
      });
      if (ready.length === 0) return results;
      const statuses = await this.writeValues(
        session,
        ready.map(({ target, variant }) => ({
          nodeId: target.nodeId,
          attributeId: AttributeIds.Value,
          value: { value: variant },
        })),
      );
      ready.forEach(({ target }, i) => {
        const status = statuses[i];
        if (qualityOf(status) === 'good') results[target.index] = { key: target.key, ok: true };
        else
          fail(
            target.index,
            statusError(status, `${target.label}: write to node ${target.nodeIdText} refused`),
          );
      });
    } catch (error) {
      for (const t of targets) if (!results[t.index]) fail(t.index, error as DriverError);
    }
    return results;
  }

  subscribe(points: readonly PointRef[]): Subscription {
    const connection = this.connection;
    return this.monitoring.add(points, connection && !connection.closed ? connection.session : undefined);
  }

  // ---------------------------------------------------------------- connection

  /** Creates a client and starts connecting; resolves after the first attempt, successful or not. */
  private async open(signal?: AbortSignal): Promise<void> {
    this.onLink({ type: 'opening' });
    let connection: Connection;
    try {
      const { securityMode, securityPolicy } = securityOf(this.config);
      const pki = new ClientPki(this.options.pkiDir, this.options.trustServerOnFirstUse, this.log);
      const client = OPCUAClient.create({
        applicationName: this.options.applicationName,
        clientName: `${this.options.applicationName}-${this.deviceId}`,
        endpointMustExist: false,
        securityMode,
        securityPolicy,
        clientCertificateManager: pki,
        // node-opcua's retry loop, for the first connection and every reconnection
        connectionStrategy: {
          initialDelay: this.options.reconnectInitialDelayMs,
          maxDelay: this.options.reconnectMaxDelayMs,
          maxRetry: -1,
          randomisationFactor: 0.1,
        },
        defaultTransactionTimeout: this.config.timeout_ms,
        keepSessionAlive: true,
        keepAliveInterval: this.options.keepAliveMs,
      });
      connection = { client, pki, maxNodesPerRead: 0, maxNodesPerWrite: 0, closed: false, detach: [] };
    } catch (error) {
      this.refused(classifyError(error, this.where(), 'connect'));
      return;
    }
    this.connection = connection;
    this.wireClient(connection);
    const clock = this.options.clock;
    await new Promise<void>((resolve) => {
      const settle = (): void => {
        clock.clearTimeout(timer);
        signal?.removeEventListener('abort', settle);
        if (this.settleFirstAttempt === settle) this.settleFirstAttempt = undefined;
        resolve();
      };
      const timer = clock.setTimeout(settle, this.options.startWaitMs);
      this.settleFirstAttempt = settle;
      signal?.addEventListener('abort', settle, { once: true });
      if (signal?.aborted) settle();
      void this.connect(connection);
    });
  }

  private async connect(connection: Connection): Promise<void> {
    let step = `${this.where()}: cannot connect`;
    try {
      const identity = this.userIdentity();
      await connection.client.connect(this.config.endpoint);
      if (connection.closed) return;
      step = `${this.where()}: cannot open a session as ${this.identityName()}`;
      const session = await connection.client.createSession(identity);
      if (connection.closed) return;
      connection.session = session;
      this.wireSession(connection, session);
      await this.readOperationLimits(connection, session);
      await this.monitoring.monitorAll(session);
      if (!connection.closed) this.onLink({ type: 'sessionReady' });
    } catch (error) {
      if (connection.closed) return;
      this.refused(classifyError(error, step, 'connect'));
      await this.closeConnection(connection);
    }
  }

  /** The server refused us, or the client could not be built: report, then try again later with a new client. */
  private refused(error: DriverError): void {
    this.counters.errors++;
    this.log.error(`${error.message}; next attempt in ${this.options.retryAfterRefusalMs} ms`, {
      code: error.code,
    });
    this.onLink({ type: 'refused', error });
    if (!this.running || this.retryTimer) return;
    this.retryTimer = this.options.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.running && !this.stopping) void this.open();
    }, this.options.retryAfterRefusalMs);
  }

  /** The one place where node-opcua's client events become link events. */
  private wireClient(connection: Connection): void {
    const { client } = connection;
    const link = (event: LinkEvent): void => {
      if (!connection.closed) this.onLink(event);
    };
    const onBackoff = (count: number, delay: number): void =>
      link({
        type: 'attemptFailed',
        error: new DriverError(
          'disconnected',
          `${this.where()}: unreachable (attempt ${count + 1}); next attempt in ${delay} ms`,
        ),
      });
    const onAttemptFailed = (error: Error, message: string): void =>
      link({ type: 'attemptFailed', error: classifyError(error, `${this.where()}: ${message}`, 'connect') });
    const onLost = (): void => link({ type: 'connectionLost' });
    const onChannelRestored = (): void => link({ type: 'channelRestored' });
    const onReestablished = (): void => {
      const session = connection.session;
      if (connection.closed || !session) return;
      // node-opcua's repair may have lost the monitored items: check them before saying all is well
      void this.monitoring
        .restore(session)
        .catch((error: Error) => this.log.error(`cannot restore the monitored items: ${error.message}`))
        .then(() => link({ type: 'connectionReestablished' }));
    };
    client.on('backoff', onBackoff);
    client.on('reconnection_attempt_has_failed', onAttemptFailed);
    client.on('connection_lost', onLost);
    client.on('after_reconnection', onChannelRestored);
    client.on('connection_reestablished', onReestablished);
    connection.detach.push(() => {
      client.off('backoff', onBackoff);
      client.off('reconnection_attempt_has_failed', onAttemptFailed);
      client.off('connection_lost', onLost);
      client.off('after_reconnection', onChannelRestored);
      client.off('connection_reestablished', onReestablished);
    });
  }

  /** The one place where node-opcua's session events become link events. */
  private wireSession(connection: Connection, session: ClientSession): void {
    const link = (event: LinkEvent): void => {
      if (!connection.closed) this.onLink(event);
    };
    const onKeepAliveFailed = (): void => link({ type: 'keepAliveFailed' });
    const onKeepAlive = (): void => link({ type: 'keepAliveSucceeded' });
    const onClosed = (status: StatusCode): void =>
      link({
        type: 'sessionClosed',
        error: statusError(status, `${this.where()}: the server closed the session`),
      });
    session.on('keepalive_failure', onKeepAliveFailed);
    session.on('keepalive', onKeepAlive);
    session.on('session_closed', onClosed);
    connection.detach.push(() => {
      session.off('keepalive_failure', onKeepAliveFailed);
      session.off('keepalive', onKeepAlive);
      session.off('session_closed', onClosed);
    });
  }

  private onLink(event: LinkEvent): void {
    const transition = nextLinkState(this.link, event, this.where());
    this.link = transition.state;
    if (transition.healthChanged) {
      const { health, error } = transition.healthChanged;
      if (health === 'up' || error?.code === 'stopped') this.log.info(`health ${health}`);
      else this.log.warn(`health ${health}: ${error?.message ?? 'no detail'}`, { code: error?.code });
      this.emitSafely('healthChanged', health, error);
    } else if (event.type === 'attemptFailed') {
      this.log.debug(() => event.error.message);
    }
    if (transition.connected) {
      if (transition.connected.reconnect) {
        this.counters.reconnects++;
        // a restarted server may have changed its address space
        this.dataTypes.clear();
      }
      this.log.info(transition.connected.reconnect ? 'reconnected' : 'connected', {
        endpoint: this.config.endpoint,
      });
      this.emitSafely('connected', transition.connected);
    }
    if (event.type === 'attemptFailed' || event.type === 'refused' || event.type === 'sessionReady') {
      this.settleFirstAttempt?.();
    }
  }

  private async shutdown(): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    if (this.retryTimer) {
      this.options.clock.clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.settleFirstAttempt?.();
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await this.closeConnection(connection);
    this.monitoring.clear();
    if (wasRunning) this.onLink({ type: 'stopped' });
  }

  /** Subscription, session, client, PKI: in reverse order of creation, each step bounded and on its own. */
  private closeConnection(connection: Connection): Promise<void> {
    connection.closing ??= (async () => {
      const reachable = isUsable(this.link);
      connection.closed = true;
      for (const detach of connection.detach.splice(0)) detach();
      const steps: [string, () => Promise<unknown>][] = [];
      const { session } = connection;
      if (reachable && session) {
        steps.push(['delete the subscription', () => this.monitoring.terminate(session)]);
        steps.push(['close the session', () => session.close(true)]);
      }
      steps.push(['disconnect', () => connection.client.disconnect()]);
      steps.push(['release the PKI', () => connection.pki.dispose()]);
      for (const [what, step] of steps) {
        try {
          await withTimeLimit(step(), what, this.options.stopStepTimeoutMs, this.options.clock);
        } catch (error) {
          this.log.warn(`cannot ${what}: ${(error as Error).message}`);
        }
      }
    })();
    return connection.closing;
  }

  private identityName(): string {
    return this.config.auth.type === 'username' ? `user '${this.config.auth.username}'` : 'anonymous';
  }

  private userIdentity(): UserIdentityInfo {
    const auth = this.config.auth;
    switch (auth.type) {
      case 'anonymous':
        return { type: UserTokenType.Anonymous };
      case 'username': {
        let password: string;
        try {
          password = readSecret(auth.password, this.options.configDir, this.options.env);
        } catch (error) {
          throw new DriverError(
            'security',
            `${this.where()}: cannot read the password of user '${auth.username}': ${(error as Error).message}`,
          );
        }
        return { type: UserTokenType.UserName, userName: auth.username, password };
      }
    }
  }

  private async readOperationLimits(connection: Connection, session: ClientSession): Promise<void> {
    try {
      const [read, write] = await this.call('read operation limits', () =>
        session.read([
          {
            nodeId: VariableIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
            attributeId: AttributeIds.Value,
          },
          {
            nodeId: VariableIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerWrite,
            attributeId: AttributeIds.Value,
          },
        ]),
      );
      connection.maxNodesPerRead = limitOf(read);
      connection.maxNodesPerWrite = limitOf(write);
    } catch (error) {
      this.log.debug(() => `no operation limits (${(error as Error).message}); sending each request whole`);
    }
  }

  // ---------------------------------------------------------------- services

  private usableSession(): ClientSession | DriverError {
    if (!this.running) return new DriverError('stopped', `device '${this.deviceId}' is stopped`);
    const session = this.connection?.session;
    if (!session || !isUsable(this.link)) {
      return new DriverError('disconnected', `${this.where()} is not connected`);
    }
    return session;
  }

  /** One Read call, or one per chunk when the server's MaxNodesPerRead requires it. */
  private async readAttributes(
    session: ClientSession,
    nodesToRead: ReadValueIdOptions[],
    what: string,
  ): Promise<DataValue[]> {
    const results: DataValue[] = [];
    for (const chunk of chunks(nodesToRead, this.connection?.maxNodesPerRead ?? 0)) {
      results.push(...(await this.call(what, () => session.read(chunk))));
    }
    return results;
  }

  /** One Write call, or one per chunk when the server's MaxNodesPerWrite requires it. */
  private async writeValues(
    session: ClientSession,
    nodesToWrite: WriteValueOptions[],
  ): Promise<StatusCode[]> {
    const results: StatusCode[] = [];
    for (const chunk of chunks(nodesToWrite, this.connection?.maxNodesPerWrite ?? 0)) {
      results.push(...(await this.call('write', () => session.write(chunk))));
    }
    return results;
  }

  /** A service call, repeated up to `retries` times when it times out. */
  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      this.counters.requests++;
      try {
        return await request();
      } catch (error) {
        const driverError = classifyError(error, `${this.where()}: ${what}`, 'service');
        if (driverError.code === 'timeout' && attempt < this.config.retries && this.running) {
          this.log.debug(() => `${driverError.message}; retry ${attempt + 1}/${this.config.retries}`);
          continue;
        }
        this.counters.errors++;
        throw driverError;
      }
    }
  }

  /** The built-in type of each target's node, in order: cached, else one Read of the DataType attributes. */
  private async dataTypesOf(session: ClientSession, targets: Target[]): Promise<(DataType | DriverError)[]> {
    const resolved = new Map<string, DataType | DriverError>();
    const toRead: Target[] = [];
    for (const t of targets) {
      const cached = this.dataTypes.get(t.nodeIdText);
      if (cached !== undefined) resolved.set(t.nodeIdText, cached);
      else if (!toRead.some((r) => r.nodeIdText === t.nodeIdText)) toRead.push(t);
    }
    if (toRead.length > 0) {
      const dataValues = await this.readAttributes(
        session,
        toRead.map((t) => ({ nodeId: t.nodeId, attributeId: AttributeIds.DataType })),
        'read data types',
      );
      for (const [i, t] of toRead.entries()) {
        resolved.set(t.nodeIdText, await this.builtInTypeFrom(session, t, dataValues[i]));
      }
    }
    // every target's node is in `resolved`: from the cache or from the read
    return targets.map((t) => resolved.get(t.nodeIdText) as DataType | DriverError);
  }

  private async builtInTypeFrom(
    session: ClientSession,
    target: Target,
    dataValue: DataValue,
  ): Promise<DataType | DriverError> {
    if (qualityOf(dataValue.statusCode) !== 'good') {
      return statusError(dataValue.statusCode, 'cannot read its data type');
    }
    try {
      const typeId = dataValue.value.value as NodeId;
      // subtypes (enumerations, custom types) need a walk up the type hierarchy
      const type =
        builtInTypeOf(typeId) ??
        (await this.call(`resolve data type ${typeId.toString()}`, () =>
          session.getBuiltInDataType(target.nodeId),
        ));
      this.dataTypes.set(target.nodeIdText, type);
      return type;
    } catch (error) {
      return classifyError(error, 'cannot resolve its data type', 'service');
    }
  }

  private checkNode(target: Target, nodeClass: DataValue, value: DataValue): DriverError | undefined {
    const { label, nodeIdText } = target;
    if (qualityOf(nodeClass.statusCode) === 'bad') {
      const missing = errorCodeOf(nodeClass.statusCode) === 'not-found';
      return statusError(
        nodeClass.statusCode,
        `${label}: node ${nodeIdText} ${missing ? 'does not exist on' : 'cannot be read from'} ${this.where()}`,
      );
    }
    if (nodeClass.value.value !== NodeClass.Variable) {
      const kind = NodeClass[nodeClass.value.value as NodeClass] ?? String(nodeClass.value.value);
      return new DriverError(
        'bad-type',
        `${label}: node ${nodeIdText} is an ${kind}, not a Variable holding a value`,
      );
    }
    const status = value.statusCode.value;
    if (status === StatusCodes.BadNotReadable.value || status === StatusCodes.BadUserAccessDenied.value) {
      return statusError(value.statusCode, `${label}: node ${nodeIdText} cannot be read by this client`);
    }
    if (qualityOf(value.statusCode) === 'bad') return undefined;
    try {
      decodeValue(value.value, label, nodeIdText);
      return undefined;
    } catch (error) {
      return error as DriverError;
    }
  }

  /** A percent deadband is relative to the node's EURange property: check that it has one. */
  private async checkEuRanges(session: ClientSession, targets: Target[]): Promise<DriverError[]> {
    const percent = targets.filter((t) => t.address.deadband?.type === 'percent');
    if (percent.length === 0) return [];
    const results = await this.call('look up EURange properties', () =>
      session.translateBrowsePath(percent.map((t) => makeBrowsePath(t.nodeId, '/0:EURange'))),
    );
    return percent.flatMap((t, i) => {
      const result = results[i];
      if (qualityOf(result.statusCode) === 'good' && (result.targets?.length ?? 0) > 0) return [];
      return [euRangeMissing(t, result.statusCode)];
    });
  }

  // ---------------------------------------------------------------- helpers

  private emitSafely<K extends keyof DriverEvents>(event: K, ...args: DriverEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: DriverEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.log.error(`OpcuaDriver/${event}: ${(error as Error).message}`);
    }
  }

  private where(): string {
    return `device '${this.deviceId}' (${this.config.endpoint})`;
  }
}
