import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONFIG_DOC_FILE, SCHEMA_FILE, configDocText, schemaText } from '../../../config/exportSchema';
import { DEMO_CONFIG } from '../../../config/paths';

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

  it('answers the demo with every position an alias of one anchor, and one typo, with the typo located', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nocturne-validate-'));
    try {
      let aliases = 0;
      const text = readFileSync(DEMO_CONFIG, 'utf8')
        .replace(/position: \{ lat: [\d.]+, lon: [\d.]+ \}/g, () =>
          aliases++ === 0 ? 'position: &pos { lat: 49.1193, lon: 6.1817 }' : 'position: *pos',
        )
        .replace('device: metz-sc-01, channel: 1,', 'device: metz-sc-1, channel: 1,');
      expect(aliases).toBeGreaterThan(1000);
      const file = path.join(dir, 'demo.yaml');
      writeFileSync(file, text);
      const run = nocturne('validate', file);
      expect(run.stderr).toMatch(
        new RegExp(
          `^${file.replace(/\./g, '\\.')}:\\d+:\\d+ zones\\[0\\]\\.luminaires\\[0\\]\\.device: unknown device 'metz-sc-1'.*\n${file.replace(/\./g, '\\.')}: 1 error\n$`,
        ),
      );
      expect(run.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('start refuses an alias bomb with a located error, without a stack trace', () => {
    const file = 'test/fixtures/config/alias-bomb.yaml';
    const run = nocturne('start', file);
    expect(run.stderr).toMatch(
      new RegExp(
        `^${file.replace(/\./g, '\\.')}:9:\\d+ g\\[\\d\\]\\S*: more than [\\d,]+ keys and values once aliases are expanded\n$`,
      ),
    );
    expect(run.status).toBe(1);
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

describe('nocturne profiles', () => {
  it('lists the shipped profiles with their sources, and prints one as a register_maps entry a site can adapt', () => {
    const list = nocturne('profiles');
    expect(list.status).toBe(0);
    for (const id of [
      'nocturne-sc-v1',
      'ecodim-dali-gw2',
      'arlight-dali-logic-lite',
      'hms-intesis-dali',
      'dalion',
    ])
      expect(list.stdout).toContain(`${id}\n`);
    expect(list.stdout).toMatch(/source: wirenboard\/wb-mqtt-serial/);

    const one = nocturne('profiles', 'ecodim-dali-gw2');
    expect(one.status).toBe(0);
    const dir = mkdtempSync(path.join(tmpdir(), 'nocturne-profiles-'));
    try {
      // Copied under another id into a site file, it validates as the site's own map.
      const small = readFileSync(path.join(ROOT, 'test/fixtures/config/small.yaml'), 'utf8');
      const own = one.stdout
        .replace('id: ecodim-dali-gw2', 'id: ecodim-adapted')
        .replace(/^register_maps:\n/, '');
      const text = small
        .replace('register_maps:\n', `register_maps:\n${own}`)
        .replace('lighting: { channels: 8, map: sc-v1 }', 'lighting: { channels: 64, map: ecodim-adapted }');
      writeFileSync(path.join(dir, 'site.yaml'), text);
      const run = nocturne('validate', path.join(dir, 'site.yaml'));
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const unknown = nocturne('profiles', 'ecodim-gw3');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(
      /no shipped profile 'ecodim-gw3' \(shipped: nocturne-sc-v1, ecodim-dali-gw2/,
    );
  });
});
