import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, MAX_STRING_CHARS } from './limits';
import { PROJECT_ROOT } from './paths';
import { ConfigSchema } from './schema';

export const SCHEMA_FILE = path.join(PROJECT_ROOT, 'config', 'nocturne.schema.json');
export const CONFIG_DOC_FILE = path.join(PROJECT_ROOT, 'docs', 'config.md');

/** JSON Schema of the configuration file as a person writes it (defaults optional), for editors. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://nocturne.example/config/nocturne.schema.json',
    title: 'nocturne configuration',
  };
}

export function schemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  description?: string;
  additionalProperties?: boolean | JsonSchema;
}

/** docs/config.md: every field with its type, default, bounds and description, generated from the schema. */
export function configDocText(): string {
  const rows: string[] = [];
  walk(configJsonSchema(), '', rows);
  return [
    '# Configuration reference',
    '',
    'Generated from `config/schema/*.ts` by `nocturne schema --write`; do not edit by hand.',
    'The same schema is exported as `config/nocturne.schema.json`: add `# yaml-language-server: $schema=../config/nocturne.schema.json`',
    'at the top of a site file for completion and checking in editors.',
    '',
    'Paths use `[]` for list items. Secrets are never written in the file: fields of type *secret* take',
    '`{env: VARIABLE}` or `{file: path}`. Scalar fields of `site`, `service`, `http`, `mqtt` and `influx` can be',
    'overridden by environment variables `NOCTURNE_<SECTION>_<FIELD>` (e.g. `NOCTURNE_HTTP_PORT=9090`).',
    '',
    `A file is refused, at the line where it crosses the bound, beyond ${MAX_FILE_BYTES / 1e6} MB, ${MAX_DEPTH} levels of nesting,`,
    `${MAX_NODES.toLocaleString('en')} keys and values (an alias counts as everything it repeats) or`,
    `${MAX_STRING_CHARS.toLocaleString('en')} characters in a string. 100,000 luminaires take 15 MB and 1.7 million keys and values.`,
    '',
    '| field | type | required | default | allowed | description |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

function walk(schema: JsonSchema, prefix: string, rows: string[], variant?: string): void {
  const options = schema.anyOf ?? schema.oneOf;
  if (options && !schema.properties) {
    for (const option of options) {
      const tag = Object.entries(option.properties ?? {}).find(([, p]) => p.const !== undefined);
      walk(option, prefix, rows, tag ? `${tag[0]}: ${String(tag[1].const)}` : variant);
    }
    return;
  }
  for (const [key, field] of Object.entries(schema.properties ?? {})) {
    const fieldPath = prefix ? `${prefix}.${key}` : key;
    const required = schema.required?.includes(key) ? 'yes' : '';
    const label = variant ? `${fieldPath} (${variant})` : fieldPath;
    rows.push(
      `| \`${label}\` | ${typeName(field)} | ${required} | ${defaultOf(field)} | ${allowed(field)} | ${(field.description ?? '').replace(/\|/g, '\\|')} |`,
    );
    const inner = field.items ?? field;
    const innerPath = field.items ? `${fieldPath}[]` : fieldPath;
    if (inner.properties || (inner.anyOf ?? inner.oneOf)?.some((o) => o.properties))
      walk(inner, innerPath, rows);
  }
}

function typeName(field: JsonSchema): string {
  if (field.const !== undefined) return 'constant';
  if (field.items) return `list of ${typeName(field.items)}`;
  const options = field.anyOf ?? field.oneOf;
  if (options?.some((o) => o.properties?.env || o.properties?.file)) return 'secret';
  if (options) return [...new Set(options.map(typeName))].join(' or ');
  if (field.enum) return 'enum';
  if (Array.isArray(field.type)) return field.type.join(' or ');
  return field.type ?? (field.properties ? 'object' : 'any');
}

function defaultOf(field: JsonSchema): string {
  if (field.default === undefined) return '';
  const text = JSON.stringify(field.default);
  return text.length > 40 ? 'see schema' : `\`${text}\``;
}

function allowed(field: JsonSchema): string {
  if (field.const !== undefined) return `\`${JSON.stringify(field.const)}\``;
  if (field.enum) return field.enum.map((v) => `\`${String(v)}\``).join(', ');
  const options = field.anyOf ?? field.oneOf;
  if (options?.every((o) => o.const !== undefined))
    return options.map((o) => `\`${String(o.const)}\``).join(', ');
  const bounds: string[] = [];
  if (field.minimum !== undefined) bounds.push(`≥ ${field.minimum}`);
  if (field.maximum !== undefined) bounds.push(`≤ ${field.maximum}`);
  if (field.minLength !== undefined) {
    bounds.push(field.minLength === 1 ? 'not empty' : `≥ ${field.minLength} characters`);
  }
  if (field.pattern) bounds.push(`pattern \`${field.pattern.replace(/\|/g, '\\|')}\``);
  return bounds.join(', ');
}

if (require.main === module) {
  writeFileSync(SCHEMA_FILE, schemaText());
  writeFileSync(CONFIG_DOC_FILE, configDocText());
  console.log(`wrote ${SCHEMA_FILE} and ${CONFIG_DOC_FILE}`);
}
