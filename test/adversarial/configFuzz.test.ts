import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEMO_CONFIG, PROJECT_ROOT } from '../../config/paths';
import { Random, seeded } from './random';

/**
 * Issue #11, finding 5: every configuration file is answered — loaded, or refused with a ConfigError whose
 * issues are located (the file given, a line ≥ 1 within the file when the file has content, a message) —
 * never another exception, in bounded time and memory. Thrown at it: seeded mutations of the demo file,
 * YAML alias bombs, undefined and recursive aliases, nesting 2,000 and 100,000 levels deep, huge strings,
 * keys and files, tags that would run code elsewhere, and the common case of many aliases to one anchor
 * with a single typo.
 *
 * Each file is read by `loadConfig` (what `nocturne validate` and `start` call) in a worker thread, so
 * that a case which hangs or exhausts memory fails that case instead of the whole run: the worker is
 * stopped after CASE_TIMEOUT_MS and its old generation is capped at HEAP_LIMIT_MB. The worker runs
 * dist/, which jest's global setup rebuilds from the sources before the run (test/helpers/globalSetup.ts).
 *
 * Reloading a running service with a bad file (SIGHUP) is covered by test/integration/cli/reload.test.ts.
 */

/** The demo loads in ~0.2 s and a located error takes ~1 s; minutes is what the quadratic alias resolution took. */
const CASE_TIMEOUT_MS = 15_000;
/** The demo territory needs ~60 MB to load and locate; a billion laughs expanded would need gigabytes. */
const HEAP_LIMIT_MB = 768;
/** A message says what is wrong; one that echoes a huge value back is the bug, not the answer. */
const MESSAGE_MAX_CHARS = 2_000;
const MUTATIONS = 36;
/** The whole run: a few cases at their time bound fit; a regression making every case slow fails fast. */
const RUN_BUDGET_MS = 120_000;

const DEMO = readFileSync(DEMO_CONFIG, 'utf8');

type Outcome =
  | { kind: 'loaded' }
  | { kind: 'config-error'; count: number; issues: ReportedIssue[] }
  | { kind: 'other'; name: string; message: string; stack: string }
  | { kind: 'timeout' }
  | { kind: 'crashed'; message: string };

interface ReportedIssue {
  file: unknown;
  line: unknown;
  column: unknown;
  path: unknown;
  message: string;
  messageLength: number;
}

/** Reads files with loadConfig in a worker, one at a time; a worker that hangs or dies is replaced. */
class Reader {
  private worker?: Worker;
  private serial = 0;

