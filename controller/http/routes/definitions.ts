import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { LightingService, ProgramSource } from '../../lighting/runtime/lightingService';
import type { Actor } from '../../scope';
import { ApiError } from '../errors';
import {
  AssignCalendarBody,
  CalendarBody,
  CalendarPreviewBody,
  IdParams,
  PreviewBody,
  ProgramBody,
  YearCostBody,
} from '../schemas';
import type { CommuneIndex } from '../communeIndex';
import { BEARER, actorOf, at, note, type RouteContext } from './shared';

/** Programs, calendars, a zone's calendar, previews and the year's cost. */
export function registerDefinitionRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { lighting } = ctx.services;

  app.route({
    ...at('GET /api/programs'),
    schema: {
      tags: ['programs'],
      summary: 'Programs, where they come from and which calendars use them (ProgramEntry[]).',
      security: BEARER,
    },
    handler: () => lighting.programs(),
  });

  app.route({
    ...at('GET /api/programs/:id'),
    schema: {
      tags: ['programs'],
      summary: 'One program (ProgramEntry).',
      params: IdParams,
      security: BEARER,
    },
    handler: (request) => lighting.program(request.params.id),
  });

  app.route({
    ...at('PUT /api/programs/:id'),
    schema: {
      tags: ['programs'],
      summary: 'Creates (201) or replaces (200) a program; applied to its zones within a second.',
      params: IdParams,
      body: ProgramBody,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const id = sameId(request.params.id, request.body.id, 'program');
      const existed = lighting.programs().some((p) => p.program.id === id);
      const entry = await lighting.putProgram({ ...request.body, id }, actorOf(request));
      note(
        request,
        id,
        programCommunes(lighting, actorOf(request), id),
        `program ${id}`,
        `program ${existed ? 'replaced' : 'created'}: ${entry.program.steps.length} step(s)`,
      );
      return reply.status(existed ? 200 : 201).send(entry);
    },
  });

  app.route({
    ...at('DELETE /api/programs/:id'),
    schema: {
      tags: ['programs'],
      summary: 'Deletes a program no calendar uses (409 otherwise).',
      params: IdParams,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      await lighting.deleteProgram(id, actorOf(request));
      note(request, id, [], `program ${id}`, 'program deleted');
      return reply.status(204).send();
    },
  });

  app.route({
    ...at('POST /api/programs/preview'),
    schema: {
      tags: ['programs'],
      summary:
        'What a program (saved, or a draft) does in a zone on one night: steps with times and levels, dusk, dawn, energy.',
      body: PreviewBody,
      security: BEARER,
    },
    handler: (request) => {
      const { zone, night } = request.body;
      return lighting.previewProgram({ zone, night, program: programSource(request.body) }, actorOf(request));
    },
  });

  app.route({
    ...at('POST /api/programs/year-cost'),
    schema: {
      tags: ['programs'],
      summary: 'What a program costs a zone over a year against its current calendar: kWh, €, kg CO2e.',
      body: YearCostBody,
      security: BEARER,
    },
    handler: (request) => {
      const { zone, from, nights } = request.body;
      return lighting.yearCost(
        {
          zone,
          program: programSource(request.body),
          ...(from !== undefined ? { from } : {}),
          ...(nights !== undefined ? { nights } : {}),
        },
        actorOf(request),
      );
    },
  });

  app.route({
    ...at('POST /api/calendars/preview'),
    schema: {
      tags: ['programs'],
      summary:
        'A draft calendar in a zone before it is saved: the program of each coming night (14 by default) and its year’s cost against the zone’s calendar now (CalendarPreview).',
      body: CalendarPreviewBody,
      security: BEARER,
    },
    handler: (request) => lighting.previewCalendar(request.body, actorOf(request)),
  });

  app.route({
    ...at('GET /api/calendars'),
    schema: {
      tags: ['programs'],
      summary: 'Calendars and the zones following them (CalendarEntry[]).',
      security: BEARER,
    },
    handler: () => lighting.calendars(),
  });

  app.route({
    ...at('GET /api/calendars/:id'),
    schema: {
      tags: ['programs'],
      summary: 'One calendar (CalendarEntry).',
      params: IdParams,
      security: BEARER,
    },
    handler: (request) => lighting.calendar(request.params.id),
  });

  app.route({
    ...at('PUT /api/calendars/:id'),
    schema: {
      tags: ['programs'],
      summary: 'Creates (201) or replaces (200) a calendar; its programs must exist.',
      params: IdParams,
      body: CalendarBody,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const id = sameId(request.params.id, request.body.id, 'calendar');
      const existed = lighting.calendars().some((c) => c.calendar.id === id);
      const entry = await lighting.putCalendar({ ...request.body, id }, actorOf(request));
      note(
        request,
        id,
        zoneCommunes(ctx.territory, entry.zones),
        `calendar ${id}`,
        `calendar ${existed ? 'replaced' : 'created'}: ${entry.calendar.rules.length} rule(s)`,
      );
      return reply.status(existed ? 200 : 201).send(entry);
    },
  });

  app.route({
    ...at('DELETE /api/calendars/:id'),
    schema: {
      tags: ['programs'],
      summary: 'Deletes a calendar no zone follows (409 otherwise).',
      params: IdParams,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      await lighting.deleteCalendar(id, actorOf(request));
      note(request, id, [], `calendar ${id}`, 'calendar deleted');
      return reply.status(204).send();
    },
  });

  app.route({
    ...at('PUT /api/zones/:id/calendar'),
    schema: {
      tags: ['programs'],
      summary: 'Gives a zone another calendar (ZoneView).',
      params: IdParams,
      body: AssignCalendarBody,
      security: BEARER,
    },
    handler: async (request) => {
      const view = await lighting.assignCalendar(request.params.id, request.body.calendar, actorOf(request));
      note(
        request,
        view.id,
        [view.commune],
        `zone ${view.id}`,
        `zone now follows calendar ${request.body.calendar}`,
      );
      return view;
    },
  });
}

function sameId(fromPath: string, fromBody: string | undefined, what: string): string {
  if (fromBody !== undefined && fromBody !== fromPath)
    throw new ApiError(
      400,
      'invalid',
      `body.id: the ${what} id in the body ('${fromBody}') differs from the path ('${fromPath}')`,
      [{ path: 'body.id', message: `must be '${fromPath}' like the path, or absent (is '${fromBody}')` }],
    );
  return fromPath;
}

function programSource(body: { program?: string; draft?: Record<string, unknown> }): ProgramSource {
  if (body.program !== undefined) return body.program;
  return { program: { id: 'draft', ...body.draft } };
}

/** Communes whose zones follow a calendar that uses the program. */
function programCommunes(lighting: LightingService, actor: Actor, id: string): string[] {
  const calendars = new Set(lighting.program(id).usedBy);
  const communes = new Set<string>();
  for (const zone of lighting.zones(actor)) if (calendars.has(zone.calendar)) communes.add(zone.commune);
  return [...communes].sort();
}

function zoneCommunes(territory: CommuneIndex, zones: readonly string[]): string[] {
  return [
    ...new Set(zones.map((z) => territory.communeOfZone(z)).filter((c): c is string => c !== undefined)),
  ].sort();
}
