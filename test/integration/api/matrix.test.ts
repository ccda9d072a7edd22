import type { AuditEntry } from '../../../controller/audit/entry';
import type { MapView } from '../../../controller/http/mapLayout';
import type { AlertView, BuildingView } from '../../../controller/telemetry/services';
import type {
  CalendarEntry,
  CommandRecord,
  ZoneView,
} from '../../../controller/lighting/runtime/lightingService';
import {
  IN,
  OUT,
  eventually,
  request,
  startLiveService,
  type Answer,
  type LiveService,
  type TestUser,
} from './liveService';

// Every endpoint × every role × a target in the token's commune (Metz) and out of it (Montigny),
// against the real service. The expectations are written here from DESIGN.md's roles, not read
// from the code's table, so that a wrong entry there fails this test.

type Role = 'admin' | 'lighting-manager' | 'emergency' | 'energy-manager' | 'viewer';
type Where = 'in' | 'out';

const USER_OF: Record<Role, TestUser> = {
  admin: 'admin-metz',
  'lighting-manager': 'lighting-metz',
  emergency: 'emergency-metz',
  'energy-manager': 'energy-metz',
  viewer: 'viewer-metz',
};
const ROLES = Object.keys(USER_OF) as Role[];

const EVERYONE: Role[] = ['admin', 'lighting-manager', 'emergency', 'energy-manager', 'viewer'];
const READERS: Role[] = ['admin', 'lighting-manager', 'energy-manager', 'viewer'];
const RELIGHT: Role[] = ['admin', 'emergency'];
const OVERRIDE: Role[] = ['admin', 'lighting-manager'];
const PROGRAM_WRITERS: Role[] = ['admin', 'lighting-manager'];
const ACKNOWLEDGE: Role[] = ['admin', 'lighting-manager', 'energy-manager'];
const AUDIT: Role[] = ['admin', 'lighting-manager'];

interface Call {
  method: string;
  path: string;
  body?: unknown;
}

interface Case {
  endpoint: string;
  allowed: readonly Role[];
  /** Status when allowed and in scope. */
  status: number;
  /**
   * commune: out of scope is refused (403); filtered: a list that shows only the token's communes;
   * territory: not tied to a commune (run once, 'in').
   */
  scope: 'commune' | 'filtered' | 'territory';
  call(where: Where, user: TestUser): Promise<Call> | Call;
  /** Filtered lists: whether the answer shows something of the commune. */
  shows?(body: unknown, commune: string, user: TestUser): boolean;
}

let live: LiveService;
/** Commands given in the setup, one per commune and kind, and alerts of each commune. */
const fixture = {
  relight: {} as Record<Where, string>,
  override: {} as Record<Where, string>,
  alert: {} as Record<Where, string>,
  building: {} as Record<Where, string>,
  calendar: {} as Record<Where, CalendarEntry['calendar']>,
  zoneCalendar: {} as Record<Where, string>,
  /** 'building/points/point' of a sensor point of each commune. */
  sensor: {} as Record<Where, string>,
};
let serial = 0;
const communeOf = (where: Where): string => (where === 'in' ? IN : OUT);
const zone = (where: Where): string => (where === 'in' ? live.zones.in : live.zones.out);

async function must<T>(answer: Promise<Answer<T>>, status: number, what: string): Promise<T> {
  const { status: got, text, body } = await answer;
  if (got !== status) throw new Error(`${what}: expected ${status}, got ${got} ${text}`);
  return body;
}

async function newRelight(where: Where): Promise<string> {
  const id = `setup-r-${++serial}`;
  await must(
    request(live, 'admin-all', 'POST', '/api/relights', {
      id,
      target: { zone: zone(where) },
      level: 100,
      reason: 'matrix setup',
    }),
    201,
    'setup relight',
  );
  return id;
}

async function newOverride(where: Where): Promise<string> {
  const id = `setup-o-${++serial}`;
  await must(
    request(live, 'admin-all', 'POST', '/api/overrides', {
      id,
      target: { zone: zone(where) },
      level: 40,
      reason: 'matrix setup',
      untilReleased: true,
    }),
    201,
    'setup override',
  );
  return id;
}