  async read(file: string): Promise<{ outcome: Outcome; ms: number }> {
    const worker = (this.worker ??= this.spawn());
    const id = ++this.serial;
    const started = Date.now();
    const outcome = await new Promise<Outcome>((resolve) => {
      const done = (result: Outcome): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        resolve(result);
      };
      const onMessage = (message: { id: number; outcome: Outcome }): void => {
        if (message.id === id) done(message.outcome);
      };
      const onError = (error: Error): void => done({ kind: 'crashed', message: error.message });
      const onExit = (code: number): void => done({ kind: 'crashed', message: `worker exited with ${code}` });
      const timer = setTimeout(() => done({ kind: 'timeout' }), CASE_TIMEOUT_MS);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ id, file });
    });
    const ms = Date.now() - started;
    if (outcome.kind === 'timeout' || outcome.kind === 'crashed') await this.close();
    return { outcome, ms };
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private spawn(): Worker {
    return new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        load: path.join(PROJECT_ROOT, 'dist', 'config', 'load.js'),
        issues: path.join(PROJECT_ROOT, 'dist', 'config', 'issues.js'),
        messageMax: MESSAGE_MAX_CHARS,
      },
      resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB },
      stdout: true,
      stderr: true,
    });
  }
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { loadConfig } = require(workerData.load);
const { ConfigError } = require(workerData.issues);
const cut = (text, max) => (typeof text === 'string' && text.length > max ? text.slice(0, max) + '…' : text);
parentPort.on('message', ({ id, file }) => {
  let outcome;
  try {
    loadConfig(file, { env: {} });
    outcome = { kind: 'loaded' };
  } catch (error) {
    if (error instanceof ConfigError) {
      outcome = {
        kind: 'config-error',
        count: error.issues.length,
        issues: error.issues.slice(0, 1001).map((i) => ({
          file: i.file, line: i.line, column: i.column, path: cut(i.path, 200),
          message: cut(String(i.message), workerData.messageMax + 1), messageLength: String(i.message).length,
        })),
      };
    } else {
      outcome = {
        kind: 'other',
        name: String(error && error.name),
        message: cut(String(error && error.message), 500),
        stack: cut(String(error && error.stack), 1500),
      };
    }
  }
  parentPort.postMessage({ id, outcome });
});
`;

interface Case {
  name: string;
  text: string | Buffer;
  /** Must be refused (a ConfigError), not loaded. */
  invalid?: boolean;
  /** Must load. */
  valid?: boolean;
  /** The line the (first) issue must be on. */
  line?: number;
}

type Aspect = 'answered' | 'located' | 'echo';

/** What is wrong with an outcome, by aspect: answered at all (in time and memory), located, echo bounded. */
function judge(
  c: Case,
  file: string,
  content: Buffer,
  outcome: Outcome,
  ms: number,
): Record<Aspect, string[]> {
  const found: Record<Aspect, string[]> = { answered: [], located: [], echo: [] };
  if (ms > CASE_TIMEOUT_MS) found.answered.push(`took ${ms} ms (bound ${CASE_TIMEOUT_MS} ms)`);
  switch (outcome.kind) {
    case 'loaded':
      if (c.invalid) found.answered.push('loaded, but the file is invalid');
      return found;
    case 'timeout':
      found.answered.push(`no answer within ${CASE_TIMEOUT_MS} ms`);
      return found;
    case 'crashed':
      found.answered.push(`the reader died (memory bound ${HEAP_LIMIT_MB} MB?): ${outcome.message}`);
      return found;
    case 'other':
      found.answered.push(`threw ${outcome.name}, not a ConfigError: ${outcome.message}\n${outcome.stack}`);
      return found;
    case 'config-error':
      break;
  }
  if (c.valid)
    found.answered.push(`refused, but the file is valid: ${JSON.stringify(outcome.issues.slice(0, 3))}`);
  if (outcome.issues.length === 0) found.located.push('a ConfigError without issues');
  const lines = content.toString('utf8').split(/\r\n|\r|\n/).length;
  outcome.issues.forEach((issue, i) => {
    const where = `issue ${i + 1}/${outcome.count} ${JSON.stringify({ ...issue, file: undefined, message: issue.message.slice(0, 100) })}`;
    // The summary of issues beyond the listed thousand is the one issue without a place.
    const summary = i === outcome.issues.length - 1 && /more errors not listed/.test(issue.message);
    if (issue.file !== file) found.located.push(`${where}: names file ${String(issue.file)}`);
    if (typeof issue.message !== 'string' || issue.message.trim() === '')
      found.located.push(`${where}: no message`);
    if (typeof issue.line !== 'number' || !Number.isInteger(issue.line))
      found.located.push(`${where}: no line`);
    else if (content.length > 0 && !summary && (issue.line < 1 || issue.line > lines + 1))
      found.located.push(`${where}: line ${issue.line} is not in the file (1-${lines})`);
    const echo = [
      ...(issue.messageLength > MESSAGE_MAX_CHARS ? [`a message of ${issue.messageLength} characters`] : []),
      ...(CONTROL.test(issue.message) ? ['control characters in the message'] : []),
    ];
    if (echo.length > 0) found.echo.push(`${where}: ${echo.join(', ')}`);
  });
  if (c.line !== undefined && outcome.issues[0]?.line !== c.line)
    found.located.push(
      `the first issue is on line ${String(outcome.issues[0]?.line)}, the mistake on line ${c.line}`,
    );
  return found;
}

/** What a terminal or a log line must not receive raw: C0 and C1 controls (escape sequences, newlines). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const lineOf = (text: string, needle: string): number => {
  const index = text.split('\n').findIndex((l) => l.includes(needle));
  if (index < 0) throw new Error(`no '${needle}' in the text`);
  return index + 1;
};

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`no '${from}' in the demo`);
  return text.replace(from, to);
}

// ---- the demo with every position an alias of the first ----

function aliasedDemo(): { text: string; aliases: number } {
  let aliases = 0;
  const text = DEMO.replace(/position: \{ lat: [\d.]+, lon: [\d.]+ \}/g, (match) =>
    aliases++ === 0 ? match.replace('position: ', 'position: &pos ') : 'position: *pos',
  );
  return { text, aliases };
}

function handmadeCases(): Case[] {
  const { text: aliased, aliases } = aliasedDemo();
  if (aliases < 1000) throw new Error(`the demo has only ${aliases} positions`);
  const laughs = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (const [prev, name] of ['ab', 'bc', 'cd', 'de', 'ef', 'fg', 'gh', 'hi'])
    laughs.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
  const bomb = `${laughs.join('\n')}\n`;
  const typoWrongType = replaceOnce(aliased, 'power_w: 35,', 'power_w: "35 W",');
  const typoKey = replaceOnce(aliased, 'channel: 7,', 'chanel: 7,');
  const blockNesting = (levels: number): string =>
    Array.from({ length: levels }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`).join('\n') + ' end\n';
  const hugeString = 'x'.repeat(10_000_000);
  const manyAliases = `${aliased}presence_sensor:\n${'  - *pos\n'.repeat(50_000)}`;
  return [
    { name: 'the demo as it is', text: DEMO, valid: true },
    { name: `the demo with its ${aliases} positions as aliases of one anchor`, text: aliased, valid: true },
    {
      name: `${aliases} aliases to one anchor and one value of the wrong type`,
      text: typoWrongType,
      invalid: true,
      line: lineOf(typoWrongType, '"35 W"'),
    },
    {
      name: `${aliases} aliases to one anchor and one misspelt key`,
      text: typoKey,
      invalid: true,
      line: lineOf(typoKey, 'chanel: 7,'),
    },
    {
      name: '50,000 aliases to one anchor under a misspelt key',
      text: manyAliases,
      invalid: true,
      line: lineOf(manyAliases, 'presence_sensor:'),
    },
    {
      name: '50,000 aliases to one anchor in one flow list, one of them undefined',
      text: `${aliased}extra: [${Array(50_000).fill('*pos').join(', ')}, *po]\n`,
      invalid: true,
    },
    { name: 'a billion laughs, alone', text: `version: 1\n${bomb}`, invalid: true },
    {
      name: 'a billion laughs in the demo, used as the site name',
      text: replaceOnce(DEMO, 'site:\n  name: ', `${bomb}site:\n  name: *i\n  old_name: `),
      invalid: true,
    },
    {
      name: 'a quadratic blowup: 5,000 aliases of a 5,000-item list',
      text: `version: 1\nbig: &big [${Array(5_000).fill('x').join(', ')}]\nrefs: [${Array(5_000).fill('*big').join(', ')}]\n`,
      invalid: true,
    },
    {
      name: 'an undefined alias in the demo',
      text: replaceOnce(DEMO, 'location: { lat: 49.1193, lon: 6.1757 }', 'location: *nowhere'),
      invalid: true,
      line: lineOf(DEMO, 'location: { lat: 49.1193, lon: 6.1757 }'),
    },
    {
      name: 'a recursive alias: a mapping holding itself',
      text: replaceOnce(DEMO, 'site:\n', 'site: &site\n  itself: *site\n'),
      invalid: true,
    },
    {
      name: 'a recursive alias: a list holding itself',
      text: 'version: 1\nloop: &l [1, *l]\n',
      invalid: true,
    },
    {
      name: 'a recursive alias through a merge key',
      text: replaceOnce(DEMO, 'http:\n', 'http: &h\n  <<: *h\n'),
      invalid: true,
    },
    {
      name: 'an alias used before its anchor',
      text: `version: 1\nsite: *later\nother: &later { name: x }\n`,
      invalid: true,
    },
    {
      name: 'nesting 2,000 levels of flow lists in the demo',
      text: replaceOnce(DEMO, 'site:\n', `site:\n  deep: ${'['.repeat(2_000)}${']'.repeat(2_000)}\n`),
      invalid: true,
      line: lineOf(DEMO, 'site:') + 1,
    },
    {
      name: 'nesting 2,000 levels of flow mappings',
      text: `version: 1\nsite: ${'{a: '.repeat(2_000)}1${'}'.repeat(2_000)}\n`,
      invalid: true,
      line: 2,
    },
    {
      name: 'nesting 2,000 levels of block mappings',
      text: `version: 1\nsite:\n${blockNesting(2_000)}`,
      invalid: true,
    },
    {
      name: 'nesting 2,000 levels of block lists on one line',
      text: `version: 1\nzones: ${'- '.repeat(2_000)}x\n`,
      invalid: true,
    },
    {
      name: 'nesting 100,000 levels of unclosed flow lists',
      text: `version: 1\nsite: ${'['.repeat(100_000)}\n`,
      invalid: true,
      line: 2,
    },
    {
      name: 'a 10 MB site name',
      text: replaceOnce(DEMO, 'site:\n  name: ', `site:\n  name: ${hugeString}\n  old_name: `),
      invalid: true,
    },
    {
      name: 'a 10 MB quoted string where a number goes',
      text: replaceOnce(DEMO, 'port: 8080', `port: "${hugeString}"`),
      invalid: true,
    },
    { name: 'a 1 MB key', text: `version: 1\n${'k'.repeat(1_000_000)}: 1\n`, invalid: true },
    { name: 'a 40 MB file', text: `version: 1\n# ${'x'.repeat(40_000_000)}\n`, invalid: true, line: 1 },
    {
      name: '100,000 unknown keys',
      text: `version: 1\n${Array.from({ length: 100_000 }, (_, i) => `unknown_${i}: ${i}`).join('\n')}\n`,
      invalid: true,
    },
    {
      name: `every luminaire with a wrong power: ${aliases} errors, more than are listed`,
      text: DEMO.replace(/power_w: \d+,/g, 'power_w: lots,'),
      invalid: true,
    },
    {
      name: 'a 20,000-character id',
      text: replaceOnce(DEMO, 'id: metz\n', `id: ${'m'.repeat(20_000)}\n`),
      invalid: true,
    },
    {
      name: 'a terminal escape sequence in a quoted id',
      text: replaceOnce(DEMO, 'id: metz\n', 'id: "metz\\e[2J\\e]0;pwned\\a"\n'),
      invalid: true,
    },
    {
      name: 'control characters after a stray brace',
      text: 'version: 1\n} \u001b[2Jx\u0007 y\n',
      invalid: true,
    },
    { name: 'an empty file', text: '', invalid: true },
    { name: 'only a comment', text: '# nothing here\n', invalid: true },
    { name: 'only whitespace', text: '   \n\n\t\n', invalid: true },
    { name: 'a BOM and the demo', text: `\ufeff${DEMO}` },
    { name: 'the demo with CRLF line ends', text: DEMO.replace(/\n/g, '\r\n') },
    { name: 'the demo with CR line ends', text: DEMO.replace(/\n/g, '\r') },
    { name: 'the demo and a second document', text: `${DEMO}---\nversion: 1\n`, invalid: true },
    { name: 'a YAML 1.1 directive', text: `%YAML 1.1\n---\n${DEMO}` },
    {
      name: 'a JavaScript function tag',
      text: replaceOnce(DEMO, 'port: 8080', 'port: !!js/function "function () { return 8080 }"'),
      invalid: true,
    },
    {
      name: 'a Python object tag',
      text: replaceOnce(DEMO, 'port: 8080', "port: !!python/object/apply:os.system ['touch /tmp/pwned']"),
      invalid: true,
    },
    { name: 'a binary tag', text: replaceOnce(DEMO, 'port: 8080', 'port: !!binary aGVsbG8='), invalid: true },
    { name: 'a custom tag', text: replaceOnce(DEMO, 'port: 8080', 'port: !secret http_port'), invalid: true },
    {
      name: 'a complex key',
      text: replaceOnce(DEMO, 'http:\n', 'http:\n  ? [a, b]\n  : 1\n'),
      invalid: true,
    },
    {
      name: 'duplicate keys',
      text: replaceOnce(DEMO, 'port: 8080', 'port: 8080\n  port: 8081'),
      invalid: true,
    },
    {
      name: 'bytes that are not UTF-8 in a name',
      text: Buffer.concat([
        Buffer.from(DEMO.slice(0, DEMO.indexOf('name: Metz') + 8)),
        Buffer.from([0xff, 0xfe, 0xc0, 0xaf]),
        Buffer.from(DEMO.slice(DEMO.indexOf('name: Metz') + 8)),
      ]),
    },
    {
      name: 'NUL bytes in the demo',
      text: replaceOnce(DEMO, 'name: Metz', 'name: Me\u0000tz'),
      invalid: true,
    },
    { name: '64 KB of random bytes', text: Random.for('config:random-bytes').bytes(65_536), invalid: true },
    {
      name: 'a tab for indentation',
      text: replaceOnce(DEMO, '\n  port: 8080', '\n\tport: 8080'),
      invalid: true,
    },
  ];
}

