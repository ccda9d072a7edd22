import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, formatIssue, type ConfigIssue } from '../../../config/issues';
import * as limits from '../../../config/limits';
import { MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, MAX_STRING_CHARS } from '../../../config/limits';
import { loadConfig, parseConfig } from '../../../config/load';
import { DEMO_CONFIG } from '../../../config/paths';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'config');
const SMALL = readFileSync(path.join(FIXTURES, 'small.yaml'), 'utf8');

/** The issues a configuration is refused with; a crash of any other kind fails the test. */
function issuesOf(text: string): ConfigIssue[] {
  try {
    parseConfig(text, 'site.yaml', { env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

/** The one issue a configuration is refused with. */
function theIssue(text: string): ConfigIssue {
  const issues = issuesOf(text);
  if (issues.length !== 1) throw new Error(`expected one issue, got:\n${issues.map(formatIssue).join('\n')}`);
  return issues[0];
}

function variant(from: string, to: string, text = SMALL): string {
  if (!text.includes(from)) throw new Error(`fixture has no '${from}'`);
  return text.replace(from, to);
}

const lineOf = (text: string, needle: string): number =>
  text.split('\n').findIndex((l) => l.includes(needle)) + 1;

const nested = (levels: number, inside = ''): string => `${'['.repeat(levels)}${inside}${']'.repeat(levels)}`;

describe('aliases', () => {
  it('a file with over 1,000 aliases to one anchor loads, and with one mistake gives that mistake, located', () => {
    let aliases = 0;
    const text = readFileSync(DEMO_CONFIG, 'utf8').replace(/position: \{ lat: [\d.]+, lon: [\d.]+ \}/g, () =>
      aliases++ === 0 ? 'position: &pos { lat: 49.1193, lon: 6.1817 }' : 'position: *pos',
    );
    expect(aliases).toBeGreaterThan(1000);
    expect(parseConfig(text, 'demo.yaml', { env: {} }).zones.length).toBeGreaterThan(0);

    const typo = variant('device: metz-sc-01, channel: 1,', 'device: metz-sc-1, channel: 1,', text);
    const issue = theIssue(typo);
    expect(issue).toMatchObject({ path: 'zones[0].luminaires[0].device', line: lineOf(typo, 'metz-sc-1,') });
    expect(issue.message).toMatch(/^unknown device 'metz-sc-1'/);
  });

  it.each([
    ['one anchor', `[1]\nrefs: [${Array(50_000).fill('*a').join(', ')}]`],
    [
      '50,000 anchors',
      `[1]\nrefs: [${Array.from({ length: 50_000 }, (_, i) => `&a${i} ${i}, *a${i}`).join(', ')}]`,
    ],
  ])(
    '50,000 aliases (to %s): the real error, located, without the quadratic alias resolution',
    (_to, anchor) => {
      const text = variant('communes:\n', `anchor: &a ${anchor}\ncommunes:\n`);
      const started = Date.now();
      const issue = theIssue(text);
      // Linear work takes a second or two; the quadratic resolution took minutes. Generous for slow machines.
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(issue).toMatchObject({ path: '', line: lineOf(text, 'anchor: &a') });
      expect(issue.message).toMatch(/^unknown field 'anchor', 'refs'/);
    },
  );

  it('a billion laughs is refused where the expansion crosses the bound', () => {
    const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (const [prev, name] of ['ab', 'bc', 'cd', 'de', 'ef', 'fg', 'gh', 'hi']) {
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const issue = theIssue(`${levels.join('\n')}\n`);
    expect(issue.message).toBe(
      `more than ${MAX_NODES.toLocaleString('en')} keys and values once aliases are expanded`,
    );
    expect(issue.line).toBeGreaterThan(1);
    expect(issue.path).toMatch(/^[b-i](\[\d\])+$/);
  });

  it('an alias of an anchor not defined before it is located', () => {
    const text = variant('  name: Test site\n', '  name: *nothing\n');
    expect(theIssue(text)).toMatchObject({
      line: lineOf(text, '*nothing'),
      message: 'YAML: unidentified alias "nothing"',
    });
  });

  it.each([
    ['in a list', '  name: Test site\n', '  name: Test site\n  self: &loop [ *loop ]\n', 'site.self[0]'],
    ['in a mapping', 'site:\n', 'site: &loop\n  me: *loop\n', 'site.me'],
  ])('an alias inside its own anchor (%s) is located', (_where, from, to, issuePath) => {
    const text = variant(from, to);
    const issue = theIssue(text);
    expect(issue).toMatchObject({ path: issuePath, line: lineOf(text, '*loop') });
    expect(issue.message).toMatch(/^recursive alias/);
  });
});

describe('size and nesting', () => {
  it.each([
    ['flow lists', variant('communes:\n', `deep: ${nested(2000)}\ncommunes:\n`), 'deep: ['],
    [
      'block mappings',
      variant(
        'communes:\n',
        `deep:\n${Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i + 1)}k${i}:\n`).join('')}communes:\n`,
      ),
      `${' '.repeat(MAX_DEPTH - 1)}k${MAX_DEPTH - 2}:`,
    ],
    // 40 levels named, 30 around their alias: each under the bound as written, beyond it expanded.
    ['aliases', variant('communes:\n', `a: &a ${nested(40)}\nc: ${nested(30, '*a')}\ncommunes:\n`), 'c: ['],
  ])('deep nesting (%s) is refused where it passes the bound', (_kind, text, line) => {
    expect(theIssue(text)).toMatchObject({
      line: lineOf(text, line),
      message: `nesting deeper than ${MAX_DEPTH} levels`,
    });
  });

  it('a syntax error before 2,000 levels of nesting is given, located (the describing parser stops at the bound)', () => {
    const text = `${variant('    port: 15020\n', '    port: 15020: 1\n')}deep: ${nested(2000)}\n`;
    const issue = theIssue(text);
    expect(issue.line).toBe(lineOf(text, 'port: 15020: 1'));
    expect(issue.message).toMatch(/^YAML: /);
  });

  it('a 50 MB string is refused by the file size, without parsing', () => {
    const text = variant('  name: Test site\n', `  name: "${'x'.repeat(50_000_000)}"\n`);
    expect(theIssue(text)).toEqual({
      file: 'site.yaml',
      line: 1,
      column: 1,
      path: '',
      message: `file of 50.0 MB: a configuration has at most ${MAX_FILE_BYTES / 1e6} MB`,
    });
  });

  it('a file too large is refused before it is read', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nocturne-limits-'));
    try {
      const file = path.join(dir, 'site.yaml');
      writeFileSync(file, SMALL);
      truncateSync(file, MAX_FILE_BYTES + 1); // sparse: no disk space, and never read
      expect(() => loadConfig(file, { env: {} })).toThrow(/site\.yaml:1:1 \(root\): file of 32\.0 MB/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['value', `  name: ${'x'.repeat(MAX_STRING_CHARS + 1)}\n`, 'site.name', /^string of 65,537 characters/],
    // YAML takes a key over 1,024 characters only as an explicit key ('? key').
    [
      'key',
      `  name: Test site\n  ? ${'x'.repeat(MAX_STRING_CHARS + 1)}\n  : 1\n`,
      'site',
      /^key of 65,537 characters/,
    ],
  ])('a %s longer than the bound is located', (_what, site, issuePath, message) => {
    const text = variant('  name: Test site\n', site);
    const issue = theIssue(text);
    expect(issue).toMatchObject({ path: issuePath, line: lineOf(text, 'xxx') });
    expect(issue.message).toMatch(message);
  });

  it('a file of more keys and values than the bound is refused where it crosses it', () => {
    // The real bound takes seconds to reach; the count and its location are the same at any bound.
    const adjustable: { MAX_NODES: number } = limits;
    const bound = jest.replaceProperty(adjustable, 'MAX_NODES', 1000);
    try {
      const issue = theIssue(`version: 1\nlist: [${'0, '.repeat(1000)}]\n`);
      expect(issue.line).toBe(2);
      expect(issue.message).toMatch(/^more than [\d,]+ keys and values$/);
    } finally {
      bound.restore();
    }
  });

  it('errors past the first thousand are counted, not listed', () => {
    const text = variant('communes:\n', `tariffs: [${'1, '.repeat(5000)}]\ncommunes:\n`);
    const issues = issuesOf(text);
    expect(issues).toHaveLength(1001);
    expect(issues[1000]).toMatchObject({ line: 0, message: '4,000 more errors not listed: fix these first' });
  });
});
