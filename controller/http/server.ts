import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchemaCompiler,
} from 'fastify';
import { jsonSchemaTransform, serializerCompiler } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Config } from '../../config/schema';
import type { Clock } from '../../core/clock';
import type { Component } from '../../core/lifecycle';
import type { Actor } from '../scope';
import type { Logger } from '../../core/logger';
import { ENDPOINTS, allows, type EndpointSpec } from './access';
import type { AuditLog } from '../audit/auditLog';
import { TokenAuthenticator, authenticatedUser, type AuthResult, type AuthenticatedUser } from './auth';
import { ApiError, toApiError, validationError, type RequestPart } from './errors';
import { EventStreams } from './events';
import { FailedAuthLimiter } from './failedAuth';
import { collectMetrics, type HttpCounters } from './collect';
import { coerceApiOptions, type ApiOptions, type ResolvedApiOptions } from './options';
import { fallbackNote, registerRoutes, type ApiServices } from './routes';
import { inlineScriptSources, registerStaticFiles } from './staticFiles';
import { consoleCsp, registerMapAssets } from './mapSupport';
import { CommuneIndex } from './communeIndex';
import { CommandForwarder, type ShardRouting } from './forwarding';
import { ThrottledLog } from '../../core/throttledLog';
import { EventTickets } from './tickets';
import type { SharedFolder } from '../../drivers/coordination';
import { SIGN_IN_FILE, loadSignInState, saveSignInState } from './signInFile';
import {
  CSRF_HEADER,
  SESSION_COOKIE,
  SignIns,
  changesState,
  clearedSessionCookie,
  csrfMatches,
  sessionIdOf,
} from './sessions';

export interface ApiServerDeps {
  config: Pick<Config, 'http' | 'users' | 'zones' | 'communes'> & { site: Pick<Config['site'], 'timezone'> };
  /** Where people's password hashes and sessions are kept (people.json). */
  stateDir: string;
  services: ApiServices;
  audit: AuditLog;
  clock: Clock;
  logger: Logger;
  options?: ApiOptions;
  /** In a cluster: commands another instance handles are forwarded to it (forwarding.ts). */
  routing?: ShardRouting;
  /** In a cluster: the sign-in state every instance shares, so that a session works on any of them. */
  sharedSignIns?: SharedFolder;
}

/** Deepest nesting of objects and arrays accepted in a body; the API's own bodies use fewer than 8. */
const MAX_BODY_DEPTH = 32;

/** Kinds of refused authentication, each logged at most once per interval. */
type AuthRefusal = Extract<AuthResult, { ok: false }>['reason'] | 'blocked';
const AUTH_LOG_INTERVAL_MS = 10_000;

const CLIENTS: Record<string, Actor['via']> = { console: 'console', cli: 'cli' };

/** Where a browser cannot set a header: an event stream (EventSource) and a download link (an export). */
const TICKET_ENDPOINTS: ReadonlySet<string> = new Set(['GET /api/events', 'GET /api/exports']);
const DAY_MS = 86_400_000;
/** How much longer than the longest wait for the devices a forwarded command may take to be answered. */
const FORWARD_MARGIN_MS = 10_000;

/**
 * The operators' HTTP API, its OpenAPI document and the web console, as a Component: built and
 * listening in start(), closed in stop(). Every request goes through one authentication hook (bearer
 * token or event ticket → user → role check against access.ts's table), the services check the
 * commune scope, and every command is written to the audit log with its result before the answer
 * leaves. Neither tokens nor tickets are ever logged.
 */
export class ApiServer implements Component {
  readonly name = 'HTTP API';
  private readonly options: ResolvedApiOptions;
  private readonly authenticator: TokenAuthenticator;
  private readonly failedAuth: FailedAuthLimiter;
  private readonly tickets: EventTickets;
  private readonly signIns: SignIns;
  private readonly signInFailures: FailedAuthLimiter;
  private readonly users: ReadonlyMap<string, AuthenticatedUser>;
  private readonly signInFile: string;
  private readonly territory: CommuneIndex;
  private readonly streams: EventStreams;
  private readonly authLog = new ThrottledLog<AuthRefusal>(AUTH_LOG_INTERVAL_MS);
  private readonly counters: HttpCounters = { requests: new Map(), authFailures: 0, auditFailures: 0 };
  /** Content Security Policy of the console (and of every answer). */
  private readonly csp: string;
  private app?: FastifyInstance;
  private stopping?: Promise<void>;

