import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EXPORT_FORMATS, EXPORT_KINDS } from '../../exports/selection';
import { ApiError } from '../errors';
import { BEARER, actorOf, at, type RouteContext } from './shared';

/** Bytes an export may hold in memory between InfluxDB and the client before it waits for the client. */
const STREAM_BUFFER_BYTES = 256 * 1024;

export const ExportQueryString = z.strictObject({
  kind: z.enum(EXPORT_KINDS).describe('What the series is about.'),
  id: z
    .string()
    .min(1)
    .max(200)
    .describe("Its id: 'building/point' for a point, else the building, zone or commune id."),
  from: z
    .string()
    .min(1)
    .max(40)
    .describe('Start (included): 2026-11-01 (local midnight) or ISO 8601 with offset.'),
  to: z.string().min(1).max(40).describe('End (excluded), written as from.'),
  format: z.enum(EXPORT_FORMATS).default('csv').describe('csv (French spreadsheet) or ndjson.'),
  ticket: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('One-use ticket from POST /api/events/ticket, for a download link (no Authorization header).'),
});

/** Series exports, streamed from InfluxDB to the client (docs/exports.md). */
export function registerExportRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.route({
    ...at('GET /api/exports'),
    schema: {
      tags: ['energy'],
      summary:
        'A series (point, building, zone, commune) over a period, as CSV for a French spreadsheet or NDJSON; streamed.',
      querystring: ExportQueryString,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const exports = ctx.services.exports;
      if (!exports) throw new ApiError(503, 'unavailable', 'exports are not available in this service');
      const abort = new AbortController();
      request.raw.once('close', () => abort.abort());
      const stream = await exports.open(request.query, actorOf(request), abort.signal);
      return reply
        .type(stream.contentType)
        .header('content-disposition', `attachment; filename="${stream.fileName}"`)
        .send(Readable.from(stream.body, { objectMode: false, highWaterMark: STREAM_BUFFER_BYTES }));
    },
  });
}