const PROGRAM = {
  name: 'Matrix',
  steps: [
    { at: 'dusk', level: 80 },
    { at: '23:00', level: 30 },
    { at: 'dawn', level: 0 },
  ],
};

const CASES: Case[] = [
  {
    endpoint: 'GET /api/me',
    allowed: EVERYONE,
    status: 200,
    scope: 'territory',
    call: () => ({ method: 'GET', path: '/api/me' }),
  },
  {
    endpoint: 'POST /api/events/ticket',
    allowed: EVERYONE,
    status: 200,
    scope: 'territory',
    call: () => ({ method: 'POST', path: '/api/events/ticket' }),
  },
  {
    endpoint: 'GET /api/events',
    allowed: EVERYONE,
    status: 200,
    scope: 'territory',
    call: () => ({ method: 'GET', path: '/api/events' }),
  },
  {
    endpoint: 'GET /api/communes',
    allowed: EVERYONE,
    status: 200,
    scope: 'filtered',
    call: () => ({ method: 'GET', path: '/api/communes' }),
    shows: (body, commune) => (body as { id: string }[]).some((c) => c.id === commune),
  },
  {
    endpoint: 'GET /api/zones',
    allowed: EVERYONE,
    status: 200,
    scope: 'filtered',
    call: () => ({ method: 'GET', path: '/api/zones' }),
    shows: (body, commune) => (body as ZoneView[]).some((z) => z.commune === commune),
  },
  {
    endpoint: 'GET /api/map',
    allowed: EVERYONE,
    status: 200,
    scope: 'filtered',
    call: () => ({ method: 'GET', path: '/api/map' }),
    shows: (body, commune) =>
      (body as MapView).zones.some((z) => z.commune === commune) ||
      (body as MapView).buildings.some((b) => b.commune === commune),
  },
  {
    endpoint: 'GET /api/zones/:id',
    allowed: EVERYONE,
    status: 200,
    scope: 'commune',
    call: (w) => ({ method: 'GET', path: `/api/zones/${zone(w)}` }),
  },
  {
    endpoint: 'GET /api/luminaires/:id',
    allowed: EVERYONE,
    status: 200,
    scope: 'commune',
    call: (w) => ({
      method: 'GET',
      path: `/api/luminaires/${live.config.zones.find((z) => z.id === zone(w))!.luminaires[0].id}`,
    }),
  },
  {
    endpoint: 'GET /api/relights',
    allowed: EVERYONE,
    status: 200,
    scope: 'filtered',
    call: () => ({ method: 'GET', path: '/api/relights' }),
    shows: (body, commune) => (body as CommandRecord[]).some((r) => r.communes.includes(commune)),
  },
  {
    endpoint: 'GET /api/overrides',
    allowed: EVERYONE,
    status: 200,
    scope: 'filtered',
    call: () => ({ method: 'GET', path: '/api/overrides' }),
    shows: (body, commune) => (body as CommandRecord[]).some((r) => r.communes.includes(commune)),
  },
  {
    endpoint: 'GET /api/commands/:id/progress',
    allowed: EVERYONE,
    status: 200,
    scope: 'commune',
    call: (w) => ({ method: 'GET', path: `/api/commands/${fixture.relight[w]}/progress` }),
  },
  {
    endpoint: 'POST /api/relights',
    allowed: RELIGHT,
    status: 201,
    scope: 'commune',
    call: (w) => ({
      method: 'POST',
      path: '/api/relights',
      body: { id: `m-r-${++serial}`, target: { zone: zone(w) }, reason: 'matrix' },
    }),
  },
  {
    endpoint: 'DELETE /api/relights/:id',
    allowed: RELIGHT,
    status: 200,
    scope: 'commune',
    call: async (w) => ({ method: 'DELETE', path: `/api/relights/${await newRelight(w)}` }),
  },
  {
    endpoint: 'POST /api/overrides',
    allowed: OVERRIDE,
    status: 201,
    scope: 'commune',
    call: (w) => ({
      method: 'POST',
      path: '/api/overrides',
      body: {
        id: `m-o-${++serial}`,
        target: { zone: zone(w) },
        level: 20,
        reason: 'matrix',
        expiresInMin: 30,
      },
    }),
  },
  {
    endpoint: 'DELETE /api/overrides/:id',
    allowed: OVERRIDE,
    status: 200,
    scope: 'commune',
    call: async (w) => ({ method: 'DELETE', path: `/api/overrides/${await newOverride(w)}` }),
  },
  {
    endpoint: 'GET /api/programs',
    allowed: READERS,
    status: 200,
    scope: 'territory',
    call: () => ({ method: 'GET', path: '/api/programs' }),
  },
  {
    endpoint: 'GET /api/programs/:id',
    allowed: READERS,
    status: 200,
    scope: 'territory',
    call: () => ({ method: 'GET', path: '/api/programs/abaissement' }),
  },
  {
    endpoint: 'POST /api/programs/preview',
    allowed: READERS,
    status: 200,
    scope: 'commune',
    call: (w) => ({
      method: 'POST',
      path: '/api/programs/preview',
      body: { zone: zone(w), night: '2025-06-21', program: 'abaissement' },
    }),
  },
  {
    endpoint: 'POST /api/programs/year-cost',
    allowed: READERS,
    status: 200,
    scope: 'commune',
    call: (w) => ({
      method: 'POST',
      path: '/api/programs/year-cost',
      body: { zone: zone(w), draft: PROGRAM, from: '2025-01-01', nights: 20 },
    }),
  },
  {
    endpoint: 'POST /api/calendars/preview',
    allowed: READERS,
    status: 200,
    scope: 'commune',
    call: (w) => ({
      method: 'POST',
      path: '/api/calendars/preview',
      body: {
        zone: zone(w),
        calendar: {
          id: 'apercu',
          default: 'nuit-complete',
          rules: [{ dates: ['07-14'], program: 'abaissement' }],
        },
        nights: 3,
      },
    }),
  },
  {
    endpoint: 'GET /api/calendars',
    allowed: READERS,
    status: 200,
    scope: 'territory',
    call: () => ({ method: 'GET', path: '/api/calendars' }),
  },
  {
    endpoint: 'GET /api/calendars/:id',
    allowed: READERS,
    status: 200,
    scope: 'territory',
    call: () => ({ method: 'GET', path: `/api/calendars/${fixture.zoneCalendar.in}` }),
  },
  {
    // In: a new program no zone uses yet. Out: the program only Montigny's calendar uses.
    endpoint: 'PUT /api/programs/:id',
    allowed: PROGRAM_WRITERS,
    status: 201,
    scope: 'commune',
    call: (w) =>
      w === 'in'
        ? { method: 'PUT', path: `/api/programs/matrix-${++serial}`, body: PROGRAM }
        : { method: 'PUT', path: '/api/programs/extinction-1h-5h', body: PROGRAM },
  },
  {
    endpoint: 'DELETE /api/programs/:id',
    allowed: PROGRAM_WRITERS,
    status: 204,
    scope: 'territory',
    call: async () => {
      const id = `spare-${++serial}`;
      await must(request(live, 'admin-all', 'PUT', `/api/programs/${id}`, PROGRAM), 201, 'setup program');
      return { method: 'DELETE', path: `/api/programs/${id}` };
    },
  },
  {
    endpoint: 'PUT /api/calendars/:id',
    allowed: PROGRAM_WRITERS,
    status: 200,
    scope: 'commune',
    call: (w) => ({
      method: 'PUT',
      path: `/api/calendars/${fixture.zoneCalendar[w]}`,
      body: fixture.calendar[w],
    }),
  },
  {
    endpoint: 'DELETE /api/calendars/:id',
    allowed: PROGRAM_WRITERS,
    status: 204,
    scope: 'territory',
    call: async () => {
      const id = `spare-cal-${++serial}`;
      await must(
        request(live, 'admin-all', 'PUT', `/api/calendars/${id}`, { default: 'abaissement' }),
        201,
        'setup calendar',
      );
      return { method: 'DELETE', path: `/api/calendars/${id}` };
    },
  },
  {
    endpoint: 'PUT /api/zones/:id/calendar',
    allowed: PROGRAM_WRITERS,
    status: 200,
    scope: 'commune',
    call: (w) => ({
      method: 'PUT',
      path: `/api/zones/${zone(w)}/calendar`,
      body: { calendar: fixture.zoneCalendar[w] },
    }),
  },
  {
    endpoint: 'GET /api/buildings',
    allowed: READERS,
    status: 200,
    scope: 'filtered',
    call: () => ({ method: 'GET', path: '/api/buildings' }),
    shows: (body, commune) => (body as BuildingView[]).some((b) => b.commune === commune),
  },
  {
    endpoint: 'GET /api/buildings/:id',
    allowed: READERS,
    status: 200,
    scope: 'commune',
    call: (w) => ({ method: 'GET', path: `/api/buildings/${fixture.building[w]}` }),
  },
  {
    endpoint: 'GET /api/buildings/:id/points/:point/history',
    allowed: READERS,
    status: 200,
    scope: 'commune',
    call: (w) => ({ method: 'GET', path: `/api/buildings/${fixture.sensor[w]}/history` }),
  },
  {
    endpoint: 'GET /api/officials/:commune',
    allowed: READERS,
    status: 200,
    scope: 'commune',
    call: (w) => ({ method: 'GET', path: `/api/officials/${communeOf(w)}` }),
  },
  {
    endpoint: 'GET /api/alerts',
    allowed: READERS,
    status: 200,
    scope: 'filtered',
    call: () => ({ method: 'GET', path: '/api/alerts' }),
    shows: (body, commune) => (body as AlertView[]).some((a) => a.commune === commune),
  },
  {
    endpoint: 'POST /api/alerts/:id/acknowledge',
    allowed: ACKNOWLEDGE,
    status: 200,
    scope: 'commune',
    call: (w) => ({
      method: 'POST',
      path: `/api/alerts/${encodeURIComponent(fixture.alert[w])}/acknowledge`,
    }),
  },
  {
    // Scoped readers see the entries of their communes; their own refused attempts elsewhere do not count.
    endpoint: 'GET /api/audit',
    allowed: AUDIT,
    status: 200,
    scope: 'filtered',
    call: () => ({ method: 'GET', path: '/api/audit?limit=5000' }),
    shows: (body, commune, user) =>
      (body as AuditEntry[]).some((e) => e.communes.includes(commune) && e.actor !== user),
  },
  // Metrics are territory-wide: no token scoped to one commune gets them (see the territory-wide test below).
  {
    endpoint: 'GET /metrics',
    allowed: [],
    status: 200,
    scope: 'territory',
    call: () => ({ method: 'GET', path: '/metrics' }),
  },
];

