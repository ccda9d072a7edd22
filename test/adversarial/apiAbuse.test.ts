import { connect, type Socket } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { AuditEntry } from '../../controller/audit/entry';
import { ENDPOINTS } from '../../controller/http/access';
import {
  IN,
  KIB,
  MIB,
  OUT,
  TEST_USERS,
  dirBytes,
  extraToken,
  fileBytes,
  heapAfterGc,
  inParallel,
  leakedSecrets,
  longLogLines,
  metric,
  rawRequest,
  snapshot,
  startAdversarialService,
  tokenFor,
  type AdversarialService,
  type RawAnswer,
  type Snapshot,
  type TestUser,
} from './adversarialService';
import { Random, seeded } from './random';

/**
 * Issue #11, HTTP API: what an attacker with a token of some commune, or without one, throws at the
 * service behind a reverse proxy (`http.trusted_proxies: ['127.0.0.1']`; 127.0.0.2 is a client that
 * reaches the service directly). Not the normal role matrix (test/integration/api/matrix.test.ts), but:
 *
 * - every endpoint × every role with foreign and hostile ids (encoded, cased, prototype keys), mixed
 *   and territory-wide targets, programs and calendars other communes use;
 * - reuse of a relight or override id in force in another commune (finding 1): refused, the original
 *   stays in force;
 * - bodies nested 10,000 levels (400, finding 4) and over the body limit (413), never 500; refused
 *   240 KB requests cost a bounded audit (finding 3);
 * - path traversal on the console's files;
 * - X-Forwarded-For from an untrusted peer and forged chains through the proxy, huge headers, bad
 *   Authorization schemes, duplicate credentials, tokens in the query, replayed tickets;
 * - an event-stream flood of clients that never read (finding 8): capped per user and in total, heap bounded;
 * - a failed-token storm of many clients through the proxy (finding 2): a valid emergency token works
 *   throughout and at once afterwards, and the proxy's address is never locked out;
 * and, after all of it, that no luminaire, relight, override, program or calendar changed, and that no
 * token or password reached the log, the audit or the spool.
 */

const BODY_LIMIT = 256 * KIB;
const MAX_STREAMS_PER_USER = 8;
const MAX_STREAMS = 200;
/** Extra viewers, so that the event streams asked for (40 users × 10) exceed the total cap. */
const FLOOD_VIEWERS = Array.from({ length: 30 }, (_, i) => ({
  id: `flood-viewer-${String(i + 1).padStart(2, '0')}`,
  role: 'viewer' as const,
  communes: ['*'],
}));
const STREAMS_ASKED_PER_USER = 10;
/** 200 streams that never read, and the changes pushed at them: what finding 8 grew to 400 MB more. */
const STREAM_HEAP_GROWTH_MAX = 64 * MIB;
const STORM_CLIENTS = 200;
const STORM_ATTEMPTS_PER_CLIENT = 12;
/** A refused request's trace: a short excerpt in an audit entry (finding 3), not the request. */
const AUDIT_PER_REFUSED_MAX = 4 * KIB;
const HUGE_REFUSALS = 20;
/** The log takes one line per refusal, at most, whatever the request's size. */
const LOG_PER_REFUSED_MAX = 2 * KIB;
const HTTP_ANSWER_MAX_MS = 2_000;
/**
 * Failed authentications are logged a few lines per reason and window, not one per attempt (finding 3's
 * "rate-limit logging per reason"): a storm of 2,400 attempts from 200 forwarded clients may add this
 * much to the log. Logged one by one, it costs ~250 KB; a line per client and window, ~25 KB.
 */
const STORM_LOG_GROWTH_MAX = 64 * KIB;
/** Everything this file throws, refused, as it stays in the audit files once the service has stopped. */
const AUDIT_TOTAL_MAX = 256 * KIB;
const LOG_LINE_MAX = 4 * KIB;

const METZ_USERS: TestUser[] = [
  'admin-metz',
  'lighting-metz',
  'emergency-metz',
  'energy-metz',
  'viewer-metz',
];
const BASIC_PASSWORD = 'hunter2-7c1d9e3f';
const WRONG_TOKEN_PREFIX = 'wrongtok-';

let live: AdversarialService;
let before: Snapshot;
/** What the failed-token storm cost the log, for its own test. */
const storm = { logGrowth: -1, attempts: 0 };
const extraSecrets: string[] = [
  BASIC_PASSWORD,
  Buffer.from(`admin-all:${BASIC_PASSWORD}`).toString('base64'),
];
const fixture = {
  relightOut: 'abuse-r-out',
  relightIn: 'abuse-r-in',
  overrideOut: 'abuse-o-out',
  overrideIn: 'abuse-o-in',
  luminaireIn: '',
  luminaireOut: '',
  buildingOut: '',
  /** 'building/points/point' of a sensor point of Montigny. */
  sensorOut: '',
  alertOut: '',
};

type Who = TestUser | { token: string } | undefined;

interface Call {
  method?: string;
  path: string;
  body?: unknown;
  /** Sent as it is, instead of JSON of `body`. */
  raw?: string | Buffer;
  headers?: Record<string, string | string[]>;
  localAddress?: string;
}

function authorization(who: Who): Record<string, string> {
  if (who === undefined) return {};
  const token = typeof who === 'string' ? tokenFor(who) : who.token;
  return { authorization: `Bearer ${token}` };
}

async function call(who: Who, c: Call): Promise<RawAnswer & { json: unknown }> {
  const body = c.raw ?? (c.body !== undefined ? JSON.stringify(c.body) : undefined);
  const answer = await rawRequest(live.url, {
    method: c.method ?? 'GET',
    path: c.path,
    headers: {
      ...authorization(who),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...c.headers,
    },
    ...(body !== undefined ? { body } : {}),
    ...(c.localAddress ? { localAddress: c.localAddress } : {}),
  });
  let json: unknown;
  try {
    json = answer.text ? JSON.parse(answer.text) : undefined;
  } catch {
    json = undefined;
  }
  return { ...answer, json };
}

