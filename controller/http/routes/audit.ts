import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AuditAction } from '../../audit/entry';
import type { LightingService } from '../../lighting/runtime/lightingService';
import type { Actor } from '../../scope';
import { ApiError } from '../errors';
import { auditExport } from '../../audit/export';
import { AuditExportQuery, AuditQueryString, queryInstantMs } from '../schemas';
import { describeTarget, type CommuneIndex } from '../communeIndex';
import { BEARER, actorOf, at, note, type AuditNote, type RouteContext } from './shared';

/** The audit log, and what an audited request is about when its handler did not say. */
export function registerAuditRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

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

  app.route({
    ...at('GET /api/audit/export'),
    schema: {
      tags: ['audit'],
      summary:
        'A person’s own actions from the audit log, oldest first, as JSON or CSV (RGPD right of access): your own, or anyone’s for an admin (within the admin’s communes).',
      querystring: AuditExportQuery,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const actor = actorOf(request);
      const { user, format } = request.query;
      if (user !== actor.user && actor.role !== 'admin')
        throw new ApiError(
          403,
          'forbidden',
          `only an admin may export the actions of another user ('${user}')`,
        );
      const entries = await ctx.audit.query(
        { actor: user, limit: Number.MAX_SAFE_INTEGER },
        user === actor.user ? [] : actor.communes,
        user === actor.user ? user : undefined,
      );
      const { contentType, body } = auditExport(user, entries, format, {
        timeZone: ctx.timeZone,
        exportedAt: ctx.now(),
      });
      note(request, user, [], `audit of user ${user}`, `${entries.length} entries exported as ${format}`);
      return reply
        .type(contentType)
        .header('content-disposition', `attachment; filename="audit-${user}.${format}"`)
        .send(body);
    },
  });
}

/**
 * What each audited endpoint is about, when its handler did not get as far as saying it. A refused
 * relight or override has no record: its communes come from the configuration (CommuneIndex), as far as
 * its target names known parts.
 */
export function fallbackNote(
  action: AuditAction,
  request: FastifyRequest,
  actor: Actor,
  territory: CommuneIndex,
  lighting: LightingService,
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
        communes: id ? communesOfCommand(lighting, id, actor) : [],
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
    case 'export-audit': {
      const user = (request.query as { user?: unknown }).user;
      return { target: `audit of user ${typeof user === 'string' ? user : '?'}`, communes: [] };
    }
    case 'notify-alert': // recorded by the service itself, never by an endpoint
      return { target: `alert ${id ?? '?'}`, communes: [], ...(id ? { id } : {}) };
    case 'set-password':
    case 'enrol':
    case 'sign-out-everywhere':
      return { target: `user ${id ?? '?'}`, communes: [], ...(id ? { id } : {}) };
  }
}

/**
 * The communes of a relight or override the runtime knows: from its progress (kept a while after it is
 * done), else from the command in force as the actor sees it. None when the runtime is not running: the
 * refusal is then that very error.
 */
function communesOfCommand(lighting: LightingService, id: string, actor: Actor): string[] {
  try {
    return (
      lighting.progress(id)?.communes ?? lighting.commands(actor).find((c) => c.id === id)?.communes ?? []
    );
  } catch {
    return [];
  }
}
