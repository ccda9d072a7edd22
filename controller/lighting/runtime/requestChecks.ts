import { randomUUID } from 'node:crypto';
import { excerpt } from '../../../core/excerpt';
import { coversAny, outsideOf, type Actor } from '../../scope';
import { LightingError, type ValidationIssue } from './lightingService';

/**
 * The checks of command fields, each adding a located issue (field path and what is allowed) rather than
 * throwing, so that a request is answered with all its problems at once.
 */

/** A command id: what the API, the MQTT bridge and the runtime accept. */
export const COMMAND_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export function checkLevel(raw: unknown, issues: ValidationIssue[]): number | undefined {
  if (typeof raw === 'number' && raw >= 0 && raw <= 100) return raw;
  issues.push({ path: ['level'], message: `must be a number from 0 to 100 % (is ${show(raw)})` });
  return undefined;
}

export function checkReason(raw: unknown, issues: ValidationIssue[]): string | undefined {
  if (typeof raw === 'string' && raw.trim().length > 0 && raw.length <= 500) return raw.trim();
  issues.push({ path: ['reason'], message: `required: why, in 1-500 characters (is ${show(raw)})` });
  return undefined;
}

export function checkExpiry(
  raw: unknown,
  now: number,
  issues: ValidationIssue[],
  name: string,
): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    issues.push({ path: [name], message: `must be a time in epoch milliseconds (is ${show(raw)})` });
    return undefined;
  }
  if (raw <= now) {
    issues.push({
      path: [name],
      message: `must be in the future (is ${new Date(raw).toISOString()}, now ${new Date(now).toISOString()})`,
    });
    return undefined;
  }
  return raw;
}

export function checkId(raw: unknown, prefix: string, issues: ValidationIssue[]): string {
  if (raw === undefined) return `${prefix}-${randomUUID().slice(0, 8)}`;
  if (typeof raw === 'string' && COMMAND_ID_PATTERN.test(raw)) return raw;
  issues.push({
    path: ['id'],
    message: `must be 1-64 letters, digits, '_', '.', ':' or '-' (is ${show(raw)})`,
  });
  return '';
}

export function invalid(what: string, issues: ValidationIssue[]): LightingError {
  return new LightingError(
    'invalid',
    `${what}: ${issues.length} problem(s): ${formatIssues(issues)}`,
    issues,
  );
}

export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
}

export function show(value: unknown): string {
  return value === undefined ? 'missing' : excerpt(value, 60);
}

export function byId<T>(key: (entry: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

/** LightingError 'forbidden' unless the actor may act on every one of the communes. */
export function checkScope(actor: Actor, communes: readonly string[], what: string): void {
  const outside = outsideOf(actor.communes, communes);
  if (outside.length > 0)
    throw new LightingError(
      'forbidden',
      `${actor.user} may not ${what} in commune(s) ${outside.map((c) => `'${c}'`).join(', ')} (allowed: ${actor.communes.map((c) => `'${c}'`).join(', ') || 'none'})`,
    );
}

/** LightingError 'forbidden' unless the actor sees the commune. */
export function checkVisible(actor: Actor, commune: string, what: string): void {
  if (!coversAny(actor.communes, [commune]))
    throw new LightingError(
      'forbidden',
      `${what} is in commune '${commune}', outside ${actor.user}'s communes`,
    );
}
