import type { FastifyReply, FastifyRequest } from 'fastify';
import { excerptText } from '../../core/excerpt';
import type { Logger } from '../../core/logger';
import { routeCommand, type ShardMap } from '../cluster/shards';
import type { LightingService } from '../lighting/runtime/lightingService';
import type { Actor } from '../scope';
import type { Endpoint } from './access';
import type { CommuneIndex } from './communeIndex';
import { ApiError } from './errors';
import { CSRF_HEADER } from './sessions';

/** What the API needs to know of the cluster to send a command where it is handled. */
export interface ShardRouting {
  shards: ShardMap;
  /** Whether this instance leads its own shard now. */
  leading(): boolean;
  /** The API address the leader of a shard published, undefined while it has none. */
  leaderUrl(shard: string): Promise<string | undefined>;
}

/** Set on a forwarded request: the instance that receives it handles it or refuses it, never forwards it again. */
export const FORWARDED_HEADER = 'x-nocturne-forwarded';

/** The caller's headers that travel with the command: its authentication, and what the answer depends on. */
const RELAYED_HEADERS = ['authorization', 'cookie', CSRF_HEADER, 'x-nocturne-client', 'content-type'];

type Lighting = Pick<LightingService, 'commands' | 'progress'>;

/**
 * How the shard that handles a request is found: by the communes it concerns (none known: this
 * instance's own shard), or by the id of a command, which only the leader holding it knows.
 */
type Addressing =
  | { by: 'communes'; of(request: FastifyRequest, territory: CommuneIndex): readonly string[] }
  | { by: 'id'; holds(lighting: Lighting, id: string): boolean };

/** Looks a command up by id among every command in force, whoever may see it. */
const EVERY_COMMUNE: Actor = {
  user: 'nocturne',
  role: 'admin',
  communes: ['*'],
  via: 'api',
  from: 'cluster',
};

const idOf = (request: FastifyRequest): string => (request.params as { id: string }).id;
const BY_TARGET: Addressing = {
  by: 'communes',
  of: (request, territory) => territory.communesOf((request.body as { target?: never } | undefined)?.target),
};
const BY_ZONE: Addressing = {
  by: 'communes',
  of: (request, territory) => territory.communesOf({ zone: idOf(request) }),
};
const OWN_SHARD: Addressing = { by: 'communes', of: () => [] };
const inForce = (slot: 'emergency' | 'override'): Addressing => ({
  by: 'id',
  holds: (lighting, id) => lighting.commands(EVERY_COMMUNE, slot).some((record) => record.id === id),
});

/**
 * The endpoints only a shard's leader can answer: the lighting runtime, the building points' sampler
 * and the alerts run there alone. Reads of lists answer for the shard of the instance asked (a standby
 * asks its leader).
 */
const ADDRESSING: Readonly<Partial<Record<Endpoint, Addressing>>> = {
  'POST /api/relights': BY_TARGET,
  'POST /api/overrides': BY_TARGET,
  'PUT /api/zones/:id/calendar': BY_ZONE,
  'GET /api/zones/:id': BY_ZONE,
  'GET /api/luminaires/:id': {
    by: 'communes',
    of: (request, territory) => territory.communesOf({ luminaires: [idOf(request)] }),
  },
  'DELETE /api/relights/:id': inForce('emergency'),
  'DELETE /api/overrides/:id': inForce('override'),
  'GET /api/commands/:id/progress': {
    by: 'id',
    holds: (lighting, id) => lighting.progress(id) !== undefined,
  },
  'GET /api/zones': OWN_SHARD,
  'GET /api/relights': OWN_SHARD,
  'GET /api/overrides': OWN_SHARD,
  'GET /api/programs': OWN_SHARD,
  'GET /api/programs/:id': OWN_SHARD,
  'POST /api/programs/preview': OWN_SHARD,
  'POST /api/programs/year-cost': OWN_SHARD,
  'GET /api/calendars': OWN_SHARD,
  'GET /api/calendars/:id': OWN_SHARD,
  'POST /api/calendars/preview': OWN_SHARD,
  'GET /api/map/levels': OWN_SHARD,
  'GET /api/buildings': OWN_SHARD,
  'GET /api/buildings/:id': OWN_SHARD,
  'GET /api/buildings/:id/points/:point/history': OWN_SHARD,
  'GET /api/officials/:commune': {
    by: 'communes',
    of: (request) => [(request.params as { commune: string }).commune],
  },
  'GET /api/alerts': OWN_SHARD,
  'POST /api/alerts/:id/acknowledge': OWN_SHARD,
};