async function must(who: Who, c: Call, status: number): Promise<unknown> {
  const answer = await call(who, c);
  if (answer.status !== status)
    throw new Error(
      `${c.method ?? 'GET'} ${c.path}: expected ${status}, got ${answer.status} ${answer.text.slice(0, 300)}`,
    );
  return answer.json;
}

const describeCall = (who: Who, c: Call): string =>
  `${typeof who === 'string' ? who : who ? 'token' : 'anonymous'} ${c.method ?? 'GET'} ${c.path.slice(0, 120)}${c.body !== undefined ? ` ${JSON.stringify(c.body).slice(0, 160)}` : ''}`;

beforeAll(async () => {
  live = await startAdversarialService({ trustedProxies: ['127.0.0.1'], extraUsers: FLOOD_VIEWERS });
  const zone = (id: string) => live.config.zones.find((z) => z.id === id)!;
  fixture.luminaireIn = zone(live.zones.in).luminaires[0].id;
  fixture.luminaireOut = zone(live.zones.out).luminaires[0].id;
  await must(
    'emergency-all',
    {
      method: 'POST',
      path: '/api/relights',
      body: { id: fixture.relightOut, target: { zone: live.zones.out }, reason: 'accident' },
    },
    201,
  );
  await must(
    'emergency-metz',
    {
      method: 'POST',
      path: '/api/relights',
      body: { id: fixture.relightIn, target: { zone: live.zones.in }, level: 90, reason: 'incendie' },
    },
    201,
  );
  await must(
    'lighting-all',
    {
      method: 'POST',
      path: '/api/overrides',
      body: {
        id: fixture.overrideOut,
        target: { zone: live.zones.out },
        level: 20,
        reason: 'travaux',
        untilReleased: true,
      },
    },
    201,
  );
  await must(
    'lighting-metz',
    {
      method: 'POST',
      path: '/api/overrides',
      body: {
        id: fixture.overrideIn,
        target: { luminaires: [fixture.luminaireIn] },
        level: 10,
        reason: 'travaux',
        untilReleased: true,
      },
    },
    201,
  );
  const buildings = (await must('admin-all', { path: '/api/buildings' }, 200)) as {
    id: string;
    commune: string;
    points: { id: string; measurement: string }[];
  }[];
  fixture.buildingOut = buildings.find((b) => b.commune === OUT)!.id;
  const sensing = buildings.find(
    (b) => b.commune === OUT && b.points.some((p) => p.measurement === 'sensor'),
  )!;
  fixture.sensorOut = `${sensing.id}/points/${sensing.points.find((p) => p.measurement === 'sensor')!.id}`;
  // An alert of each building from its first power reading (the 'power-seen' rule).
  const deadline = Date.now() + 15_000;
  while (fixture.alertOut === '' && Date.now() < deadline) {
    const alerts = (await must('admin-all', { path: '/api/alerts' }, 200)) as {
      id: string;
      commune: string;
    }[];
    fixture.alertOut = alerts.find((a) => a.commune === OUT)?.id ?? '';
    if (fixture.alertOut === '') await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (fixture.alertOut === '') throw new Error(`no alert in ${OUT}`);
  before = await snapshot(live);
}, 60_000);

afterAll(async () => {
  await live?.stop();
}, 60_000);

// ---- refusals of big requests, first: the audit's refusal window is empty ----

it(
  `costs at most ${AUDIT_PER_REFUSED_MAX / KIB} KiB of audit and ${LOG_PER_REFUSED_MAX / KIB} KiB of log per refused 240 KB request (finding 3)`,
  () =>
    seeded(async () => {
      const r = Random.for('api:huge-refusals');
      const audit = `${live.stateDir}/audit`;
      await live.service.audit.flush();
      const auditBefore = await dirBytes(audit);
      const logBefore = await fileBytes(live.logFile);
      const statuses: number[] = [];
      for (let i = 0; i < HUGE_REFUSALS; i++) {
        // Within the body limit, refused by validation: a reason of 240,000 characters (at most 500).
        const answer = await call('emergency-metz', {
          method: 'POST',
          path: '/api/relights',
          body: {
            id: `huge-${i}`,
            target: { zone: live.zones.in },
            reason: `é\u2028\n"\\${r.text(235_000, 'abcdefgh ')}`,
          },
        });
        statuses.push(answer.status);
      }
      await live.service.audit.flush();
      const auditGrowth = (await dirBytes(audit)) - auditBefore;
      const logGrowth = (await fileBytes(live.logFile)) - logBefore;
      expect({
        statuses: [...new Set(statuses)],
        auditPerRequestOk: auditGrowth <= HUGE_REFUSALS * AUDIT_PER_REFUSED_MAX,
        logPerRequestOk: logGrowth <= HUGE_REFUSALS * LOG_PER_REFUSED_MAX,
        auditGrowth,
        logGrowth,
      }).toEqual({ statuses: [400], auditPerRequestOk: true, logPerRequestOk: true, auditGrowth, logGrowth });
    }),
  60_000,
);

// ---- scope ----

/** Percent-encodes every character, as a client may: the server decodes before it looks the id up. */
const encodeAll = (text: string): string =>
  [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');

function foreignCalls(r: Random): Call[] {
  const out = live.zones.out;
  const idVariants = (id: string): string[] => [
    id,
    encodeAll(id),
    `${id}/`,
    `${live.zones.in}%2F..%2F${id}`,
    `${id}%00`,
    `${id}?x=${live.zones.in}`,
  ];
  const target = (t: unknown) => ({ target: t, level: r.int(0, 100), reason: 'abus' });
  const targets: unknown[] = [
    { zone: out },
    { commune: OUT },
    { all: true },
    { luminaires: [fixture.luminaireIn, fixture.luminaireOut] },
    { luminaires: [fixture.luminaireOut] },
    { zone: out.toUpperCase() },
    JSON.parse(`{"zone":"${live.zones.in}","__proto__":{"zone":"${out}"}}`) as unknown,
  ];
  return [
    ...idVariants(out).map((id) => ({ path: `/api/zones/${id}` })),
    ...idVariants(fixture.luminaireOut).map((id) => ({ path: `/api/luminaires/${id}` })),
    ...[fixture.relightOut, fixture.overrideOut].map((id) => ({
      path: `/api/commands/${encodeAll(id)}/progress`,
    })),
    { path: `/api/buildings/${encodeAll(fixture.buildingOut)}` },
    { path: `/api/reports/2026-11?commune=${OUT}` },
    ...[
      `kind=building&id=${encodeURIComponent(fixture.buildingOut)}`,
      `kind=zone&id=${encodeURIComponent(out)}`,
      `kind=commune&id=${OUT}`,
    ].map((what) => ({ path: `/api/exports?${what}&from=2026-01-01&to=2026-01-02` })),
    { path: `/api/buildings/${fixture.sensorOut}/history` },
    ...idVariants(OUT).map((id) => ({ path: `/api/officials/${id}` })),
    { method: 'POST', path: `/api/alerts/${encodeURIComponent(fixture.alertOut)}/acknowledge` },
    ...[fixture.relightOut, encodeAll(fixture.relightOut)].map((id) => ({
      method: 'DELETE',
      path: `/api/relights/${id}`,
    })),
    ...[fixture.overrideOut, encodeAll(fixture.overrideOut)].map((id) => ({
      method: 'DELETE',
      path: `/api/overrides/${id}`,
    })),
    // People beyond Metz: a territory-wide user is no Metz administrator's to manage.
    { method: 'PUT', path: '/api/users/admin-all/password', body: { password: 'mot-de-passe-étranger' } },
    { method: 'POST', path: '/api/users/emergency-all/enrolment' },
    { method: 'POST', path: '/api/users/admin-all/signout' },
    ...targets.map((t) => ({ method: 'POST', path: '/api/relights', body: target(t) })),
    ...targets.map((t) => ({
      method: 'POST',
      path: '/api/overrides',
      body: { ...target(t), untilReleased: true },
    })),
    // Ids in force elsewhere, or of the other kind, over one's own zone.
    {
      method: 'POST',
      path: '/api/relights',
      body: { ...target({ zone: live.zones.in }), id: fixture.relightOut },
    },
    {
      method: 'POST',
      path: '/api/relights',
      body: { ...target({ zone: live.zones.in }), id: fixture.overrideIn },
    },
    {
      method: 'POST',
      path: '/api/overrides',
      body: { ...target({ zone: live.zones.in }), id: fixture.overrideOut, untilReleased: true },
    },
    {
      method: 'POST',
      path: '/api/overrides',
      body: { ...target({ zone: live.zones.in }), id: fixture.relightIn, untilReleased: true },
    },
    // The program and calendar that Montigny's zones follow.
    { method: 'PUT', path: '/api/programs/constant-40', body: { steps: [{ at: '12:00', level: 0 }] } },
    {
      method: 'PUT',
      path: '/api/calendars/montigny-calendrier',
      body: { default: 'abaissement', rules: [] },
    },
    { method: 'PUT', path: `/api/zones/${encodeAll(out)}/calendar`, body: { calendar: 'metz-calendrier' } },
    { method: 'POST', path: '/api/programs/preview', body: { zone: out, program: 'constant-40' } },
    { method: 'POST', path: '/api/programs/year-cost', body: { zone: out, program: 'constant-40' } },
    {
      method: 'POST',
      path: '/api/calendars/preview',
      body: { zone: out, calendar: { id: 'apercu', default: 'constant-40' } },
    },
    // Definitions Montigny's zones follow.
    { method: 'DELETE', path: '/api/programs/constant-40' },
    { method: 'DELETE', path: '/api/calendars/montigny-calendrier' },
  ];
}

/** Lists read with foreign queries: they must show nothing of Montigny. */
const LISTS = [
  '/api/zones',
  '/api/relights',
  '/api/overrides',
  '/api/buildings',
  '/api/alerts',
  '/api/communes',
  '/api/usage',
  '/api/map',
  '/api/map/levels',
  '/api/users',
];

/**
 * Endpoints that hold nothing of a commune: the service, the caller's own identity and streams, the
 * territory-wide definitions a reader may read, and the open data anyone may read.
 */
const NOT_OF_A_COMMUNE = new Set([
  'GET /api/health',
  'GET /api/me',
  'POST /api/session',
  'POST /api/session/enrol',
  'DELETE /api/session',
  'POST /api/events/ticket',
  'GET /api/events',
  'GET /metrics',
  'GET /api/programs',
  'GET /api/programs/:id',
  'GET /api/calendars',
  'GET /api/calendars/:id',
  'POST /api/usage/views',
  // Public, aggregated, and scanned for what must not be there (test/integration/exports/opendata.test.ts).
  'GET /opendata',
  'GET /opendata/:file',
]);

/** Endpoints of the table that no foreign call reaches: a new endpoint must be added here. */
function uncovered(calls: Call[]): string[] {
  const reached: Call[] = [
    ...calls,
    ...LISTS.map((path) => ({ path })),
    { path: '/api/audit' },
    { path: '/api/audit/export' },
  ];
  return Object.keys(ENDPOINTS).filter((endpoint) => {
    if (NOT_OF_A_COMMUNE.has(endpoint)) return false;
    const [method, pattern] = endpoint.split(' ');
    const regex = new RegExp(`^${pattern.replace(/:\w+/g, '[^/?]+')}(\\?|$)`);
    return !reached.some((c) => (c.method ?? 'GET') === method && regex.test(c.path));
  });
}

it(
  'refuses, to every role of Metz, every foreign object however it is named, and never answers 500',
  () =>
    seeded(async () => {
      const r = Random.for('api:foreign');
      const calls = foreignCalls(r);
      const wrong: string[] = uncovered(calls).map((endpoint) => `${endpoint}: not tried`);
      for (const user of METZ_USERS) {
        for (const c of calls) {
          const answer = await call(user, c);
          if (answer.status < 400 || answer.status >= 500)
            wrong.push(`${describeCall(user, c)} → ${answer.status} ${answer.text.slice(0, 160)}`);
        }
        // Lists and the audit show nothing of Montigny, whatever the query asks for.
        for (const path of LISTS) {
          const answer = await call(user, {
            path: `${path}?commune=${OUT}&commune=${IN}&zone=${live.zones.out}`,
          });
          if (answer.status >= 500 || (answer.status === 200 && answer.text.includes(OUT)))
            wrong.push(`${user} GET ${path} with foreign queries → ${answer.status}, shows ${OUT}`);
        }
        // Someone's own actions (right of access): another person's only within the reader's communes.
        const exported = await call(user, { path: '/api/audit/export?user=emergency-all' });
        const exportedEntries = (exported.json as { entries?: AuditEntry[] } | undefined)?.entries ?? [];
        if (
          exported.status >= 500 ||
          exportedEntries.some((e) => !e.communes.includes(IN) && !e.communes.includes('*'))
        )
          wrong.push(
            `${user} GET /api/audit/export?user=emergency-all → ${exported.status}, foreign entries`,
          );
        for (const query of [
          `commune=${OUT}`,
          `commune=${OUT}&commune=${IN}`,
          `actor=emergency-all`,
          `commune[$ne]=x`,
        ]) {
          const answer = await call(user, { path: `/api/audit?${query}` });
          const foreign = Array.isArray(answer.json)
            ? (answer.json as AuditEntry[]).filter(
                (e) => !e.communes.includes(IN) && !e.communes.includes('*') && e.actor !== user,
              )
            : [];
          if (answer.status >= 500 || foreign.length > 0)
            wrong.push(
              `${user} GET /api/audit?${query} → ${answer.status}, ${foreign.length} foreign entries`,
            );
        }
      }
      expect(wrong).toEqual([]);
    }),
  60_000,
);

it(
  'never lets an id in force be taken over from another commune: refused, the original stays in force (finding 1)',
  () =>
    seeded(async () => {
      // The issue's scenario: a territory-wide emergency account relights Montigny with an id …
      const id = 'storm-woippy';
      await must(
        'emergency-all',
        {
          method: 'POST',
          path: '/api/relights',
          body: { id, target: { zone: live.zones.out }, reason: 'orage' },
        },
        201,
      );
      const original = ((await must('admin-all', { path: '/api/relights' }, 200)) as { id: string }[]).find(
        (x) => x.id === id,
      );
      const overrideId = 'works-montigny';
      await must(
        'lighting-all',
        {
          method: 'POST',
          path: '/api/overrides',
          body: {
            id: overrideId,
            target: { zone: live.zones.out },
            level: 30,
            reason: 'travaux',
            untilReleased: true,
          },
        },
        201,
      );
      const originalOverride = (
        (await must('admin-all', { path: '/api/overrides' }, 200)) as { id: string }[]
      ).find((x) => x.id === overrideId);
      try {
        const attempts: [TestUser, Call][] = [
          // … and Metz's police reuses it for Metz.
          [
            'emergency-metz',
            {
              method: 'POST',
              path: '/api/relights',
              body: { id, target: { zone: live.zones.in }, reason: 'accident' },
            },
          ],
          [
            'admin-metz',
            {
              method: 'POST',
              path: '/api/relights',
              body: { id, target: { luminaires: [fixture.luminaireIn] }, reason: 'x' },
            },
          ],
          // Even a territory-wide account may not move it to another commune.
          [
            'emergency-all',
            {
              method: 'POST',
              path: '/api/relights',
              body: { id, target: { zone: live.zones.in }, reason: 'x' },
            },
          ],
          [
            'admin-all',
            {
              method: 'POST',
              path: '/api/overrides',
              body: { id, target: { zone: live.zones.out }, level: 5, reason: 'x', untilReleased: true },
            },
          ],
          ['emergency-metz', { method: 'DELETE', path: `/api/relights/${id}` }],
          [
            'lighting-metz',
            {
              method: 'POST',
              path: '/api/overrides',
              body: {
                id: overrideId,
                target: { zone: live.zones.in },
                level: 50,
                reason: 'x',
                untilReleased: true,
              },
            },
          ],
          [
            'lighting-all',
            {
              method: 'POST',
              path: '/api/overrides',
              body: {
                id: overrideId,
                target: { zone: live.zones.in },
                level: 50,
                reason: 'x',
                untilReleased: true,
              },
            },
          ],
          [
            'admin-all',
            {
              method: 'POST',
              path: '/api/relights',
              body: { id: overrideId, target: { zone: live.zones.out }, reason: 'x' },
            },
          ],
          ['lighting-metz', { method: 'DELETE', path: `/api/overrides/${overrideId}` }],
        ];
        const wrong: string[] = [];
        for (const [user, c] of attempts) {
          const answer = await call(user, c);
          if (![403, 404, 409].includes(answer.status))
            wrong.push(`${describeCall(user, c)} → ${answer.status} ${answer.text.slice(0, 200)}`);
        }
        const relights = (await must('admin-all', { path: '/api/relights' }, 200)) as { id: string }[];
        const overrides = (await must('admin-all', { path: '/api/overrides' }, 200)) as { id: string }[];
        expect({
          wrong,
          relight: relights.find((x) => x.id === id),
          override: overrides.find((x) => x.id === overrideId),
        }).toEqual({
          wrong: [],
          relight: original,
          override: originalOverride,
        });
      } finally {
        await call('emergency-all', { method: 'DELETE', path: `/api/relights/${id}` });
        await call('lighting-all', { method: 'DELETE', path: `/api/overrides/${overrideId}` });
      }
    }),
  30_000,
);

// ---- bodies ----

/** Every endpoint that reads a body, with its path filled with ids of Metz. */
function bodyEndpoints(): { method: string; path: string; valid: unknown }[] {
  const fill = (path: string): string =>
    path
      .replace('/api/zones/:id', `/api/zones/${live.zones.in}`)
      .replace('/api/programs/:id', '/api/programs/adversarial-draft')
      .replace('/api/calendars/:id', '/api/calendars/adversarial-draft')
      .replace('/api/alerts/:id', `/api/alerts/${encodeURIComponent(fixture.alertOut)}`)
      .replace(/:id/g, 'x');
  const valid: Record<string, unknown> = {
    'POST /api/relights': { target: { zone: live.zones.in }, reason: 'r' },
    'POST /api/overrides': { target: { zone: live.zones.in }, level: 1, reason: 'r', untilReleased: true },
    'POST /api/programs/preview': { zone: live.zones.in, program: 'constant-40' },
    'POST /api/programs/year-cost': { zone: live.zones.in, program: 'constant-40' },
    'POST /api/calendars/preview': {
      zone: live.zones.in,
      calendar: { id: 'apercu', default: 'constant-40' },
    },
    'PUT /api/programs/:id': { steps: [{ at: 'dusk', level: 50 }] },
    'PUT /api/calendars/:id': { default: 'constant-40', rules: [] },
    'PUT /api/zones/:id/calendar': { calendar: 'metz-calendrier' },
    'POST /api/session': { user: 'admin-metz', password: 'x' },
    'POST /api/session/enrol': { code: 'a'.repeat(22) },
    'PUT /api/users/:id/password': { password: 'x'.repeat(12) },
  };
  return Object.keys(ENDPOINTS)
    .filter((e) => e.startsWith('POST ') || e.startsWith('PUT '))
    .map((e) => {
      const [method, path] = e.split(' ');
      return { method, path: fill(path), valid: valid[e] ?? {} };
    });
}

const deepArray = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const deepObject = (levels: number): string => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

it(
  'answers 400 to bodies nested 10,000 levels and 413 to bodies over the limit, on every endpoint that reads one, never 500',
  () =>
    seeded(async () => {
      const wrong: string[] = [];
      const big = (bytes: number): string => JSON.stringify({ reason: 'x'.repeat(bytes) });
      for (const endpoint of bodyEndpoints()) {
        const validFields = JSON.stringify(endpoint.valid).slice(1, -1);
        const comma = validFields === '' ? '' : ',';
        const cases: [string, string, number, Record<string, string>?][] = [
          ['deep array', deepArray(10_000), 400],
          ['deep object', deepObject(10_000), 400],
          ['deep inside a valid body', `{${validFields}${comma}"extra":${deepArray(10_000)}}`, 400],
          [
            'deep, with a charset',
            deepObject(10_000),
            400,
            { 'content-type': 'application/json; charset=utf-8' },
          ],
          ['deep, content type in capitals', deepArray(10_000), 400, { 'content-type': 'Application/JSON' }],
          ['just over the limit', big(BODY_LIMIT), 413],
          ['5 MB', big(5 * MIB), 413],
          ['5 MB, chunked, no length', big(5 * MIB), 413, { 'transfer-encoding': 'chunked' }],
        ];
        for (const [name, raw, status, headers] of cases) {
          const c: Call = {
            method: endpoint.method,
            path: endpoint.path,
            raw,
            ...(headers ? { headers } : {}),
          };
          const answer = await call('admin-all', c);
          if (answer.status !== status)
            wrong.push(
              `${endpoint.method} ${endpoint.path} ${name} → ${answer.status} (expected ${status}) ${answer.text.slice(0, 160)}`,
            );
        }
      }
      expect(wrong).toEqual([]);
    }),
  90_000,
);

// ---- the console's files ----

it(
  "serves nothing outside the console's folder, whatever the path",
  () =>
    seeded(async () => {
      const index = await rawRequest(live.url, { path: '/index.html' });
      expect(index.status).toBe(200);
      const paths = [
        '/../../etc/passwd',
        '/../../../../../../etc/passwd',
        '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
        '/%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
        '/..%2f..%2f..%2f..%2fetc%2fpasswd',
        '/..%252f..%252f..%252fetc%252fpasswd',
        '/%252e%252e%252f%252e%252e%252fetc%252fpasswd',
        '/%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd',
        '/..\\..\\..\\..\\etc\\passwd',
        '/..%5c..%5c..%5c..%5cetc%5cpasswd',
        '/.%2e/.%2e/.%2e/.%2e/etc/passwd',
        '/....//....//....//etc/passwd',
        '//etc/passwd',
        '/%2fetc%2fpasswd',
        '/etc/passwd%00.html',
        '/index.html%00../../../../etc/passwd',
        '/app.js/..%2f..%2f..%2f..%2fpackage.json',
        '/..%2f..%2f..%2fpackage.json',
        '/%2e%2e%2f%2e%2e%2f%2e%2e%2fconfig%2fdemo.yaml',
        '/icon.svg%2f..%2f..%2f..%2f..%2fconfig%2fdemo.yaml',
        '/api/docs/..%2f..%2f..%2fpackage.json',
        '/api/docs%2f..%2f..%2fserver.ts',
        '/server.ts',
        '/routes.js',
        '/.env',
        '/..',
        '/%2e%2e',
        '/index.html/',
        '/INDEX.HTML',
        '/index.html;.js',
        '/index.html::$DATA',
        `/${'../'.repeat(2_000)}etc/passwd`,
      ];
      const wrong: string[] = [];
      for (const path of paths) {
        const answer = await rawRequest(live.url, { path, keepBytes: 256 * KIB });
        const leaked =
          /root:x?:0:0|"name": "nocturne"|register_maps|BEGIN [A-Z ]*PRIVATE KEY|import .* from/.test(
            answer.text,
          );
        if (answer.status >= 500 || (answer.status >= 200 && answer.status < 300) || leaked)
          wrong.push(
            `${path.slice(0, 100)} → ${answer.status}${leaked ? ', with a file outside the console' : ''}`,
          );
      }
      expect(wrong).toEqual([]);
    }),
  30_000,
);

// ---- headers ----

interface AuditFromCheck {
  id: string;
  expected: string;
}

it(
  'believes X-Forwarded-For only from the proxy, and only its last untrusted address',
  () =>
    seeded(async () => {
      const checks: AuditFromCheck[] = [];
      const relight = async (
        id: string,
        headers: Record<string, string>,
        localAddress?: string,
      ): Promise<void> => {
        await must(
          'emergency-metz',
          {
            method: 'POST',
            path: '/api/relights',
            body: { id, target: { luminaires: [fixture.luminaireIn] }, reason: 'en-têtes' },
            headers,
            ...(localAddress ? { localAddress } : {}),
          },
          201,
        );
        await must(
          'emergency-metz',
          {
            method: 'DELETE',
            path: `/api/relights/${id}`,
            headers,
            ...(localAddress ? { localAddress } : {}),
          },
          200,
        );
      };
      // A client that reaches the service directly: what it says about itself is not believed.
      await relight('xff-direct', { 'x-forwarded-for': '203.0.113.9' }, '127.0.0.2');
      checks.push({ id: 'xff-direct', expected: '127.0.0.2' });
      await relight('xff-direct-chain', { 'x-forwarded-for': '203.0.113.9, 127.0.0.1' }, '127.0.0.2');
      checks.push({ id: 'xff-direct-chain', expected: '127.0.0.2' });
      // Through the proxy: the address the proxy saw, not what the client prepended.
      await relight('xff-forged-chain', { 'x-forwarded-for': '10.66.66.66, 198.51.100.23' });
      checks.push({ id: 'xff-forged-chain', expected: '198.51.100.23' });
      await relight('xff-proxy-last', { 'x-forwarded-for': '198.51.100.24, 127.0.0.1' });
      checks.push({ id: 'xff-proxy-last', expected: '198.51.100.24' });
      const audit = (await must(
        'admin-all',
        { path: '/api/audit?action=relight&limit=200' },
        200,
      )) as AuditEntry[];
      const seen = checks.map((c) => ({
        id: c.id,
        from: audit.find((e) => e.id === c.id && e.result === 'ok')?.from,
      }));
      expect(seen).toEqual(checks.map((c) => ({ id: c.id, from: c.expected })));

      // Garbage in the header is neither believed nor a crash.
      const wrong: string[] = [];
      for (const xff of [
        'not-an-ip',
        '999.999.999.999',
        `${'1.2.3.4, '.repeat(1_000)}5.6.7.8`,
        ',,,',
        'unknown',
        '::ffff:1.2.3.4, fe80::1%eth0',
        '<script>',
      ]) {
        const answer = await call('viewer-metz', { path: '/api/me', headers: { 'x-forwarded-for': xff } });
        if (answer.status !== 200) wrong.push(`X-Forwarded-For ${xff.slice(0, 40)} → ${answer.status}`);
      }
      expect(wrong).toEqual([]);
    }),
  30_000,
);

it(
  'refuses bad credentials, huge headers and credential tricks with 4xx, never 500 and never a wider right',
  () =>
    seeded(async () => {
      const wrong: string[] = [];
      const expectStatus = (what: string, answer: RawAnswer, allowed: number[]): void => {
        if (!allowed.includes(answer.status))
          wrong.push(
            `${what} → ${answer.status} (expected ${allowed.join(' or ')}) ${answer.text.slice(0, 160)}`,
          );
      };
      const me = (headers: Record<string, string | string[]>, path = '/api/me') =>
        rawRequest(live.url, { path, headers });
      const viewer = tokenFor('viewer-metz');
      const admin = tokenFor('admin-all');
      // A failing credential is 401, or 429 once this address or credential failed too often: never a way in.
      const refused = [401, 429];
      expectStatus(
        'Basic',
        await me({ authorization: `Basic ${Buffer.from(`admin-all:${BASIC_PASSWORD}`).toString('base64')}` }),
        refused,
      );
      expectStatus('Bearer without a token', await me({ authorization: 'Bearer' }), refused);
      expectStatus('Bearer and spaces', await me({ authorization: 'Bearer    ' }), refused);
      expectStatus('a token then more', await me({ authorization: `Bearer ${admin} extra` }), refused);
      expectStatus(
        'two tokens in one header',
        await me({ authorization: `Bearer ${viewer},Bearer ${admin}` }),
        refused,
      );
      expectStatus('another scheme', await me({ authorization: `Token ${admin}` }), refused);
      expectStatus(
        'Digest',
        await me({ authorization: `Digest username="admin-all", response="${admin}"` }),
        refused,
      );
      expectStatus('a 10 KB token', await me({ authorization: `Bearer ${'a'.repeat(10_000)}` }), refused);
      expectStatus('a token in the query', await me({}, `/api/me?access_token=${admin}`), [401]);
      expectStatus('a token in the query of a stream', await me({}, `/api/events?token=${admin}`), [401]);
      // Headers over Node's limit are refused before the service sees them; the service goes on.
      expectStatus(
        'a 100 KB header',
        await me({ authorization: `Bearer ${admin}`, 'x-big': 'a'.repeat(100_000) }),
        [431, 0],
      );
      expectStatus(
        'a 100 KB Authorization',
        await me({ authorization: `Bearer ${'a'.repeat(100_000)}` }),
        [431, 0],
      );
      const many: Record<string, string> = { authorization: `Bearer ${admin}` };
      for (let i = 0; i < 500; i++) many[`x-h${i}`] = String(i);
      expectStatus('500 headers', await me(many), [200, 431]);
      // Two Authorization headers: the first (a viewer's) counts, and gives no right to relight.
      const twice = await rawRequest(live.url, {
        method: 'POST',
        path: '/api/relights',
        headers: {
          authorization: [`Bearer ${viewer}`, `Bearer ${admin}`],
          'content-type': 'application/json',
        },
        body: JSON.stringify({ target: { zone: live.zones.in }, reason: 'double' }),
      });
      expectStatus('two Authorization headers, a viewer first', twice, [400, 401, 403]);
      // Headers that claim a role or a user change nothing.
      const claims = await rawRequest(live.url, {
        method: 'POST',
        path: '/api/relights',
        headers: {
          authorization: `Bearer ${viewer}`,
          'content-type': 'application/json',
          'x-nocturne-client': 'console',
          'x-nocturne-role': 'admin',
          'x-nocturne-user': 'admin-all',
          'x-forwarded-user': 'admin-all',
        },
        body: JSON.stringify({ target: { zone: live.zones.in }, reason: 'claims' }),
      });
      expectStatus('a viewer claiming to be admin', claims, [403]);
      // A ticket opens one stream, once, and nothing else.
      const ticket = (await must('viewer-metz', { method: 'POST', path: '/api/events/ticket' }, 200)) as {
        ticket: string;
      };
      extraSecrets.push(ticket.ticket);
      expectStatus(
        'a ticket on another endpoint',
        await me({}, `/api/zones?ticket=${encodeURIComponent(ticket.ticket)}`),
        [401],
      );
      const first = await openStream(`/api/events?ticket=${encodeURIComponent(ticket.ticket)}`, {});
      first.socket.destroy();
      expectStatus('a ticket, first use', { status: first.status, headers: {}, text: '' }, [200]);
      const again = await openStream(`/api/events?ticket=${encodeURIComponent(ticket.ticket)}`, {});
      again.socket.destroy();
      expectStatus('a ticket, used again', { status: again.status, headers: {}, text: '' }, [401, 429]);
      // And the service still answers.
      expectStatus('afterwards, a valid token', await me({ authorization: `Bearer ${viewer}` }), [200]);
      expect(wrong).toEqual([]);
    }),
  30_000,
);

// ---- event streams ----

/** A client that sends its request, reads the status line, and then never reads again. */
function openStream(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; socket: Socket }> {
  const url = new URL(live.url);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const lines = Object.entries({ host: url.host, accept: 'text/event-stream', ...headers }).map(
      ([k, v]) => `${k}: ${v}`,
    );
    socket.once('connect', () => socket.write(`GET ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`));
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (!match) return;
      socket.off('data', onData);
      socket.pause(); // never read again
      resolve({ status: Number(match[1]), socket });
    };
    socket.on('data', onData);
    socket.on('error', () => resolve({ status: 0, socket }));
    socket.setTimeout(10_000, () => {
      socket.destroy();
      resolve({ status: 0, socket });
    });
  });
}