// ---- seeded mutations ----

const SPECIALS = [
  ':',
  '-',
  '&',
  '*',
  '!',
  '"',
  "'",
  '{',
  '}',
  '[',
  ']',
  ',',
  '#',
  '|',
  '>',
  '%',
  '@',
  '`',
  '\t',
  '?',
  '\\',
  '\u0000',
  '\ufffd',
  '\u2028',
  'é',
  '💡',
  '\r',
];
const NUMBERS = [
  '-1',
  '0',
  '1e309',
  '99999999999999999999',
  '.nan',
  '.inf',
  '-0',
  '0x1F',
  '1_000',
  '08',
  '1:30',
  'null',
  '~',
  'true',
  'yes',
];
const SNIPPETS = [
  '*undefined_anchor',
  '&anchor',
  '<<: *anchor',
  '!!binary',
  '!!js/function "f"',
  '!!python/name:os.system',
  '? ',
  '---',
  '...',
  '%YAML 1.1',
  '\ufeff',
  '{',
  '[',
  '"',
  "'",
  '|',
  '>-',
  ': ',
  '- ',
  '&a [*a]',
];

type Mutation = (r: Random, lines: string[]) => string;

/**
 * The indexes of the lines a mutation can act on: none left after an earlier mutation of the same case
 * (the file truncated) makes that mutation a no-op.
 */
