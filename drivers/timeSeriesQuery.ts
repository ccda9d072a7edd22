/**
 * The time-series query port: InfluxQL in, series out. The evaluation report reads its readings through
 * it; drivers/influx/influxqlReader.ts implements it over InfluxDB's `/query` (1.x, and 2.x/3.x through
 * their InfluxQL compatibility API).
 */
export interface SeriesResult {
  measurement: string;
  tags: Record<string, string>;
  columns: string[];
  /** Rows in column order; `time` in epoch milliseconds. */
  values: unknown[][];
}

export interface TimeSeriesReader {
  /** Runs one InfluxQL statement; rejects with InfluxDB's own error message. */
  query(influxql: string): Promise<SeriesResult[]>;
}
