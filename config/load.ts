import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { crossCheck } from './crossChecks';
import { resolveProfiles } from './profiles';
import { expandSensors } from './sensors';
import { lenientView } from './lenientView';
import { describeIssue } from './describeIssue';
import { ConfigError, SourceLocator, formatPath, type ConfigIssue, type ConfigPath } from './issues';
import { LIMIT_MESSAGES, MAX_FILE_BYTES, exceededLimit, type PathIssue } from './limits';
import { ConfigSchema, type Config } from './schema';
import { secretSources } from './secrets';
import { parseLocatable, readYaml, type LocatableDocument, type YamlError } from './yamlReaders';

export { DEMO_CONFIG } from './paths';

/** Sections whose scalar fields can be overridden by NOCTURNE_<SECTION>_<FIELD> (secrets, per-host ports). */
const ENV_SECTIONS = ['site', 'service', 'http', 'mqtt', 'influx'] as const;

/**
 * yaml describes syntax errors more clearly than js-yaml, and all of them, but a broken file costs it up
 * to 1 KB of memory per byte (a file of ':' lines, each a duplicate key). Beyond this size (the demo
 * territory is 170 KB), js-yaml's first error is given alone.
 */
const DESCRIBED_SYNTAX_CHARS = 256 * 1024;

/** A thousand errors say what is wrong; millions (one per entry of a huge list) would only cost memory. */
const MAX_LISTED_ISSUES = 1000;

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

/** Reads, validates and cross-checks a configuration file; throws ConfigError listing every problem. */
export function loadConfig(file: string, options: LoadOptions = {}): Config {
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) {
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: 'file not found' }]);
  }
  const stats = statSync(resolved);
  if (!stats.isFile()) {
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: 'not a file' }]);
  }
  // Checked before reading: the file is not loaded into memory to be refused.
  if (stats.size > MAX_FILE_BYTES) throw new ConfigError([tooLarge(file, stats.size)]);
  return parseConfig(readFileSync(resolved, 'utf8'), file, options);
}

/**
 * The common case, a valid file, is read without source positions: js-yaml builds plain objects
 * directly, where a position-keeping parse of a 100,000-luminaire territory takes seconds and a
 * gigabyte. When anything is wrong, the file is parsed again with positions to say where.
 */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_FILE_BYTES) throw new ConfigError([tooLarge(file, bytes)]);
  const read = readYaml(text);
  if ('error' in read) throw new ConfigError(syntaxIssues(text, file, read.error));
  const checked = check(read.data, file, env);
  if ('config' in checked) return detachedFromSource(checked.config);
  throw new ConfigError(locate(text, file, checked.issues));
}

function tooLarge(file: string, bytes: number): ConfigIssue {
  return { file, line: 1, column: 1, path: '', message: LIMIT_MESSAGES.fileSize(bytes) };
}

/** Everything wrong with the data, by path: the bounds first, then the schema and the cross-checks. */
function check(
  raw: unknown,
  file: string,
  env: NodeJS.ProcessEnv,
): { config: Config } | { issues: IssueList } {
  const issues = new IssueList();
  // Nothing walks data beyond the bounds: the schema would expand every alias.
  const excess = exceededLimit(raw);
  if (excess) {
    issues.add(excess);
    return { issues };
  }
  const setByEnv = applyEnvOverrides(raw, env, (issue) => issues.add(issue));
  const add = (issue: PathIssue): void => issues.add(namingEnvSource(issue, setByEnv));
  const result = ConfigSchema.safeParse(raw);
  if (result.success) {
    const withProfiles = resolveProfiles(result.data);
    const expanded = expandSensors(withProfiles);
    crossCheck(withProfiles, (p, message) => add({ path: p, message }), expanded);
    missingSecrets(result.data, file, env).forEach(add);
    if (issues.listed.length === 0) return { config: expanded };
  } else {
    const schemaIssues = result.error.issues;
    for (const issue of schemaIssues.slice(0, MAX_LISTED_ISSUES)) {
      const atKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
      add({ path: issue.path as ConfigPath, message: describeIssue(issue, ConfigSchema, raw), atKey });
    }
    issues.unlisted += Math.max(0, schemaIssues.length - MAX_LISTED_ISSUES);
    crossCheckLeniently(raw, (p, message) => add({ path: p, message }));
  }
  return { issues };
}

/** One issue per place and message (a schema error and a cross-check can see the same broken field), up to a bound. */
class IssueList {
  readonly listed: PathIssue[] = [];
  unlisted = 0;
  private readonly seen = new Set<string>();

  add(issue: PathIssue): void {
    const key = `${formatPath(issue.path)}\u0000${issue.message}`;
    if (this.seen.has(key)) return;
    if (this.listed.length === MAX_LISTED_ISSUES) {
      this.unlisted++;
      return;
    }
    this.seen.add(key);
    this.listed.push(issue);
  }
}

