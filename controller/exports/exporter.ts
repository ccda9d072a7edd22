import type { Logger } from '../../core/logger';
import { timeZone } from '../../core/localTime';
import type { SeriesPiece, SeriesReader } from '../../drivers/timeSeries';
import { outsideOf, type Actor } from '../scope';
import { RowFormatter } from './rows';
import {
  ExportPlanError,
  parseInstant,
  planExport,
  type ExportFormat,
  type ExportKind,
  type ExportPlan,
  type ExportShape,
  type ExportTerritory,
} from './selection';
import { startText } from './stream';

/** An export as asked, before checking: from the API's query string or the command line. */
export interface ExportRequest {
  kind: ExportKind;
  id: string;
  /** A date (local midnight) or a date-time with its offset. */
  from: string;
  to: string;
  format: ExportFormat;
}

/** An export under way: its file name and type, and its text, produced as it is read. */
export interface ExportStream {
  fileName: string;
  contentType: string;
  /** Pulls from InfluxDB only as fast as it is consumed; stopping early ends the query. */
  body: AsyncIterable<string>;
}

export interface ExportService {
  /**
   * Checks the request and the actor's scope and starts the read: InfluxDB's first answer is awaited,
   * so that an error there is an error of the request, not a cut file. Throws ExportError.
   */
  open(request: ExportRequest, actor: Actor, signal?: AbortSignal): Promise<ExportStream>;
}

export type ExportErrorCode = 'invalid' | 'not-found' | 'forbidden' | 'unavailable';

/** Coded like the other services' errors, which the API maps to 400, 404, 403 and 503. */
export class ExportError extends Error {
  constructor(
    readonly code: ExportErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}

const CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
};

export interface ExporterDeps {
  config: ExportTerritory & { site: { timezone: string } };
  /** Undefined when InfluxDB is not configured: every export is then unavailable. */
  reader: SeriesReader | undefined;
  logger: Logger;
}

/** Series of the configuration from InfluxDB to CSV or NDJSON, streamed (docs/exports.md). */
export class Exporter implements ExportService {
  constructor(private readonly deps: ExporterDeps) {}

  async open(request: ExportRequest, actor: Actor, signal?: AbortSignal): Promise<ExportStream> {
    const zone = timeZone(this.deps.config.site.timezone);
    let plan: ExportPlan;
    try {
      plan = planExport(this.deps.config, {
        kind: request.kind,
        id: request.id,
        fromMs: parseInstant('from', request.from, zone),
        toMs: parseInstant('to', request.to, zone),
      });
    } catch (error) {
      if (error instanceof ExportPlanError) throw new ExportError(error.status, error.message);
      throw error;
    }
    const outside = outsideOf(actor.communes, plan.communes);
    if (outside.length > 0)
      throw new ExportError(
        'forbidden',
        `${request.kind} '${request.id}' belongs to ${outside.join(', ')}, outside your communes`,
      );
    const reader = this.deps.reader;
    if (!reader)
      throw new ExportError('unavailable', 'InfluxDB is not configured: there is nothing to export');
    const formatter = new RowFormatter(request.format, zone);
    let body: AsyncIterable<string>;
    try {
      body = await startText(this.pieces(reader, plan, signal), {
        head: formatter.start(),
        item: ({ shape, piece }) => formatter.piece(shape, piece),
        tail: '',
      });
    } catch (error) {
      this.deps.logger.warn(`export of ${request.kind} '${request.id}': ${(error as Error).message}`);
      throw new ExportError('unavailable', `InfluxDB could not be read: ${(error as Error).message}`);
    }
    return {
      fileName: `${plan.baseName}.${request.format}`,
      contentType: CONTENT_TYPES[request.format],
      body,
    };
  }

  private async *pieces(
    reader: SeriesReader,
    plan: ExportPlan,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<{ shape: ExportShape; piece: SeriesPiece }> {
    for (const query of plan.queries)
      for await (const piece of reader.query(query.influxql, signal)) yield { shape: query.shape, piece };
  }
}
