import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditEntry } from '../../../controller/audit/entry';

// `nocturne audit export` on real audit files, through the built CLI (npx tsc -p tsconfig.json first).

const ROOT = path.join(__dirname, '..', '..', '..');
const nocturne = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bin', 'nocturne.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });

function entry(actor: string, at: string, target: string): AuditEntry {
  return {
    at: Date.parse(at),
    actor,
    role: 'lighting-manager',
    via: 'console',
    from: '192.0.2.0',
    action: 'override',
    target,
    communes: ['metz'],
    result: 'ok',
    status: 201,
    message: 'override at 40 %',
  };
}

describe('nocturne audit export', () => {
  let dir: string;
  let config: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nocturne-audit-cli-'));
    config = path.join(dir, 'site.yaml');
    writeFileSync(
      config,
      [
        'version: 1',
        'site: { name: essai, timezone: Europe/Paris, location: { lat: 49.12, lon: 6.18 } }',
        'service: { state_dir: ./etat }',
        'communes: [{ id: metz, name: Metz }]',
        '',
      ].join('\n'),
    );
    mkdirSync(path.join(dir, 'etat', 'audit'), { recursive: true });
    const lines = [
      entry('marie', '2026-11-30T20:00:00Z', 'zone metz-a'),
      entry('paul', '2026-11-30T21:00:00Z', 'zone metz-b'),
    ];
    writeFileSync(
      path.join(dir, 'etat', 'audit', 'audit-2026-11-30.jsonl'),
      lines.map((l) => `${JSON.stringify(l)}\n`).join(''),
    );
    writeFileSync(
      path.join(dir, 'etat', 'audit', 'audit-2026-12-01.jsonl'),
      `${JSON.stringify(entry('marie', '2026-12-01T07:30:00Z', 'zone metz-c'))}\n`,
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints one person’s actions as JSON, oldest first, and no one else’s', () => {
    const run = nocturne('audit', 'export', '--user', 'marie', '--config', config);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout) as {
      user: string;
      count: number;
      entries: (AuditEntry & { time: string })[];
    };
    expect(out.user).toBe('marie');
    expect(out.entries.map((e) => [e.target, e.time])).toEqual([
      ['zone metz-a', '2026-11-30T21:00:00+01:00'],
      ['zone metz-c', '2026-12-01T08:30:00+01:00'],
    ]);
  });

  it('writes CSV to a file when asked', () => {
    const output = path.join(dir, 'marie.csv');
    const run = nocturne(
      'audit',
      'export',
      '--user',
      'marie',
      '--format',
      'csv',
      '--config',
      config,
      '--output',
      output,
    );
    expect(run.status).toBe(0);
    expect(run.stderr).toBe(`2 entries of 'marie' written to ${output}\n`);
    const csv = readFileSync(output, 'utf8');
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(3);
  });

  it('says how to call it when the user or the format is missing or wrong', () => {
    const missing = nocturne('audit', 'export', '--config', config);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('usage: nocturne audit export --user <id>');
    expect(
      nocturne('audit', 'export', '--user', 'marie', '--format', 'xlsx', '--config', config),
    ).toMatchObject({
      status: 2,
      stderr: "nocturne audit export: --format must be json or csv (is 'xlsx')\n",
    });
  });
});
