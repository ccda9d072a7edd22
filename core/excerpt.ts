/** Longest excerpt of a client's input that reaches a log line, an audit entry or an event point. */
export const EXCERPT_CHARS = 120;

/** Deepest nesting shown; below it a value is written `…`. */
const EXCERPT_DEPTH = 4;

/** Object keys are shortened to this, so that one long key does not hide the structure around it. */
const KEY_CHARS = 40;

/**
 * A short, escaped, single-line rendering of untrusted input, for messages that echo what was refused.
 * Bounded in length whatever the input's size and in depth whatever its nesting (a value nested
 * 100,000 levels costs no more than one nested 5: no recursion follows it), and free of control
 * characters, so a refused request cannot grow the log, the audit file or the spool by more than a few
 * hundred bytes, nor forge a log line.
 */
export function excerpt(value: unknown, maxChars = EXCERPT_CHARS): string {
  const out: string[] = [];
  let length = 0;
  const push = (text: string): boolean => {
    const escaped = escapeControls(text);
    out.push(escaped);
    length += escaped.length;
    return length <= maxChars;
  };
  write(value, 0, maxChars, push);
  return cut(out.join(''), maxChars);
}

/** excerpt() for text shown as it is (a message, an id): not quoted, controls escaped, cut to maxChars. */
export function excerptText(text: string, maxChars = EXCERPT_CHARS): string {
  // Escaping only lengthens, so what lies beyond maxChars + 1 characters can never show.
  return cut(escapeControls(text.length > maxChars + 1 ? text.slice(0, maxChars + 1) : text), maxChars);
}

/** Writes value through push, stopping as soon as push says the excerpt is full. */
function write(value: unknown, depth: number, maxChars: number, push: (text: string) => boolean): boolean {
  if (typeof value === 'string') return push(JSON.stringify(shorten(value, maxChars + 1)));
  if (value === null || typeof value !== 'object') return push(String(value));
  if (depth >= EXCERPT_DEPTH) return push(Array.isArray(value) ? '[…]' : '{…}');
  if (Array.isArray(value)) {
    if (!push('[')) return false;
    for (let i = 0; i < value.length; i++) {
      if (i > 0 && !push(',')) return false;
      if (!write(value[i], depth + 1, maxChars, push)) return false;
    }
    return push(']');
  }
  if (!push('{')) return false;
  let first = true;
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    if (!first && !push(',')) return false;
    first = false;
    if (!push(`${JSON.stringify(shorten(key, KEY_CHARS))}:`)) return false;
    if (!write((value as Record<string, unknown>)[key], depth + 1, maxChars, push)) return false;
  }
  return push('}');
}

function shorten(text: string, chars: number): string {
  return text.length > chars ? text.slice(0, chars) : text;
}

/**
 * The longest start of text within maxChars, ending in `…` when something was left out. It never
 * cuts an escape (`\n`, `\u2028`) or a surrogate pair in two, which would leave a dangling backslash
 * or a lone surrogate (written as U+FFFD) at the end.
 */
function cut(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let end = 0;
  for (;;) {
    const next = end + unitLength(text, end);
    if (next > maxChars - 1) break;
    end = next;
  }
  return `${text.slice(0, end)}…`;
}

/** Length of the escape sequence, surrogate pair or single character at i. */
function unitLength(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x5c) return text.charCodeAt(i + 1) === 0x75 ? 6 : 2; // \uXXXX, or \n, \", \\ …
  if (c >= 0xd800 && c <= 0xdbff) {
    const low = text.charCodeAt(i + 1);
    if (low >= 0xdc00 && low <= 0xdfff) return 2;
  }
  return 1;
}

/**
 * Control characters (newlines, escapes, NUL…), line and paragraph separators and bidirectional
 * overrides as \uXXXX, so an excerpt is always one inert line that reads in the order it is stored.
 */
function escapeControls(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
