import type { FastifyInstance, FastifyRequest, HTTPMethods } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AlertService, EnergyService } from '../telemetry/services';
import type { HealthReport, MetricsReport } from '../health/report';
import type {
  CommandAccepted,
  CommandProgress,
  CommandRecord,
  LightingService,
  OverrideRequest,
  ProgramSource,
  RelightRequest,
} from '../lighting/runtime/lightingService';
import { coversAny, type Actor } from '../scope';
import type { AuditLog } from '../audit/auditLog';
import type { AuditAction } from '../audit/entry';
import type { AuthenticatedUser } from './auth';
import { permissionsOf, type Endpoint } from './access';
import { ApiError } from './errors';
import type { EventStreams } from './events';
import { METRICS_CONTENT_TYPE, renderMetrics, type MetricFamily } from './metrics';
import type { ResolvedApiOptions } from './options';
import {
  AlertIdParams,
  AlertsQuery,
  AssignCalendarBody,
  AuditQueryString,
  CalendarBody,
  CommandIdParams,
  EventsQuery,
  IdParams,
  OverrideBody,
  PreviewBody,
  ProgramBody,
  RelightBody,
  WaitQuery,
  YearCostBody,
  instantMs,
  queryInstantMs,
  toTargetSpec,
} from './schemas';
import type { EventTickets } from './tickets';
import { describeTarget, type CommuneIndex } from './communeIndex';

/** What the API reads and commands, as the composition root wires it. */
export interface ApiServices {
  lighting: LightingService;
  energy: EnergyService;
  alerts: AlertService;
  health(): HealthReport;
  /** The telemetry side's counters for /metrics, where there is a telemetry side. */
  metrics?(): MetricsReport;
}

/** What a command handler tells the audit log about what it did. */
export interface AuditNote {
  target: string;
  communes: string[];
  id?: string;
  message: string;
}

export interface RouteContext {
  services: ApiServices;
  audit: AuditLog;
  territory: CommuneIndex;
  tickets: EventTickets;
  streams: EventStreams;
  options: ResolvedApiOptions;
  /** Communes of commands seen recently (from the bus and from this API), for the progress scope. */
  commandCommunes: (id: string) => string[] | undefined;
  rememberCommand: (id: string, communes: readonly string[]) => void;
  now: () => number;
  metrics: () => MetricFamily[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every route that is not public. */
    authenticatedUser?: AuthenticatedUser;
    actor?: Actor;
    /** Set by a command's handler once it succeeded. */
    auditNote?: AuditNote;
  }
  interface FastifyContextConfig {
    endpoint?: Endpoint;
  }
}

/** Method, path and the endpoint key, from the one table of access.ts. */
function at(endpoint: Endpoint): { method: HTTPMethods; url: string; config: { endpoint: Endpoint } } {
  const [method, url] = endpoint.split(' ') as [HTTPMethods, string];
  return { method, url, config: { endpoint } };
}

function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new ApiError(500, 'internal', 'no actor on an authenticated route');
  return request.actor;
}

const BEARER = [{ bearer: [] }];

