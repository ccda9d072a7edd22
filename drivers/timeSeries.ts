/**
 * The time-series port: where the controller hands its points, as lines of InfluxDB line protocol
 * (drivers/influx/lineProtocol.ts escapes them; controller/telemetry/points.ts prepares each point's
 * prefix once, so a sample becomes a line by concatenation on the hot path). TelemetryStorage
 * implements it with the spool and the InfluxDB writer (drivers/influx/).
 */
export interface LineSink {
  /** Resolves once the lines are safe (on disk); rejects when they could not be taken. */
  write(lines: readonly string[]): Promise<void>;
}

/** A piece of one series from a query: a chunked answer may split a series over several pieces. */
export interface SeriesPiece {
  measurement: string;
  tags: Readonly<Record<string, string>>;
  /** `time` (epoch ms) first, then the selected fields. */
  columns: readonly string[];
  /** One row per instant, values in the order of `columns`; null where a field has no value. */
  values: readonly (readonly unknown[])[];
}

/**
 * The time-series port for reading: InfluxQL in (drivers/influx/influxql.ts builds it safely), pieces
 * of series out, as they arrive, so that a caller streams a year of data without holding it. Breaking
 * out of the iteration aborts the request. InfluxQueryClient (drivers/influx/query.ts) implements it.
 */
export interface SeriesReader {
  query(influxql: string, signal?: AbortSignal): AsyncIterable<SeriesPiece>;
}

/**
 * A whole answer, the pieces of one series joined: for small aggregate queries (the monthly report),
 * where holding the answer is fine.
 */
export async function readWhole(reader: SeriesReader, influxql: string): Promise<SeriesPiece[]> {
  const series: {
    measurement: string;
    tags: Readonly<Record<string, string>>;
    columns: readonly string[];
    values: (readonly unknown[])[];
  }[] = [];
  for await (const piece of reader.query(influxql)) {
    const last = series.at(-1);
    if (last && last.measurement === piece.measurement && sameTags(last.tags, piece.tags))
      last.values.push(...piece.values);
    else series.push({ ...piece, values: [...piece.values] });
  }
  return series;
}

function sameTags(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
