import type { SeriesResult, TimeSeriesReader } from '../timeSeriesQuery';

export interface InfluxqlReaderOptions {
  url: string;
  /** `database` or `database/retention-policy` (the writer's bucket). */
  bucket: string;
  token?: string;
  timeoutMs?: number;
}

interface QueryAnswer {
  results?: {
    error?: string;
    series?: { name: string; tags?: Record<string, string>; columns: string[]; values?: unknown[][] }[];
  }[];
  error?: string;
}

/**
 * A minimal InfluxQL reader: GET `/query?db=…&rp=…&epoch=ms&q=…`, with the token as InfluxDB 2 and 3
 * take it. Enough for the report's few aggregate queries; not for streaming large exports.
 */
export class InfluxqlReader implements TimeSeriesReader {
  private readonly base: string;

  constructor(private readonly options: InfluxqlReaderOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  async query(influxql: string): Promise<SeriesResult[]> {
    const [db, rp] = this.options.bucket.split('/');
    const params = new URLSearchParams({ db, epoch: 'ms', q: influxql });
    if (rp) params.set('rp', rp);
    const response = await fetch(`${this.base}/query?${params.toString()}`, {
      headers: this.options.token ? { authorization: `Token ${this.options.token}` } : {},
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
    });
    const text = await response.text();
    let answer: QueryAnswer;
    try {
      answer = JSON.parse(text) as QueryAnswer;
    } catch {
      throw new Error(`InfluxDB /query answered ${response.status}: ${text.slice(0, 200)}`);
    }
    const error = answer.error ?? answer.results?.find((r) => r.error)?.error;
    if (!response.ok || error !== undefined)
      throw new Error(`InfluxDB /query answered ${response.status}: ${error ?? text.slice(0, 200)}`);
    return (answer.results ?? []).flatMap((result) =>
      (result.series ?? []).map((s) => ({
        measurement: s.name,
        tags: s.tags ?? {},
        columns: s.columns,
        values: s.values ?? [],
      })),
    );
  }
}
