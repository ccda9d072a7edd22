import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import QRCode from 'qrcode';
import { outsideOf } from '../../scope';
import { permissionsOf } from '../access';
import type { AuthenticatedUser } from '../auth';
import { ApiError } from '../errors';
import { PasswordHashingBusy, hashPassword, verifyPassword } from '../passwords';
import { EnrolBody, IdParams, PasswordBody, SignInBody } from '../schemas';
import { clearedSessionCookie, csrfTokenFor, sessionCookie } from '../sessions';
import { BEARER, actorOf, at, note, type RouteContext } from './shared';

const SESSION_SECURITY = [{ session: [] }];

/**
 * Sign-in for people: name and password or an enrolment code give a session cookie (sessions.ts);
 * administrators set passwords, issue enrolment codes and sign people out everywhere. Tokens are
 * not involved: they keep working as they are, for the API, the CLI and integrations.
 */
export function registerPeopleRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { signIns, limiter, users, logger } = ctx.signIn;

  /** Refused before any check while the address or account is over its failures, right password or not. */
  const refuseIfBlocked = (request: FastifyRequest, reply: FastifyReply, account?: string): void => {
    const blockedMs = limiter.blockedFor(request.ip, account);
    if (blockedMs <= 0) return;
    const seconds = Math.ceil(blockedMs / 1000);
    void reply.header('retry-after', String(seconds));
    throw new ApiError(
      429,
      'rate-limited',
      `too many failed sign-ins from this address or for this account: try again in ${seconds} s, or ask an administrator for an enrolment code`,
    );
  };

  const openSession = async (request: FastifyRequest, reply: FastifyReply, user: AuthenticatedUser) => {
    const { id, expiresAt } = await signIns.open(user.id);
    void reply.header('set-cookie', sessionCookie(id, signIns.sessionMs, request.protocol === 'https'));
    logger.info(`'${user.id}' signed in from ${request.ip}`);
    return { ...identityOf(user), csrf: csrfTokenFor(id), expiresAt };
  };

  /** The user an administrator manages: configured, and within the administrator's communes. */
  const managed = (request: FastifyRequest, id: string): AuthenticatedUser => {
    const user = users.get(id);
    if (!user) throw new ApiError(404, 'not-found', `no user '${id}' in the configuration`);
    const beyond = outsideOf(actorOf(request).communes, user.communes);
    if (beyond.length > 0)
      throw new ApiError(
        403,
        'forbidden',
        `user '${id}' also has communes beyond yours: ${beyond.join(', ')}`,
      );
    return user;
  };

  app.route({
    ...at('POST /api/session'),
    schema: {
      tags: ['sign-in'],
      summary:
        'Signs a person in with name and password: a session cookie, and the CSRF token to send as X-CSRF-Token.',
      body: SignInBody,
    },
    handler: async (request, reply) => {
      const account = `account ${request.body.user.toLowerCase()}`;
      refuseIfBlocked(request, reply, account);
      const user = users.get(request.body.user);
      const matches = await verifyPassword(request.body.password, user && signIns.passwordOf(user.id)).catch(
        (error: unknown) => {
          if (!(error instanceof PasswordHashingBusy)) throw error;
          void reply.header('retry-after', '5');
          throw new ApiError(503, 'unavailable', error.message);
        },
      );
      if (!user || !matches) {
        limiter.recordFailure(request.ip, account);
        logger.warn(`sign-in refused for '${request.body.user.slice(0, 64)}' from ${request.ip}`);
        throw new ApiError(401, 'unauthorized', 'wrong name or password');
      }
      return openSession(request, reply, user);
    },
  });

  app.route({
    ...at('POST /api/session/enrol'),
    schema: {
      tags: ['sign-in'],
      summary:
        'Signs a phone in with the one-use code of an enrolment link: a session cookie and CSRF token.',
      body: EnrolBody,
    },
    handler: async (request, reply) => {
      // By address only: a code is 128 random bits, guessed by nobody, so no account is locked by it.
      refuseIfBlocked(request, reply);
      const userId = await signIns.redeem(request.body.code);
      const user = userId === undefined ? undefined : users.get(userId);
      if (!user) {
        limiter.recordFailure(request.ip);
        logger.warn(`enrolment code refused from ${request.ip}`);
        throw new ApiError(
          401,
          'unauthorized',
          'this enrolment code is not valid: already used, expired or mistyped',
        );
      }
      return openSession(request, reply, user);
    },
  });

  app.route({
    ...at('DELETE /api/session'),
    schema: {
      tags: ['sign-in'],
      summary: 'Signs this browser out (its session ends).',
      security: SESSION_SECURITY,
    },
    handler: async (request, reply) => {
      if (request.sessionId !== undefined) await signIns.end(request.sessionId);
      return reply
        .header('set-cookie', clearedSessionCookie(request.protocol === 'https'))
        .status(204)
        .send();
    },
  });

  app.route({
    ...at('GET /api/users'),
    schema: {
      tags: ['users'],
      summary:
        'The people an administrator manages (all their communes within the administrator’s): role, communes, whether a password is set, sessions in force.',
      security: BEARER,
    },
    handler: (request) => {
      const scope = actorOf(request).communes;
      const sessions = signIns.sessionCounts();
      return [...users.values()]
        .filter((user) => outsideOf(scope, user.communes).length === 0)
        .map((user) => ({
          ...identityOf(user),
          password: signIns.passwordOf(user.id) !== undefined,
          sessions: sessions.get(user.id) ?? 0,
        }));
    },
  });

  app.route({
    ...at('PUT /api/users/:id/password'),
    schema: {
      tags: ['users'],
      summary: 'Sets a person’s password (hashed with scrypt); their sessions end.',
      params: IdParams,
      body: PasswordBody,
      security: BEARER,
    },
    handler: async (request) => {
      const user = managed(request, request.params.id);
      const ended = await signIns.setPassword(user.id, await hashPassword(request.body.password));
      ctx.streams.closeUser(user.id);
      note(request, user.id, user.communes, `user ${user.id}`, `password set; ${ended} session(s) ended`);
      return { user: user.id, sessionsEnded: ended };
    },
  });

  app.route({
    ...at('POST /api/users/:id/enrolment'),
    schema: {
      tags: ['users'],
      summary:
        'A one-use enrolment link for a person’s phone, valid a few minutes, with its QR code (SVG); earlier codes end.',
      params: IdParams,
      security: BEARER,
    },
    handler: async (request) => {
      const user = managed(request, request.params.id);
      const { code, expiresAt } = await signIns.issueEnrolment(user.id);
      // In the fragment: a browser never sends it, so it reaches no server or proxy log.
      const link = `${(ctx.signIn.publicUrl ?? `${request.protocol}://${request.host}`).replace(/\/$/, '')}/#enrol=${code}`;
      const qrSvg = await QRCode.toString(link, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      note(
        request,
        user.id,
        user.communes,
        `user ${user.id}`,
        `enrolment code issued, valid until ${new Date(expiresAt).toISOString()}`,
      );
      return { user: user.id, link, code, expiresAt, qrSvg };
    },
  });

  app.route({
    ...at('POST /api/users/:id/signout'),
    schema: {
      tags: ['users'],
      summary: 'Signs a person out everywhere: every session and unused enrolment code ends.',
      params: IdParams,
      security: BEARER,
    },
    handler: async (request) => {
      const user = managed(request, request.params.id);
      const ended = await signIns.endAll(user.id);
      ctx.streams.closeUser(user.id);
      note(
        request,
        user.id,
        user.communes,
        `user ${user.id}`,
        `signed out everywhere: ${ended} session(s) ended`,
      );
      return { user: user.id, sessionsEnded: ended };
    },
  });
}

/** What GET /api/me answers: who, with which role, communes and permissions. */
export function identityOf(user: AuthenticatedUser): {
  user: string;
  name?: string;
  role: AuthenticatedUser['role'];
  communes: readonly string[];
  permissions: string[];
} {
  return {
    user: user.id,
    ...(user.name !== undefined ? { name: user.name } : {}),
    role: user.role,
    communes: user.communes,
    permissions: permissionsOf(user),
  };
}