/**
 * The parser's strings are slices of the file's text, which they keep alive, twice its size when it
 * holds accents: 29 MB for a 100,000-luminaire territory, for as long as the service runs. A JSON round
 * trip gives every string its own storage (the configuration is plain data).
 */
function detachedFromSource(config: Config): Config {
  return JSON.parse(JSON.stringify(config)) as Config;
}

/** Positions come from yaml, which keeps them; it parses the file only when something is wrong. */
function locate(text: string, file: string, issues: IssueList): ConfigIssue[] {
  const located = parseLocatable(text);
  if (!('doc' in located)) return [issueAt(file, located)];
  // yaml refuses a few things js-yaml reads; those come first, as nothing else can be trusted.
  if (located.doc.errors.length > 0) return yamlErrors(file, located);
  const locator = new SourceLocator(file, located.doc, located.lines);
  const listed = issues.listed.map((issue) => locator.issue(issue.path, issue.message, issue));
  return withUnlisted(sortIssues(listed), file, issues.unlisted);
}

/** js-yaml stops at the first mistake; yaml lists every one, in clearer words, on files of reasonable size. */
function syntaxIssues(text: string, file: string, first: YamlError): ConfigIssue[] {
  if (!first.bound && text.length <= DESCRIBED_SYNTAX_CHARS) {
    const located = parseLocatable(text);
    if ('doc' in located && located.doc.errors.length > 0) return yamlErrors(file, located);
  }
  return [issueAt(file, first)];
}

function yamlErrors(file: string, { doc, lines }: LocatableDocument): ConfigIssue[] {
  const inOrder = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0]);
  const listed = inOrder.slice(0, MAX_LISTED_ISSUES).map((error) => {
    const { line, col } = lines.linePos(error.pos[0]);
    return { file, line, column: col, path: '', message: `YAML: ${error.message.split('\n')[0]}` };
  });
  return withUnlisted(listed, file, doc.errors.length - listed.length);
}

function withUnlisted(listed: ConfigIssue[], file: string, unlisted: number): ConfigIssue[] {
  if (unlisted === 0) return listed;
  const message = `${unlisted.toLocaleString('en')} more errors not listed: fix these first`;
  return [...listed, { file, line: 0, column: 0, path: '', message }];
}

function issueAt(file: string, { line, column, message, bound }: YamlError): ConfigIssue {
  return { file, line, column, path: '', message: bound ? message : `YAML: ${message}` };
}

function missingSecrets(config: Config, file: string, env: NodeJS.ProcessEnv): PathIssue[] {
  const missing: PathIssue[] = [];
  for (const { path: secretPath, ref } of secretSources(config)) {
    if ('env' in ref && env[ref.env] === undefined) {
      missing.push({ path: secretPath, message: `environment variable ${ref.env} is not set` });
    } else if ('file' in ref && !existsSync(path.resolve(path.dirname(file), ref.file))) {
      missing.push({ path: secretPath, message: `secret file '${ref.file}' does not exist` });
    }
  }
  return missing;
}

/** Applies NOCTURNE_<SECTION>_<FIELD> variables; returns the variable that set each path ('http.host'). */
function applyEnvOverrides(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  report: (issue: PathIssue) => void,
): Map<string, string> {
  const setBy = new Map<string, string>();
  if (raw === null || typeof raw !== 'object') return setBy;
  const root = raw as Record<string, unknown>;
  for (const [name, value] of Object.entries(env)) {
    const match = /^NOCTURNE_([A-Z]+)_([A-Z0-9_]+)$/.exec(name);
    if (!match || value === undefined) continue;
    const section = match[1].toLowerCase();
    if (!(ENV_SECTIONS as readonly string[]).includes(section)) continue;
    const key = match[2].toLowerCase();
    const target = (root[section] ??= {});
    if (typeof target !== 'object' || target === null) {
      report({ path: [section], message: `is not a mapping, so ${name} cannot set '${key}' in it` });
      continue;
    }
    (target as Record<string, unknown>)[key] = parseScalar(value);
    setBy.set(formatPath([section, key]), name);
  }
  return setBy;
}

/** Environment values are strings; '8080' and 'true' mean what they look like. */
function parseScalar(value: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}

/** The file's line is where the field would be, but the value came from the environment: say so. */
function namingEnvSource(issue: PathIssue, setByEnv: Map<string, string>): PathIssue {
  const name = setByEnv.get(formatPath(issue.path));
  return name === undefined ? issue : { ...issue, message: `${issue.message} (set by ${name})` };
}

/** Cross-references of data that failed the schema: best effort, never hiding the schema errors. */
function crossCheckLeniently(raw: unknown, report: (p: ConfigPath, message: string) => void): void {
  try {
    crossCheck(lenientView(raw), report);
  } catch {
    // Shapes too broken to follow; the schema errors already say what to fix first.
  }
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.column - b.column);
}