const linesMatching = (lines: readonly string[], pattern: RegExp): number[] =>
  lines.map((line, i) => (pattern.test(line) ? i : -1)).filter((i) => i >= 0);

const MUTATIONS_BY_NAME: Record<string, Mutation> = {
  'delete a line': (r, lines) => {
    lines.splice(r.int(0, lines.length - 1), 1);
    return '';
  },
  'duplicate a line': (r, lines) => {
    const i = r.int(0, lines.length - 1);
    lines.splice(i, 0, lines[i]);
    return '';
  },
  'swap two lines': (r, lines) => {
    const i = r.int(0, lines.length - 2);
    const j = r.chance(0.5) ? i + 1 : r.int(0, lines.length - 1);
    [lines[i], lines[j]] = [lines[j], lines[i]];
    return '';
  },
  'indent a line otherwise': (r, lines) => {
    const i = r.int(0, lines.length - 1);
    lines[i] = r.chance(0.5)
      ? `${r.pick([' ', '  ', '   ', '\t'])}${lines[i]}`
      : lines[i].replace(/^ {1,3}/, '');
    return '';
  },
  'replace a character': (r, lines) => {
    const i = r.int(0, lines.length - 1);
    const at = r.int(0, Math.max(0, lines[i].length - 1));
    lines[i] = `${lines[i].slice(0, at)}${r.pick(SPECIALS)}${lines[i].slice(at + 1)}`;
    return '';
  },
  'insert a YAML token': (r, lines) => {
    const i = r.int(0, lines.length - 1);
    const at = r.int(0, lines[i].length);
    lines[i] = `${lines[i].slice(0, at)}${r.pick(SNIPPETS)}${lines[i].slice(at)}`;
    return '';
  },
  'change a number': (r, lines) => {
    const candidates = linesMatching(lines, /\d/);
    if (candidates.length === 0) return '';
    const i = r.pick(candidates);
    const numbers = [...lines[i].matchAll(/-?\d+(\.\d+)?/g)];
    const m = r.pick(numbers);
    lines[i] = `${lines[i].slice(0, m.index)}${r.pick(NUMBERS)}${lines[i].slice(m.index + m[0].length)}`;
    return '';
  },
  'a huge value': (r, lines) => {
    const candidates = linesMatching(lines, /: \S/);
    if (candidates.length === 0) return '';
    const i = r.pick(candidates);
    lines[i] = lines[i].replace(/: (\S[^,}]*)/, `: ${'x'.repeat(r.int(1_000, 200_000))}`);
    return '';
  },
  'an id made a duplicate': (r, lines) => {
    const ids = linesMatching(lines, /\bid: [\w-]+/);
    if (ids.length === 0) return '';
    const [a, b] = [r.pick(ids), r.pick(ids)];
    const id = /\bid: ([\w-]+)/.exec(lines[b])![1];
    lines[a] = lines[a].replace(/\bid: [\w-]+/, `id: ${id}`);
    return '';
  },
  'a section made an alias of another': (r, lines) => {
    const sections = linesMatching(lines, /^[a-z_]+:\s*$/);
    if (sections.length === 0) return '';
    const [a, b] = [r.pick(sections), r.pick(sections)];
    if (a === b) return '';
    lines[a] = `${lines[a].trimEnd()} &s${a}`;
    lines[b] = `${lines[b].replace(/:\s*$/, '')}: *s${a}`;
    // The alias replaces the section's own content, which stays as an (invalid) indented block.
    return '';
  },
  'truncate the file': (r, lines) => {
    const keep = r.int(0, lines.length - 1);
    lines.length = keep;
    if (lines.length > 0)
      lines[lines.length - 1] = lines[lines.length - 1].slice(0, r.int(0, lines[lines.length - 1].length));
    return '';
  },
  'insert random bytes': (r, lines) => {
    const i = r.int(0, lines.length - 1);
    return `bytes@${i}:${r.bytes(r.int(1, 64)).toString('latin1')}`;
  },
};

