import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ENDPOINTS } from '../../../controller/http/access';
import type { AuditEntry } from '../../../controller/audit/entry';
import type { ErrorBody } from '../../../controller/http/errors';
import { bearer, call, startApi, tokenOf, type ApiHarness } from './harness';

// The HTTP layer over small in-test services: authentication, validation, error mapping, audit,
// rate limits, events, documents. What the real services answer is the integration matrix's job.

describe('HTTP API layer', () => {
  let api: ApiHarness;

  beforeEach(async () => {
    api = await startApi({ failedAuthPerWindow: 5, requestsPerWindow: 1000 });
  });

  afterEach(async () => {
    await api.close();
  });

  describe('authentication', () => {
    it('answers 401 with WWW-Authenticate when the token is missing, and 401 invalid_token when it is wrong', async () => {
      const missing = await call<ErrorBody>(api, 'GET', '/api/zones');
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="nocturne"');
      expect(missing.body).toEqual({
        error: 'unauthorized',
        message: "missing 'Authorization: Bearer <token>'",
      });

      const wrong = await call(api, 'GET', '/api/zones', {
        headers: { authorization: 'Bearer not-the-right-token' },
      });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="nocturne", error="invalid_token"');

      const basic = await call(api, 'GET', '/api/zones', {
        headers: { authorization: 'Basic YWRtaW46YWRtaW4=' },
      });
      expect(basic.status).toBe(401);
    });

    it('lets a valid token in and says who it is', async () => {
      const me = await call(api, 'GET', '/api/me', { headers: bearer('police-metz') });
      expect(me.status).toBe(200);
      expect(me.body).toEqual({
        user: 'police-metz',
        role: 'emergency',
        communes: ['metz'],
        permissions: ['lighting:read', 'relight'],
      });
    });

    it('refuses failing attempts from an address after repeated wrong tokens, until the window ends, but never a valid token', async () => {
      const guess = (i: number) => ({ headers: { authorization: `Bearer guess-number-${i}` } });
      for (let i = 0; i < 5; i++) expect((await call(api, 'GET', '/api/me', guess(i))).status).toBe(401);
      const blocked = await call<ErrorBody>(api, 'GET', '/api/me', guess(5));
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(blocked.body.error).toBe('rate-limited');
      // Meanwhile, from the same address, the police and everyone else with a valid token get in.
      expect((await call(api, 'GET', '/api/me', { headers: bearer('police-metz') })).status).toBe(200);
      expect((await call(api, 'GET', '/api/me', { headers: bearer('admin') })).status).toBe(200);
      expect((await call(api, 'GET', '/api/me', guess(6))).status).toBe(429);

      api.clock.advance(5 * 60_000);
      expect((await call(api, 'GET', '/api/me', guess(7))).status).toBe(401);
      expect((await call(api, 'GET', '/api/me', { headers: bearer('admin') })).status).toBe(200);
    });

    it('behind a declared proxy, counts, logs and audits each client by its own address', async () => {
      await api.close();
      api = await startApi({ failedAuthPerWindow: 5, requestsPerWindow: 1000 }, ['127.0.0.1']);
      const from = (client: string, token: string) => ({
        headers: { 'x-forwarded-for': client, authorization: `Bearer ${token}` },
      });
      for (let i = 0; i < 8; i++) await call(api, 'GET', '/api/me', from('203.0.113.7', `guess-number-${i}`));
      expect((await call(api, 'GET', '/api/me', from('203.0.113.7', 'guess-number-8'))).status).toBe(429);
      // Another client behind the same proxy is not concerned.
      api.clock.advance(10_000);
      expect((await call(api, 'GET', '/api/me', from('198.51.100.9', 'a-typo-in-it'))).status).toBe(401);

      // One line per kind of refusal and 10 s: the first failure, the one that starts the refusal, then
      // the other client's, counting the failures held back in between; none for refused attempts.
      const failures = api.logger.lines.filter((l) => l.includes('unknown credentials'));
      expect(failures).toHaveLength(3);
      expect(failures[0]).toContain('GET /api/me from 203.0.113.7: unknown credentials');
      expect(failures[1]).toContain('GET /api/me from 203.0.113.7: unknown credentials; failing attempts');
      expect(failures[1]).toContain('refused for 300 s');
      expect(failures[2]).toContain('GET /api/me from 198.51.100.9: unknown credentials');
      expect(failures[2]).toContain('(and 3 more refused as unknown since the last line)');

      await call(api, 'POST', '/api/relights', {
        headers: { ...bearer('police-metz'), 'x-forwarded-for': '192.0.2.44' },
        body: { target: { zone: 'metz-a' }, reason: 'accident' },
      });
      const [, actor] = api.services.calls.find((c) => c.method === 'emergency')!.args;
      expect(actor).toMatchObject({ user: 'police-metz', from: '192.0.2.44' });
    });

    it('believes X-Forwarded-For only from a declared proxy', async () => {
      for (let i = 0; i < 5; i++)
        await call(api, 'GET', '/api/me', {
          headers: { 'x-forwarded-for': `203.0.113.${i}`, authorization: `Bearer guess-number-${i}` },
        });
      const spoofed = await call(api, 'GET', '/api/me', {
        headers: { 'x-forwarded-for': '203.0.113.99', authorization: 'Bearer guess-number-5' },
      });
      expect(spoofed.status).toBe(429);
      // The first failure and the one that starts the refusal (the three between are counted, not logged).
      expect(api.logger.lines.filter((l) => l.includes('from 127.0.0.1: unknown credentials'))).toHaveLength(
        2,
      );
      expect(api.logger.lines.join('\n')).not.toContain('203.0.113.');
    });

    it('refuses a wrong credential that keeps failing, whichever address presents it', async () => {
      await api.close();
      api = await startApi({ failedAuthPerWindow: 5, requestsPerWindow: 1000 }, ['127.0.0.1']);
      const from = (client: string, token: string) => ({
        headers: { 'x-forwarded-for': client, authorization: `Bearer ${token}` },
      });
      for (let i = 0; i < 5; i++)
        expect((await call(api, 'GET', '/api/me', from(`192.0.2.${i}`, 'a-stale-token'))).status).toBe(401);
      expect((await call(api, 'GET', '/api/me', from('192.0.2.50', 'a-stale-token'))).status).toBe(429);
      expect((await call(api, 'GET', '/api/me', from('192.0.2.50', 'another-wrong-one'))).status).toBe(401);
    });

    it('never writes a token or a ticket to the log', async () => {
      await call(api, 'GET', '/api/zones', { headers: bearer('admin') });
      await call(api, 'GET', '/api/zones', { headers: { authorization: 'Bearer a-wrong-token-to-log' } });
      const { body } = await call<{ ticket: string }>(api, 'POST', '/api/events/ticket', {
        headers: bearer('admin'),
      });
      await call(api, 'GET', `/api/events?ticket=${body.ticket}x`);
      const log = api.logger.lines.join('\n');
      expect(api.logger.lines.some((l) => l.includes('unknown credentials'))).toBe(true);
      for (const secret of [tokenOf('admin'), 'a-wrong-token-to-log', body.ticket])
        expect(log).not.toContain(secret);
    });
  });

  describe('roles', () => {
    it('answers 403 naming the roles that may, when the role may not use an endpoint', async () => {
      const res = await call<ErrorBody>(api, 'POST', '/api/relights', {
        headers: bearer('energy-all'),
        body: { target: { zone: 'metz-a' }, reason: 'test' },
      });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        error: 'forbidden',
        message: "role 'energy-manager' may not use 'relight' (allowed: admin, emergency)",
      });
      expect(api.services.calls.filter((c) => c.method === 'emergency')).toHaveLength(0);
    });

    it('serves metrics to read roles covering the whole territory only', async () => {
      expect((await call(api, 'GET', '/metrics', { headers: bearer('viewer-all') })).status).toBe(200);
      const scoped = await call<ErrorBody>(api, 'GET', '/metrics', { headers: bearer('viewer-metz') });
      expect(scoped.status).toBe(403);
      expect(scoped.body.message).toContain("needs a token whose communes are '*'");
      expect((await call(api, 'GET', '/metrics', { headers: bearer('police-metz') })).status).toBe(403);
    });
  });

  describe('validation', () => {
    it('names every field in error with what it allows', async () => {
      const res = await call<ErrorBody>(api, 'POST', '/api/relights', {
        headers: bearer('police-metz'),
        body: { target: { zone: 'metz-a', commune: 'metz' }, level: 140, reason: '', colour: 'red' },
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid');
      expect(res.body.issues).toEqual(
        expect.arrayContaining([
          {
            path: 'body',
            message: expect.stringMatching(
              /unknown field 'colour' \(allowed: id, target, level, reason, expiresAt, expiresInMin\)/,
            ) as string,
          },
          { path: 'body.level', message: 'must be at most 100 (is 140)' },
          { path: 'body.reason', message: "must have at least 1 character (is '')" },
        ]),
      );
    });

    it('explains a target with two kinds and an override with no end', async () => {
      const target = await call<ErrorBody>(api, 'POST', '/api/relights', {
        headers: bearer('police-metz'),
        body: { target: { zone: 'metz-a', commune: 'metz' }, reason: 'accident' },
      });
      expect(target.body.issues).toContainEqual({
        path: 'body.target',
        message: expect.stringContaining(
          "give exactly one of 'all', 'commune', 'zone', 'luminaires' (given: 'commune', 'zone')",
        ) as string,
      });
      const override = await call<ErrorBody>(api, 'POST', '/api/overrides', {
        headers: bearer('lm-metz'),
        body: { target: { zone: 'metz-a' }, level: 30, reason: 'works' },
      });
      expect(override.status).toBe(400);
      expect(override.body.issues).toContainEqual({
        path: 'body.untilReleased',
        message: "give an expiry ('expiresAt' or 'expiresInMin') or 'untilReleased: true', exactly one",
      });
    });

    it('answers malformed JSON and unknown paths in the same error shape', async () => {
      const json = await call<ErrorBody>(api, 'POST', '/api/relights', {
        headers: bearer('police-metz'),
        body: '{"target":',
      });
      expect(json.status).toBe(400);
      expect(json.body.error).toBe('invalid');
      const unknown = await call<ErrorBody>(api, 'GET', '/api/nothing', { headers: bearer('admin') });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({
        error: 'not-found',
        message: 'no GET /api/nothing here (see /api/docs)',
      });
    });

    it('echoes at most 200 characters of an unknown path, control characters escaped', async () => {
      const long = await call<ErrorBody>(api, 'GET', `/api/${'a'.repeat(8_000)}`, {
        headers: bearer('admin'),
      });
      expect(long.status).toBe(404);
      expect(long.body.message).toBe(`no GET /api/${'a'.repeat(195)}… here (see /api/docs)`);
      const forged = await call<ErrorBody>(api, 'GET', '/api/x%0d%0aforged', { headers: bearer('admin') });
      expect(forged.body.message).not.toMatch(/[\r\n]/);
    });

    it('answers 415 to a body that is not JSON', async () => {
      const res = await call<ErrorBody>(api, 'POST', '/api/relights', {
        headers: { ...bearer('police-metz'), 'content-type': 'text/plain' },
        body: 'relight metz-a',
      });
      expect(res.status).toBe(415);
      expect(res.body).toEqual({
        error: 'unsupported-media-type',
        message: "the body must be JSON, sent with 'Content-Type: application/json'",
      });
    });

    it('refuses a body nested deeper than 32 levels with 400, before validation', async () => {
      const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
      const deep = await call<ErrorBody>(api, 'POST', '/api/relights', {
        headers: bearer('police-metz'),
        body: `{"target":{"zone":"metz-a"},"reason":"x","extra":${nested(100_000)}}`,
      });
      expect(deep.status).toBe(400);
      expect(deep.body).toEqual({ error: 'invalid', message: 'body: nests deeper than 32 levels' });
      // 32 levels in all: validation answers, with a short excerpt of the value.
      const deepest = await call<ErrorBody>(api, 'POST', '/api/relights', {
        headers: bearer('police-metz'),
        body: `{"target":${nested(31)},"reason":"x"}`,
      });
      expect(deepest.status).toBe(400);
      expect(deepest.body.issues).toEqual([
        { path: 'body.target', message: expect.stringMatching(/^expected object, got a list/) as string },
      ]);
      expect(api.logger.lines.filter((l) => l.startsWith('error'))).toEqual([]);
    });

    it('checks path ids and query values', async () => {
      const id = await call<ErrorBody>(api, 'GET', '/api/zones/Not%20An%20Id', { headers: bearer('admin') });
      expect(id.status).toBe(400);
      expect(id.body.issues?.[0].path).toBe('path.id');
      const limit = await call<ErrorBody>(api, 'GET', '/api/audit?limit=0', { headers: bearer('admin') });
      expect(limit.body.issues).toEqual([{ path: 'query.limit', message: "must be at least 1 (is '0')" }]);
    });
  });

  describe('service errors', () => {
    it('maps forbidden, not-found, conflict, invalid and unavailable to 403, 404, 409, 400 and 503', async () => {
      const outside = await call<ErrorBody>(api, 'POST', '/api/relights', {
        headers: bearer('police-metz'),
        body: { target: { zone: 'montigny-a' }, reason: 'accident' },
      });
      expect(outside.status).toBe(403);
      expect(outside.body.message).toBe("commune 'montigny-les-metz' is outside your communes");

      expect(
        (await call(api, 'DELETE', '/api/relights/nope', { headers: bearer('police-metz') })).status,
      ).toBe(404);
      expect((await call(api, 'DELETE', '/api/programs/eco', { headers: bearer('lm-metz') })).status).toBe(
        409,
      );
      const invalid = await call<ErrorBody>(api, 'POST', '/api/programs/preview', {
        headers: bearer('lm-metz'),
        body: { zone: 'metz-a', night: '2025-03-01', program: 'eco' },
      });
      expect(invalid.status).toBe(400);
      expect(invalid.body.issues).toEqual([{ path: 'body.steps[0].at', message: "must be 'HH:MM'" }]);
      expect(
        (
          await call(api, 'PUT', '/api/calendars/cal', {
            headers: bearer('lm-metz'),
            body: { default: 'eco' },
          })
        ).status,
      ).toBe(503);
    });

    it('answers 500 without details for an unexpected failure, and logs it', async () => {
      api.services.failNext = new Error('disk on fire at /var/secret/path');
      const res = await call<ErrorBody>(api, 'POST', '/api/relights', {
        headers: bearer('police-metz'),
        body: { target: { zone: 'metz-a' }, reason: 'accident' },
      });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: 'internal', message: 'internal error (logged on the server)' });
      expect(api.logger.lines.some((l) => l.includes('disk on fire'))).toBe(true);
    });
  });

  describe('commands', () => {
    it('turns the request into the service call: expiry in minutes on the service clock, actor with role, via and address', async () => {
      const res = await call<{ record: { id: string } }>(api, 'POST', '/api/relights', {
        headers: { ...bearer('police-metz'), 'x-nocturne-client': 'console' },
        body: { target: { zone: 'metz-a' }, reason: 'accident', expiresInMin: 90 },
      });
      expect(res.status).toBe(201);
      const [request, actor] = api.services.calls.find((c) => c.method === 'emergency')!.args;
      expect(request).toEqual({
        target: { zone: 'metz-a' },
        level: 100,
        reason: 'accident',
        expiresAt: api.clock.now() + 90 * 60_000,
      });
      expect(actor).toEqual({
        user: 'police-metz',
        role: 'emergency',
        communes: ['metz'],
        via: 'console',
        from: '127.0.0.1',
      });
    });

    it('waits for the confirmation when asked', async () => {
      const res = await call<{ progress: { done: boolean; confirmed: number } }>(
        api,
        'POST',
        '/api/relights?waitMs=2000',
        {
          headers: bearer('police-metz'),
          body: { target: { zone: 'metz-a' }, reason: 'accident' },
        },
      );
      expect(res.body.progress).toMatchObject({ done: true, confirmed: 3 });
    });

    it('shows a command’s progress inside its communes only', async () => {
      const relit = await call<{ record: { id: string } }>(api, 'POST', '/api/relights', {
        headers: bearer('admin'),
        body: { target: { zone: 'montigny-a' }, reason: 'fire' },
      });
      const id = relit.body.record.id;
      expect(
        (await call(api, 'GET', `/api/commands/${id}/progress`, { headers: bearer('energy-all') })).status,
      ).toBe(200);
      expect(
        (await call(api, 'GET', `/api/commands/${id}/progress`, { headers: bearer('viewer-metz') })).status,
      ).toBe(403);
      expect(
        (await call(api, 'GET', '/api/commands/unknown/progress', { headers: bearer('admin') })).status,
      ).toBe(404);
    });
  });

  describe('audit log', () => {
    it('records every command with who, what, when, from where and its result, refused ones too', async () => {
      await call(api, 'POST', '/api/relights', {
        headers: bearer('police-metz'),
        body: { target: { zone: 'metz-a' }, reason: 'accident', id: 'r-1' },
      });
      await call(api, 'POST', '/api/relights', {
        headers: bearer('police-metz'),
        body: { target: { zone: 'montigny-a' }, reason: 'accident' },
      });
      await call(api, 'POST', '/api/relights', {
        headers: bearer('energy-all'),
        body: { target: { zone: 'metz-a' }, reason: 'x' },
      });
      await call(api, 'POST', '/api/relights', {
        headers: bearer('police-metz'),
        body: { target: { zone: 'metz-a' }, reason: 'x', level: 400 },
      });
      await call(api, 'GET', '/api/zones', { headers: bearer('police-metz') }); // a read: not audited

      const { body } = await call<AuditEntry[]>(api, 'GET', '/api/audit', { headers: bearer('admin') });
      expect(body.map((e) => [e.actor, e.action, e.target, e.result, e.status])).toEqual([
        ['police-metz', 'relight', 'zone metz-a', 'refused', 400],
        ['energy-all', 'relight', 'zone metz-a', 'refused', 403],
        ['police-metz', 'relight', 'zone montigny-a', 'refused', 403],
        ['police-metz', 'relight', 'zone metz-a', 'ok', 201],
      ]);
      expect(body[3]).toEqual({
        at: api.clock.now(),
        actor: 'police-metz',
        role: 'emergency',
        via: 'api',
        from: '127.0.0.1',
        action: 'relight',
        target: 'zone metz-a',
        communes: ['metz'],
        result: 'ok',
        status: 201,
        message: 'relight at 100 % of 3 luminaire(s): accident',
        id: 'r-1',
      });
      expect(body[2]).toMatchObject({
        communes: ['montigny-les-metz'],
        message: "commune 'montigny-les-metz' is outside your communes",
      });

      // On disk, one JSON line per entry, in order.
      const dir = path.join(api.stateDir, 'audit');
      const [file] = await readdir(dir);
      const lines = (await readFile(path.join(dir, file), 'utf8')).trim().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as AuditEntry).status)).toEqual([201, 403, 403, 400]);
    });

    it('shows a scoped reader the entries of their communes and their own', async () => {
      await call(api, 'POST', '/api/relights', {
        headers: bearer('admin'),
        body: { target: { zone: 'montigny-a' }, reason: 'fire' },
      });
      await call(api, 'POST', '/api/relights', {
        headers: bearer('admin'),
        body: { target: { zone: 'metz-a' }, reason: 'fire' },
      });
      await call(api, 'DELETE', '/api/programs/missing', { headers: bearer('lm-metz') });
      const seen = await call<AuditEntry[]>(api, 'GET', '/api/audit', { headers: bearer('lm-metz') });
      expect(seen.body.map((e) => e.target)).toEqual(['program missing', 'zone metz-a']);
      const filtered = await call<AuditEntry[]>(
        api,
        'GET',
        '/api/audit?commune=montigny-les-metz&actor=admin',
        { headers: bearer('admin') },
      );
      expect(filtered.body.map((e) => e.target)).toEqual(['zone montigny-a']);
      expect((await call(api, 'GET', '/api/audit', { headers: bearer('police-metz') })).status).toBe(403);
    });
  });

  describe('rate limits', () => {
    it('limits requests per token, refused and invalid ones included', async () => {
      await api.close();
      api = await startApi({ requestsPerWindow: 3 });
      expect((await call(api, 'GET', '/api/zones', { headers: bearer('viewer-metz') })).status).toBe(200);
      expect((await call(api, 'GET', '/api/audit', { headers: bearer('viewer-metz') })).status).toBe(403);
      expect((await call(api, 'GET', '/api/zones/Bad%20Id', { headers: bearer('viewer-metz') })).status).toBe(
        400,
      );
      const limited = await call<ErrorBody>(api, 'GET', '/api/zones', { headers: bearer('viewer-metz') });
      expect(limited.status).toBe(429);
      expect(limited.body.error).toBe('rate-limited');
      expect(limited.headers.get('retry-after')).not.toBeNull();
      // Another token has its own budget.
      expect((await call(api, 'GET', '/api/zones', { headers: bearer('admin') })).status).toBe(200);
    });
  });

  describe('event stream', () => {
    it('opens with a one-use ticket and delivers changes within what the role may read', async () => {
      const { body } = await call<{ ticket: string; expiresAt: number }>(api, 'POST', '/api/events/ticket', {
        headers: bearer('police-metz'),
      });
      expect(body.expiresAt).toBe(api.clock.now() + 30_000);
      const stream = await openStream(`${api.url}/api/events?ticket=${body.ticket}`);
      try {
        await stream.next('ready');
        api.services.emit({ type: 'program', at: 1, change: 'put', id: 'eco', actor: 'x' }); // not for an emergency role
        api.services.emit({
          type: 'progress',
          at: 2,
          progress: {
            id: 'r',
            slot: 'emergency',
            communes: ['metz'],
            total: 1,
            confirmed: 1,
            failed: 0,
            pending: 0,
            superseded: 0,
            done: true,
            failures: [],
            acceptedAt: 1,
          },
        });
        api.services.emitAlert(api.services.alertList[0]); // no alerts:read for the emergency role
        const event = await stream.next('progress');
        expect(JSON.parse(event.data)).toMatchObject({ type: 'progress', progress: { id: 'r', done: true } });
        expect(stream.seen()).toEqual(['ready', 'progress']);
      } finally {
        stream.close();
      }
      // Used once: the same ticket is refused.
      expect((await call(api, 'GET', `/api/events?ticket=${body.ticket}`)).status).toBe(401);
    });

    it('refuses an expired ticket and ends open streams on stop', async () => {
      const first = await call<{ ticket: string }>(api, 'POST', '/api/events/ticket', {
        headers: bearer('admin'),
      });
      api.clock.advance(30_001);
      expect((await call(api, 'GET', `/api/events?ticket=${first.body.ticket}`)).status).toBe(401);

      const stream = await openStream(`${api.url}/api/events`, bearer('admin'));
      await stream.next('ready');
      expect(api.services.subscribers).toBe(2);
      await api.server.stop();
      await stream.ended;
      expect(api.services.subscribers).toBe(0);
    });

    it('caps event streams per user and in total, and says so', async () => {
      await api.close();
      api = await startApi({ maxStreamsPerUser: 2, maxStreams: 3 });
      const url = `${api.url}/api/events`;
      const streams = [await openStream(url, bearer('admin')), await openStream(url, bearer('admin'))];
      try {
        await Promise.all(streams.map((s) => s.next('ready')));
        const third = await call<ErrorBody>(api, 'GET', '/api/events', { headers: bearer('admin') });
        expect(third.status).toBe(429);
        expect(third.headers.get('cache-control')).toBe('no-store');
        expect(third.body).toEqual({
          error: 'rate-limited',
          message:
            "'admin' already has 2 event streams open, the most one user may: close one (another console tab?) first",
        });

        streams.push(await openStream(url, bearer('viewer-metz')));
        const full = await call<ErrorBody>(api, 'GET', '/api/events', { headers: bearer('lm-metz') });
        expect(full.status).toBe(503);
        expect(full.headers.get('retry-after')).toBe('30');
        expect(full.body).toEqual({
          error: 'unavailable',
          message: 'the service already serves 3 event streams, its most; retry in 30 s',
        });
        const metrics = await call(api, 'GET', '/metrics', { headers: bearer('admin') });
        expect(metrics.text).toContain('nocturne_http_event_streams 3\n');
        expect(metrics.text).toContain('nocturne_http_event_streams_refused_total 2\n');

        // A stream closed frees its place.
        streams.shift()!.close();
        streams.push(await eventually(() => openStream(url, bearer('admin'))));
      } finally {
        for (const stream of streams) stream.close();
      }
    });

    it('sends a heartbeat comment on the injected clock', async () => {
      const stream = await openStream(`${api.url}/api/events`, bearer('viewer-metz'));
      try {
        await stream.next('ready');
        api.clock.advance(15_000);
        await stream.comment();
      } finally {
        stream.close();
      }
    });
  });

  describe('documents and console', () => {
    it('serves the OpenAPI document with every endpoint and the bearer scheme', async () => {
      const res = await call<{
        openapi: string;
        paths: Record<string, Record<string, unknown>>;
        components: { securitySchemes: object };
      }>(api, 'GET', '/api/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toBe('3.1.0');
      expect(Object.keys(res.body.paths)).toEqual(
        expect.arrayContaining(['/api/relights', '/api/relights/{id}', '/api/programs/preview', '/metrics']),
      );
      const relight = res.body.paths['/api/relights'].post as {
        requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown> } } } };
      };
      expect(Object.keys(relight.requestBody.content['application/json'].schema.properties)).toEqual([
        'id',
        'target',
        'level',
        'reason',
        'expiresAt',
        'expiresInMin',
      ]);
      // The document lists exactly the endpoints of the access table.
      const documented = Object.entries(res.body.paths).flatMap(([p, methods]) =>
        Object.keys(methods).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
      );
      expect(documented.sort()).toEqual(Object.keys(ENDPOINTS).sort());
      const docs = await call(api, 'GET', '/api/docs');
      expect(docs.status).toBe(200);
      expect(docs.text).toContain('<script type="module" src="/docs.js"></script>');
    });

    it('serves the console with a strict content security policy, and health without a token', async () => {
      const page = await call(api, 'GET', '/');
      expect(page.status).toBe(200);
      expect(page.text).toContain('<script type="module" src="app.js"></script>');
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect((await call(api, 'GET', '/emergency.js')).status).toBe(200);
      expect(await call(api, 'GET', '/api/health')).toMatchObject({ status: 200, body: { status: 'up' } });
      // Alone, an instance leads what it has: a load balancer's leader check passes.
      expect(await call(api, 'GET', '/api/health?role=leader')).toMatchObject({ status: 200 });
      expect((await call(api, 'GET', '/api/health?role=standby')).status).toBe(400);
      api.services.healthStatus = 'degraded';
      expect(await call(api, 'GET', '/api/health')).toMatchObject({
        status: 200,
        body: { status: 'degraded', degraded: ['influx'] },
      });
      api.services.healthStatus = 'down';
      expect(await call(api, 'GET', '/api/health')).toMatchObject({ status: 503, body: { status: 'down' } });
    });

    it('marks API answers no-store, errors included, and has the console’s files revalidated', async () => {
      const cacheControl = async (pathname: string, user?: 'admin') =>
        (await call(api, 'GET', pathname, user ? { headers: bearer(user) } : {})).headers.get(
          'cache-control',
        );
      expect(await cacheControl('/api/zones', 'admin')).toBe('no-store');
      expect(await cacheControl('/api/zones')).toBe('no-store');
      expect(await cacheControl('/api/nothing', 'admin')).toBe('no-store');
      expect(await cacheControl('/metrics', 'admin')).toBe('no-store');
      expect(await cacheControl('/api/health')).toBe('no-store');
      expect(await cacheControl('/')).toBe('no-cache');
      expect(await cacheControl('/app.js')).toBe('no-cache');
    });

    it('renders metrics from the services', async () => {
      await call(api, 'POST', '/api/relights', {
        headers: bearer('admin'),
        body: { target: { zone: 'metz-a' }, reason: 'x' },
      });
      const res = await call(api, 'GET', '/metrics', { headers: bearer('admin') });
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(res.text).toContain(
        'nocturne_device_health{device="metz-sc-01",commune="metz",protocol="modbus-tcp"} 2',
      );
      expect(res.text).toContain('nocturne_commands_in_force{slot="emergency"} 1');
      expect(res.text).toContain('nocturne_presence_messages_total{result="malformed"} 1');
      expect(res.text).toContain('nocturne_alerts_open{severity="warning",state="raised"} 2');
      expect(res.text).toContain(
        'nocturne_http_requests_total{method="POST",endpoint="POST /api/relights",status="201"} 1',
      );
      expect(res.text).toContain('nocturne_audit_entries_total 1');
    });
  });
});

/** What `attempt` gives once it stops throwing, within 5 s. */
async function eventually<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** A minimal server-sent events reader over fetch. */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const aborter = new AbortController();
  const response = await fetch(url, { headers, signal: aborter.signal });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`event stream answered ${response.status}`);
  }
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: { event: string; data: string }[] = [];
  let comments = 0;
  let wake: (() => void) | undefined;
  const ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (block.startsWith(':')) comments++;
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) events.push({ event, data });
        }
        wake?.();
      }
    } catch {
      // aborted by close()
    }
  })();
  const waitFor = async <T>(pick: () => T | undefined, what: string): Promise<T> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = pick();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} on the event stream`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  };
  return {
    ended,
    seen: () => events.map((e) => e.event),
    next: (event: string) => waitFor(() => events.find((e) => e.event === event), `'${event}' event`),
    comment: () => waitFor(() => (comments > 0 ? comments : undefined), 'heartbeat comment'),
    close: () => aborter.abort(),
  };
}