it(
  `caps event streams at ${MAX_STREAMS_PER_USER} per user and ${MAX_STREAMS} in all, with clients that never read, and keeps the heap and the API in bounds (finding 8)`,
  () =>
    seeded(async () => {
      const users = [
        ...TEST_USERS.map((u) => ({ id: u.id, token: tokenFor(u.id) })),
        ...FLOOD_VIEWERS.map((u) => ({ id: u.id, token: extraToken(u.id) })),
      ];
      const heapBefore = heapAfterGc();
      const sockets: Socket[] = [];
      const statuses = new Map<string, number[]>();
      try {
        const asks = users.flatMap((u) => Array.from({ length: STREAMS_ASKED_PER_USER }, () => u));
        await inParallel(asks, 20, async (u) => {
          const { status, socket } = await openStream('/api/events', { authorization: `Bearer ${u.token}` });
          sockets.push(socket);
          statuses.set(u.id, [...(statuses.get(u.id) ?? []), status]);
        });
        // Changes pushed at every stream: commands, levels, progress.
        for (let i = 0; i < 10; i++) {
          await must(
            'lighting-all',
            {
              method: 'POST',
              path: '/api/overrides',
              body: {
                id: `push-${i}`,
                target: { zone: live.zones.out },
                level: 10 + i,
                reason: 'push',
                untilReleased: true,
              },
            },
            201,
          );
          await must('lighting-all', { method: 'DELETE', path: `/api/overrides/push-${i}` }, 200);
        }
        const started = Date.now();
        const relight = await call('emergency-metz', {
          method: 'POST',
          path: '/api/relights',
          body: { id: 'during-streams', target: { zone: live.zones.in }, reason: 'flux' },
        });
        const relightMs = Date.now() - started;
        await call('emergency-metz', { method: 'DELETE', path: '/api/relights/during-streams' });
        const open = await metric(live, 'nocturne_http_event_streams');
        const heapGrowth = heapAfterGc() - heapBefore;
        const all = [...statuses.values()].flat();
        const perUserOk = [...statuses]
          .filter(([, s]) => s.filter((x) => x === 200).length > MAX_STREAMS_PER_USER)
          .map(([id]) => id);
        expect({
          granted: all.filter((s) => s === 200).length <= MAX_STREAMS,
          open: open <= MAX_STREAMS,
          usersOverTheirCap: perUserOk,
          otherStatuses: all.filter((s) => ![200, 429, 503].includes(s)),
          relight: relight.status,
          relightFast: relightMs <= HTTP_ANSWER_MAX_MS,
          heapGrowthMb: Math.round(heapGrowth / MIB),
          heapOk: heapGrowth <= STREAM_HEAP_GROWTH_MAX,
        }).toEqual({
          granted: true,
          open: true,
          usersOverTheirCap: [],
          otherStatuses: [],
          relight: 201,
          relightFast: true,
          heapGrowthMb: Math.round(heapGrowth / MIB),
          heapOk: true,
        });
      } finally {
        for (const socket of sockets) socket.destroy();
      }
      // Closed streams are let go.
      const deadline = Date.now() + 5_000;
      let open = await metric(live, 'nocturne_http_event_streams');
      while (open > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        open = await metric(live, 'nocturne_http_event_streams');
      }
      expect(open).toBe(0);
    }),
  60_000,
);

