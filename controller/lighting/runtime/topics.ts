import { excerpt } from '../../../core/excerpt';
import type { SlotName } from '../slots';
import type { TargetSpec } from '../topology';
import type { LightingErrorCode } from './lightingService';
import { COMMAND_ID_PATTERN } from './requestChecks';

/**
 * The lighting MQTT topics and their payloads, in one place (STYLE 16). Keys are snake_case.
 *
 * | topic                                    | direction | payload                    |
 * | ---------------------------------------- | --------- | -------------------------- |
 * | `<base>/bridge/request/relight`          | in        | RelightRequestPayload      |
 * | `<base>/bridge/response/relight`         | out       | BridgeResponse             |
 * | `<base>/bridge/request/clear-relight`    | in        | ClearRelightRequestPayload |
 * | `<base>/bridge/response/clear-relight`   | out       | BridgeResponse             |
 * | `<base>/<commune>/<zone>/state`          | out, retained | ZoneStatePayload       |
 * | each presence sensor's own `topic`       | in        | JSON with the class at the sensor's `class_path` |
 *
 * Who may publish requests is the broker's ACL (dispatch accounts only); the `actor` in a request is
 * recorded, not checked against the configuration's users.
 *
 * A request is untrusted input: what is wrong with it is echoed as a short excerpt (core/excerpt.ts),
 * never whole, and a payload nesting deeper than MAX_REQUEST_DEPTH is refused before anything walks it.
 */

export const BRIDGE_COMMANDS = ['relight', 'clear-relight'] as const;
export type BridgeCommand = (typeof BRIDGE_COMMANDS)[number];

export interface LightingTopics {
  request(command: BridgeCommand): string;
  response(command: BridgeCommand): string;
  zoneState(commune: string, zone: string): string;
}

export function lightingTopics(base: string): LightingTopics {
  return {
    request: (command) => `${base}/bridge/request/${command}`,
    response: (command) => `${base}/bridge/response/${command}`,
    zoneState: (commune, zone) => `${base}/${commune}/${zone}/state`,
  };
}

/** Exactly one of the target keys. */
export type TargetPayload = { all: true } | { commune: string } | { zone: string } | { luminaires: string[] };

export interface RelightRequestPayload {
  /** Echoed in the response. */
  transaction?: string | number;
  /** Optional: the same id again replaces that relight. */
  id?: string;
  target: TargetPayload;
  /** Percent, default 100. */
  level?: number;
  reason: string;
  /** Who asks (a dispatch centre's user id); recorded. */
  actor: string;
  /** ISO 8601 time or epoch milliseconds. */
  expires_at?: string | number;
}

export interface ClearRelightRequestPayload {
  transaction?: string | number;
  id: string;
  actor: string;
}

/** Why a request was refused, as the log counts refusals: not JSON, a LightingError's code, or anything else. */
export type BridgeRefusal = 'not-json' | LightingErrorCode | 'error';

/** Longest error in a response (and in the log line and audit entry of the refusal). */
export const MAX_ERROR_CHARS = 1000;

export interface BridgeResponse {
  transaction?: string | number;
  status: 'ok' | 'error';
  /** The relight's id. */
  id?: string;
  /** Luminaires the relight covers (relight only). */
  luminaires?: number;
  error?: string;
}

export interface ZoneStatePayload {
  zone: string;
  commune: string;
  /** ISO 8601. */
  at: string;
  /** Lowest and highest decided level; null when nothing is decided. */
  level: { min: number; max: number } | null;
  /** Luminaires per deciding slot. */
  slots: Partial<Record<SlotName | 'undecided', number>>;
  /** Emergency relight in force on part of the zone (its id), or null. */
  emergency: string | null;
  /** Luminaire ids in the zone's order (along the street); the lists below follow it. */
  luminaires: string[];
  /** Decided level, % (null: undecided, the device's fail-safe applies). */
  levels: (number | null)[];
  /** Level in effect read back from the device, % (null: not read yet). */
  in_effect: (number | null)[];
  /** Deciding slot (null: undecided). */
  slot: (SlotName | null)[];
}

export type ParsedRequest<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Deepest nesting of objects and arrays a request may have. A valid one has 3
 * (`{target: {luminaires: [ids]}}`); the margin is for fields a dispatch system adds and we ignore.
 */
export const MAX_REQUEST_DEPTH = 16;

/** Longest `transaction` string echoed in the response. */
const MAX_TRANSACTION_CHARS = 128;

/** Longest id a target may name: the configuration's ids are at most 64 characters. */
const MAX_ID_CHARS = 64;