/** Definitions the whole territory shares: with several shards, each leader holds a copy, changed in every one. */
const TERRITORY_DEFINITIONS: ReadonlySet<Endpoint> = new Set<Endpoint>([
  'PUT /api/programs/:id',
  'DELETE /api/programs/:id',
  'PUT /api/calendars/:id',
  'DELETE /api/calendars/:id',
]);

export interface ForwarderDeps {
  routing: ShardRouting;
  territory: CommuneIndex;
  lighting: Lighting;
  /** A forwarded command may wait for the devices (?waitMs=): its answer is awaited this long. */
  timeoutMs: number;
  logger: Logger;
}

/**
 * Sends a lighting request for a commune of another shard, or any received by a standby, to the leader
 * that handles it (docs/deploy.md, "Shards by commune"), with the caller's credentials: the leader
 * authenticates, checks the scope, audits a command, and its answer goes back as it is. Runs after the
 * role check, before the body's validation, so that the body travels as the caller wrote it.
 */
export class CommandForwarder {
  constructor(private readonly deps: ForwarderDeps) {}

  /** Answers the request with the owner's answer when it is handled elsewhere; returns whether it did. */
  async forward(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const endpoint = request.routeOptions.config.endpoint;
    if (endpoint === undefined || request.actor === undefined) return false;
    const { routing, territory } = this.deps;
    const forwarded = request.headers[FORWARDED_HEADER] !== undefined;
    if (TERRITORY_DEFINITIONS.has(endpoint) && routing.shards.names.length > 1 && !forwarded)
      return this.forwardToEveryShard(request, reply);
    const addressing = TERRITORY_DEFINITIONS.has(endpoint) ? OWN_SHARD : ADDRESSING[endpoint];
    if (addressing === undefined) return false;
    if (addressing.by === 'id') return this.forwardById(request, reply, addressing, forwarded);
    const communes = addressing.of(request, territory);
    const route = routeCommand({ communes, shards: routing.shards, leading: routing.leading(), forwarded });
    switch (route.to) {
      case 'here':
        return false;
      case 'nowhere':
        throw new ApiError(route.status, route.status === 503 ? 'unavailable' : 'invalid', route.message);
      case 'shard':
        await this.relay(
          request,
          reply,
          await this.send(request, route.shard, await this.leaderOf(route.shard)),
        );
        return true;
    }
  }

  /**
   * A clear, a release or a progress names its command by id only: handled here when this leader holds
   * it, else asked of this shard's leader then the others', the first that knows it answering.
   */
  private async forwardById(
    request: FastifyRequest,
    reply: FastifyReply,
    addressing: Extract<Addressing, { by: 'id' }>,
    forwarded: boolean,
  ): Promise<boolean> {
    const { routing, lighting } = this.deps;
    const { shards } = routing;
    const leading = routing.leading();
    const id = idOf(request);
    if (leading && (forwarded || addressing.holds(lighting, id))) return false;
    if (forwarded)
      throw new ApiError(
        503,
        'unavailable',
        `this instance no longer leads shard '${shards.own}': send the command again`,
      );
    const candidates = [shards.own, ...shards.names.filter((name) => name !== shards.own)].filter(
      (shard) => !(leading && shard === shards.own),
    );
    const leaderless: string[] = [];
    let notFound: Answer | undefined;
    for (const shard of candidates) {
      const url = await this.publishedUrl(shard);
      if (url === undefined) {
        leaderless.push(shard);
        continue;
      }
      const answer = await answerOf(await this.send(request, shard, url));
      if (answer.status !== 404) {
        this.answer(request, reply, answer);
        return true;
      }
      notFound = answer;
    }
    if (leaderless.length > 0)
      throw new ApiError(
        503,
        'unavailable',
        `no instance leads shard${leaderless.length > 1 ? 's' : ''} ${leaderless.map((s) => `'${s}'`).join(', ')} now, which may hold '${id}': send the command again`,
      );
    if (!notFound) return false;
    this.answer(request, reply, notFound);
    return true;
  }

