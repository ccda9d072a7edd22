/**
 * InfluxQL text, built safely: identifiers and strings quoted and escaped, time ranges checked. A
 * format of the driver (no I/O), so that the controller builds its queries without a client.
 */

/** `"name"`, with `\` and `"` escaped: any measurement, tag or field name is then one identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `'text'`, with `\` and `'` escaped: a tag value compared in a WHERE clause. */
export function quoteString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Latest instant InfluxDB stores (2262-04-11), in ms: its timestamps are int64 nanoseconds. */
const INFLUX_MAX_MS = 9_223_372_036_854;
/** Earliest (1677-09-21), in ms. */
const INFLUX_MIN_MS = -9_223_372_036_854;

/**
 * `time >= <from>ms AND time < <to>ms`, the half-open interval [from, to). Throws, naming the bound,
 * when a bound is not a whole number of ms within InfluxDB's range or the interval is empty.
 */
export function timeRange(fromMs: number, toMs: number): string {
  for (const [name, value] of [
    ['from', fromMs],
    ['to', toMs],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < INFLUX_MIN_MS || value > INFLUX_MAX_MS)
      throw new RangeError(
        `${name} is ${value}: must be a whole number of ms between ${INFLUX_MIN_MS} and ${INFLUX_MAX_MS}`,
      );
  }
  if (fromMs >= toMs) throw new RangeError(`from (${fromMs}) must be before to (${toMs})`);
  return `time >= ${fromMs}ms AND time < ${toMs}ms`;
}

/** `"tag" = 'value'` conditions joined by AND; an empty list gives an empty string. */
export function tagConditions(tags: Readonly<Record<string, string>>): string {
  return Object.entries(tags)
    .map(([tag, value]) => `${quoteIdentifier(tag)} = ${quoteString(value)}`)
    .join(' AND ');
}

/** A bucket as the InfluxQL `/query` route names it: `db[/rp]` → database and retention policy. */
export function databaseOf(bucket: string): { database: string; retentionPolicy: string | undefined } {
  const slash = bucket.indexOf('/');
  return slash === -1
    ? { database: bucket, retentionPolicy: undefined }
    : { database: bucket.slice(0, slash), retentionPolicy: bucket.slice(slash + 1) || undefined };
}
