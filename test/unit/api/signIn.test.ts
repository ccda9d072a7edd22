import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { bearer, call, startApi, type ApiHarness } from './harness';

// Sign-in for people through the real API on loopback, over the in-test services, on a manual clock.

const PASSWORD = 'nuit-du-14-juillet-2026';
const MINUTE = 60_000;

let api: ApiHarness;

beforeEach(async () => {
  api = await startApi({ signInFailuresPerWindow: 3, signInWindowMs: 15 * MINUTE });
});
afterEach(() => api.close());

const setPassword = (user: string, password = PASSWORD) =>
  call<{ sessionsEnded: number }>(api, 'PUT', `/api/users/${user}/password`, {
    headers: bearer('admin'),
    body: { password },
  });

const signIn = (user: string, password = PASSWORD) =>
  call<{ user: string; csrf: string; permissions: string[] }>(api, 'POST', '/api/session', {
    body: { user, password },
  });

/** The cookie as a browser would send it back. */
const cookieOf = (headers: Headers): string => (headers.get('set-cookie') ?? '').split(';')[0];

describe('sign-in with name and password', () => {
  it('gives an HttpOnly session cookie and a CSRF token; the cookie then stands for the user', async () => {
    expect((await setPassword('police-metz')).status).toBe(200);
    const answer = await signIn('police-metz');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      user: 'police-metz',
      role: 'emergency',
      permissions: ['lighting:read', 'relight'],
    });
    expect(answer.headers.get('set-cookie')).toMatch(
      /^nocturne_session=[\w-]{43}; Path=\/; Max-Age=2592000; HttpOnly; SameSite=Strict$/,
    );
    const me = await call<{ user: string; csrf: string }>(api, 'GET', '/api/me', {
      headers: { cookie: cookieOf(answer.headers) },
    });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: 'police-metz', csrf: answer.body.csrf });
  });

  it('marks the cookie Secure when the request came over TLS through a declared proxy', async () => {
    await api.close();
    api = await startApi({}, ['127.0.0.1']);
    await setPassword('police-metz');
    const answer = await call(api, 'POST', '/api/session', {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' },
      body: { user: 'police-metz', password: PASSWORD },
    });
    expect(answer.headers.get('set-cookie')).toMatch(/; Secure$/);
  });

  it('refuses a wrong password and an unknown name alike, and logs neither password', async () => {
    await setPassword('police-metz');
    const wrong = await signIn('police-metz', 'pas le bon mot de passe');
    const unknown = await signIn('nobody', PASSWORD);
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(api.logger.lines.join('\n')).not.toMatch(/pas le bon|nuit-du-14/);
  });

  it('refuses a state change by cookie without the CSRF token, and accepts it with', async () => {
    await setPassword('police-metz');
    const { headers, body } = await signIn('police-metz');
    const cookie = cookieOf(headers);
    const relight = { target: { zone: 'metz-a' }, reason: 'fire' };
    const without = await call(api, 'POST', '/api/relights', { headers: { cookie }, body: relight });
    expect(without.status).toBe(403);
    expect(without.text).toContain('x-csrf-token');
    const wrong = await call(api, 'POST', '/api/relights', {
      headers: { cookie, 'x-csrf-token': `${body.csrf.slice(0, -2)}xx` },
      body: relight,
    });
    expect(wrong.status).toBe(403);
    const right = await call<{ record: { actor: string; via: string } }>(api, 'POST', '/api/relights', {
      headers: { cookie, 'x-csrf-token': body.csrf },
      body: relight,
    });
    expect(right.status).toBe(201);
    expect(right.body.record).toMatchObject({ actor: 'police-metz', via: 'console' });
    // A bearer token needs none: no browser sends it by itself.
    const byToken = await call(api, 'GET', '/api/relights', { headers: bearer('police-metz') });
    expect(byToken.status).toBe(200);
  });

  it('locks an account after 3 failures, right password or not, until the window ends', async () => {
    await setPassword('police-metz');
    for (let i = 0; i < 3; i++) expect((await signIn('police-metz', `essai numéro ${i}`)).status).toBe(401);
    const locked = await signIn('police-metz');
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('900');
    // The lock is the account's and the address's: another person behind the same address waits too.
    expect((await signIn('lm-metz', 'anything at all')).status).toBe(429);
    api.clock.advance(15 * MINUTE);
    expect((await signIn('police-metz')).status).toBe(200);
  });

  it('keeps sessions across a restart of the service', async () => {
    await setPassword('police-metz');
    const cookie = cookieOf((await signIn('police-metz')).headers);
    const saved = await readFile(path.join(api.stateDir, 'people.json'), 'utf8');
    expect(saved).not.toContain(cookie.split('=')[1]);
    expect(saved).not.toContain(PASSWORD);
    await api.restart();
    expect((await call(api, 'GET', '/api/me', { headers: { cookie } })).status).toBe(200);
  });

  it('ends a session when it expires (30 days)', async () => {
    await setPassword('police-metz');
    const cookie = cookieOf((await signIn('police-metz')).headers);
    api.clock.advance(30 * 24 * 60 * MINUTE);
    const after = await call(api, 'GET', '/api/me', { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(after.headers.get('set-cookie')).toMatch(/^nocturne_session=; .*Max-Age=0/);
  });

  it('signs this browser out', async () => {
    await setPassword('police-metz');
    const { headers, body } = await signIn('police-metz');
    const cookie = cookieOf(headers);
    const out = await call(api, 'DELETE', '/api/session', { headers: { cookie, 'x-csrf-token': body.csrf } });
    expect(out.status).toBe(204);
    expect((await call(api, 'GET', '/api/me', { headers: { cookie } })).status).toBe(401);
  });
});