export function registerRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { lighting, energy, alerts } = ctx.services;

  /** Audits an accepted relight or override; its progress, after waiting for the devices if asked. */
  async function answerAccepted(
    request: FastifyRequest,
    waitMs: number | undefined,
    { record, progress }: CommandAccepted,
    what: string,
  ): Promise<{ record: CommandRecord; progress: CommandProgress }> {
    ctx.rememberCommand(record.id, record.communes);
    note(
      request,
      record.id,
      record.communes,
      describeTarget(record.target),
      `${what} at ${record.level} % of ${record.luminaires} luminaire(s): ${record.reason}`,
    );
    return {
      record,
      progress: await waitFor(lighting, progress, waitMs, ctx.options.maxWaitMs),
    };
  }

  // ---- service ----

  app.route({
    ...at('GET /api/health'),
    schema: { tags: ['service'], summary: 'Up, degraded or down; no token needed, no detail given.' },
    handler: (_request, reply) => {
      const { status } = ctx.services.health();
      return reply.status(status === 'down' ? 503 : 200).send({ status });
    },
  });

  app.route({
    ...at('GET /api/me'),
    schema: {
      tags: ['service'],
      summary: 'The token’s user, role, communes and permissions.',
      security: BEARER,
    },
    handler: (request) => {
      const actor = actorOf(request);
      return {
        user: actor.user,
        ...(request.authenticatedUser?.name !== undefined ? { name: request.authenticatedUser.name } : {}),
        role: actor.role,
        communes: actor.communes,
        permissions: permissionsOf(actor),
      };
    },
  });

  app.route({
    ...at('POST /api/events/ticket'),
    schema: {
      tags: ['service'],
      summary:
        'A one-use ticket (valid a few seconds) to open the event stream from a browser’s EventSource.',
      security: BEARER,
    },
    handler: (request) => {
      if (!request.authenticatedUser)
        throw new ApiError(500, 'internal', 'no user on an authenticated route');
      return ctx.tickets.issue(request.authenticatedUser);
    },
  });

  app.route({
    ...at('GET /api/events'),
    schema: {
      tags: ['service'],
      summary:
        'Server-sent events: levels, progress, command, program, calendar, zone-calendar, alert. Authorization header, or ?ticket= from POST /api/events/ticket.',
      querystring: EventsQuery,
      security: BEARER,
    },
    handler: (request, reply) => {
      const actor = actorOf(request);
      reply.hijack();
      ctx.streams.attach(reply.raw, actor, permissionsOf(actor));
    },
  });

  app.route({
    ...at('GET /metrics'),
    schema: { tags: ['service'], summary: 'Prometheus metrics (text exposition format).', security: BEARER },
    handler: (_request, reply) => reply.type(METRICS_CONTENT_TYPE).send(renderMetrics(ctx.metrics())),
  });

  // ---- live state ----

  app.route({
    ...at('GET /api/communes'),
    schema: {
      tags: ['lighting'],
      summary: 'Communes of the token, with their zones and luminaires.',
      security: BEARER,
    },
    handler: (request) => {
      const actor = actorOf(request);
      const zones = lighting.zones(actor);
      return ctx.territory.communes
        .filter((c) => coversAny(actor.communes, [c.id]))
        .map((c) => {
          const own = zones.filter((z) => z.commune === c.id);
          return { ...c, zones: own.length, luminaires: own.reduce((n, z) => n + z.luminaires, 0) };
        });
    },
  });

  app.route({
    ...at('GET /api/zones'),
    schema: {
      tags: ['lighting'],
      summary: 'Zones with their live level and its source (ZoneView[]).',
      security: BEARER,
    },
    handler: (request) => lighting.zones(actorOf(request)),
  });

  app.route({
    ...at('GET /api/zones/:id'),
    schema: {
      tags: ['lighting'],
      summary: 'A zone with every luminaire (ZoneDetail).',
      params: IdParams,
      security: BEARER,
    },
    handler: (request) => lighting.zone(request.params.id, actorOf(request)),
  });

  app.route({
    ...at('GET /api/luminaires/:id'),
    schema: {
      tags: ['lighting'],
      summary: 'One luminaire (LuminaireView).',
      params: IdParams,
      security: BEARER,
    },
    handler: (request) => lighting.luminaire(request.params.id, actorOf(request)),
  });

  // ---- emergency relights and overrides ----

  app.route({
    ...at('GET /api/relights'),
    schema: {
      tags: ['commands'],
      summary: 'Emergency relights in force or pending (CommandRecord[]).',
      security: BEARER,
    },
    handler: (request) => lighting.commands(actorOf(request), 'emergency'),
  });

  app.route({
    ...at('GET /api/overrides'),
    schema: {
      tags: ['commands'],
      summary: 'Manual overrides in force or pending (CommandRecord[]).',
      security: BEARER,
    },
    handler: (request) => lighting.commands(actorOf(request), 'override'),
  });

  app.route({
    ...at('POST /api/relights'),
    schema: {
      tags: ['commands'],
      summary:
        'Emergency relight (priority 1). Answers once persisted: {record, progress}. ?waitMs= waits for the devices’ confirmation.',
      body: RelightBody,
      querystring: WaitQuery,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const accepted = await lighting.relight(commandRequest(request.body, ctx.now()), actorOf(request));
      return reply.status(201).send(await answerAccepted(request, request.query.waitMs, accepted, 'relight'));
    },
  });

  app.route({
    ...at('DELETE /api/relights/:id'),
    schema: {
      tags: ['commands'],
      summary: 'Clears an emergency relight (CommandRecord).',
      params: CommandIdParams,
      security: BEARER,
    },
    handler: async (request) =>
      noteEnded(request, await lighting.clearRelight(request.params.id, actorOf(request)), 'relight cleared'),
  });

  app.route({
    ...at('POST /api/overrides'),
    schema: {
      tags: ['commands'],
      summary: 'Manual override (priority 8), with an expiry or untilReleased. Answers {record, progress}.',
      body: OverrideBody,
      querystring: WaitQuery,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const body = request.body;
      const accepted = await lighting.override(
        { ...commandRequest(body, ctx.now()), ...(body.untilReleased ? { untilReleased: true } : {}) },
        actorOf(request),
      );
      return reply
        .status(201)
        .send(await answerAccepted(request, request.query.waitMs, accepted, 'override'));
    },
  });

  app.route({
    ...at('DELETE /api/overrides/:id'),
    schema: {
      tags: ['commands'],
      summary: 'Releases a manual override (CommandRecord).',
      params: CommandIdParams,
      security: BEARER,
    },
    handler: async (request) =>
      noteEnded(
        request,
        await lighting.releaseOverride(request.params.id, actorOf(request)),
        'override released',
      ),
  });

  app.route({
    ...at('GET /api/commands/:id/progress'),
    schema: {
      tags: ['commands'],
      summary:
        'How far the devices have confirmed a relight or override (CommandProgress); ?waitMs= waits until done.',
      params: CommandIdParams,
      querystring: WaitQuery,
      security: BEARER,
    },
    handler: async (request) => {
      const actor = actorOf(request);
      const { id } = request.params;
      const inForce = lighting.commands(actor).find((c) => c.id === id);
      const communes = inForce?.communes ?? ctx.commandCommunes(id);
      const progress = lighting.progress(id);
      if (!progress) throw new ApiError(404, 'not-found', `no recent relight or override '${id}'`);
      if (!inForce) {
        if (communes === undefined && !actor.communes.includes('*'))
          throw new ApiError(404, 'not-found', `no recent relight or override '${id}' in your communes`);
        if (communes !== undefined && !coversAny(actor.communes, communes))
          throw new ApiError(
            403,
            'forbidden',
            `command '${id}' concerns ${communes.join(', ')}, outside your communes`,
          );
      }
      return waitFor(lighting, progress, request.query.waitMs, ctx.options.maxWaitMs);
    },
  });

  // ---- programs and calendars ----

  app.route({
    ...at('GET /api/programs'),
    schema: {
      tags: ['programs'],
      summary: 'Programs, where they come from and which calendars use them (ProgramEntry[]).',
      security: BEARER,
    },
    handler: () => lighting.programs(),
  });

  app.route({
    ...at('GET /api/programs/:id'),
    schema: {
      tags: ['programs'],
      summary: 'One program (ProgramEntry).',
      params: IdParams,
      security: BEARER,
    },
    handler: (request) => lighting.program(request.params.id),
  });

  app.route({
    ...at('PUT /api/programs/:id'),
    schema: {
      tags: ['programs'],
      summary: 'Creates (201) or replaces (200) a program; applied to its zones within a second.',
      params: IdParams,
      body: ProgramBody,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const id = sameId(request.params.id, request.body.id, 'program');
      const existed = lighting.programs().some((p) => p.program.id === id);
      const entry = await lighting.putProgram({ ...request.body, id }, actorOf(request));
      note(
        request,
        id,
        programCommunes(lighting, actorOf(request), id),
        `program ${id}`,
        `program ${existed ? 'replaced' : 'created'}: ${entry.program.steps.length} step(s)`,
      );
      return reply.status(existed ? 200 : 201).send(entry);
    },
  });

  app.route({
    ...at('DELETE /api/programs/:id'),
    schema: {
      tags: ['programs'],
      summary: 'Deletes a program no calendar uses (409 otherwise).',
      params: IdParams,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      await lighting.deleteProgram(id, actorOf(request));
      note(request, id, [], `program ${id}`, 'program deleted');
      return reply.status(204).send();
    },
  });

  app.route({
    ...at('POST /api/programs/preview'),
    schema: {
      tags: ['programs'],
      summary:
        'What a program (saved, or a draft) does in a zone on one night: steps with times and levels, dusk, dawn, energy.',
      body: PreviewBody,
      security: BEARER,
    },
    handler: (request) => {
      const { zone, night } = request.body;
      return lighting.previewProgram({ zone, night, program: programSource(request.body) }, actorOf(request));
    },
  });

  app.route({
    ...at('POST /api/programs/year-cost'),
    schema: {
      tags: ['programs'],
      summary: 'What a program costs a zone over a year against its current calendar: kWh, €, kg CO2e.',
      body: YearCostBody,
      security: BEARER,
    },
    handler: (request) => {
      const { zone, from, nights } = request.body;
      return lighting.yearCost(
        {
          zone,
          program: programSource(request.body),
          ...(from !== undefined ? { from } : {}),
          ...(nights !== undefined ? { nights } : {}),
        },
        actorOf(request),
      );
    },
  });

  app.route({
    ...at('GET /api/calendars'),
    schema: {
      tags: ['programs'],
      summary: 'Calendars and the zones following them (CalendarEntry[]).',
      security: BEARER,
    },
    handler: () => lighting.calendars(),
  });

  app.route({
    ...at('GET /api/calendars/:id'),
    schema: {
      tags: ['programs'],
      summary: 'One calendar (CalendarEntry).',
      params: IdParams,
      security: BEARER,
    },
    handler: (request) => lighting.calendar(request.params.id),
  });

  app.route({
    ...at('PUT /api/calendars/:id'),
    schema: {
      tags: ['programs'],
      summary: 'Creates (201) or replaces (200) a calendar; its programs must exist.',
      params: IdParams,
      body: CalendarBody,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const id = sameId(request.params.id, request.body.id, 'calendar');
      const existed = lighting.calendars().some((c) => c.calendar.id === id);
      const entry = await lighting.putCalendar({ ...request.body, id }, actorOf(request));
      note(
        request,
        id,
        zoneCommunes(ctx.territory, entry.zones),
        `calendar ${id}`,
        `calendar ${existed ? 'replaced' : 'created'}: ${entry.calendar.rules.length} rule(s)`,
      );
      return reply.status(existed ? 200 : 201).send(entry);
    },
  });

  app.route({
    ...at('DELETE /api/calendars/:id'),
    schema: {
      tags: ['programs'],
      summary: 'Deletes a calendar no zone follows (409 otherwise).',
      params: IdParams,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      await lighting.deleteCalendar(id, actorOf(request));
      note(request, id, [], `calendar ${id}`, 'calendar deleted');
      return reply.status(204).send();
    },
  });

  app.route({
    ...at('PUT /api/zones/:id/calendar'),
    schema: {
      tags: ['programs'],
      summary: 'Gives a zone another calendar (ZoneView).',
      params: IdParams,
      body: AssignCalendarBody,
      security: BEARER,
    },
    handler: async (request) => {
      const view = await lighting.assignCalendar(request.params.id, request.body.calendar, actorOf(request));
      note(
        request,
        view.id,
        [view.commune],
        `zone ${view.id}`,
        `zone now follows calendar ${request.body.calendar}`,
      );
      return view;
    },
  });

  // ---- energy and alerts ----

  app.route({
    ...at('GET /api/buildings'),
    schema: {
      tags: ['energy'],
      summary: 'Buildings with their latest values (BuildingView[]).',
      security: BEARER,
    },
    handler: (request) => energy.buildings(actorOf(request)),
  });

  app.route({
    ...at('GET /api/buildings/:id'),
    schema: { tags: ['energy'], summary: 'One building (BuildingView).', params: IdParams, security: BEARER },
    handler: (request) => energy.building(request.params.id, actorOf(request)),
  });

  app.route({
    ...at('GET /api/alerts'),
    schema: {
      tags: ['alerts'],
      summary: 'Open alerts (AlertView[]); ?includeCleared=true adds recently cleared ones.',
      querystring: AlertsQuery,
      security: BEARER,
    },
    handler: (request) =>
      alerts.list(actorOf(request), { includeCleared: request.query.includeCleared ?? false }),
  });

  app.route({
    ...at('POST /api/alerts/:id/acknowledge'),
    schema: {
      tags: ['alerts'],
      summary: 'Acknowledges an alert (AlertView); 409 when already cleared.',
      params: AlertIdParams,
      security: BEARER,
    },
    handler: async (request) => {
      const alert = await alerts.acknowledge(request.params.id, actorOf(request));
      note(
        request,
        alert.id,
        [alert.commune],
        `alert ${alert.id} (${alert.kind}, ${alert.source})`,
        'alert acknowledged',
      );
      return alert;
    },
  });

  // ---- audit ----

  app.route({
    ...at('GET /api/audit'),
    schema: {
      tags: ['audit'],
      summary:
        'Commands recorded in the audit log, newest first, within the token’s communes (AuditEntry[]).',
      querystring: AuditQueryString,
      security: BEARER,
    },
    handler: async (request) => {
      const actor = actorOf(request);
      const q = request.query;
      const from = q.from !== undefined ? queryInstantMs(q.from) : undefined;
      const to = q.to !== undefined ? queryInstantMs(q.to) : undefined;
      if (from !== undefined && to !== undefined && from > to)
        throw new ApiError(400, 'invalid', "query.from: must not be after 'to'", [
          { path: 'query.from', message: "must not be after 'to'" },
        ]);
      return ctx.audit.query(
        {
          ...(from !== undefined ? { from } : {}),
          ...(to !== undefined ? { to } : {}),
          ...(q.actor !== undefined ? { actor: q.actor } : {}),
          ...(q.commune !== undefined ? { commune: q.commune } : {}),
          ...(q.action !== undefined ? { action: q.action } : {}),
          limit: q.limit,
        },
        actor.communes,
        actor.user,
      );
    },
  });
}