/** Reads a relight request; every problem in one message. */
export function parseRelightRequest(payload: unknown): ParsedRequest<{
  target: TargetSpec;
  level?: number;
  reason: string;
  actor: string;
  expiresAt?: number;
  id?: string;
}> {
  const shape = checkShape(payload);
  if (!shape.ok) return shape;
  const body = shape.value;
  const problems: string[] = [];
  checkTransaction(body.transaction, problems);
  const target = readTarget(body.target, problems);
  const level = body.level;
  if (level !== undefined && (typeof level !== 'number' || !(level >= 0 && level <= 100)))
    problems.push(`level must be a number from 0 to 100 (is ${excerpt(level)})`);
  const reason = body.reason;
  if (typeof reason !== 'string' || reason.trim() === '')
    problems.push('reason is required (a non-empty string)');
  const actor = parseActor(body.actor, problems);
  const id = body.id;
  if (id !== undefined && (typeof id !== 'string' || !COMMAND_ID_PATTERN.test(id)))
    problems.push(`id must be 1-64 letters, digits, '_', '.', ':' or '-' (is ${excerpt(id)})`);
  const expiresAt = parseTime(body.expires_at, 'expires_at', problems);
  if (problems.length > 0 || !target) return { ok: false, error: problems.join('; ') };
  const value: {
    target: TargetSpec;
    level?: number;
    reason: string;
    actor: string;
    expiresAt?: number;
    id?: string;
  } = { target, reason: reason as string, actor: actor! };
  if (typeof level === 'number') value.level = level;
  if (expiresAt !== undefined) value.expiresAt = expiresAt;
  if (typeof id === 'string') value.id = id;
  return { ok: true, value };
}

export function parseClearRelightRequest(payload: unknown): ParsedRequest<{ id: string; actor: string }> {
  const shape = checkShape(payload);
  if (!shape.ok) return shape;
  const body = shape.value;
  const problems: string[] = [];
  checkTransaction(body.transaction, problems);
  if (typeof body.id !== 'string' || body.id === '') problems.push("id is required (the relight's id)");
  else if (body.id.length > MAX_ID_CHARS)
    problems.push(`id must be at most ${MAX_ID_CHARS} characters (is ${excerpt(body.id)})`);
  const actor = parseActor(body.actor, problems);
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  return { ok: true, value: { id: body.id as string, actor: actor! } };
}

/** The request's `transaction`, to echo in the response; an invalid one is not echoed (and refused). */
export function transactionOf(payload: unknown): string | number | undefined {
  if (!isObject(payload)) return undefined;
  const t = payload.transaction;
  return validTransaction(t) ? t : undefined;
}

function validTransaction(t: unknown): t is string | number {
  return (typeof t === 'string' && t.length <= MAX_TRANSACTION_CHARS) || typeof t === 'number';
}

function checkTransaction(t: unknown, problems: string[]): void {
  if (t !== undefined && !validTransaction(t))
    problems.push(
      `transaction must be a number or a string of at most ${MAX_TRANSACTION_CHARS} characters (is ${excerpt(t)})`,
    );
}

/** A JSON object no deeper than MAX_REQUEST_DEPTH, or why not. */
function checkShape(payload: unknown): ParsedRequest<Record<string, unknown>> {
  if (!isObject(payload)) return { ok: false, error: 'the payload must be a JSON object' };
  if (nestsDeeperThan(payload, MAX_REQUEST_DEPTH))
    return {
      ok: false,
      error: `the payload nests objects and arrays deeper than ${MAX_REQUEST_DEPTH} levels`,
    };
  return { ok: true, value: payload };
}

/**
 * Whether value has objects or arrays more than max levels deep (a bare object is 1). Walks with its
 * own stack, never the call stack, and stops at the first container past max.
 */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth > max) return true;
    for (const child of Object.values(next.value)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: next.depth + 1 });
    }
  }
  return false;
}

/** Reads a target: exactly one of all, commune, zone, luminaires; problems are appended. */
export function readTarget(raw: unknown, problems: string[]): TargetSpec | undefined {
  const keys = 'one of {all: true}, {commune: id}, {zone: id}, {luminaires: [ids]}';
  if (!isObject(raw)) {
    problems.push(`target is required: ${keys}`);
    return undefined;
  }
  const given = ['all', 'commune', 'zone', 'luminaires'].filter((k) => raw[k] !== undefined);
  if (given.length !== 1) {
    problems.push(`target must have exactly ${keys} (has ${given.length === 0 ? 'none' : given.join(', ')})`);
    return undefined;
  }
  switch (given[0]) {
    case 'all':
      if (raw.all === true) return { all: true };
      problems.push('target.all must be true');
      return undefined;
    case 'commune':
    case 'zone': {
      const key = given[0];
      const id = raw[key];
      if (isId(id)) return key === 'zone' ? { zone: id } : { commune: id };
      problems.push(`target.${key} must be an id of 1-${MAX_ID_CHARS} characters (is ${excerpt(id)})`);
      return undefined;
    }
    default: {
      const list = raw.luminaires;
      if (Array.isArray(list) && list.length > 0 && list.every(isId)) return { luminaires: list };
      problems.push('target.luminaires must be a non-empty list of luminaire ids');
      return undefined;
    }
  }
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_ID_CHARS;
}

function parseActor(raw: unknown, problems: string[]): string | undefined {
  if (typeof raw === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,63}$/.test(raw)) return raw;
  problems.push(
    `actor is required: who asks, 1-64 letters, digits, '_', '.', '@', ':' or '-' (is ${excerpt(raw)})`,
  );
  return undefined;
}

function parseTime(raw: unknown, name: string, problems: string[]): number | undefined {
  if (raw === undefined) return undefined;
  const t = typeof raw === 'number' ? raw : typeof raw === 'string' ? Date.parse(raw) : Number.NaN;
  if (Number.isFinite(t)) return t;
  problems.push(`${name} must be an ISO 8601 time or epoch milliseconds (is ${excerpt(raw)})`);
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
