import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import type { CommandProgress, CommandRecord } from '../lighting/runtime/lightingService';
import type { TargetSpec } from '../lighting/topology';
import type { ErrorBody } from './errors';
import type { EvaluationReport } from '../evaluation/report';
import { reportCsv, reportText } from '../evaluation/format';

/**
 * The API from scripts: a small fetch client and the `nocturne relight | clear | status` commands.
 * Exit codes (docs/api.md): 0 done, 1 refused or failed, 2 usage, 3 not confirmed in time,
 * 4 authentication or permission, 5 service unreachable or unavailable.
 */

export const EXIT = { ok: 0, failed: 1, usage: 2, unconfirmed: 3, denied: 4, unreachable: 5 } as const;

export interface ClientOptions {
  /** Base URL of the service, e.g. http://127.0.0.1:8080. */
  url: string;
  token: string;
  /** Per request; default 30 s (plus any confirmation wait asked for). */
  timeoutMs?: number;
}

/** An answer other than 2xx, with the API's error body. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody | undefined,
  ) {
    super(body ? `${status} ${body.error}: ${body.message}` : `HTTP ${status}`);
    this.name = 'ApiRequestError';
  }
}

/** The service could not be reached at all. */
export class UnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    super(`cannot reach ${url}: ${describeCause(cause)}`, { cause });
    this.name = 'UnreachableError';
  }
}

export interface RelightBody {
  id?: string;
  target: TargetSpec;
  level?: number;
  reason: string;
  expiresAt?: string;
  expiresInMin?: number;
}

export class NocturneClient {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: ClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  relight(body: RelightBody, waitMs = 0): Promise<{ record: CommandRecord; progress: CommandProgress }> {
    return this.request('POST', `/api/relights${waitMs > 0 ? `?waitMs=${waitMs}` : ''}`, body, waitMs);
  }

  clearRelight(id: string): Promise<CommandRecord> {
    return this.request('DELETE', `/api/relights/${encodeURIComponent(id)}`);
  }

  relights(): Promise<CommandRecord[]> {
    return this.request('GET', '/api/relights');
  }

  overrides(): Promise<CommandRecord[]> {
    return this.request('GET', '/api/overrides');
  }

  progress(id: string, waitMs = 0): Promise<CommandProgress> {
    return this.request(
      'GET',
      `/api/commands/${encodeURIComponent(id)}/progress${waitMs > 0 ? `?waitMs=${waitMs}` : ''}`,
      undefined,
      waitMs,
    );
  }

  communes(): Promise<{ id: string; name: string; zones: number; luminaires: number }[]> {
    return this.request('GET', '/api/communes');
  }

  zones(): Promise<{ id: string; commune: string; name?: string; luminaires: number }[]> {
    return this.request('GET', '/api/zones');
  }

  report(month: string, commune?: string): Promise<EvaluationReport> {
    const query = commune !== undefined ? `?commune=${encodeURIComponent(commune)}` : '';
    return this.request('GET', `/api/reports/${encodeURIComponent(month)}${query}`);
  }

  async request<T>(method: string, path: string, body?: unknown, extraMs = 0): Promise<T> {
    const response = await this.send(method, path, body, AbortSignal.timeout(this.timeoutMs + extraMs));
    const text = await response.text();
    const parsed = text === '' ? undefined : safeJson(text);
    if (!response.ok) throw new ApiRequestError(response.status, isErrorBody(parsed) ? parsed : undefined);
    return parsed as T;
  }