  constructor(private readonly deps: ApiServerDeps) {
    this.options = coerceApiOptions(deps.options);
    this.authenticator = new TokenAuthenticator(deps.config.users);
    this.failedAuth = new FailedAuthLimiter(
      deps.clock,
      this.options.failedAuthPerWindow,
      this.options.failedAuthWindowMs,
    );
    this.tickets = new EventTickets(deps.clock, this.options.ticketTtlMs);
    this.users = new Map(deps.config.users.map((u) => [u.id, authenticatedUser(u)]));
    this.signInFile = path.join(deps.stateDir, SIGN_IN_FILE);
    this.signIns = new SignIns(
      deps.clock,
      { sessionMs: deps.config.http.session_days * DAY_MS, enrolmentMs: this.options.enrolmentTtlMs },
      (state) => saveSignInState(this.signInFile, state),
      (problem) => deps.logger.warn(problem),
    );
    this.signInFailures = new FailedAuthLimiter(
      deps.clock,
      this.options.signInFailuresPerWindow,
      this.options.signInWindowMs,
    );
    this.territory = new CommuneIndex(deps.config);
    this.csp = consoleCsp(deps.config.http.map_tiles?.url, inlineScriptSources(this.options.consoleDir));
    this.streams = new EventStreams({
      clock: deps.clock,
      logger: deps.logger.child('events'),
      lighting: deps.services.lighting,
      alerts: deps.services.alerts,
      heartbeatMs: this.options.heartbeatMs,
      maxPerUser: this.options.maxStreamsPerUser,
      maxTotal: this.options.maxStreams,
      maxBacklogBytes: this.options.maxStreamBacklogBytes,
    });
  }

