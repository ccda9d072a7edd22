import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError } from '../errors';
import { at, type RouteContext } from './shared';

/** Open data changes once a day: proxies and browsers may keep it an hour. */
const CACHE_CONTROL = 'public, max-age=3600';
const STREAM_BUFFER_BYTES = 256 * 1024;

const OpenDataFileParams = z.strictObject({
  file: z.string().min(1).max(100).describe('<dataset>.csv or <dataset>.json'),
});

/** Open data, without a token (rate-limited per address like every request without one). */
export function registerOpenDataRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const service = (): NonNullable<RouteContext['services']['openData']> => {
    const openData = ctx.services.openData;
    if (!openData) throw new ApiError(503, 'unavailable', 'open data is not available in this service');
    return openData;
  };

  app.route({
    ...at('GET /opendata'),
    schema: {
      tags: ['open data'],
      summary: 'The catalogue of open datasets, in DCAT-AP (JSON-LD); no token.',
    },
    handler: (request, reply) =>
      reply
        .type('application/ld+json; charset=utf-8')
        .header('cache-control', CACHE_CONTROL)
        .send(JSON.stringify(service().catalogue(requestBase(request)))),
  });

  app.route({
    ...at('GET /opendata/:file'),
    schema: {
      tags: ['open data'],
      summary:
        'A dataset of the catalogue as CSV (French spreadsheet) or JSON, aggregated per day; no token.',
      params: OpenDataFileParams,
    },
    handler: async (request, reply) => {
      const abort = new AbortController();
      request.raw.once('close', () => abort.abort());
      const file = await service().open(request.params.file, abort.signal);
      return reply
        .type(file.contentType)
        .header('cache-control', CACHE_CONTROL)
        .header('content-disposition', `inline; filename="${file.fileName}"`)
        .send(Readable.from(file.body, { objectMode: false, highWaterMark: STREAM_BUFFER_BYTES }));
    },
  });
}

/** Where the request came to, for the catalogue's links when open_data.base_url is not configured. */
function requestBase(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}