// ---- failed-token storm ----

it(
  'keeps an emergency token working during and at once after a failed-token storm of many clients through the proxy (finding 2)',
  () =>
    seeded(async () => {
      const r = Random.for('api:storm');
      const clients = Array.from(
        { length: STORM_CLIENTS },
        (_, i) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      );
      // Drawn before the storm, so that the seed alone decides them, whatever order the answers come in.
      const attempts = clients.flatMap((client) =>
        Array.from({ length: STORM_ATTEMPTS_PER_CLIENT }, () => ({
          client,
          token: `${WRONG_TOKEN_PREFIX}${r.text(24)}`,
          path: r.pick(['/api/zones', '/api/relights', '/api/me', '/metrics', '/api/audit']),
        })),
      );
      const logBefore = await fileBytes(live.logFile);
      const stormStatuses = new Map<number, number>();
      const emergencyDuring: number[] = [];
      await inParallel(attempts, 16, async ({ client, token, path }, i) => {
        const answer = await call({ token }, { path, headers: { 'x-forwarded-for': client } });
        stormStatuses.set(answer.status, (stormStatuses.get(answer.status) ?? 0) + 1);
        if (i % 40 === 0) {
          const valid = await call('emergency-metz', {
            path: '/api/relights',
            headers: { 'x-forwarded-for': client },
          });
          emergencyDuring.push(valid.status);
        }
      });
      // At once afterwards, from an address of the storm, from a fresh one, and from the proxy itself.
      const started = Date.now();
      const after: number[] = [];
      const origins: Record<string, string>[] = [
        { 'x-forwarded-for': clients[0] },
        { 'x-forwarded-for': '198.51.100.77' },
        {},
      ];
      for (const [k, headers] of origins.entries()) {
        const id = `after-storm-${k}`;
        after.push(
          (
            await call('emergency-metz', {
              method: 'POST',
              path: '/api/relights',
              body: { id, target: { zone: live.zones.in }, reason: 'après' },
              headers,
            })
          ).status,
        );
        after.push(
          (await call('emergency-metz', { method: 'DELETE', path: `/api/relights/${id}`, headers })).status,
        );
      }
      const afterMs = Date.now() - started;
      storm.logGrowth = (await fileBytes(live.logFile)) - logBefore;
      storm.attempts = attempts.length;
      // Failures of others do not lock out a client the proxy forwards for the first time.
      const fresh = await call(
        { token: `${WRONG_TOKEN_PREFIX}fresh-${r.text(8)}` },
        { path: '/api/me', headers: { 'x-forwarded-for': '198.51.100.78' } },
      );
      // A direct client rotating what it claims is counted as itself: its X-Forwarded-For is not believed.
      const rotating: number[] = [];
      for (let i = 0; i < 15; i++)
        rotating.push(
          (
            await call(
              { token: `${WRONG_TOKEN_PREFIX}${r.text(24)}` },
              {
                path: '/api/me',
                headers: { 'x-forwarded-for': `203.0.113.${i + 1}` },
                localAddress: '127.0.0.2',
              },
            )
          ).status,
        );
      const directValid = await call('emergency-metz', { path: '/api/relights', localAddress: '127.0.0.2' });
      extraSecrets.push(WRONG_TOKEN_PREFIX);
      expect({
        stormStatuses: [...stormStatuses.keys()].filter((s) => s !== 401 && s !== 429),
        emergencyDuring: [...new Set(emergencyDuring)],
        after,
        afterFast: afterMs <= 3 * HTTP_ANSWER_MAX_MS,
        fresh: fresh.status,
        rotatingLockedOut: rotating.slice(10).every((s) => s === 429),
        directValid: directValid.status,
      }).toEqual({
        stormStatuses: [],
        emergencyDuring: [200],
        after: [201, 200, 201, 200, 201, 200],
        afterFast: true,
        fresh: 401,
        rotatingLockedOut: true,
        directValid: 200,
      });
    }),
  90_000,
);

