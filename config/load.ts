import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import { LineCounter, parseDocument } from 'yaml';
import { crossCheck } from './crossChecks';
import { lenientView } from './lenientView';
import { describeIssue } from './describeIssue';
import { ConfigError, SourceLocator, type ConfigIssue, type ConfigPath } from './issues';
import { ConfigSchema, type Config } from './schema';
import { secretSources } from './secrets';

export { DEMO_CONFIG } from './paths';

/** Sections whose scalar fields can be overridden by NOCTURNE_<SECTION>_<FIELD> (secrets, per-host ports). */
const ENV_SECTIONS = ['site', 'service', 'http', 'mqtt', 'influx'] as const;

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

/** Reads, validates and cross-checks a configuration file; throws ConfigError listing every problem. */
export function loadConfig(file: string, options: LoadOptions = {}): Config {
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) {
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: 'file not found' }]);
  }
  return parseConfig(readFileSync(resolved, 'utf8'), file, options);
}

export function parseConfig(text: string, file: string, options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  return parseValid(text, file, env) ?? parseLocated(text, file, env);
}

/**
 * The common case, a valid file, without source positions: js-yaml builds plain objects directly,
 * where a position-keeping parse of a 100,000-luminaire territory takes seconds and a gigabyte.
 * Anything wrong returns undefined, and the file is parsed again with positions to say where.
 */
function parseValid(text: string, file: string, env: NodeJS.ProcessEnv): Config | undefined {
  let raw: unknown;
  try {
    // The core schema is YAML 1.2's, as the located parser reads it: '08:00' and '2025-02-01' stay strings.
    raw = loadYaml(text, { schema: CORE_SCHEMA });
  } catch {
    return undefined;
  }
  const envIssues: ConfigIssue[] = [];
  applyEnvOverrides(raw, env, file, envIssues);
  const result = ConfigSchema.safeParse(raw);
  if (envIssues.length > 0 || !result.success) return undefined;
  let problems = 0;
  crossCheck(result.data, () => problems++);
  if (problems > 0 || missingSecrets(result.data, file, env).length > 0) return undefined;
  return detachedFromSource(result.data);
}

/**
 * The parser's strings are slices of the file's text, which they keep alive, twice its size when it
 * holds accents: 29 MB for a 100,000-luminaire territory, for as long as the service runs. A JSON round
 * trip gives every string its own storage (the configuration is plain data).
 */
function detachedFromSource(config: Config): Config {
  return JSON.parse(JSON.stringify(config)) as Config;
}

function parseLocated(text: string, file: string, env: NodeJS.ProcessEnv): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locator = new SourceLocator(file, doc, lineCounter);
  const issues: ConfigIssue[] = [];

  for (const error of doc.errors) {
    const pos = lineCounter.linePos(error.pos[0]);
    issues.push({
      file,
      line: pos.line,
      column: pos.col,
      path: '',
      message: `YAML: ${error.message.split('\n')[0]}`,
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const raw: unknown = doc.toJS({ maxAliasCount: 1000 });
  applyEnvOverrides(raw, env, file, issues);

  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const issuePath = issue.path as ConfigPath;
      const atKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
      issues.push(locator.issue(issuePath, describeIssue(issue, ConfigSchema, raw), { atKey }));
    }
    crossCheckLeniently(raw, (p, message) => issues.push(locator.issue(p, message)));
    throw new ConfigError(sortIssues(dedupe(issues)));
  }

  const config = result.data;
  crossCheck(config, (p, message) => issues.push(locator.issue(p, message)));
  for (const { path: secretPath, message } of missingSecrets(config, file, env)) {
    issues.push(locator.issue(secretPath, message));
  }
  if (issues.length > 0) throw new ConfigError(sortIssues(issues));
  return config;
}

function missingSecrets(
  config: Config,
  file: string,
  env: NodeJS.ProcessEnv,
): { path: ConfigPath; message: string }[] {
  const missing: { path: ConfigPath; message: string }[] = [];
  for (const { path: secretPath, ref } of secretSources(config)) {
    if ('env' in ref && env[ref.env] === undefined) {
      missing.push({ path: secretPath, message: `environment variable ${ref.env} is not set` });
    } else if ('file' in ref && !existsSync(path.resolve(path.dirname(file), ref.file))) {
      missing.push({ path: secretPath, message: `secret file '${ref.file}' does not exist` });
    }
  }
  return missing;
}

function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv, file: string, issues: ConfigIssue[]): void {
  if (raw === null || typeof raw !== 'object') return;
  const root = raw as Record<string, unknown>;
  for (const [name, value] of Object.entries(env)) {
    const match = /^NOCTURNE_([A-Z]+)_([A-Z0-9_]+)$/.exec(name);
    if (!match || value === undefined) continue;
    const section = match[1].toLowerCase();
    if (!(ENV_SECTIONS as readonly string[]).includes(section)) continue;
    const key = match[2].toLowerCase();
    const target = (root[section] ??= {});
    if (typeof target !== 'object' || target === null) {
      issues.push({
        file: `${file} (env ${name})`,
        line: 0,
        column: 0,
        path: section,
        message: 'is not a mapping',
      });
      continue;
    }
    (target as Record<string, unknown>)[key] = parseScalar(value);
  }
}

/** Environment values are strings; '8080' and 'true' mean what they look like. */
function parseScalar(value: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}

/** Cross-references of data that failed the schema: best effort, never hiding the schema errors. */
function crossCheckLeniently(raw: unknown, report: (p: ConfigPath, message: string) => void): void {
  try {
    crossCheck(lenientView(raw), report);
  } catch {
    // Shapes too broken to follow; the schema errors already say what to fix first.
  }
}

/** One message per place: a schema error and a cross-check can both see the same broken field. */
function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.column - b.column);
}