  /** `http://host:port` once listening (the port the system chose when configured as 0). */
  get url(): string {
    const address = this.app?.server.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('the HTTP API is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  async start(signal: AbortSignal): Promise<void> {
    this.signIns.restore(await loadSignInState(this.signInFile, this.deps.logger, this.deps.clock.now()));
    if (this.deps.sharedSignIns) await this.signIns.share(this.deps.sharedSignIns);
    const app = await this.build();
    this.app = app;
    signal.throwIfAborted();
    const { host, port } = this.deps.config.http;
    await app.listen({ host, port });
    this.deps.logger.info(`listening on ${this.url} (console /, API /api, docs /api/docs)`);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        this.streams.closeAll();
      } catch (error) {
        this.deps.logger.error(`closing event streams: ${(error as Error).message}`);
      }
      await this.app?.close();
    })();
    return this.stopping;
  }

  private async build(): Promise<FastifyInstance> {
    const app = Fastify({
      logger: false,
      bodyLimit: this.options.bodyLimitBytes,
      forceCloseConnections: true,
      return503OnClosing: true,
      // request.ip is the client's own address: from X-Forwarded-For, but only when the peer is a declared proxy.
      trustProxy: [...this.deps.config.http.trusted_proxies],
    });
    acceptJsonOnly(app);
    app.setValidatorCompiler(zodValidator);
    app.setSerializerCompiler(serializerCompiler);
    app.setErrorHandler((error, request, reply) => this.onError(error, request, reply));
    app.setNotFoundHandler((request, reply) => {
      const error = new ApiError(
        404,
        'not-found',
        `no ${request.method} ${pathOf(request.url)} here (see /api/docs)`,
      );
      void reply.status(404).send(error.body());
    });
    app.addHook('onRequest', (request, reply, done) => {
      try {
        this.authenticate(request, reply);
        done();
      } catch (error) {
        done(error as Error);
      }
    });
    app.addHook('preValidation', (request, _reply, done) => {
      try {
        this.authorize(request);
        done();
      } catch (error) {
        done(error as Error);
      }
    });
    const routing = this.deps.routing;
    if (routing) {
      const forwarder = new CommandForwarder({
        routing,
        territory: this.territory,
        lighting: this.deps.services.lighting,
        // A forwarded command may wait for the devices as long as one handled here (?waitMs=).
        timeoutMs: this.options.maxWaitMs + FORWARD_MARGIN_MS,
        logger: this.deps.logger.child('forward'),
      });
      app.addHook('preValidation', async (request, reply) => {
        if (await forwarder.forward(request, reply)) return reply;
      });
    }
    app.addHook('onSend', async (request, reply, payload) => {
      setSecurityHeaders(reply, this.csp);
      // Answers carry live state, commune data and audit entries: no browser or proxy keeps them. The
      // console's files say otherwise themselves (staticFiles.ts).
      if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
      await this.auditCommand(request, reply);
      return payload;
    });
    app.addHook('onResponse', (request, reply, done) => {
      this.countRequest(request, reply);
      this.countUsage(request, reply);
      done();
    });

    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'nocturne',
          version: '1',
          description:
            'Street lighting and building energy of the communes: live state, emergency relights, overrides, programs, alerts, audit. See docs/api.md.',
        },
        components: {
          securitySchemes: {
            bearer: {
              type: 'http',
              scheme: 'bearer',
              description: 'A token from the configuration’s users.',
            },
            session: {
              type: 'apiKey',
              in: 'cookie',
              name: SESSION_COOKIE,
              description: `A person signed in (POST /api/session); state-changing requests also send the ${CSRF_HEADER} header.`,
            },
          },
        },
      },
      transform: jsonSchemaTransform,
    });
    await app.register(fastifyRateLimit, {
      global: true,
      // After authentication (the key is the user), before the body is read: refused and invalid requests count too.
      hook: 'preParsing',
      max: this.options.requestsPerWindow,
      timeWindow: this.options.rateWindowMs,
      keyGenerator: (request) =>
        request.authenticatedUser ? `user:${request.authenticatedUser.id}` : `address:${request.ip}`,
      errorResponseBuilder: (_request, context) =>
        new ApiError(
          429,
          'rate-limited',
          `too many requests: at most ${context.max} per window; retry in ${context.after}`,
        ),
    });

    registerRoutes(app, {
      services: this.deps.services,
      audit: this.deps.audit,
      territory: this.territory,
      tickets: this.tickets,
      streams: this.streams,
      options: this.options,
      timeZone: this.deps.config.site.timezone,
      now: () => this.deps.clock.now(),
      signIn: {
        signIns: this.signIns,
        limiter: this.signInFailures,
        users: this.users,
        ...(this.deps.config.http.public_url !== undefined
          ? { publicUrl: this.deps.config.http.public_url }
          : {}),
        logger: this.deps.logger.child('sign-in'),
      },
      metrics: () =>
        collectMetrics({
          services: this.deps.services,
          counters: this.counters,
          audit: this.deps.audit.stats(),
          streams: this.streams.stats(),
        }),
    });
    app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());
    registerStaticFiles(app, this.options.consoleDir);
    registerMapAssets(app);
    await app.ready();
    return app;
  }

  private authenticate(request: FastifyRequest, reply: FastifyReply): void {
    const spec = specOf(request);
    if (!spec || spec.access === 'public') return;
    const ticket = (request.query as { ticket?: unknown } | undefined)?.ticket;
    const byTicket =
      typeof ticket === 'string' &&
      request.headers.authorization === undefined &&
      TICKET_ENDPOINTS.has(request.routeOptions.config.endpoint ?? '');
    const sessionId =
      byTicket || request.headers.authorization !== undefined
        ? undefined
        : sessionIdOf(request.headers.cookie);
    if (sessionId !== undefined) return this.authenticateSession(request, reply, sessionId);
    const credential = byTicket ? ticket : request.headers.authorization;
    // A valid credential always gets in: only failing attempts are ever refused (failedAuth.ts).
    const result = byTicket
      ? ticketResult(this.tickets.redeem(ticket))
      : this.authenticator.authenticateHeader(credential);
    if (!result.ok) throw this.refuseCredentials(request, reply, result.reason, credential ?? '');
    const user = result.user;
    request.authenticatedUser = user;
    const client = request.headers['x-nocturne-client'];
    request.actor = {
      user: user.id,
      role: user.role,
      communes: user.communes,
      via: (typeof client === 'string' && CLIENTS[client]) || 'api',
      from: request.ip,
    };
  }

  /**
   * A person's browser, by its session cookie. Requests that change state must also carry the session's
   * CSRF token in a header, which another site's page cannot read or send: bearer tokens need none,
   * since no browser adds them by itself.
   */
  private authenticateSession(request: FastifyRequest, reply: FastifyReply, sessionId: string): void {
    const session = this.signIns.find(sessionId);
    const user = session && this.users.get(session.user);
    if (!user) {
      void reply.header('set-cookie', clearedSessionCookie(request.protocol === 'https'));
      throw this.refuseCredentials(request, reply, 'unknown', sessionId);
    }
    if (changesState(request.method) && !csrfMatches(sessionId, request.headers[CSRF_HEADER]))
      throw new ApiError(
        403,
        'forbidden',
        `missing or wrong '${CSRF_HEADER}' header: a signed-in browser sends the token GET /api/me gives it`,
      );
    request.authenticatedUser = user;
    request.sessionId = sessionId;
    request.actor = {
      user: user.id,
      role: user.role,
      communes: user.communes,
      via: 'console',
      from: request.ip,
    };
  }

  /** 401 for a missing or wrong credential; 429 once its address or the credential itself failed too often. */
  private refuseCredentials(
    request: FastifyRequest,
    reply: FastifyReply,
    reason: Extract<AuthResult, { ok: false }>['reason'],
    credential: string,
  ): ApiError {
    const attempt = `${request.method} ${pathOf(request.url)} from ${request.ip}`;
    if (reason === 'missing') {
      this.logRefusal('missing', (more) => `${attempt}: missing credentials${more}`);
      void reply.header('www-authenticate', 'Bearer realm="nocturne"');
      return new ApiError(401, 'unauthorized', "missing 'Authorization: Bearer <token>'");
    }
    this.counters.authFailures++;
    const seconds = (ms: number): number => Math.ceil(ms / 1000);
    const blockedMs = this.failedAuth.blockedFor(request.ip, credential);
    if (blockedMs > 0) {
      // Not logged one by one: the line that started the refusal said so.
      void reply.header('retry-after', String(seconds(blockedMs)));
      return new ApiError(
        429,
        'rate-limited',
        `too many failed authentications from ${request.ip} or with this credential: failing attempts are refused for ${seconds(blockedMs)} s (a valid token is not)`,
      );
    }
    this.failedAuth.recordFailure(request.ip, credential);
    const nowBlockedMs = this.failedAuth.blockedFor(request.ip, credential);
    this.logRefusal(
      nowBlockedMs > 0 ? 'blocked' : reason,
      (more) =>
        `${attempt}: ${reason} credentials${nowBlockedMs > 0 ? `; failing attempts from this address or with this credential refused for ${seconds(nowBlockedMs)} s` : ''}${more}`,
    );
    void reply.header('www-authenticate', 'Bearer realm="nocturne", error="invalid_token"');
    return new ApiError(401, 'unauthorized', 'invalid or expired credentials');
  }

  /**
   * A storm of wrong tokens (through a proxy, thousands a minute) costs one line per kind of refusal
   * and interval, the rest counted in it, not a line each.
   */
  private logRefusal(kind: AuthRefusal, line: (more: string) => string): void {
    this.authLog.report(kind, this.deps.clock.now(), (heldBack) =>
      this.deps.logger.warn(
        line(heldBack > 0 ? ` (and ${heldBack} more refused as ${kind} since the last line)` : ''),
      ),
    );
  }

  /** After the body is read (so that a refused command is audited with its target), before validation. */
  private authorize(request: FastifyRequest): void {
    const spec = specOf(request);
    const user = request.authenticatedUser;
    if (!spec || spec.access === 'public' || spec.access === 'authenticated' || !user) return;
    const verdict = allows(user, spec.access);
    if (!verdict.allowed) throw new ApiError(403, 'forbidden', verdict.reason);
  }

  private onError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const apiError = toApiError(error);
    if (apiError.status >= 500 && apiError.code === 'internal')
      this.deps.logger.error(`${request.method} ${pathOf(request.url)}: ${(error as Error).message}`, {
        stack: (error as Error).stack,
      });
    request.apiError = apiError;
    return reply.status(apiError.status).send(apiError.body());
  }

  private async auditCommand(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const action = specOf(request)?.audit;
    const actor = request.actor;
    // Forwarded and answered by the instance that owns it: the entry is that instance's.
    if (!action || !actor || request.forwardedToOwner) return;
    const status = reply.statusCode;
    const ok = status < 400;
    const note = ok && request.auditNote ? request.auditNote : undefined;
    const fallback =
      note ?? fallbackNote(action, request, actor, this.territory, this.deps.services.lighting);
    try {
      await this.deps.audit.record({
        actor: actor.user,
        role: actor.role,
        via: actor.via,
        from: actor.from,
        action,
        target: fallback.target,
        communes: fallback.communes,
        result: ok ? 'ok' : status >= 500 ? 'failed' : 'refused',
        status,
        message: note?.message ?? request.apiError?.message ?? `status ${status}`,
        ...(fallback.id !== undefined ? { id: fallback.id } : {}),
      });
    } catch (error) {
      // The command is done (or refused) either way: the answer goes, the failure is counted and logged.
      this.counters.auditFailures++;
      this.deps.logger.error(
        `audit entry for ${action} by '${actor.user}' not written: ${(error as Error).message}`,
      );
    }
  }

  /**
   * Usage (controller/evaluation/usage.ts): every answered request of a token, by its endpoint in
   * ENDPOINTS, without who or from where. The console's beacon counts as the page it names instead.
   */
  private countUsage(request: FastifyRequest, reply: FastifyReply): void {
    const endpoint = request.routeOptions.config.endpoint;
    const actor = request.actor;
    if (!endpoint || !actor || reply.statusCode >= 400 || endpoint === 'POST /api/usage/views') return;
    this.deps.services.usage?.record(actor, `api:${endpoint}`);
  }

  private countRequest(request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.config.endpoint ?? (request.routeOptions.url ? 'other' : 'not-found');
    const key = `${request.method} ${route} ${reply.statusCode}`;
    this.counters.requests.set(key, (this.counters.requests.get(key) ?? 0) + 1);
    this.deps.logger.debug(
      () =>
        `${request.method} ${pathOf(request.url)} ${reply.statusCode} ${Math.round(reply.elapsedTime)} ms`,
    );
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    apiError?: ApiError;
  }
}