  /** The leader's address in etcd; etcd out of reach is this instance's problem to report, as a 503. */
  private async publishedUrl(shard: string): Promise<string | undefined> {
    try {
      return await this.deps.routing.leaderUrl(shard);
    } catch (error) {
      throw new ApiError(
        503,
        'unavailable',
        `the leader of shard '${shard}' cannot be looked up in etcd (${(error as Error).message}): send the command again`,
      );
    }
  }

  /**
   * A program or calendar change, made by every shard's leader in turn, this instance's shard first:
   * refused there (invalid, in use), it changes nothing anywhere and that answer goes back. Accepted
   * there but failing in another shard, the answer says where it was applied; a PUT may be sent again.
   */
  private async forwardToEveryShard(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const { shards } = this.deps.routing;
    const applied: string[] = [];
    let answer: Answer | undefined;
    for (const shard of [shards.own, ...shards.names.filter((name) => name !== shards.own)]) {
      let response: Answer;
      try {
        response = await answerOf(await this.send(request, shard, await this.leaderOf(shard)));
      } catch (error) {
        if (applied.length === 0) throw error;
        throw partlyApplied(applied, shard, (error as Error).message);
      }
      if (response.status >= 300) {
        if (applied.length > 0)
          throw partlyApplied(applied, shard, `${response.status} ${excerptText(response.text, 300)}`);
        answer = response;
        break;
      }
      applied.push(shard);
      answer ??= response;
    }
    this.answer(request, reply, answer!);
    return true;
  }

  private async leaderOf(shard: string): Promise<string> {
    const url = await this.publishedUrl(shard);
    if (url === undefined)
      throw new ApiError(
        503,
        'unavailable',
        `no instance leads shard '${shard}' now (its leader is gone and no standby took over yet, or it published no address: cluster.etcd.advertise_url): send the command again`,
      );
    return url;
  }

  private async send(request: FastifyRequest, shard: string, url: string): Promise<Response> {
    const headers: Record<string, string> = { [FORWARDED_HEADER]: this.deps.routing.shards.own };
    for (const name of RELAYED_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    // The owner believes it when this instance is among its http.trusted_proxies: its audit names the caller.
    headers['x-forwarded-for'] = request.ip;
    try {
      const response = await fetch(new URL(request.url, url), {
        method: request.method,
        headers,
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
        signal: AbortSignal.timeout(this.deps.timeoutMs),
      });
      this.deps.logger.debug(
        () => `${request.method} ${request.url} forwarded to shard '${shard}' at ${url}: ${response.status}`,
      );
      return response;
    } catch (error) {
      throw new ApiError(
        503,
        'unavailable',
        `the leader of shard '${shard}' at ${url} did not answer (${(error as Error).message}): send the command again`,
      );
    }
  }

  private async relay(request: FastifyRequest, reply: FastifyReply, response: Response): Promise<void> {
    this.answer(request, reply, await answerOf(response));
  }

  private answer(request: FastifyRequest, reply: FastifyReply, { status, type, text }: Answer): void {
    request.forwardedToOwner = true;
    if (type !== null) void reply.header('content-type', type);
    void reply.status(status).send(text);
  }
}

/** A leader's answer, read whole. */
interface Answer {
  status: number;
  type: string | null;
  text: string;
}

async function answerOf(response: Response): Promise<Answer> {
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

function partlyApplied(applied: readonly string[], shard: string, why: string): ApiError {
  return new ApiError(
    503,
    'unavailable',
    `applied in shard${applied.length > 1 ? 's' : ''} ${applied.map((s) => `'${s}'`).join(', ')}, not in '${shard}' (${why}): send it again`,
  );
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Answered by the instance that owns the command: the audit entry is that instance's. */
    forwardedToOwner?: boolean;
  }
}
