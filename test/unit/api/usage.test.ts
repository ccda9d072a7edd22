import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger } from '../../../core/logger';
import { UsageLog } from '../../../controller/evaluation/usageLog';
import type { ErrorBody } from '../../../controller/http/errors';
import type { UsageRecord } from '../../../controller/evaluation/usage';
import { bearer, call, startApi, type ApiHarness } from './harness';

// Usage counting through the API: the onResponse hook, the console's beacon and GET /api/usage, over a
// real UsageLog in the harness's state directory. The harness's clock reads 2025-03-01 23:00 in Paris.

describe('usage counting over the API', () => {
  let api: ApiHarness;
  let usage: UsageLog;

  beforeEach(async () => {
    api = await startApi({ requestsPerWindow: 1000 });
    usage = new UsageLog({
      stateDir: api.stateDir,
      timeZone: 'Europe/Paris',
      clock: api.clock,
      logger: silentLogger,
      periodMs: 60_000,
    });
    await usage.start();
    api.services.usage = usage;
  });

  afterEach(async () => {
    await usage.stop();
    await api.close();
  });

  const records = async (user: 'viewer-metz' | 'admin'): Promise<UsageRecord[]> => {
    const answer = await call<{ records: UsageRecord[] }>(api, 'GET', '/api/usage?from=2025-03-01', {
      headers: bearer(user),
    });
    expect(answer.status).toBe(200);
    return answer.body.records;
  };

  it('counts answered requests by endpoint, and the beacon as sign-ins and pages, per day, role and commune', async () => {
    const manager = { headers: bearer('lm-metz') };
    expect((await call(api, 'GET', '/api/zones', manager)).status).toBe(200);
    expect((await call(api, 'GET', '/api/zones', manager)).status).toBe(200);
    expect(
      (await call(api, 'POST', '/api/usage/views', { ...manager, body: { event: 'sign-in' } })).status,
    ).toBe(204);
    expect(
      (await call(api, 'POST', '/api/usage/views', { ...manager, body: { event: 'page', page: 'zones' } }))
        .status,
    ).toBe(204);
    // Not counted: a refusal, a request without a token, a public endpoint.
    expect((await call(api, 'POST', '/api/relights', manager)).status).toBe(403);
    expect((await call(api, 'GET', '/api/zones')).status).toBe(401);
    expect((await call(api, 'GET', '/api/health')).status).toBe(200);

    expect(await records('viewer-metz')).toEqual([
      { day: '2025-03-01', role: 'lighting-manager', commune: 'metz', kind: 'api:GET /api/zones', count: 2 },
      { day: '2025-03-01', role: 'lighting-manager', commune: 'metz', kind: 'page:zones', count: 1 },
      { day: '2025-03-01', role: 'lighting-manager', commune: 'metz', kind: 'sign-in', count: 1 },
    ]);
    // The viewer's own reading was counted after its answer; a territory-wide token sees it and its own.
    const all = await records('admin');
    expect(all).toContainEqual({
      day: '2025-03-01',
      role: 'viewer',
      commune: 'metz',
      kind: 'api:GET /api/usage',
      count: 1,
    });
    expect(await records('viewer-metz')).not.toContainEqual(expect.objectContaining({ commune: '*' }));
  });

  it('keeps neither who nor from where: the file holds days, roles, communes, kinds and counts', async () => {
    await call(api, 'GET', '/api/zones', { headers: bearer('lm-metz') });
    await usage.flush();
    const text = await readFile(path.join(api.stateDir, 'usage.json'), 'utf8');
    expect(JSON.parse(text)).toEqual({
      version: 1,
      records: [
        {
          day: '2025-03-01',
          role: 'lighting-manager',
          commune: 'metz',
          kind: 'api:GET /api/zones',
          count: 1,
        },
      ],
    });
    expect(text).not.toMatch(/lm-metz|127\.0\.0\.1|token/);
  });

  it('refuses a beacon that names no page, usage to a role without reports, and a report nobody wired', async () => {
    const bad = await call<ErrorBody>(api, 'POST', '/api/usage/views', {
      headers: bearer('lm-metz'),
      body: { event: 'page', page: 'Zones!' },
    });
    expect(bad.status).toBe(400);
    expect((await call(api, 'GET', '/api/usage', { headers: bearer('police-metz') })).status).toBe(403);
    const reversed = await call<ErrorBody>(api, 'GET', '/api/usage?from=2025-03-02&to=2025-03-01', {
      headers: bearer('admin'),
    });
    expect(reversed).toMatchObject({
      status: 400,
      body: { message: "query.from: '2025-03-02' is after query.to '2025-03-01'" },
    });
    expect((await call(api, 'GET', '/api/reports/2025-02', { headers: bearer('admin') })).status).toBe(503);
    expect((await call(api, 'GET', '/api/reports/2025-13', { headers: bearer('admin') })).status).toBe(400);
  });
});
