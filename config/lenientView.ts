import type { z } from 'zod';
import { ConfigSchema, type Config } from './schema';

/**
 * A Config-shaped view of data that failed validation, so cross-reference checks can still run and
 * every mistake is reported in one pass. Each list item is parsed on its own (defaults applied when it
 * is valid, kept raw when it is not); lists missing or of the wrong type become empty.
 */
export function lenientView(raw: unknown): Config {
  const root = isObject(raw) ? raw : {};
  const shape = ConfigSchema.shape;
  const view: Record<string, unknown> = { ...root };
  for (const [key, schema] of Object.entries(shape)) {
    const value = root[key];
    const element = listElement(schema);
    if (element) {
      view[key] = Array.isArray(value) ? value.filter(isObject).map((item) => parseOr(element, item)) : [];
    } else {
      view[key] = parseOr(schema, value);
    }
  }
  return view as Config;
}

function parseOr(schema: z.ZodType, value: unknown): unknown {
  const result = schema.safeParse(value);
  return result.success ? result.data : withListsDefaulted(value);
}

/** Nested lists the cross-checks walk (rules, luminaires, points, communes) default to empty. */
function withListsDefaulted(value: unknown): unknown {
  if (!isObject(value)) return {};
  const out: Record<string, unknown> = { ...value };
  for (const key of ['rules', 'luminaires', 'points', 'communes', 'steps']) {
    if (key in out && !Array.isArray(out[key])) out[key] = [];
  }
  for (const key of ['rules', 'points', 'steps']) out[key] ??= [];
  return out;
}

function listElement(schema: z.ZodType): z.ZodType | undefined {
  let s = schema as unknown as { _zod: { def: { type: string; innerType?: unknown; element?: unknown } } };
  while (s._zod.def.innerType) s = s._zod.def.innerType as typeof s;
  return s._zod.def.type === 'array' ? (s._zod.def.element as z.ZodType) : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
