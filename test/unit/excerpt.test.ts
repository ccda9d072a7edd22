import { EXCERPT_CHARS, excerpt, excerptText } from '../../core/excerpt';

/** A value nested `depth` levels: {"a":{"a":…}}. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

describe('excerpt', () => {
  it('renders small values as JSON', () => {
    expect(excerpt({ zone: 'metz-a', level: 80, all: true, list: [1, null] })).toBe(
      '{"zone":"metz-a","level":80,"all":true,"list":[1,null]}',
    );
    expect(excerpt('tomorrow')).toBe('"tomorrow"');
    expect(excerpt(300)).toBe('300');
    expect(excerpt(undefined)).toBe('undefined');
  });

  it('stays within its length whatever the size of the input, and says that something was left out', () => {
    const huge = { luminaires: Array.from({ length: 1_000_000 }, (_, i) => `l-${i}`) };
    const text = excerpt(huge);
    expect(text.length).toBe(EXCERPT_CHARS);
    expect(text.startsWith('{"luminaires":["l-0","l-1",')).toBe(true);
    expect(text.endsWith('…')).toBe(true);
    expect(excerpt('x'.repeat(240 * 1024), 40)).toBe(`"${'x'.repeat(38)}…`);
    expect(excerpt({ ['k'.repeat(10_000)]: 1 }, 200)).toBe(`{"${'k'.repeat(40)}":1}`);
  });

  it('shows four levels of a deep value and never follows the rest (no stack overflow)', () => {
    expect(excerpt(nested(100_000))).toBe('{"a":{"a":{"a":{"a":{…}}}}}');
    expect(excerpt([[[[[[1]]]]]])).toBe('[[[[[…]]]]]');
  });

  it('escapes control characters, line separators and bidirectional overrides: always one inert line', () => {
    const text = excerpt({ actor: 'x\n2025-07-14 INFO forged\u2028\u202e\u0085\u0000' });
    expect(text).toBe('{"actor":"x\\n2025-07-14 INFO forged\\u2028\\u202e\\u0085\\u0000"}');
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
    expect(excerptText('a\r\nb\u2066c')).toBe('a\\u000d\\u000ab\\u2066c');
  });

  it('never cuts an escape or a surrogate pair in two', () => {
    // Each cut position falls inside a 6-character escape or between the halves of an emoji.
    for (let max = 5; max < 30; max++) {
      for (const text of [excerpt('\u0085'.repeat(40), max), excerptText('😀'.repeat(40), max)]) {
        expect(text.length).toBeLessThanOrEqual(max);
        expect(text.endsWith('…')).toBe(true);
        expect(text.slice(0, -1)).not.toMatch(/\\u?[0-9a-f]{0,3}$|[\ud800-\udbff]$/);
      }
    }
  });

  it('gives text as it is, escaped and cut', () => {
    expect(excerptText('unknown zone')).toBe('unknown zone');
    expect(excerptText('y'.repeat(1_000_000), 10)).toBe(`${'y'.repeat(9)}…`);
  });
});