beforeAll(async () => {
  live = await startLiveService();
  for (const where of ['in', 'out'] as Where[]) {
    fixture.relight[where] = await newRelight(where);
    fixture.override[where] = await newOverride(where);
    const zoneView = await must(
      request<ZoneView>(live, 'admin-all', 'GET', `/api/zones/${zone(where)}`),
      200,
      'zone',
    );
    fixture.zoneCalendar[where] = zoneView.calendar;
    fixture.calendar[where] = (
      await must(
        request<CalendarEntry>(live, 'admin-all', 'GET', `/api/calendars/${zoneView.calendar}`),
        200,
        'calendar',
      )
    ).calendar;
    const buildings = await must(
      request<BuildingView[]>(live, 'admin-all', 'GET', '/api/buildings'),
      200,
      'buildings',
    );
    fixture.building[where] = buildings.find((b) => b.commune === communeOf(where))!.id;
    const sensing = buildings.find(
      (b) => b.commune === communeOf(where) && b.points.some((p) => p.measurement === 'sensor'),
    )!;
    fixture.sensor[where] =
      `${sensing.id}/points/${sensing.points.find((p) => p.measurement === 'sensor')!.id}`;
  }
  // The rule raises an alert per building at its first power reading.
  const alerts = await eventually('an alert in each commune', async () => {
    const { body } = await request<AlertView[]>(live, 'admin-all', 'GET', '/api/alerts');
    return body.some((a) => a.commune === IN) && body.some((a) => a.commune === OUT) ? body : undefined;
  });
  fixture.alert.in = alerts.find((a) => a.commune === IN)!.id;
  fixture.alert.out = alerts.find((a) => a.commune === OUT)!.id;
}, 60_000);

