import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { permissionsOf } from '../access';
import { ApiError } from '../errors';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../metrics';
import { EventsQuery, HealthQuery } from '../schemas';
import { csrfTokenFor } from '../sessions';
import { identityOf } from './people';
import { BEARER, actorOf, at, type RouteContext } from './shared';

/** Service routes: health, the token's identity, event streams, metrics. */
export function registerServiceRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.route({
    ...at('GET /api/health'),
    schema: {
      tags: ['service'],
      summary:
        'Up, degraded (and which part: devices, mqtt, influx) or down, and in a cluster leader or standby; no token needed, no device named.',
      querystring: HealthQuery,
    },
    handler: (request, reply) => {
      const { status, degraded, role } = ctx.services.health();
      // Without a cluster an instance always leads what it has.
      const notWanted = request.query.role === 'leader' && role === 'standby';
      return reply
        .status(status === 'down' || notWanted ? 503 : 200)
        .send({ status, ...(status === 'degraded' ? { degraded } : {}), ...(role ? { role } : {}) });
    },
  });

  app.route({
    ...at('GET /api/me'),
    schema: {
      tags: ['service'],
      summary:
        'The token’s or session’s user, role, communes and permissions; for a signed-in browser, its CSRF token.',
      security: BEARER,
    },
    handler: (request) => {
      if (!request.authenticatedUser)
        throw new ApiError(500, 'internal', 'no user on an authenticated route');
      // A signed-in browser's CSRF token, which it cannot otherwise recover after a reload.
      return {
        ...identityOf(request.authenticatedUser),
        ...(request.sessionId !== undefined ? { csrf: csrfTokenFor(request.sessionId) } : {}),
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
}
