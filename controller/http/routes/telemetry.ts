import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AlertIdParams, AlertsQuery, IdParams } from '../schemas';
import { BEARER, actorOf, at, note, type RouteContext } from './shared';

/** Buildings and alerts. */
export function registerTelemetryRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { energy, alerts } = ctx.services;

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
}