function mutatedCases(): Case[] {
  const names = Object.keys(MUTATIONS_BY_NAME);
  const cases: Case[] = [];
  for (let n = 0; n < MUTATIONS; n++) {
    const r = Random.for(`config:mutation:${n}`);
    const lines = DEMO.split('\n');
    const applied: string[] = [];
    let bytes: { at: number; text: string } | undefined;
    for (let k = 0, count = r.int(1, 3); k < count; k++) {
      const name = r.pick(names);
      const extra = MUTATIONS_BY_NAME[name](r, lines);
      if (extra.startsWith('bytes@')) {
        const [where, ...rest] = extra.slice('bytes@'.length).split(':');
        bytes = { at: Number(where), text: rest.join(':') };
      }
      applied.push(name);
    }
    let text: string | Buffer = lines.join('\n');
    if (bytes && bytes.at < lines.length) {
      const before = lines.slice(0, bytes.at).join('\n');
      text = Buffer.concat([
        Buffer.from(before),
        Buffer.from(bytes.text, 'latin1'),
        Buffer.from(text.slice(before.length)),
      ]);
    }
    cases.push({ name: `mutation ${n}: ${applied.join(', ')}`, text });
  }
  return cases;
}

// ---- the run ----

let dir: string;
const reader = new Reader();