afterAll(async () => {
  await live?.stop();
});

describe.each(CASES)('$endpoint', (c) => {
  const places: Where[] = c.scope === 'territory' ? ['in'] : ['in', 'out'];

  it.each(ROLES.flatMap((role) => places.map((where) => ({ role, where }))))(
    '$role, $where',
    async ({ role, where }) => {
      const user = USER_OF[role];
      const { method, path, body } = await c.call(where, user);
      const answer = await request(live, user, method, path, body);
      const allowed = c.allowed.includes(role);
      if (!allowed) {
        expect({ status: answer.status, error: (answer.body as { error?: string })?.error }).toEqual({
          status: 403,
          error: 'forbidden',
        });
        return;
      }
      if (c.scope === 'commune' && where === 'out') {
        expect({ status: answer.status, error: (answer.body as { error?: string })?.error }).toEqual({
          status: 403,
          error: 'forbidden',
        });
        return;
      }
      expect({ status: answer.status, text: answer.status === c.status ? '' : answer.text }).toEqual({
        status: c.status,
        text: '',
      });
      if (c.shows) expect(c.shows(answer.body, communeOf(where), user)).toBe(where === 'in');
    },
  );

  it('refuses a request without a token', async () => {
    const { method, path, body } = await c.call('in', 'admin-all');
    expect((await request(live, undefined, method, path, body)).status).toBe(401);
  });
});