it(`logs failed authentications per reason, not per attempt: the storm adds at most ${STORM_LOG_GROWTH_MAX / KIB} KiB to the log (finding 3)`, () =>
  seeded(() => {
    if (storm.logGrowth < 0) throw new Error('the storm did not run');
    expect({ ...storm, withinBound: storm.logGrowth <= STORM_LOG_GROWTH_MAX }).toEqual({
      ...storm,
      withinBound: true,
    });
  }));

// ---- afterwards ----

it(
  'changed no luminaire, relight, override, program or calendar',
  () =>
    seeded(async () => {
      const now = await snapshot(live);
      const changed = (Object.keys(before) as (keyof Snapshot)[]).filter(
        (k) => !isDeepStrictEqual(now[k], before[k]),
      );
      expect(
        changed.map(
          (k) =>
            `${k}:\nbefore ${JSON.stringify(before[k]).slice(0, 2000)}\nafter  ${JSON.stringify(now[k]).slice(0, 2000)}`,
        ),
      ).toEqual([]);
    }),
  30_000,
);

it(
  `keeps the audit within ${AUDIT_TOTAL_MAX / KIB} KiB and every log line within ${LOG_LINE_MAX / KIB} KiB, after all of it`,
  () =>
    seeded(async () => {
      // Stopping writes what the audit's refusal window held back.
      await live.stopService();
      const audit = await dirBytes(`${live.stateDir}/audit`);
      const long = await longLogLines(live.logFile, LOG_LINE_MAX);
      expect({
        auditKib: Math.round(audit / KIB),
        auditOk: audit <= AUDIT_TOTAL_MAX,
        longLogLines: long,
      }).toEqual({
        auditKib: Math.round(audit / KIB),
        auditOk: true,
        longLogLines: [],
      });
    }),
  30_000,
);

it(
  'leaks no token, ticket or password into the log, the audit or the spool',
  () =>
    seeded(async () => {
      await live.stopService();
      expect(await leakedSecrets(live, [...live.secrets, ...extraSecrets])).toEqual([]);
    }),
  30_000,
);
