import type { z } from 'zod';
import type { ConfigPath } from './issues';
import { excerpt, excerptText } from '../core/excerpt';

type ZodIssue = z.core.$ZodIssue;
type AnySchema = z.core.$ZodType;

/** Turns a schema violation into a sentence that says what is wrong and what is allowed. */
export function describeIssue(issue: ZodIssue, root: AnySchema, data: unknown): string {
  const value = valueAt(data, issue.path as ConfigPath);
  const is = value === undefined ? '' : ` (is ${show(value)})`;
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return `required field missing (expected ${issue.expected})`;
      return `expected ${issue.expected}, got ${kindOf(value)}${is}`;
    case 'too_big':
      return `${bound(issue.origin, 'at most', issue.maximum, issue.inclusive)}${is}`;
    case 'too_small':
      return `${bound(issue.origin, 'at least', issue.minimum, issue.inclusive)}${is}`;
    case 'invalid_value':
      return `must be ${issue.values.length === 1 ? show(issue.values[0]) : `one of ${issue.values.map(show).join(', ')}`}${is}`;
    case 'invalid_format':
    case 'custom':
      return `${issue.message}${is}`;
    case 'unrecognized_keys': {
      const allowed = allowedKeys(root, issue.path as ConfigPath, data);
      const keys = issue.keys.map((k) => `'${k}'`).join(', ');
      return `unknown field ${keys}${allowed ? ` (allowed: ${allowed.join(', ')})` : ''}`;
    }
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      if (options) return `must be one of ${options.map(show).join(', ')}${is}`;
      return `${issue.message}${is}`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}${is}`;
    case 'invalid_key':
    case 'invalid_element':
      return `${issue.message}${is}`;
  }
}

function bound(origin: string, word: string, limit: number | bigint, inclusive: boolean | undefined): string {
  const n = Number(limit);
  switch (origin) {
    case 'array':
      return `must have ${word} ${n} item${n === 1 ? '' : 's'}`;
    case 'string':
      return `must have ${word} ${n} character${n === 1 ? '' : 's'}`;
    default:
      if (inclusive === false) return `must be ${word === 'at most' ? 'less' : 'greater'} than ${n}`;
      return `must be ${word} ${n}`;
  }
}

export function valueAt(data: unknown, path: ConfigPath): unknown {
  let cur = data;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[part];
  }
  return cur;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

function show(value: unknown): string {
  if (typeof value === 'string') return `'${excerptText(value)}'`;
  if (typeof value === 'object' && value !== null) return excerpt(value, 60);
  return String(value);
}

interface Def {
  type: string;
  shape?: Record<string, AnySchema>;
  element?: AnySchema;
  innerType?: AnySchema;
  options?: AnySchema[];
  discriminator?: string;
  in?: AnySchema;
  valueType?: AnySchema;
}

const defOf = (schema: AnySchema): Def => schema._zod.def;

/** The field names allowed at a path, found by walking the schema alongside the data. */
function allowedKeys(root: AnySchema, path: ConfigPath, data: unknown): string[] | undefined {
  let schema: AnySchema | undefined = root;
  let cur: unknown = data;
  for (let i = 0; i <= path.length && schema; i++) {
    schema = unwrap(schema, cur);
    if (!schema) return undefined;
    if (i === path.length) break;
    const part = path[i];
    const def = defOf(schema);
    if (def.type === 'object') schema = def.shape?.[part as string];
    else if (def.type === 'array') schema = def.element;
    else if (def.type === 'record') schema = def.valueType;
    else return undefined;
    cur = valueAt(cur, [part]);
  }
  if (!schema) return undefined;
  const def = defOf(schema);
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

function unwrap(schema: AnySchema, data: unknown): AnySchema | undefined {
  let s: AnySchema | undefined = schema;
  for (let guard = 0; s && guard < 20; guard++) {
    const def = defOf(s);
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else if (def.type === 'union' && def.options) s = pickOption(def, data);
    else return s;
  }
  return s;
}

function pickOption(def: Def, data: unknown): AnySchema | undefined {
  const options = def.options ?? [];
  if (def.discriminator && data && typeof data === 'object') {
    const tag = (data as Record<string, unknown>)[def.discriminator];
    return options.find((o) => {
      const shape = defOf(o).shape;
      const lit = shape?.[def.discriminator!];
      const values = lit ? (lit._zod.def as unknown as { values?: unknown[] }).values : undefined;
      return values?.includes(tag);
    });
  }
  return options.find((o) => defOf(o).type === 'object' && typeof data === 'object');
}