/** What each audited endpoint is about, when its handler did not get as far as saying it. */
export function fallbackNote(
  action: AuditAction,
  request: FastifyRequest,
  territory: CommuneIndex,
  commandCommunes: (id: string) => string[] | undefined,
): Omit<AuditNote, 'message'> {
  const params = (request.params ?? {}) as { id?: unknown };
  const body = (request.body ?? {}) as { target?: unknown; id?: unknown };
  const id = typeof params.id === 'string' ? params.id : typeof body.id === 'string' ? body.id : undefined;
  switch (action) {
    case 'relight':
    case 'override':
      return {
        target: describeTarget(body.target),
        communes: territory.communesOf(body.target as never),
        ...(id ? { id } : {}),
      };
    case 'clear-relight':
    case 'release-override':
      return {
        target: `${action === 'clear-relight' ? 'relight' : 'override'} ${id ?? '?'}`,
        communes: (id && commandCommunes(id)) || [],
        ...(id ? { id } : {}),
      };
    case 'put-program':
    case 'delete-program':
      return { target: `program ${id ?? '?'}`, communes: [], ...(id ? { id } : {}) };
    case 'put-calendar':
    case 'delete-calendar':
      return { target: `calendar ${id ?? '?'}`, communes: [], ...(id ? { id } : {}) };
    case 'assign-calendar': {
      const commune = id ? territory.communeOfZone(id) : undefined;
      return { target: `zone ${id ?? '?'}`, communes: commune ? [commune] : [], ...(id ? { id } : {}) };
    }
    case 'acknowledge-alert':
      return { target: `alert ${id ?? '?'}`, communes: [], ...(id ? { id } : {}) };
  }
}

