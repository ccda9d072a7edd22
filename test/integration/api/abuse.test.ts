import type { AuditEntry } from '../../../controller/audit/entry';
import type { ErrorBody } from '../../../controller/http/errors';
import { request, startLiveService, tokenFor, type LiveService, type TestUser } from './liveService';

// What security issue #11 found, against the real service with its default settings: wrong tokens
// hammering the API, event streams opened by the hundred, bodies that are not JSON or nest deep.

let live: LiveService;

beforeAll(async () => {
  live = await startLiveService();
});

afterAll(async () => {
  await live?.stop();
});

const asUser = (user: TestUser, headers: Record<string, string> = {}): Record<string, string> => ({
  authorization: `Bearer ${tokenFor(user)}`,
  ...headers,
});

it('keeps the emergency token working while wrong tokens hammer the API from the same address', async () => {
  // X-Forwarded-For is not believed: no proxy is declared, so this is the address every attempt shares.
  const spoofed = { 'x-forwarded-for': '198.51.100.1' };
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const response = await fetch(`${live.url}/api/zones`, {
      headers: { authorization: `Bearer guessed-token-${i}`, ...spoofed },
    });
    await response.body?.cancel();
    statuses.push(response.status);
  }
  expect(statuses.slice(0, 10)).toEqual(Array<number>(10).fill(401));
  expect(statuses.slice(10)).toEqual(Array<number>(20).fill(429));

  const relight = await fetch(`${live.url}/api/relights`, {
    method: 'POST',
    headers: asUser('emergency-metz', { 'content-type': 'application/json', ...spoofed }),
    body: JSON.stringify({ id: 'abuse-r-1', target: { zone: live.zones.in }, reason: 'accident' }),
  });
  expect(relight.status).toBe(201);
  const audit = await request<AuditEntry[]>(live, 'admin-all', 'GET', '/api/audit?action=relight');
  expect(audit.body.find((e) => e.id === 'abuse-r-1')).toMatchObject({
    actor: 'emergency-metz',
    from: '127.0.0.1',
    result: 'ok',
  });
});

it('holds at most 8 event streams per user', async () => {
  const aborter = new AbortController();
  try {
    const open = async (): Promise<Response> =>
      fetch(`${live.url}/api/events`, { headers: asUser('viewer-all'), signal: aborter.signal });
    const streams = await Promise.all(Array.from({ length: 8 }, open));
    expect(streams.map((s) => s.status)).toEqual(Array<number>(8).fill(200));
    const ninth = await open();
    expect(ninth.status).toBe(429);
    expect(((await ninth.json()) as ErrorBody).error).toBe('rate-limited');
    // Someone else still gets theirs.
    const other = await fetch(`${live.url}/api/events`, {
      headers: asUser('viewer-metz'),
      signal: aborter.signal,
    });
    expect(other.status).toBe(200);
  } finally {
    aborter.abort();
  }
});

it('answers 415 to a body that is not JSON, 400 to one nested too deep, and no-store everywhere', async () => {
  const post = async (contentType: string, body: string) =>
    fetch(`${live.url}/api/relights`, {
      method: 'POST',
      headers: asUser('emergency-metz', { 'content-type': contentType }),
      body,
    });
  const text = await post('text/plain', 'relight everything');
  expect([text.status, text.headers.get('cache-control')]).toEqual([415, 'no-store']);
  expect(((await text.json()) as ErrorBody).error).toBe('unsupported-media-type');

  const deep = await post('application/json', `{"target":${'['.repeat(50_000)}${']'.repeat(50_000)}}`);
  expect(deep.status).toBe(400);
  expect(await deep.json()).toEqual({ error: 'invalid', message: 'body: nests deeper than 32 levels' });

  const zones = await fetch(`${live.url}/api/zones`, { headers: asUser('viewer-all') });
  await zones.body?.cancel();
  expect(zones.headers.get('cache-control')).toBe('no-store');
});