function specOf(request: FastifyRequest): EndpointSpec | undefined {
  const endpoint = request.routeOptions.config.endpoint;
  return endpoint ? ENDPOINTS[endpoint] : undefined;
}

function ticketResult(
  user: ReturnType<EventTickets['redeem']>,
): ReturnType<TokenAuthenticator['authenticateToken']> {
  return user ? { ok: true, user } : { ok: false, reason: 'unknown' };
}

/** Longest path echoed in a log line or an error message (a URL may be as long as the header limit). */
const ECHOED_PATH_CHARS = 200;

/**
 * The path without its query string (tickets travel in the query and must not reach the log), cut to
 * ECHOED_PATH_CHARS and with control characters escaped, so that a crafted URL forges no log line.
 */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const short = path.length > ECHOED_PATH_CHARS ? `${path.slice(0, ECHOED_PATH_CHARS)}…` : path;
  // eslint-disable-next-line no-control-regex
  return short.replace(/[\u0000-\u001f\u007f]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function setSecurityHeaders(reply: FastifyReply, csp: string): void {
  void reply.header('x-content-type-options', 'nosniff');
  void reply.header('referrer-policy', 'no-referrer');
  void reply.header('x-frame-options', 'DENY');
  void reply.header('content-security-policy', csp);
}

/**
 * JSON bodies only, nested at most MAX_BODY_DEPTH deep. Fastify's own text/plain parser would hand a
 * string to the schemas (a 400, where a body that is not JSON is a 415); and a deeper body is refused
 * before validation, whose error messages would otherwise recurse through it.
 */
function acceptJsonOnly(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body: string, done) => {
    void parseJson(request, body, (error, value: unknown) => {
      if (error) done(error, undefined);
      else if (nestsDeeperThan(value, MAX_BODY_DEPTH))
        done(new ApiError(400, 'invalid', `body: nests deeper than ${MAX_BODY_DEPTH} levels`), undefined);
      else done(null, value);
    });
  });
}

/** Walks with a list rather than the call stack, so a body nested 100,000 deep costs no more than a wide one. */
function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (next.value === null || typeof next.value !== 'object') continue;
    if (next.depth > maxDepth) return true;
    for (const child of Object.values(next.value)) pending.push({ value: child, depth: next.depth + 1 });
  }
  return false;
}

/** Validates with the zod schema and names every problem with its path and what is allowed. */
const zodValidator: FastifySchemaCompiler<z.core.$ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const result = (schema as z.ZodType).safeParse(data);
    if (result.success) return { value: result.data };
    return { error: validationError((httpPart ?? 'body') as RequestPart, schema, data, result.error.issues) };
  };