function note(
  request: FastifyRequest,
  id: string,
  communes: readonly string[],
  target: string,
  message: string,
): void {
  request.auditNote = { target, communes: [...communes], id, message };
}

function noteEnded(request: FastifyRequest, record: CommandRecord, message: string): CommandRecord {
  note(request, record.id, record.communes, describeTarget(record.target), message);
  return record;
}

/** What relights and overrides share: id, target, level, reason and expiry. */
function commandRequest(
  body: {
    id?: string;
    target: Parameters<typeof toTargetSpec>[0];
    level: number;
    reason: string;
    expiresAt?: string | number;
    expiresInMin?: number;
  },
  now: number,
): RelightRequest & OverrideRequest {
  return {
    ...(body.id !== undefined ? { id: body.id } : {}),
    target: toTargetSpec(body.target),
    level: body.level,
    reason: body.reason,
    ...expiry(body, now),
  };
}

function expiry(
  body: { expiresAt?: string | number; expiresInMin?: number },
  now: number,
): { expiresAt?: number } {
  if (body.expiresAt !== undefined) return { expiresAt: instantMs(body.expiresAt) };
  if (body.expiresInMin !== undefined) return { expiresAt: now + body.expiresInMin * 60_000 };
  return {};
}

async function waitFor(
  lighting: LightingService,
  progress: CommandProgress,
  waitMs: number | undefined,
  maxWaitMs: number,
): Promise<CommandProgress> {
  if (!waitMs || progress.done) return progress;
  return lighting.waitForConfirmation(progress.id, { timeoutMs: Math.min(waitMs, maxWaitMs) });
}

function sameId(fromPath: string, fromBody: string | undefined, what: string): string {
  if (fromBody !== undefined && fromBody !== fromPath)
    throw new ApiError(
      400,
      'invalid',
      `body.id: the ${what} id in the body ('${fromBody}') differs from the path ('${fromPath}')`,
      [{ path: 'body.id', message: `must be '${fromPath}' like the path, or absent (is '${fromBody}')` }],
    );
  return fromPath;
}

function programSource(body: { program?: string; draft?: Record<string, unknown> }): ProgramSource {
  if (body.program !== undefined) return body.program;
  return { program: { id: 'draft', ...body.draft } };
}

/** Communes whose zones follow a calendar that uses the program. */
function programCommunes(lighting: LightingService, actor: Actor, id: string): string[] {
  const calendars = new Set(lighting.program(id).usedBy);
  const communes = new Set<string>();
  for (const zone of lighting.zones(actor)) if (calendars.has(zone.calendar)) communes.add(zone.commune);
  return [...communes].sort();
}

function zoneCommunes(territory: CommuneIndex, zones: readonly string[]): string[] {
  return [
    ...new Set(zones.map((z) => territory.communeOfZone(z)).filter((c): c is string => c !== undefined)),
  ].sort();
}