  /**
   * A GET whose body is read as a stream (exports): the timeout covers the wait for the answer's
   * headers only, since a year of data may take minutes to come.
   */
  async download(path: string): Promise<ReadableStream<Uint8Array>> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('no answer in time')), this.timeoutMs);
    let response: Response;
    try {
      response = await this.send('GET', path, undefined, abort.signal);
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok || !response.body) {
      const parsed = safeJson(await response.text());
      throw new ApiRequestError(response.status, isErrorBody(parsed) ? parsed : undefined);
    }
    return response.body;
  }

  private async send(method: string, path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.token}`,
          'x-nocturne-client': 'cli',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal,
      });
    } catch (error) {
      throw new UnreachableError(this.base, error);
    }
  }
}

// ---- argument parsing (pure, unit-tested) ----

/** '90s', '30min', '45m', '2h', '1d' → minutes (rounded up); undefined when it is not a duration. */
export function durationMinutes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  const factor = { s: 1 / 60, sec: 1 / 60, m: 1, min: 1, h: 60, d: 1440 }[
    match[2] as 's' | 'sec' | 'm' | 'min' | 'h' | 'd'
  ];
  return Math.max(1, Math.ceil(Number(match[1]) * factor));
}

/** --expires: a duration (server's clock) or an ISO 8601 time with its offset. */
export function parseExpiry(text: string): { expiresInMin: number } | { expiresAt: string } {
  const minutes = durationMinutes(text);
  if (minutes !== undefined) return { expiresInMin: minutes };
  if (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) &&
    !Number.isNaN(Date.parse(text))
  )
    return { expiresAt: text };
  throw new UsageError(
    `--expires: '${text}' is neither a duration (90s, 30min, 2h, 1d) nor an ISO time with offset (2025-07-14T23:30:00+02:00)`,
  );
}

/**
 * Targets as typed: `all`, `commune:<id>`, `zone:<id>`, `luminaire:<id>`…, or bare ids. A single bare id
 * is a commune or a zone when `known` has it, else bare ids are luminaires.
 */
export function parseTarget(
  words: readonly string[],
  known: { communes: ReadonlySet<string>; zones: ReadonlySet<string> },
): TargetSpec {
  if (words.length === 0)
    throw new UsageError('name what to relight: all, commune:<id>, zone:<id> or luminaire ids');
  if (words.length === 1) {
    const [word] = words;
    if (word === 'all') return { all: true };
    const [kind, id] = splitPrefixed(word);
    if (kind === 'commune') return { commune: id };
    if (kind === 'zone') return { zone: id };
    if (kind === undefined && known.communes.has(word)) return { commune: word };
    if (kind === undefined && known.zones.has(word)) return { zone: word };
  }
  const luminaires = words.map((word) => {
    const [kind, id] = splitPrefixed(word);
    if (kind !== undefined && kind !== 'luminaire')
      throw new UsageError(`'${word}': commune, zone and all are given alone; several ids are luminaires`);
    return id;
  });
  return { luminaires };
}

function splitPrefixed(word: string): [string | undefined, string] {
  const match = /^(all|commune|zone|luminaire):(.+)$/.exec(word);
  return match ? [match[1], match[2]] : [undefined, word];
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

// ---- commands ----

export interface ClientIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** One line typed (not echoed on a terminal) or piped in: a new password. */
  readSecret?: (prompt: string) => Promise<string>;
}

export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
} as const;

export const CLIENT_USAGE = `client commands (talk to a running service):
  relight <target…> --reason <text> [--level 100] [--expires 2h|ISO] [--id <id>] [--wait 10]
                      target: all | commune:<id> | zone:<id> | <commune or zone id> | luminaire ids…
  clear <id>          clear an emergency relight
  status [id]         relights and overrides in force with their confirmation, or one command's
  report <YYYY-MM> [--commune <id>] [--csv]
                      the monthly evaluation report (docs/evaluation.md) as a table, or as CSV for
                      a French spreadsheet (; and decimal comma, UTF-8 with BOM)
  user password <id> [--password-file <file>]   set a person's console password (typed, or piped in);
                      their sessions end
  user enrol <id>     a one-use link and QR code to sign a person's phone in (valid 15 minutes)
  user signout <id>   sign a person out everywhere: every session and unused enrolment link ends
  options: --url (default $NOCTURNE_URL or http://127.0.0.1:8080)
           --token-file <file> or $NOCTURNE_TOKEN (--token works too, but other users can read argv)
  exit codes: 0 done, 1 refused or failed, 2 usage, 3 not confirmed in time, 4 authentication or
              permission, 5 service unreachable or unavailable
`;

/** Runs relight, clear, status, report or user; resolves with the exit code. */
export async function runClientCommand(
  command: 'relight' | 'clear' | 'status' | 'report' | 'user',
  args: string[],
  io: ClientIo,
): Promise<number> {
  try {
    switch (command) {
      case 'relight':
        return await relightCommand(args, io);
      case 'clear':
        return await clearCommand(args, io);
      case 'status':
        return await statusCommand(args, io);
      case 'report':
        return await reportCommand(args, io);
      case 'user':
        return await userCommand(args, io);
    }
  } catch (error) {
    return reportFailure(error, io);
  }
}

async function relightCommand(args: string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      reason: { type: 'string' },
      level: { type: 'string', default: '100' },
      expires: { type: 'string' },
      id: { type: 'string' },
      wait: { type: 'string', default: '10' },
    },
  });
  if (!values.reason) throw new UsageError('--reason is required: say why (it goes to the audit log)');
  const level = Number(values.level);
  if (!Number.isFinite(level) || level < 0 || level > 100)
    throw new UsageError(`--level must be 0-100 (is '${values.level}')`);
  const waitS = Number(values.wait);
  if (!Number.isFinite(waitS) || waitS < 0 || waitS > 60)
    throw new UsageError(`--wait must be 0-60 seconds (is '${values.wait}')`);
  const client = connect(values, io);
  const target = await resolveTarget(positionals, client);
  const accepted = await client.relight(
    {
      target,
      level,
      reason: values.reason,
      ...(values.expires !== undefined ? parseExpiry(values.expires) : {}),
      ...(values.id !== undefined ? { id: values.id } : {}),
    },
    Math.round(waitS * 1000),
  );
  const { record, progress } = accepted;
  io.stdout(
    `relight ${record.id} accepted: ${describe(record)} at ${record.level} %, ${record.luminaires} luminaire(s)${record.expiresAt ? `, until ${new Date(record.expiresAt).toISOString()}` : ', until cleared'}\n`,
  );
  io.stdout(`${confirmation(progress)}\n`);
  return progress.done && progress.failed === 0 ? EXIT.ok : waitS > 0 ? EXIT.unconfirmed : EXIT.ok;
}

async function clearCommand(args: string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: CONNECTION_OPTIONS });
  if (positionals.length !== 1) throw new UsageError('clear takes one relight id (see nocturne status)');
  const record = await connect(values, io).clearRelight(positionals[0]);
  io.stdout(`relight ${record.id} cleared (${describe(record)}); the schedule applies again\n`);
  return EXIT.ok;
}

async function statusCommand(args: string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: CONNECTION_OPTIONS });
  const client = connect(values, io);
  if (positionals.length > 1) throw new UsageError('status takes at most one command id');
  if (positionals.length === 1) {
    const progress = await client.progress(positionals[0]);
    io.stdout(`${progress.slot} ${progress.id}: ${confirmation(progress)}\n`);
    for (const failure of progress.failures)
      io.stdout(`  ${failure.device}: ${failure.count} luminaire(s) not confirmed: ${failure.error}\n`);
    return progress.done && progress.failed === 0 ? EXIT.ok : EXIT.unconfirmed;
  }
  const commands = [...(await client.relights()), ...(await client.overrides())];
  if (commands.length === 0) {
    io.stdout('no emergency relight and no override in force\n');
    return EXIT.ok;
  }
  for (const record of commands) {
    const progress = await client.progress(record.id).catch(() => undefined);
    io.stdout(
      `${record.slot === 'emergency' ? 'RELIGHT ' : 'OVERRIDE'} ${record.id}  ${describe(record)}  ${record.level} %  ${record.luminaires} luminaire(s)  by ${record.actor} since ${new Date(record.start).toISOString()}${record.pending ? ' (pending)' : ''}  ${progress ? confirmation(progress) : 'confirmation unknown'}\n`,
    );
  }
  return EXIT.ok;
}

async function reportCommand(args: string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...CONNECTION_OPTIONS, commune: { type: 'string' }, csv: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1 || !/^\d{4}-(0[1-9]|1[0-2])$/.test(positionals[0]))
    throw new UsageError('report takes one month, as YYYY-MM (e.g. nocturne report 2026-11)');
  const report = await connect(values, io).report(positionals[0], values.commune);
  io.stdout(values.csv ? reportCsv(report) : reportText(report));
  return EXIT.ok;
}

const USER_ACTIONS = ['password', 'enrol', 'signout'] as const;

/** People's sign-in, through the API with an administrator's token (routes/people.ts). */
async function userCommand(args: string[], io: ClientIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...CONNECTION_OPTIONS, 'password-file': { type: 'string' } },
  });
  const [action, user, ...extra] = positionals;
  if (
    !USER_ACTIONS.includes(action as (typeof USER_ACTIONS)[number]) ||
    user === undefined ||
    extra.length > 0
  )
    throw new UsageError(
      `user takes ${USER_ACTIONS.join(' | ')} and a user id, e.g. 'nocturne user enrol police-metz'`,
    );
  const client = connect(values, io);
  const path = `/api/users/${encodeURIComponent(user)}`;
  if (action === 'password') {
    const password = await newPassword(values['password-file'], io);
    const { sessionsEnded } = await client.request<{ sessionsEnded: number }>('PUT', `${path}/password`, {
      password,
    });
    io.stdout(`password of '${user}' set; ${sessionsEnded} session(s) ended\n`);
    return EXIT.ok;
  }
  if (action === 'enrol') {
    const { link, expiresAt } = await client.request<{ link: string; expiresAt: number }>(
      'POST',
      `${path}/enrolment`,
    );
    const qr = await QRCode.toString(link, { type: 'terminal', small: true });
    io.stdout(
      `enrolment link for '${user}', one use, until ${new Date(expiresAt).toISOString()}:\n  ${link}\n${qr}\n`,
    );
    return EXIT.ok;
  }
  const { sessionsEnded } = await client.request<{ sessionsEnded: number }>('POST', `${path}/signout`);
  io.stdout(`'${user}' signed out everywhere: ${sessionsEnded} session(s) ended\n`);
  return EXIT.ok;
}

async function newPassword(file: string | undefined, io: ClientIo): Promise<string> {
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').split('\n')[0];
    } catch (error) {
      throw new UsageError(`--password-file: ${(error as Error).message}`);
    }
  }
  if (!io.readSecret) throw new UsageError('give the password with --password-file <file>');
  return io.readSecret('new password (not shown): ');
}

export function connect(
  values: { url?: string; token?: string; 'token-file'?: string },
  io: ClientIo,
): NocturneClient {
  const url = values.url ?? io.env.NOCTURNE_URL ?? 'http://127.0.0.1:8080';
  let token = values.token;
  if (values['token-file'] !== undefined) {
    try {
      token = readFileSync(values['token-file'], 'utf8').trim();
    } catch (error) {
      throw new UsageError(`--token-file: ${(error as Error).message}`);
    }
  }
  token ??= io.env.NOCTURNE_TOKEN;
  if (!token) throw new UsageError('no token: set NOCTURNE_TOKEN or give --token-file <file>');
  return new NocturneClient({ url, token });
}

async function resolveTarget(words: string[], client: NocturneClient): Promise<TargetSpec> {
  const bare = words.length === 1 && words[0] !== 'all' && !words[0].includes(':');
  if (!bare) return parseTarget(words, { communes: new Set(), zones: new Set() });
  const [communes, zones] = await Promise.all([client.communes(), client.zones()]);
  return parseTarget(words, {
    communes: new Set(communes.map((c) => c.id)),
    zones: new Set(zones.map((z) => z.id)),
  });
}

function describe(record: CommandRecord): string {
  const t = record.target as { all?: true; commune?: string; zone?: string; luminaires?: readonly string[] };
  if (t.all) return 'the whole territory';
  if (t.commune) return `commune ${t.commune}`;
  if (t.zone) return `zone ${t.zone}`;
  return `${t.luminaires?.length ?? 0} luminaire(s)`;
}

export function confirmation(progress: CommandProgress): string {
  const parts = [`confirmed by ${progress.confirmed}/${progress.total} luminaires`];
  if (progress.pending > 0) parts.push(`${progress.pending} pending`);
  if (progress.failed > 0) parts.push(`${progress.failed} failed`);
  if (progress.superseded > 0) parts.push(`${progress.superseded} taken over by a newer command`);
  return parts.join(', ');
}

export function reportFailure(error: unknown, io: ClientIo): number {
  if (error instanceof UsageError) {
    io.stderr(`nocturne: ${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof UnreachableError) {
    io.stderr(`nocturne: ${error.message}\n`);
    return EXIT.unreachable;
  }
  if (error instanceof ApiRequestError) {
    io.stderr(`nocturne: ${error.message}\n`);
    for (const issue of error.body?.issues ?? []) io.stderr(`  ${issue.path}: ${issue.message}\n`);
    if (error.status === 401 || error.status === 403) return EXIT.denied;
    if (error.status === 503) return EXIT.unreachable;
    return EXIT.failed;
  }
  if (
    (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
    (error as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
  ) {
    io.stderr(`nocturne: ${(error as Error).message}\n${CLIENT_USAGE}`);
    return EXIT.usage;
  }
  io.stderr(`nocturne: ${(error as Error).message}\n`);
  return EXIT.failed;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  return typeof value === 'object' && value !== null && typeof (value as ErrorBody).error === 'string';
}

function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if ((error as Error).name === 'TimeoutError') return 'no answer in time';
  return (error as Error).message;
}
