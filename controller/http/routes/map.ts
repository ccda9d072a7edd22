import type { FastifyInstance } from 'fastify';
import { allows } from '../access';
import { sendMaybeCompressed } from '../mapSupport';
import { BEARER, actorOf, at, type RouteContext } from './shared';

/** The console's map: luminaires, zones, and for roles that read energy, buildings and sensors. */
export function registerMapRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  fastify.route({
    ...at('GET /api/map'),
    schema: {
      tags: ['lighting'],
      summary:
        'Luminaires at their positions with their live level, zones, buildings and sensors (MapView), gzipped when accepted.',
      security: BEARER,
    },
    handler: (request, reply) => {
      const actor = actorOf(request);
      const withSites = allows(actor, 'energy:read').allowed;
      const view = ctx.services.map.view(actor, ctx.services.lighting, withSites);
      return sendMaybeCompressed(request, reply, 'application/json; charset=utf-8', JSON.stringify(view));
    },
  });
}
