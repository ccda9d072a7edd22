import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type {
  CommandAccepted,
  CommandProgress,
  CommandRecord,
  LightingService,
  OverrideRequest,
  RelightRequest,
} from '../../lighting/runtime/lightingService';
import { coversAny } from '../../scope';
import { ApiError } from '../errors';
import { CommandIdParams, OverrideBody, RelightBody, WaitQuery, instantMs, toTargetSpec } from '../schemas';
import { describeTarget } from '../communeIndex';
import { BEARER, actorOf, at, note, noteEnded, type RouteContext } from './shared';

/** Emergency relights and overrides: create, clear or release, follow their progress. */
export function registerCommandRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { lighting } = ctx.services;

  /** Audits an accepted relight or override; its progress, after waiting for the devices if asked. */
  async function answerAccepted(
    request: FastifyRequest,
    waitMs: number | undefined,
    { record, progress }: CommandAccepted,
    what: string,
  ): Promise<{ record: CommandRecord; progress: CommandProgress }> {
    note(
      request,
      record.id,
      record.communes,
      describeTarget(record.target),
      `${what} at ${record.level} % of ${record.luminaires} luminaire(s): ${record.reason}`,
    );
    return {
      record,
      progress: await waitFor(lighting, progress, waitMs, ctx.options.maxWaitMs),
    };
  }

  app.route({
    ...at('GET /api/relights'),
    schema: {
      tags: ['commands'],
      summary: 'Emergency relights in force or pending (CommandRecord[]).',
      security: BEARER,
    },
    handler: (request) => lighting.commands(actorOf(request), 'emergency'),
  });

  app.route({
    ...at('GET /api/overrides'),
    schema: {
      tags: ['commands'],
      summary: 'Manual overrides in force or pending (CommandRecord[]).',
      security: BEARER,
    },
    handler: (request) => lighting.commands(actorOf(request), 'override'),
  });

  app.route({
    ...at('POST /api/relights'),
    schema: {
      tags: ['commands'],
      summary:
        'Emergency relight (priority 1). Answers once persisted: {record, progress}. ?waitMs= waits for the devices’ confirmation.',
      body: RelightBody,
      querystring: WaitQuery,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const accepted = await lighting.relight(commandRequest(request.body, ctx.now()), actorOf(request));
      return reply.status(201).send(await answerAccepted(request, request.query.waitMs, accepted, 'relight'));
    },
  });

  app.route({
    ...at('DELETE /api/relights/:id'),
    schema: {
      tags: ['commands'],
      summary: 'Clears an emergency relight (CommandRecord).',
      params: CommandIdParams,
      security: BEARER,
    },
    handler: async (request) =>
      noteEnded(request, await lighting.clearRelight(request.params.id, actorOf(request)), 'relight cleared'),
  });

  app.route({
    ...at('POST /api/overrides'),
    schema: {
      tags: ['commands'],
      summary: 'Manual override (priority 8), with an expiry or untilReleased. Answers {record, progress}.',
      body: OverrideBody,
      querystring: WaitQuery,
      security: BEARER,
    },
    handler: async (request, reply) => {
      const body = request.body;
      const accepted = await lighting.override(
        { ...commandRequest(body, ctx.now()), ...(body.untilReleased ? { untilReleased: true } : {}) },
        actorOf(request),
      );
      return reply
        .status(201)
        .send(await answerAccepted(request, request.query.waitMs, accepted, 'override'));
    },
  });

  app.route({
    ...at('DELETE /api/overrides/:id'),
    schema: {
      tags: ['commands'],
      summary: 'Releases a manual override (CommandRecord).',
      params: CommandIdParams,
      security: BEARER,
    },
    handler: async (request) =>
      noteEnded(
        request,
        await lighting.releaseOverride(request.params.id, actorOf(request)),
        'override released',
      ),
  });

  app.route({
    ...at('GET /api/commands/:id/progress'),
    schema: {
      tags: ['commands'],
      summary:
        'How far the devices have confirmed a relight or override (CommandProgress); ?waitMs= waits until done.',
      params: CommandIdParams,
      querystring: WaitQuery,
      security: BEARER,
    },
    handler: async (request) => {
      const { id } = request.params;
      const progress = lighting.progress(id);
      if (!progress) throw new ApiError(404, 'not-found', `no recent relight or override '${id}'`);
      if (!coversAny(actorOf(request).communes, progress.communes))
        throw new ApiError(
          403,
          'forbidden',
          `command '${id}' concerns ${progress.communes.join(', ')}, outside your communes`,
        );
      return waitFor(lighting, progress, request.query.waitMs, ctx.options.maxWaitMs);
    },
  });
}

/** What relights and overrides share: id, target, level, reason and expiry. */
function commandRequest(
  body: {
    id?: string;
    target: Parameters<typeof toTargetSpec>[0];
    level: number;
    reason: string;
    expiresAt?: string | number;
    expiresInMin?: number;
  },
  now: number,
): RelightRequest & OverrideRequest {
  return {
    ...(body.id !== undefined ? { id: body.id } : {}),
    target: toTargetSpec(body.target),
    level: body.level,
    reason: body.reason,
    ...expiry(body, now),
  };
}

function expiry(
  body: { expiresAt?: string | number; expiresInMin?: number },
  now: number,
): { expiresAt?: number } {
  if (body.expiresAt !== undefined) return { expiresAt: instantMs(body.expiresAt) };
  if (body.expiresInMin !== undefined) return { expiresAt: now + body.expiresInMin * 60_000 };
  return {};
}

async function waitFor(
  lighting: LightingService,
  progress: CommandProgress,
  waitMs: number | undefined,
  maxWaitMs: number,
): Promise<CommandProgress> {
  if (!waitMs || progress.done) return progress;
  return lighting.waitForConfirmation(progress.id, { timeoutMs: Math.min(waitMs, maxWaitMs) });
}
