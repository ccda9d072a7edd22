import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditEntry } from '../../../controller/audit/entry';
import { freePort } from '../../helpers/ports';
import { request, startLiveService, tokenFor, type LiveService } from './liveService';

// The `nocturne` command (dist/, rebuilt by the global setup) against the real service.

const BIN = path.join(__dirname, '..', '..', '..', 'bin', 'nocturne.js');

let live: LiveService;
let dir: string;

beforeAll(async () => {
  live = await startLiveService();
  dir = await mkdtemp(path.join(tmpdir(), 'nocturne-cli-'));
}, 60_000);

afterAll(async () => {
  await live?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function nocturne(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', NOCTURNE_URL: live.url, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

it('relights a zone by name, waits for the devices, shows the status and clears it', async () => {
  const env = { NOCTURNE_TOKEN: tokenFor('emergency-metz') };
  const relit = await nocturne(
    ['relight', live.zones.in, '--reason', 'road accident', '--expires', '2h', '--id', 'cli-1'],
    env,
  );
  expect(relit).toMatchObject({ code: 0, stderr: '' });
  expect(relit.stdout).toMatch(
    new RegExp(`^relight cli-1 accepted: zone ${live.zones.in} at 100 %, 4 luminaire\\(s\\), until \\S+Z\\n`),
  );
  expect(relit.stdout).toContain('confirmed by 4/4 luminaires\n');

  const status = await nocturne(['status'], env);
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(
    new RegExp(
      `^RELIGHT  cli-1  zone ${live.zones.in}  100 %  4 luminaire\\(s\\)  by emergency-metz since .* confirmed by 4/4 luminaires$`,
      'm',
    ),
  );
  expect(await nocturne(['status', 'cli-1'], env)).toMatchObject({
    code: 0,
    stdout: 'emergency cli-1: confirmed by 4/4 luminaires\n',
  });

  const cleared = await nocturne(['clear', 'cli-1'], env);
  expect(cleared).toMatchObject({
    code: 0,
    stdout: `relight cli-1 cleared (zone ${live.zones.in}); the schedule applies again\n`,
  });

  const audit = await request<AuditEntry[]>(live, 'admin-all', 'GET', '/api/audit?actor=emergency-metz');
  expect(audit.body.map((e) => [e.action, e.via, e.result])).toEqual([
    ['clear-relight', 'cli', 'ok'],
    ['relight', 'cli', 'ok'],
  ]);
});

it('reads the token from a file and exits 4 when the commune is not the token’s', async () => {
  const file = path.join(dir, 'token');
  await writeFile(file, `${tokenFor('emergency-metz')}\n`, { mode: 0o600 });
  const refused = await nocturne([
    'relight',
    `zone:${live.zones.out}`,
    '--reason',
    'fire',
    '--token-file',
    file,
  ]);
  expect(refused.code).toBe(4);
  expect(refused.stderr).toMatch(/^nocturne: 403 forbidden: /);
});

it('exits 2 on usage errors, naming what is wrong', async () => {
  const env = { NOCTURNE_TOKEN: tokenFor('emergency-metz') };
  expect(await nocturne(['relight', live.zones.in], env)).toMatchObject({
    code: 2,
    stderr: 'nocturne: --reason is required: say why (it goes to the audit log)\n',
  });
  expect(await nocturne(['relight', live.zones.in, '--reason', 'x', '--level', '120'], env)).toMatchObject({
    code: 2,
    stderr: "nocturne: --level must be 0-100 (is '120')\n",
  });
  expect(await nocturne(['clear'], env)).toMatchObject({ code: 2 });
  expect(await nocturne(['status'])).toMatchObject({
    code: 2,
    stderr: 'nocturne: no token: set NOCTURNE_TOKEN or give --token-file <file>\n',
  });
});

it('exits 1 with the service’s explanation when it refuses, and 5 when it cannot be reached', async () => {
  const env = { NOCTURNE_TOKEN: tokenFor('emergency-metz') };
  const unknown = await nocturne(['clear', 'no-such-relight'], env);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/^nocturne: 404 not-found: /);
  const port = await freePort();
  const down = await nocturne(['status', '--url', `http://127.0.0.1:${port}`], env);
  expect(down).toMatchObject({
    code: 5,
    stderr: `nocturne: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`,
  });
  expect((await nocturne(['status'], { NOCTURNE_TOKEN: 'wrong-token-here' })).code).toBe(4);
});

it('makes a token and the line for the configuration', async () => {
  const made = await nocturne(['token', 'police-metz']);
  expect(made.code).toBe(0);
  const [, token] = /^ {2}([A-Za-z0-9_-]{43})$/m.exec(made.stdout) ?? [];
  const [, hash] = /^ {4}token_sha256: ([0-9a-f]{64})$/m.exec(made.stdout) ?? [];
  expect(token).toBeDefined();
  expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
  expect((await nocturne(['token', 'Bad Id'])).code).toBe(2);
});

it('prints the monthly evaluation report of the token’s communes, as a French table or as CSV', async () => {
  const env = { NOCTURNE_TOKEN: tokenFor('viewer-metz') };
  const table = await nocturne(['report', '2026-11'], env);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/^Rapport d’évaluation — 2026-11 \(du 2026-11-01 au 2026-11-30, 30 jours\)\n/);
  expect(table.stdout).toContain('== Territoire ==');
  // Without InfluxDB in this service, availability still comes from the lighting runtime.
  expect(table.stdout).toMatch(/Luminaires confirmés +\d+ +luminaires/);
  const csv = await nocturne(['report', '2026-11', '--csv'], env);
  expect(csv.code).toBe(0);
  expect(csv.stdout.startsWith('\uFEFFMois;Zone;Rubrique;Indicateur;Valeur;Unité\r\n')).toBe(true);
  expect((await nocturne(['report', '2026-1'], env)).code).toBe(2);
  expect((await nocturne(['report', '2026-11'], { NOCTURNE_TOKEN: tokenFor('emergency-metz') })).code).toBe(
    4,
  );
});

it('sets a person’s password (piped in), enrols a phone with a link and QR code, and signs them out everywhere', async () => {
  const env = { NOCTURNE_TOKEN: tokenFor('admin-metz') };
  const password = 'réverbère-de-la-place';
  const set = await new Promise<{ code: number; stdout: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, 'user', 'password', 'viewer-metz'],
      { env: { PATH: process.env.PATH ?? '', NOCTURNE_URL: live.url, ...env }, timeout: 30_000 },
      (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
    );
    child.stdin?.end(`${password}\n`);
  });
  expect(set).toEqual({ code: 0, stdout: "password of 'viewer-metz' set; 0 session(s) ended\n" });
  const signIn = await fetch(`${live.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'viewer-metz', password }),
  });
  expect(signIn.status).toBe(200);
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0];

  const enrol = await nocturne(['user', 'enrol', 'viewer-metz'], env);
  expect(enrol.code).toBe(0);
  const [, link] = /^ {2}(http:\/\/\S+\/#enrol=[\w-]{22})$/m.exec(enrol.stdout) ?? [];
  expect(link.startsWith(live.url)).toBe(true);
  // The QR code, drawn with half blocks for a terminal.
  expect(enrol.stdout).toMatch(/[▀▄█]{10}/);

  const out = await nocturne(['user', 'signout', 'viewer-metz'], env);
  expect(out).toMatchObject({ code: 0, stdout: "'viewer-metz' signed out everywhere: 1 session(s) ended\n" });
  expect((await fetch(`${live.url}/api/me`, { headers: { cookie } })).status).toBe(401);
  // A Metz administrator manages no territory-wide user; a bad action is a usage error.
  expect((await nocturne(['user', 'signout', 'admin-all'], env)).code).toBe(4);
  expect((await nocturne(['user', 'forget', 'viewer-metz'], env)).code).toBe(2);
  const audit = await request<AuditEntry[]>(live, 'admin-all', 'GET', '/api/audit?actor=admin-metz');
  expect(audit.body.map((e) => e.action)).toEqual(
    expect.arrayContaining(['set-password', 'enrol', 'sign-out-everywhere']),
  );
});
