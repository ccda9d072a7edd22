import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { coversAny } from '../../scope';
import { IdParams } from '../schemas';
import { BEARER, actorOf, at, type RouteContext } from './shared';

/** Live state of the lighting: communes, zones, luminaires. */
export function registerLightingStateRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { lighting } = ctx.services;

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
}
