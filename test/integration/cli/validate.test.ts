import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_DOC_FILE, SCHEMA_FILE, configDocText, schemaText } from '../../../config/exportSchema';

const ROOT = path.join(__dirname, '..', '..', '..');
const nocturne = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bin', 'nocturne.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });

describe('nocturne validate', () => {
  it('accepts the demo territory with a one-line summary when given no file', () => {
    const run = nocturne('validate');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(
      /demo\.yaml: valid: 6 communes, \d+ zones, \d{4} luminaires, \d+ devices \(24 segment controllers: 22 modbus-tcp, 2 opcua\), \d+ buildings with \d+ points, \d+ presence sensors, \d+ users\n$/,
    );
  });

  it('prints the five mistakes of a broken file with file:line:column and path, and exits 1', () => {
    const file = 'test/fixtures/config/five-mistakes.yaml';
    const run = nocturne('validate', file);
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(
      lines.slice(0, 5).every((l) => new RegExp(`^${file.replace(/\./g, '\\.')}:\\d+:\\d+ \\S+: .+`).test(l)),
    ).toBe(true);
    expect(lines[5]).toBe(`${file}: 5 errors`);
  });

  it('refuses an unknown command with the usage', () => {
    const run = nocturne('relight-everything');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('usage: nocturne');
  });
});

describe('exported schema and reference', () => {
  it('config/nocturne.schema.json and docs/config.md are up to date with the schema (nocturne schema --write)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(schemaText());
    expect(readFileSync(CONFIG_DOC_FILE, 'utf8')).toBe(configDocText());
  });
});
