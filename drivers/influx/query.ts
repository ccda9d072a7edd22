import http from 'node:http';
import https from 'node:https';
import type { InfluxConfig } from '../../config/schema';
import { excerptText } from '../../core/excerpt';
import type { SeriesPiece, SeriesReader } from '../timeSeries';
import { databaseOf } from './influxql';
import { readInfluxToken } from './options';

export interface InfluxQueryOptions {
  /** Base URL: InfluxDB 1.x, or 2.x/3.x through their v1-compatible `/query` route. */
  url: string;
  /** `database[/retention policy]`; on InfluxDB 2.x the bucket reached through a DBRP mapping. */
  bucket: string;
  /** Sent as `Authorization: Token …` (InfluxDB 2.x/3.x; 1.x with auth: `user:password`). */
  token?: string;
  /** Rows per chunk InfluxDB sends: a chunk is parsed at once, so this bounds the memory per query. */
  chunkSize?: number;
  /** Longest wait for the answer's headers, and longest silence between two chunks. */
  timeoutMs?: number;
}

/** InfluxDB refused a query, or answered with an error inside the stream. */
export class InfluxQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InfluxQueryError';
  }
}

interface ChunkDocument {
  error?: string;
  results?: {
    error?: string;
    series?: { name: string; tags?: Record<string, string>; columns: string[]; values?: unknown[][] }[];
  }[];
}

const NEWLINE = 0x0a;
/** Longest error text from InfluxDB repeated in a message. */
const ERROR_EXCERPT_CHARS = 500;

/**
 * InfluxQL over HTTP `/query?chunked=true`: InfluxDB writes one JSON document per chunk of at most
 * `chunkSize` rows, each ended by a newline. Each document is parsed as soon as its newline arrives and
 * its series handed out; the socket is read only as fast as the caller consumes them (for await over the
 * response), so a slow reader holds back InfluxDB instead of filling memory. Timestamps in epoch ms.
 */
export class InfluxQueryClient implements SeriesReader {
  private readonly base: string;
  private readonly agent: http.Agent;
  private readonly chunkSize: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: InfluxQueryOptions) {
    if (!/^https?:\/\/[^/]/.test(options.url))
      throw new Error(`influx query: url '${options.url}' must start with http:// or https://`);
    this.base = options.url.replace(/\/+$/, '');
    this.chunkSize = options.chunkSize ?? 10_000;
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize < 1)
      throw new Error(`influx query: chunkSize is ${this.chunkSize}, must be a whole number >= 1`);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.agent = this.base.startsWith('https:')
      ? new https.Agent({ keepAlive: true })
      : new http.Agent({ keepAlive: true });
  }

  async *query(influxql: string, signal?: AbortSignal): AsyncGenerator<SeriesPiece> {
    const response = await this.open(influxql, signal);
    try {
      if (response.statusCode !== 200) {
        const body = await readAll(response);
        throw new InfluxQueryError(
          `InfluxDB answered HTTP ${response.statusCode} to '${excerpt(influxql)}': ${describeBody(body)}`,
        );
      }
      let parts: Buffer[] = [];
      for await (const data of response as AsyncIterable<Buffer>) {
        let start = 0;
        for (let newline = data.indexOf(NEWLINE); newline !== -1; newline = data.indexOf(NEWLINE, start)) {
          parts.push(data.subarray(start, newline));
          const line = parts.length === 1 ? parts[0] : Buffer.concat(parts);
          parts = [];
          start = newline + 1;
          if (line.length > 0) yield* piecesOf(line, influxql);
        }
        if (start < data.length) parts.push(data.subarray(start));
      }
      const rest = Buffer.concat(parts);
      if (rest.length > 0) yield* piecesOf(rest, influxql);
    } finally {
      // Ends the request when the caller stops early; a no-op once the answer was read to its end.
      response.destroy();
    }
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private open(influxql: string, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
    const { database, retentionPolicy } = databaseOf(this.options.bucket);
    const params = new URLSearchParams({
      db: database,
      q: influxql,
      epoch: 'ms',
      chunked: 'true',
      chunk_size: String(this.chunkSize),
    });
    if (retentionPolicy) params.set('rp', retentionPolicy);
    const url = `${this.base}/query?${params.toString()}`;
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (this.options.token) headers.authorization = `Token ${this.options.token}`;
    const transport = url.startsWith('https:') ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.get(url, { agent: this.agent, headers, signal }, resolve);
      request.setTimeout(this.timeoutMs, () =>
        request.destroy(new InfluxQueryError(`InfluxDB silent for ${this.timeoutMs} ms at ${this.base}`)),
      );
      request.on('error', (error) =>
        reject(
          error instanceof InfluxQueryError || error.name === 'AbortError'
            ? error
            : new InfluxQueryError(`cannot query InfluxDB at ${this.base}: ${error.message}`),
        ),
      );
    });
  }
}

/** The client for the `influx` section: the token is read here, never kept in the configuration. */
export function influxQueryOptionsFromConfig(
  influx: InfluxConfig,
  context: { configDir: string; env?: NodeJS.ProcessEnv },
): InfluxQueryOptions {
  return {
    url: influx.url,
    bucket: influx.bucket,
    token: readInfluxToken(influx, context.configDir, context.env),
  };
}

function* piecesOf(line: Buffer, influxql: string): Generator<SeriesPiece> {
  let document: ChunkDocument;
  try {
    document = JSON.parse(line.toString('utf8')) as ChunkDocument;
  } catch {
    throw new InfluxQueryError(`InfluxDB sent a chunk that is not JSON: ${excerpt(line.toString('utf8'))}`);
  }
  if (document.error) throw new InfluxQueryError(`InfluxDB: ${document.error} ('${excerpt(influxql)}')`);
  for (const result of document.results ?? []) {
    if (result.error) throw new InfluxQueryError(`InfluxDB: ${result.error} ('${excerpt(influxql)}')`);
    for (const series of result.series ?? [])
      yield {
        measurement: series.name,
        tags: series.tags ?? {},
        columns: series.columns,
        values: series.values ?? [],
      };
  }
}

async function readAll(response: http.IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const data of response as AsyncIterable<Buffer>) parts.push(data);
  return Buffer.concat(parts).toString('utf8');
}

/** InfluxDB's `{"error": …}`, or the start of whatever else it sent. */
function describeBody(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    const message = parsed.error ?? parsed.message;
    if (typeof message === 'string') return excerpt(message);
  } catch {
    // not JSON: quoted as it is
  }
  return excerpt(body) || '(empty body)';
}

function excerpt(text: string): string {
  return excerptText(text, ERROR_EXCERPT_CHARS);
}