describe('enrolment of a phone', () => {
  it('issues a one-use link with its QR code; the code signs the phone in once', async () => {
    const issued = await call<{ link: string; code: string; expiresAt: number; qrSvg: string }>(
      api,
      'POST',
      '/api/users/police-metz/enrolment',
      { headers: bearer('admin') },
    );
    expect(issued.status).toBe(200);
    expect(issued.body.link).toBe(`${api.url}/#enrol=${issued.body.code}`);
    expect(issued.body.expiresAt).toBe(api.clock.now() + 15 * MINUTE);
    expect(issued.body.qrSvg).toMatch(/^<svg [^>]*viewBox/);
    const first = await call(api, 'POST', '/api/session/enrol', { body: { code: issued.body.code } });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ user: 'police-metz' });
    const again = await call(api, 'POST', '/api/session/enrol', { body: { code: issued.body.code } });
    expect(again.status).toBe(401);
    const audit = await api.audit.query({ action: 'enrol', limit: 5 }, ['*'], 'admin');
    expect(audit[0]).toMatchObject({ actor: 'admin', target: 'user police-metz', result: 'ok' });
    expect(JSON.stringify(audit)).not.toContain(issued.body.code);
  });

  it('refuses an expired code', async () => {
    const { body } = await call<{ code: string }>(api, 'POST', '/api/users/police-metz/enrolment', {
      headers: bearer('admin'),
    });
    api.clock.advance(15 * MINUTE);
    expect((await call(api, 'POST', '/api/session/enrol', { body: { code: body.code } })).status).toBe(401);
  });
});

describe('administration of people', () => {
  it('signs a person out everywhere: their cookie no longer gets in', async () => {
    await setPassword('police-metz');
    const phone = cookieOf((await signIn('police-metz')).headers);
    const desk = cookieOf((await signIn('police-metz')).headers);
    const out = await call(api, 'POST', '/api/users/police-metz/signout', { headers: bearer('admin') });
    expect(out.body).toEqual({ user: 'police-metz', sessionsEnded: 2 });
    for (const cookie of [phone, desk])
      expect((await call(api, 'GET', '/api/me', { headers: { cookie } })).status).toBe(401);
  });

  it('lists the people an administrator manages, with their password set or not and their sessions', async () => {
    await setPassword('police-metz');
    await signIn('police-metz');
    const list = await call<{ user: string; password: boolean; sessions: number }[]>(
      api,
      'GET',
      '/api/users',
      {
        headers: bearer('admin'),
      },
    );
    expect(list.status).toBe(200);
    expect(list.body.find((u) => u.user === 'police-metz')).toMatchObject({ password: true, sessions: 1 });
    expect(list.body.find((u) => u.user === 'viewer-metz')).toMatchObject({ password: false, sessions: 0 });
    expect((await call(api, 'GET', '/api/users', { headers: bearer('viewer-all') })).status).toBe(403);
  });

  it('is for administrators, within their communes, with a password long enough', async () => {
    const byManager = await call(api, 'POST', '/api/users/police-metz/signout', {
      headers: bearer('lm-metz'),
    });
    expect(byManager.status).toBe(403);
    const short = await setPassword('police-metz', 'court');
    expect(short.status).toBe(400);
    expect(short.text).toContain('body.password');
    expect((await setPassword('nobody')).status).toBe(404);
  });
});
