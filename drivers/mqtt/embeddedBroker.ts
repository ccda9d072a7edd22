import type { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type Aedes from 'aedes';
import { createBroker } from 'aedes';
import { isLoopbackHost } from '../../config/loopback';
import type { Logger } from '../../core/logger';

export interface EmbeddedBrokerOptions {
  /** `mqtt.embedded_host`; keep 127.0.0.1: the embedded broker has no authentication. */
  host: string;
  /** `mqtt.embedded_port`; 0 picks a free port (read it back from `port` or `url`). */
  port: number;
  logger: Logger;
}

/**
 * An MQTT broker inside the service (aedes, in-memory sessions and retained messages) for the demo and
 * single-machine installs, started when no `mqtt.url` is configured. It has no authentication, no TLS
 * and loses its state with the process; production uses mosquitto or a clustered broker.
 */
export class EmbeddedBroker {
  private broker?: Aedes;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private boundPort?: number;

  constructor(private readonly options: EmbeddedBrokerOptions) {}

  get port(): number {
    if (this.boundPort === undefined) throw new Error('EmbeddedBroker: not started');
    return this.boundPort;
  }

  get url(): string {
    const host = ['0.0.0.0', '::'].includes(this.options.host) ? '127.0.0.1' : this.options.host;
    return `mqtt://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  /** Number of MQTT clients connected now. */
  clientCount(): number {
    return this.broker?.connectedClients ?? 0;
  }

  async start(): Promise<void> {
    if (this.server) throw new Error('EmbeddedBroker: start() called twice');
    const logger = this.options.logger;
    // Client ids such as `nocturne-<instance>` exceed aedes's default limit of 23 characters.
    const broker = createBroker({ maxClientsIdLength: 256 });
    this.broker = broker;
    broker.on('clientError', (client, error) =>
      logger.debug(() => `client '${client.id}': ${error.message}`),
    );
    broker.on('connectionError', (_client, error) => logger.debug(() => `connection: ${error.message}`));
    // aedes emits 'error' (will sweep failures) without declaring it; unheard, it would throw.
    (broker as EventEmitter).on('error', (error: Error) => logger.warn(`broker: ${error.message}`));

    const server = createServer(broker.handle);
    this.server = server;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(
          new Error(
            `mqtt.embedded_port: cannot listen on ${this.options.host}:${this.options.port}: ${error.message}`,
            { cause: error },
          ),
        );
      };
      server.once('error', onError);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (error) => logger.warn(`embedded broker server: ${error.message}`));
    // What the socket is bound to, not what was configured: a host name or a wildcard says less.
    const bound = server.address() as AddressInfo;
    this.boundPort = bound.port;
    const where = `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
    if (isLoopbackHost(bound.address)) {
      logger.info(`embedded MQTT broker listening on ${where} (demo and single-machine use only)`);
    } else {
      logger.warn(`embedded MQTT broker listening on ${where}, beyond loopback, without authentication`);
    }
  }

  /** Stops accepting, closes every client and the broker; idempotent and safe after a failed start. */
  async stop(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    this.server = undefined;
    this.broker = undefined;
    const closed = server?.listening
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    try {
      if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    } catch (error) {
      this.options.logger.warn(`embedded broker: closing clients failed: ${(error as Error).message}`);
    }
    // Connections that never sent CONNECT are not aedes clients yet; they would keep the server open.
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    try {
      await closed;
    } catch (error) {
      this.options.logger.warn(`embedded broker: closing the server failed: ${(error as Error).message}`);
    }
    if (server) this.options.logger.info('embedded MQTT broker stopped');
  }
}
