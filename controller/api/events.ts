import type { ServerResponse } from 'node:http';
import type { Clock, Timer } from '../clock';
import type { AlertService } from '../energy/api';
import type { Actor, LightingChange, LightingService } from '../lighting/runtime/api';
import type { Logger } from '../logger';
import type { Permission } from './access';

/** A client this far behind (bytes not yet taken by the socket) is cut off: it reconnects and reloads. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** Which change types need which permission, beyond `lighting:read` for the stream itself. */
const CHANGE_PERMISSION: Record<LightingChange['type'], Permission> = {
  levels: 'lighting:read',
  progress: 'lighting:read',
  command: 'lighting:read',
  program: 'programs:read',
  calendar: 'programs:read',
  'zone-calendar': 'programs:read',
};

/**
 * The server-sent event streams of /api/events: lighting changes (levels, confirmation progress,
 * commands, programs) and alerts, each within the actor's communes (the services filter) and for
 * what the role may read. Every stream is ended on stop, so the server can close.
 */
export class EventStreams {
  private readonly open = new Set<EventStream>();

  constructor(
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      lighting: LightingService;
      alerts: AlertService;
      heartbeatMs: number;
    },
  ) {}

  get count(): number {
    return this.open.size;
  }

  /** Takes over the response: headers, a first `ready` event, then changes until either side closes. */
  attach(response: ServerResponse, actor: Actor, permissions: readonly Permission[]): void {
    const stream = new EventStream(response, this.deps.clock, this.deps.heartbeatMs, () =>
      this.open.delete(stream),
    );
    this.open.add(stream);
    stream.start();
    stream.send('ready', { user: actor.user, role: actor.role, communes: actor.communes });
    try {
      stream.onClose(
        this.deps.lighting.subscribe(actor, (change) => {
          if (permissions.includes(CHANGE_PERMISSION[change.type])) stream.send(change.type, change);
        }),
      );
      if (permissions.includes('alerts:read'))
        stream.onClose(this.deps.alerts.subscribe(actor, (alert) => stream.send('alert', alert)));
    } catch (error) {
      // A service not started yet: the client is told, and its EventSource retries.
      stream.send('unavailable', { message: (error as Error).message });
      this.deps.logger.warn(`event stream for '${actor.user}' closed: ${(error as Error).message}`);
      stream.close();
    }
  }

  closeAll(): void {
    for (const stream of [...this.open]) stream.close();
  }
}

class EventStream {
  private readonly cleanups: (() => void)[] = [];
  private heartbeat?: Timer;
  private closed = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly clock: Clock,
    private readonly heartbeatMs: number,
    onClosed: () => void,
  ) {
    this.cleanups.push(onClosed);
  }

  start(): void {
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and similar proxies would otherwise hold events back in their buffers.
      'x-accel-buffering': 'no',
    });
    this.response.write('retry: 3000\n\n');
    this.response.on('close', () => this.close());
    this.scheduleHeartbeat();
  }

  onClose(cleanup: () => void): void {
    if (this.closed) cleanup();
    else this.cleanups.push(cleanup);
  }

  send(event: string, data: unknown): void {
    if (this.closed) return;
    this.response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    if (this.response.writableLength > MAX_BUFFERED_BYTES) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) this.clock.clearTimeout(this.heartbeat);
    for (const cleanup of this.cleanups.splice(0)) {
      try {
        cleanup();
      } catch {
        // An unsubscribe that throws must not keep the other cleanups or the end from running.
      }
    }
    if (!this.response.writableEnded) this.response.end();
  }

  private scheduleHeartbeat(): void {
    this.heartbeat = this.clock.setTimeout(() => {
      if (this.closed) return;
      this.response.write(': keep-alive\n\n');
      this.scheduleHeartbeat();
    }, this.heartbeatMs);
  }
}
