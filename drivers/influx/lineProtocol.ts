/**
 * InfluxDB line protocol in two steps: a series key is built once per series (escaping and tag sorting
 * happen there), then each point is one string concatenation, so the hot path allocates only its line:
 *
 *   const key = seriesKey('meter', { commune: 'metz', meter: 'm1' });      // once
 *   const prefix = key + ' ' + fieldKey('index') + '=';                    // once
 *   const text = prefix + floatValue(value) + ' ' + timestampMs;          // per point, after the checks
 *
 * A line never contains a newline: the spool relies on one point per line, so newlines in names and
 * string values are written as the two characters `\n`.
 */

export type Tags = Readonly<Record<string, string | undefined>>;
/** A field value for `formatFields`: numbers are floats, bigints are integers. */
export type FieldValue = number | bigint | boolean | string;

const MEASUREMENT_SPECIALS = /[\\, \n\r\t]/g;
const KEY_SPECIALS = /[\\,= \n\r\t]/g;
const STRING_SPECIALS = /[\\"\n\r]/g;

const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  ',': '\\,',
  '=': '\\=',
  ' ': '\\ ',
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};
const escapeChar = (c: string): string => ESCAPES[c];

export function escapeMeasurement(name: string): string {
  return name.replace(MEASUREMENT_SPECIALS, escapeChar);
}

/** Escapes a tag key, a tag value or a field key. */
export function escapeKey(name: string): string {
  return name.replace(KEY_SPECIALS, escapeChar);
}

/**
 * `measurement,tag=value,…` with tags sorted by key (InfluxDB's own order, the cheapest for it to index).
 * Tags with an empty or undefined value are left out: InfluxDB has no empty tag values.
 */
export function seriesKey(measurement: string, tags: Tags = {}): string {
  if (measurement.length === 0) throw new Error('line protocol: the measurement name is empty');
  if (measurement.startsWith('#')) {
    throw new Error(
      `line protocol: measurement '${measurement}' starts with '#', which makes a comment line`,
    );
  }
  let key = escapeMeasurement(measurement);
  for (const name of Object.keys(tags).sort()) {
    const value = tags[name];
    if (value === undefined || value === '') continue;
    if (name.length === 0)
      throw new Error(`line protocol: measurement '${measurement}' has an empty tag key`);
    key += ',' + escapeKey(name) + '=' + escapeKey(value);
  }
  return key;
}

export function fieldKey(name: string): string {
  if (name.length === 0) throw new Error('line protocol: the field name is empty');
  return escapeKey(name);
}

/** A float field value; undefined for NaN and infinities, which InfluxDB cannot store. */
export function floatValue(value: number): string | undefined {
  return Number.isFinite(value) ? String(value) : undefined;
}

/** An integer field value (`42i`); undefined when the value is not an integer in the 64-bit signed range. */
export function integerValue(value: number | bigint): string | undefined {
  if (typeof value === 'bigint') {
    return value >= -(2n ** 63n) && value < 2n ** 63n ? `${value}i` : undefined;
  }
  return Number.isSafeInteger(value) ? `${value}i` : undefined;
}

export function booleanValue(value: boolean): string {
  return value ? 'true' : 'false';
}

export function stringValue(value: string): string {
  return '"' + value.replace(STRING_SPECIALS, escapeChar) + '"';
}

/** `a=1,b="x",c=2i` from a record (numbers are floats, bigints integers); undefined when no field is valid. */
export function formatFields(
  fields: Readonly<Record<string, FieldValue | null | undefined>>,
): string | undefined {
  let out = '';
  for (const name of Object.keys(fields)) {
    const value = fields[name];
    const formatted =
      typeof value === 'number'
        ? floatValue(value)
        : typeof value === 'bigint'
          ? integerValue(value)
          : typeof value === 'boolean'
            ? booleanValue(value)
            : typeof value === 'string'
              ? stringValue(value)
              : undefined;
    if (formatted === undefined || name.length === 0) continue;
    out += (out ? ',' : '') + escapeKey(name) + '=' + formatted;
  }
  return out || undefined;
}

/** True when a timestamp can be written with millisecond precision. */
export function isTimestampMs(timestampMs: number): boolean {
  return Number.isSafeInteger(timestampMs) && timestampMs >= 0;
}

/** One point; undefined when there is no field or the timestamp is not a whole number of milliseconds. */
export function pointLine(
  series: string,
  fields: string | undefined,
  timestampMs: number,
): string | undefined {
  if (!fields || !isTimestampMs(timestampMs)) return undefined;
  return series + ' ' + fields + ' ' + timestampMs;
}

/** The timestamp (ms) at the end of a line written by `pointLine`, or undefined. */
export function lineTimestamp(line: string): number | undefined {
  const space = line.lastIndexOf(' ');
  if (space < 0) return undefined;
  const value = Number(line.slice(space + 1));
  return Number.isSafeInteger(value) ? value : undefined;
}
