import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Id } from '../../../config/schema/common';
import { reportCsv } from '../../evaluation/format';
import { ApiError } from '../errors';
import { BEARER, actorOf, at, type RouteContext } from './shared';

const Day = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, { message: "must be a date 'YYYY-MM-DD'" });

const UsageBeacon = z.union([
  z.strictObject({ event: z.literal('sign-in') }),
  z.strictObject({ event: z.literal('page'), page: Id.describe("The console page shown, e.g. 'zones'.") }),
]);
const UsageQuery = z.strictObject({
  from: Day.optional().describe('First day included (site time); default: the beginning.'),
  to: Day.optional().describe('Last day included; default: today.'),
});
const MonthParams = z.strictObject({
  month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, { message: "must be a month 'YYYY-MM'" }),
});
const ReportQuery = z.strictObject({
  commune: Id.optional().describe("One of the token's communes; default: all of them and their total."),
  format: z.enum(['json', 'csv']).optional().describe('csv: French spreadsheet (;, decimal comma, BOM).'),
});

/** Usage counts, the console's beacon, and the monthly evaluation report (docs/evaluation.md). */
export function registerEvaluationRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  // Read at each request: the composition root (or a test) may wire them after the routes.
  const services = ctx.services;
  const unavailable = (what: string): ApiError => new ApiError(503, 'unavailable', `${what} is not wired`);

  app.route({
    ...at('POST /api/usage/views'),
    schema: {
      tags: ['evaluation'],
      summary: "The console's beacon: a sign-in or a page shown, counted without who (204).",
      body: UsageBeacon,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const actor = actorOf(request);
      const body = request.body;
      services.usage?.record(actor, body.event === 'sign-in' ? 'sign-in' : `page:${body.page}`);
      return reply.status(204).send();
    },
  });

  app.route({
    ...at('GET /api/usage'),
    schema: {
      tags: ['evaluation'],
      summary: "Usage counts per day, role, commune and kind, of the token's communes ({records}).",
      querystring: UsageQuery,
      security: BEARER,
    },
    handler: (request) => {
      const usage = services.usage;
      if (!usage) throw unavailable('usage counting');
      const { from, to } = request.query;
      if (from !== undefined && to !== undefined && from > to)
        throw new ApiError(400, 'invalid', `query.from: '${from}' is after query.to '${to}'`);
      return { records: usage.records(actorOf(request).communes, from, to) };
    },
  });

  app.route({
    ...at('GET /api/reports/:month'),
    schema: {
      tags: ['evaluation'],
      summary: 'The monthly evaluation report (EvaluationReport), per commune and for the territory.',
      params: MonthParams,
      querystring: ReportQuery,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const reports = services.reports;
      if (!reports) throw unavailable('the evaluation report');
      const report = await reports.monthly(request.params.month, actorOf(request), request.query.commune);
      if (request.query.format !== 'csv') return report;
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="evaluation-${report.month}.csv"`)
        .send(reportCsv(report));
    },
  });
}
