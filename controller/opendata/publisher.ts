import type { Config, OpenDataSetConfig } from '../../config/schema';
import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import {
  addDays,
  formatCivilDate,
  localDateTime,
  timeZone,
  zonedInstant,
  type CivilDate,
} from '../../core/localTime';
import type { SeriesPiece, SeriesReader } from '../../drivers/timeSeries';
import { BOM, csvField, csvLine, frenchDecimal } from '../exports/csv';
import { startText } from '../exports/stream';
import {
  DATASET_SOURCES,
  PLACE_TAGS,
  datasetCommunes,
  dcatCatalogue,
  type DatasetColumn,
  type DatasetSource,
} from './datasets';

export type OpenDataFormat = 'csv' | 'json';

export interface OpenDataFile {
  fileName: string;
  contentType: string;
  body: AsyncIterable<string>;
}

/** Open data for anyone: the catalogue and each dataset's files (docs/exports.md). */
export interface OpenDataService {
  /** The DCAT-AP catalogue (JSON-LD); `requestBase` is used when open_data.base_url is not set. */
  catalogue(requestBase: string): object;
  /** `<dataset>.csv` or `<dataset>.json`, streamed from InfluxDB. Throws OpenDataError. */
  open(file: string, signal?: AbortSignal): Promise<OpenDataFile>;
}

export class OpenDataError extends Error {
  constructor(
    readonly code: 'not-found' | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'OpenDataError';
  }
}

const FILE_PATTERN = /^([a-z0-9][a-z0-9_-]{0,63})\.(csv|json)$/;
const CONTENT_TYPES: Readonly<Record<OpenDataFormat, string>> = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
};
/** Aggregates are rounded to this many decimals: a daily sum has no meaning beyond the µ-unit. */
const DECIMALS = 6;

export interface OpenDataDeps {
  config: Pick<Config, 'site' | 'communes' | 'buildings' | 'zones' | 'open_data'>;
  reader: SeriesReader | undefined;
  clock: Clock;
  logger: Logger;
}

export class OpenDataPublisher implements OpenDataService {
  /** Ids a place tag may show: any other value in InfluxDB (a stray or hand-written point) is not published. */
  private readonly places: Readonly<Record<string, ReadonlySet<string>>>;

  constructor(private readonly deps: OpenDataDeps) {
    const { communes, buildings, zones } = deps.config;
    this.places = {
      commune: new Set(communes.map((c) => c.id)),
      building: new Set(buildings.map((b) => b.id)),
      zone: new Set(zones.map((z) => z.id)),
    };
  }

  catalogue(requestBase: string): object {
    const { config } = this.deps;
    return dcatCatalogue(config.open_data.datasets, {
      baseUrl: (config.open_data.base_url ?? requestBase).replace(/\/+$/, ''),
      publisher: config.open_data.publisher ?? config.site.name,
      communes: config.communes,
      periodOf: (dataset) => {
        const { first, end } = this.days(dataset);
        return { start: formatCivilDate(first), end: formatCivilDate(addDays(end, -1)) };
      },
    });
  }

  async open(file: string, signal?: AbortSignal): Promise<OpenDataFile> {
    const match = FILE_PATTERN.exec(file);
    const dataset = match && this.deps.config.open_data.datasets.find((d) => d.id === match[1]);
    if (!match || !dataset)
      throw new OpenDataError(
        'not-found',
        `no open data file '${file.slice(0, 80)}' (see the catalogue at /opendata)`,
      );
    const format = match[2] as OpenDataFormat;
    const reader = this.deps.reader;
    if (!reader)
      throw new OpenDataError('unavailable', 'InfluxDB is not configured: no open data to publish');
    const source = DATASET_SOURCES[dataset.source];
    const zone = timeZone(this.deps.config.site.timezone);
    const { first, end } = this.days(dataset);
    const communes = datasetCommunes(dataset, this.deps.config.communes).map((c) => c.id);
    const influxql = source.query(dataset, communes, {
      fromMs: zonedInstant(zone, first, 0).at,
      toMs: zonedInstant(zone, end, 0).at,
      timeZone: this.deps.config.site.timezone,
    });
    const allowedCommunes = new Set(communes);
    const rows = this.rows(reader.query(influxql, signal), source, (t) =>
      formatCivilDate(localDateTime(zone, t).date),
    );
    const published = (async function* () {
      for await (const row of rows) if (allowedCommunes.has(row.commune as string)) yield row;
    })();
    let body: AsyncIterable<string>;
    try {
      body = await startText(published, format === 'csv' ? csvText(source.columns) : jsonText());
    } catch (error) {
      this.deps.logger.warn(`open data ${dataset.id}: ${(error as Error).message}`);
      throw new OpenDataError('unavailable', 'the data cannot be read now; try again later');
    }
    return { fileName: `${dataset.id}.${format}`, contentType: CONTENT_TYPES[format], body };
  }

  /** Complete days: the `days` before today in the site's time zone, as [first, end). */
  private days(dataset: OpenDataSetConfig): { first: CivilDate; end: CivilDate } {
    const today = localDateTime(timeZone(this.deps.config.site.timezone), this.deps.clock.now()).date;
    return { first: addDays(today, -dataset.days), end: today };
  }

  /** Rows as published: only the source's columns, only rows whose places are configured ids. */
  private async *rows(
    pieces: AsyncIterable<SeriesPiece>,
    source: DatasetSource,
    dayOf: (t: number) => string,
  ): AsyncGenerator<Record<string, string | number | null>> {
    for await (const piece of pieces) {
      if (!PLACE_TAGS.every((tag) => piece.tags[tag] === undefined || this.places[tag].has(piece.tags[tag])))
        continue;
      const timeColumn = piece.columns.indexOf('time');
      for (const values of piece.values) {
        const row: Record<string, string | number | null> = {};
        let measured = false;
        for (const column of source.columns) {
          const from = column.from;
          if ('day' in from) row[column.name] = dayOf(values[timeColumn] as number);
          else if ('tag' in from) row[column.name] = piece.tags[from.tag] ?? '';
          else {
            const value = values[piece.columns.indexOf(from.aggregate)];
            row[column.name] = typeof value === 'number' ? round(value * from.scale) : null;
            measured ||= typeof value === 'number';
          }
        }
        if (measured) yield row;
      }
    }
  }
}

function round(value: number): number {
  return Number(value.toFixed(DECIMALS));
}

function csvText(
  columns: readonly DatasetColumn[],
): Parameters<typeof startText<Record<string, string | number | null>>>[1] {
  return {
    head: BOM + csvLine(columns.map((c) => c.name)),
    item: (row) =>
      csvLine(
        columns.map((c) => {
          const value = row[c.name];
          return typeof value === 'number' ? frenchDecimal(value) : csvField(value ?? '');
        }),
      ),
    tail: '',
  };
}

/** A JSON array, written as its rows come: `[`, rows separated by commas, `]`. */
function jsonText(): Parameters<typeof startText<Record<string, string | number | null>>>[1] {
  let separator = '\n';
  return {
    head: '[',
    item: (row) => {
      const text = separator + JSON.stringify(row);
      separator = ',\n';
      return text;
    },
    tail: '\n]\n',
  };
}