describe('territory-wide tokens', () => {
  it.each([
    ['admin-all', 200],
    ['viewer-all', 200],
    ['energy-all', 200],
    ['lighting-all', 403],
    ['emergency-all', 403],
  ] as [TestUser, number][])('GET /metrics as %s → %i', async (user, status) => {
    const answer = await request(live, user, 'GET', '/metrics');
    expect(answer.status).toBe(status);
    if (status === 200) expect(answer.text).toMatch(/^nocturne_luminaires 8$/m);
  });

  it('answers GET /api/health without a token', async () => {
    const answer = await request<{ status: string }>(live, undefined, 'GET', '/api/health');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: expect.stringMatching(/^(up|degraded)$/) as string });
  });

  it('lets a territory-wide emergency token relight a zone of any commune', async () => {
    const answer = await request<{ record: CommandRecord }>(live, 'emergency-all', 'POST', '/api/relights', {
      target: { zone: live.zones.out },
      reason: 'fire',
    });
    expect(answer.status).toBe(201);
    expect(answer.body.record.communes).toEqual([OUT]);
  });

  it('has recorded every command of the matrix in the audit log', async () => {
    const { body } = await request<AuditEntry[]>(
      live,
      'admin-all',
      'GET',
      '/api/audit?limit=5000&actor=energy-metz',
    );
    // energy-metz was refused every command but acknowledging alerts.
    expect(new Set(body.map((e) => `${e.action}:${e.result}`))).toEqual(
      new Set([
        'relight:refused',
        'clear-relight:refused',
        'override:refused',
        'release-override:refused',
        'put-program:refused',
        'delete-program:refused',
        'put-calendar:refused',
        'delete-calendar:refused',
        'assign-calendar:refused',
        'acknowledge-alert:ok',
        'acknowledge-alert:refused',
      ]),
    );
  });
});
