/** Longest excerpt of a client's input that reaches a log line, an audit entry or an event point. */
export const EXCERPT_CHARS = 120;

/** Deepest nesting shown; below it a value is written `…`. */
const EXCERPT_DEPTH = 4;

/**
 * A short, escaped, single-line rendering of untrusted input, for messages that echo what was refused.
 * Bounded in length whatever the input's size, iterative in depth (a value nested 100,000 levels costs
 * no more than one nested 5), and free of control characters, so a refused request cannot grow the
 * log, the audit file or the spool by more than a few hundred bytes, nor forge a log line.
 */
export function excerpt(value: unknown, maxChars = EXCERPT_CHARS): string {
  const out: string[] = [];
  let length = 0;
  const push = (text: string): boolean => {
    out.push(text);
    length += text.length;
    return length <= maxChars;
  };
  write(value, 0, push);
  const text = escapeControls(out.join(''));
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}

/** Writes value through push, stopping as soon as push says the excerpt is full. */
function write(value: unknown, depth: number, push: (text: string) => boolean): boolean {
  if (typeof value === 'string')
    return push(JSON.stringify(value.length > 200 ? value.slice(0, 200) : value));
  if (value === null || typeof value !== 'object') return push(String(value));
  if (depth >= EXCERPT_DEPTH) return push(Array.isArray(value) ? '[…]' : '{…}');
  if (Array.isArray(value)) {
    if (!push('[')) return false;
    for (let i = 0; i < value.length; i++) {
      if (i > 0 && !push(',')) return false;
      if (!write(value[i], depth + 1, push)) return false;
    }
    return push(']');
  }
  if (!push('{')) return false;
  let first = true;
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    if (!first && !push(',')) return false;
    first = false;
    if (!push(`${JSON.stringify(key.length > 40 ? key.slice(0, 40) : key)}:`)) return false;
    if (!write((value as Record<string, unknown>)[key], depth + 1, push)) return false;
  }
  return push('}');
}

/** Control characters (newlines, escapes, NUL…) as \uXXXX, so an excerpt is always one inert line. */
function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