/** Every case's problems by aspect, filled once by beforeAll. */
const results: Record<Aspect, string[]> = { answered: [], located: [], echo: [] };

async function run(cases: Case[]): Promise<void> {
  const started = Date.now();
  for (const [index, c] of cases.entries()) {
    if (Date.now() - started > RUN_BUDGET_MS) {
      const left = cases.slice(index).map((x) => x.name);
      results.answered.push(
        `${left.length} cases not run: the ${RUN_BUDGET_MS / 1000} s budget was spent (${left.join('; ')})`,
      );
      return;
    }
    const file = path.join(dir, `case-${index}.yaml`);
    const content = typeof c.text === 'string' ? Buffer.from(c.text) : c.text;
    await writeFile(file, content);
    const { outcome, ms } = await reader.read(file);
    const found = judge(c, file, content, outcome, ms);
    for (const aspect of Object.keys(found) as Aspect[])
      if (found[aspect].length > 0) {
        const shown = found[aspect].slice(0, 3);
        if (found[aspect].length > 3) shown.push(`… and ${found[aspect].length - 3} more`);
        results[aspect].push(`${c.name} (${content.length} bytes, ${ms} ms):\n  ${shown.join('\n  ')}`);
      }
    await rm(file);
  }
}

beforeAll(
  async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nocturne-config-fuzz-'));
    await run([...handmadeCases(), ...mutatedCases()]);
  },
  RUN_BUDGET_MS + CASE_TIMEOUT_MS + 20_000,
);

afterAll(async () => {
  await reader.close();
  await rm(dir, { recursive: true, force: true });
});

it(`answers every hostile file and ${MUTATIONS} seeded mutations of the demo: loaded or a ConfigError, never another exception, within ${CASE_TIMEOUT_MS / 1000} s and ${HEAP_LIMIT_MB} MB each`, () =>
  seeded(() => {
    expect(results.answered).toEqual([]);
  }));

it('locates every issue: the file given, a line in the file, a message; a known mistake on its line', () =>
  seeded(() => {
    expect(results.located).toEqual([]);
  }));

it(`echoes no value whole: messages of at most ${MESSAGE_MAX_CHARS} characters, without control characters`, () =>
  seeded(() => {
    expect(results.echo).toEqual([]);
  }));
