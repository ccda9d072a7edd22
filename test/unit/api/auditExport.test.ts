import type { AuditEntry } from '../../../controller/audit/entry';
import { bearer, call, startApi, type ApiHarness } from './harness';

// The right of access over HTTP: a person's own actions as JSON or CSV, on a real server and audit log.

describe('GET /api/audit/export', () => {
  let api: ApiHarness;
  beforeEach(async () => {
    api = await startApi({ requestsPerWindow: 1000 });
    const base = {
      role: 'lighting-manager' as const,
      via: 'api' as const,
      from: '10.0.0.7',
      action: 'override' as const,
      communes: ['metz'],
      result: 'ok' as const,
      status: 201,
    };
    await api.audit.record({
      ...base,
      at: Date.parse('2025-02-27T21:13:05Z'),
      actor: 'lm-metz',
      target: 'zone metz-a',
      message: 'override at 40 %; "test"',
    });
    await api.audit.record({
      ...base,
      at: Date.parse('2025-02-28T08:00:00Z'),
      actor: 'lm-metz',
      target: 'zone metz-b',
      message: '=cmd',
    });
    await api.audit.record({
      ...base,
      at: Date.parse('2025-02-28T09:00:00Z'),
      actor: 'admin',
      role: 'admin',
      target: 'zone metz-a',
      message: 'other person',
    });
  });
  afterEach(() => api.close());

  it('gives a user their own actions, oldest first, with local times, and audits the export', async () => {
    const response = await call<{ user: string; count: number; entries: (AuditEntry & { time: string })[] }>(
      api,
      'GET',
      '/api/audit/export?user=lm-metz',
      { headers: bearer('lm-metz') },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="audit-lm-metz.json"');
    expect(response.body.count).toBe(2);
    expect(response.body.entries.map((e) => [e.target, e.time])).toEqual([
      ['zone metz-a', '2025-02-27T22:13:05+01:00'],
      ['zone metz-b', '2025-02-28T09:00:00+01:00'],
    ]);
    const [exported] = await api.audit.query({ action: 'export-audit', limit: 1 }, ['*']);
    expect(exported).toMatchObject({
      actor: 'lm-metz',
      target: 'audit of user lm-metz',
      result: 'ok',
      status: 200,
    });
  });

  it('as CSV for a French spreadsheet: BOM, semicolons, quoted fields, formulas defused', async () => {
    const response = await fetch(`${api.url}/api/audit/export?user=lm-metz&format=csv`, {
      headers: bearer('admin'),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const bytes = Buffer.from(await response.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.subarray(3).toString('utf8').split('\r\n');
    expect(lines[0]).toBe('at;actor;role;via;from;action;target;communes;result;status;message;id;count');
    expect(lines[1]).toBe(
      '2025-02-27T22:13:05+01:00;lm-metz;lighting-manager;api;10.0.0.7;override;zone metz-a;metz;ok;201;"override at 40 %; ""test""";;',
    );
    expect(lines[2]).toContain(";'=cmd;");
    expect(lines).toHaveLength(4); // two entries and the final line break
  });

  it('refuses another person’s actions to anyone but an admin', async () => {
    const response = await call<{ error: { code: string; message: string } }>(
      api,
      'GET',
      '/api/audit/export?user=admin',
      {
        headers: bearer('viewer-metz'),
      },
    );
    expect(response.status).toBe(403);
    expect(JSON.stringify(response.body)).toContain(
      "only an admin may export the actions of another user ('admin')",
    );
    const refused = await api.audit.query({ action: 'export-audit', limit: 1 }, ['*']);
    expect(refused[0]).toMatchObject({
      actor: 'viewer-metz',
      result: 'refused',
      target: 'audit of user admin',
    });
  });
});
