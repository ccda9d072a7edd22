import type { ConfigPath } from './issues';

/**
 * Bounds on a configuration file, so that every file is answered, valid or not, in bounded time and
 * memory. The design target, 100,000 luminaires, is a 14.5 MB file of 1.7 million keys and values
 * nested 7 deep. The position-keeping parser that locates errors needs about 1 KB per key or value,
 * which sets the node bound: 2.5 million, about 2.5 GB in the worst case.
 */
export const MAX_FILE_BYTES = 32_000_000;
/** Keys and values, an alias counting as everything it repeats: what validation walks and the service keeps. */
export const MAX_NODES = 2_500_000;
/** The schema nests 7 deep; the parsers recurse once per level and overflow near 2,000. */
export const MAX_DEPTH = 64;
/** Ids, names, topics and URLs are short; certificates and secrets are files. */
export const MAX_STRING_CHARS = 65_536;

/** Something wrong with the data, known by its path before it is located in the file. */
export interface PathIssue {
  path: ConfigPath;
  message: string;
  /** The key the message is about, in the mapping at `path`. */
  atKey?: string;
}

export const LIMIT_MESSAGES = {
  depth: `nesting deeper than ${MAX_DEPTH} levels`,
  nodes: `more than ${MAX_NODES.toLocaleString('en')} keys and values`,
  expanded: `more than ${MAX_NODES.toLocaleString('en')} keys and values once aliases are expanded`,
  recursive: 'recursive alias: it repeats a collection that contains it',
  string: (length: number) =>
    `string of ${length.toLocaleString('en')} characters (at most ${MAX_STRING_CHARS.toLocaleString('en')})`,
  key: (length: number) =>
    `key of ${length.toLocaleString('en')} characters (at most ${MAX_STRING_CHARS.toLocaleString('en')})`,
  fileSize: (bytes: number) =>
    `file of ${(bytes / 1e6).toFixed(1)} MB: a configuration has at most ${MAX_FILE_BYTES / 1e6} MB`,
};

/**
 * Walks parsed data as validation will, aliases expanded (the YAML reader shares one object between an
 * anchor and its aliases, so a 300-byte file can stand for a billion values), and returns the first
 * bound crossed. Stops there, so its own work is bounded too.
 */
export function exceededLimit(data: unknown): PathIssue | undefined {
  let nodes = 0;
  const path: (string | number)[] = [];
  const ancestors = new Set<object>();

  const visit = (value: unknown): PathIssue | undefined => {
    if (++nodes > MAX_NODES) return { path: [...path], message: LIMIT_MESSAGES.expanded };
    if (path.length >= MAX_DEPTH) return { path: [...path], message: LIMIT_MESSAGES.depth };
    if (typeof value === 'string' && value.length > MAX_STRING_CHARS) {
      return { path: [...path], message: LIMIT_MESSAGES.string(value.length) };
    }
    if (value === null || typeof value !== 'object') return undefined;
    if (ancestors.has(value)) return { path: [...path], message: LIMIT_MESSAGES.recursive };
    ancestors.add(value);
    const entries = Array.isArray(value) ? value.entries() : Object.entries(value);
    for (const [key, child] of entries) {
      if (typeof key === 'string') {
        if (key.length > MAX_STRING_CHARS) {
          return { path: [...path], message: LIMIT_MESSAGES.key(key.length), atKey: key };
        }
        if (++nodes > MAX_NODES) return { path: [...path], message: LIMIT_MESSAGES.expanded };
      }
      path.push(key);
      const found = visit(child);
      path.pop();
      if (found) return found;
    }
    ancestors.delete(value);
    return undefined;
  };
  return visit(data);
}
