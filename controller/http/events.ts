import type { ServerResponse } from 'node:http';
import type { Clock, Timer } from '../../core/clock';
import type { AlertService } from '../telemetry/services';
import type { LightingChange, LightingService } from '../lighting/runtime/lightingService';
import type { Actor } from '../scope';
import type { Logger } from '../../core/logger';
import type { Permission } from './access';
import { ApiError } from './errors';

/** Refused clients are told to come back after this long. */
const RETRY_AFTER_S = 30;

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
 * what the role may read. Streams are capped per user and in total, and one whose client does not
 * read is cut off, so neither many clients nor idle ones can grow memory without bound. Every stream
 * is ended on stop, so the server can close.
 */
export class EventStreams {
  private readonly open = new Set<EventStream>();
  private refused = 0;
  private dropped = 0;

  constructor(
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      lighting: LightingService;
      alerts: AlertService;
      heartbeatMs: number;
      maxPerUser: number;
      maxTotal: number;
      maxBacklogBytes: number;
    },
  ) {}

  stats(): { open: number; refused: number; dropped: number } {
    return { open: this.open.size, refused: this.refused, dropped: this.dropped };
  }

  /**
   * Takes over the response: headers, a first `ready` event, then changes until either side closes.
   * Over a cap, answers 429 or 503 instead, on the response itself: the reply is already taken over.
   */
  attach(response: ServerResponse, actor: Actor, permissions: readonly Permission[]): void {
    const refusal = this.refusal(actor.user);
    if (refusal) {
      this.refused++;
      this.deps.logger.warn(`event stream for '${actor.user}' refused: ${refusal.message}`);
      response.writeHead(refusal.status, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'retry-after': String(RETRY_AFTER_S),
      });
      response.end(JSON.stringify(refusal.body()));
      return;
    }
    const stream = new EventStream(response, actor.user, this.deps, {
      closed: () => this.open.delete(stream),
      dropped: (backlog) => {
        this.dropped++;
        this.deps.logger.warn(
          `event stream for '${actor.user}' cut off: its client left ${backlog} bytes unread`,
        );
      },
    });
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

  /** A user's streams, at sign-out everywhere; a client that still holds a valid token reconnects. */
  closeUser(user: string): void {
    for (const stream of [...this.open]) if (stream.user === user) stream.close();
  }

  private refusal(user: string): ApiError | undefined {
    let mine = 0;
    for (const stream of this.open) if (stream.user === user) mine++;
    if (mine >= this.deps.maxPerUser)
      return new ApiError(
        429,
        'rate-limited',
        `'${user}' already has ${mine} event streams open, the most one user may: close one (another console tab?) first`,
      );
    if (this.open.size >= this.deps.maxTotal)
      return new ApiError(
        503,
        'unavailable',
        `the service already serves ${this.open.size} event streams, its most; retry in ${RETRY_AFTER_S} s`,
      );
    return undefined;
  }
}

class EventStream {
  private readonly cleanups: (() => void)[] = [];
  private heartbeat?: Timer;
  private closed = false;

  constructor(
    private readonly response: ServerResponse,
    readonly user: string,
    private readonly settings: { clock: Clock; heartbeatMs: number; maxBacklogBytes: number },
    private readonly on: { closed: () => void; dropped: (backlog: number) => void },
  ) {
    this.cleanups.push(on.closed);
  }

  start(): void {
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store, no-transform',
      connection: 'keep-alive',
      // nginx and similar proxies would otherwise hold events back in their buffers.
      'x-accel-buffering': 'no',
    });
    this.write('retry: 3000\n\n');
    this.response.on('close', () => this.close());
    this.scheduleHeartbeat();
  }

  onClose(cleanup: () => void): void {
    if (this.closed) cleanup();
    else this.cleanups.push(cleanup);
  }

  send(event: string, data: unknown): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream; `destroy` also drops what the client has not taken, which end() would keep until it does. */
  close(how: 'end' | 'destroy' = 'end'): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) this.settings.clock.clearTimeout(this.heartbeat);
    for (const cleanup of this.cleanups.splice(0)) {
      try {
        cleanup();
      } catch {
        // An unsubscribe that throws must not keep the other cleanups or the end from running.
      }
    }
    if (how === 'destroy') this.response.destroy();
    else if (!this.response.writableEnded) this.response.end();
  }

  private write(text: string): void {
    if (this.closed) return;
    // Checked before writing, so one large event to a client that reads is fine: what is still waiting
    // from earlier writes means the client does not read. It is cut off, reconnects and reloads.
    const backlog = this.response.writableLength;
    if (backlog > this.settings.maxBacklogBytes) {
      this.close('destroy');
      this.on.dropped(backlog);
      return;
    }
    this.response.write(text);
  }

  private scheduleHeartbeat(): void {
    this.heartbeat = this.settings.clock.setTimeout(() => {
      this.write(': keep-alive\n\n');
      if (!this.closed) this.scheduleHeartbeat();
    }, this.settings.heartbeatMs);
  }
}
