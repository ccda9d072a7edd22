import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Id } from '../../../config/schema/common';
import { BEARER, actorOf, at, type RouteContext } from './shared';

const PointParams = z.strictObject({ id: Id, point: Id });
const CommuneParams = z.strictObject({ commune: Id });

/** The elected officials' page: a commune's figures, and any sensor point's last 24 hours. */
export function registerOfficialsRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { energy, officials } = ctx.services;

  app.route({
    ...at('GET /api/officials/:commune'),
    schema: {
      tags: ['energy'],
      summary:
        'A commune at a glance (OfficialsView): lights on, lighting energy and cost this month, open alerts, latest sensor values.',
      params: CommuneParams,
      security: BEARER,
    },
    handler: (request) => officials.view(request.params.commune, actorOf(request)),
  });

  app.route({
    ...at('GET /api/buildings/:id/points/:point/history'),
    schema: {
      tags: ['energy'],
      summary: 'A sensor point’s last 24 hours in 5-minute buckets: min, mean, max (PointHistoryView).',
      params: PointParams,
      security: BEARER,
    },
    handler: (request) => energy.history(request.params.id, request.params.point, actorOf(request)),
  });
}
