import type { FastifyInstance } from 'fastify';
import { sendGzipped, sendMaybeCompressed } from '../mapSupport';
import { BEARER, actorOf, at, type RouteContext } from './shared';

const JSON_TYPE = 'application/json; charset=utf-8';

/** The console's map: luminaires, zones, and for roles that read energy, buildings and sensors. */
export function registerMapRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  fastify.route({
    ...at('GET /api/map'),
    schema: {
      tags: ['lighting'],
      summary:
        'Luminaires at their positions, zones, buildings and sensors (MapView), gzipped when accepted; unchanged while the configuration is, so revalidated by its ETag.',
      security: BEARER,
    },
    handler: (request, reply) => {
      const layout = ctx.services.map.layout(actorOf(request));
      // Kept by the browser but asked again each time: another scope or configuration has another ETag.
      void reply.header('etag', layout.etag).header('cache-control', 'private, no-cache');
      if (request.headers['if-none-match'] === layout.etag) return reply.code(304).send();
      return sendGzipped(request, reply, JSON_TYPE, layout.gzipped);
    },
  });
  fastify.route({
    ...at('GET /api/map/levels'),
    schema: {
      tags: ['lighting'],
      summary:
        'The live level, deciding slot, level read back and failures of the map’s luminaires, in the order and under the version of GET /api/map (MapLevelsView).',
      security: BEARER,
    },
    handler: (request, reply) => {
      const levels = ctx.services.map.levels(actorOf(request), ctx.services.lighting);
      return sendMaybeCompressed(request, reply, JSON_TYPE, JSON.stringify(levels));
    },
  });
}
