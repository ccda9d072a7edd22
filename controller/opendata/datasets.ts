import type { Commune, OpenDataSetConfig } from '../../config/schema';
import { quoteIdentifier, quoteString, timeRange } from '../../drivers/influx/influxql';

/**
 * What an open dataset may contain, fixed here per source and nowhere else: one measurement of
 * telemetry (meter, sensor, lighting: never event, service or device, which carry actors), a few
 * aggregates over a day, and labels from an allow-list of tags that hold configuration ids of places
 * (commune, building, zone) or the kind of quantity. No room, point, luminaire or sensor id, no user, no
 * address, nothing of the audit log: the configuration chooses a source, it cannot widen one.
 * Pure: configuration in, InfluxQL and column definitions out.
 */

/** A published column: its name in the file, and where its value comes from. */
export interface DatasetColumn {
  name: string;
  /** A tag of the allow-list, the day, or an aggregate of the query (scaled). */
  from: { tag: PublishedTag } | { day: true } | { aggregate: string; scale: number };
}

/** The only tags a published file may show. */
export const PUBLISHED_TAGS = ['commune', 'building', 'zone', 'kind', 'quantity', 'unit'] as const;
export type PublishedTag = (typeof PUBLISHED_TAGS)[number];

/** Tags whose values must be ids of the configuration's places: a row naming anything else is dropped. */
export const PLACE_TAGS: readonly PublishedTag[] = ['commune', 'building', 'zone'];

export interface DatasetSource {
  measurement: 'meter' | 'sensor' | 'lighting';
  columns: readonly DatasetColumn[];
  /** The InfluxQL of one dataset over [from, to), days starting at local midnight in `timeZone`. */
  query(dataset: OpenDataSetConfig, communes: readonly string[], range: DayRange): string;
}

export interface DayRange {
  fromMs: number;
  toMs: number;
  timeZone: string;
}

const DAY = { name: 'date', from: { day: true } } as const;
const tag = (name: string, tagName: PublishedTag): DatasetColumn => ({ name, from: { tag: tagName } });
const aggregate = (name: string, field: string, scale = 1): DatasetColumn => ({
  name,
  from: { aggregate: field, scale },
});

/** `("tag" = 'a' OR "tag" = 'b')`, or nothing for an empty list (all). */
function anyOf(tagName: PublishedTag, values: readonly string[]): string[] {
  if (values.length === 0) return [];
  return [`(${values.map((v) => `${quoteIdentifier(tagName)} = ${quoteString(v)}`).join(' OR ')})`];
}

function daily(range: DayRange, groupBy: readonly string[]): string {
  return `GROUP BY time(1d), ${groupBy.map(quoteIdentifier).join(', ')} fill(none) tz(${quoteString(range.timeZone)})`;
}

function where(conditions: readonly string[]): string {
  return `WHERE ${conditions.join(' AND ')}`;
}

export const DATASET_SOURCES: Readonly<Record<OpenDataSetConfig['source'], DatasetSource>> = {
  // Meters' consumption (delta, never the index, which would tell when a meter was changed).
  'building-energy': {
    measurement: 'meter',
    columns: [
      DAY,
      tag('commune', 'commune'),
      tag('batiment', 'building'),
      tag('energie', 'kind'),
      tag('unite', 'unit'),
      aggregate('consommation', 'consumption'),
    ],
    query: (dataset, communes, range) =>
      `SELECT SUM("delta") AS "consumption" FROM "meter" ${where([
        ...anyOf('commune', communes),
        ...anyOf('kind', dataset.quantities),
        timeRange(range.fromMs, range.toMs),
      ])} ${daily(range, ['commune', 'building', 'kind', 'unit'])}`,
  },
  // Per luminaire and day, what its counters moved (SPREAD), then summed (energy) and averaged (hours)
  // over the zone: a zone's figure, never a luminaire's.
  'lighting-zones': {
    measurement: 'lighting',
    columns: [
      DAY,
      tag('commune', 'commune'),
      tag('zone', 'zone'),
      aggregate('energie_kwh', 'energy_wh', 1 / 1000),
      aggregate('heures_allumage', 'burn_s', 1 / 3600),
    ],
    query: (_dataset, communes, range) => {
      const conditions = [...anyOf('commune', communes), timeRange(range.fromMs, range.toMs)];
      return (
        `SELECT SUM("e") AS "energy_wh", MEAN("b") AS "burn_s" FROM (` +
        `SELECT SPREAD("energy_wh") AS "e", SPREAD("burn_s") AS "b" FROM "lighting" ${where(conditions)} ` +
        `${daily(range, ['commune', 'zone', 'luminaire'])}) ${where(conditions)} ${daily(range, ['commune', 'zone'])}`
      );
    },
  },
  // A site's readings of one quantity over a day, all its points together: never a room's or a point's.
  environment: {
    measurement: 'sensor',
    columns: [
      DAY,
      tag('commune', 'commune'),
      tag('site', 'building'),
      tag('grandeur', 'quantity'),
      tag('unite', 'unit'),
      aggregate('moyenne', 'mean'),
      aggregate('minimum', 'min'),
      aggregate('maximum', 'max'),
      aggregate('mesures', 'samples'),
    ],
    query: (dataset, communes, range) =>
      `SELECT MEAN("value") AS "mean", MIN("value") AS "min", MAX("value") AS "max", COUNT("value") AS "samples" FROM "sensor" ${where(
        [
          ...anyOf('commune', communes),
          ...anyOf('quantity', dataset.quantities),
          timeRange(range.fromMs, range.toMs),
        ],
      )} ${daily(range, ['commune', 'building', 'quantity', 'unit'])}`,
  },
};

/** The communes a dataset covers: its own list, or all. */
export function datasetCommunes(dataset: OpenDataSetConfig, communes: readonly Commune[]): Commune[] {
  return dataset.communes.length === 0
    ? [...communes]
    : communes.filter((c) => dataset.communes.includes(c.id));
}

const LICENCE_URIS: Readonly<Record<OpenDataSetConfig['licence'], { uri: string; title: string }>> = {
  'licence-ouverte-2.0': {
    uri: 'https://www.etalab.gouv.fr/licence-ouverte-open-licence/',
    title: 'Licence Ouverte / Open Licence version 2.0',
  },
  'odbl-1.0': {
    uri: 'https://opendatacommons.org/licenses/odbl/1-0/',
    title: 'Open Database License (ODbL) 1.0',
  },
};

const FREQUENCY_URIS: Readonly<Record<OpenDataSetConfig['frequency'], string>> = {
  daily: 'http://publications.europa.eu/resource/authority/frequency/DAILY',
  weekly: 'http://publications.europa.eu/resource/authority/frequency/WEEKLY',
  monthly: 'http://publications.europa.eu/resource/authority/frequency/MONTHLY',
};

export interface CatalogueContext {
  /** `https://host` without a trailing slash. */
  baseUrl: string;
  publisher: string;
  communes: readonly Commune[];
  /** The published period, the same for every dataset's `days`: from the first day to the last. */
  periodOf(dataset: OpenDataSetConfig): { start: string; end: string };
}

/**
 * The catalogue in DCAT-AP (JSON-LD): each dataset with its title, description, licence, frequency,
 * spatial and temporal coverage, keywords and two distributions (CSV, JSON), as data.gouv.fr and
 * the European data portal harvest it.
 */
export function dcatCatalogue(datasets: readonly OpenDataSetConfig[], context: CatalogueContext): object {
  const base = `${context.baseUrl}/opendata`;
  return {
    '@context': {
      dcat: 'http://www.w3.org/ns/dcat#',
      dct: 'http://purl.org/dc/terms/',
      foaf: 'http://xmlns.com/foaf/0.1/',
      xsd: 'http://www.w3.org/2001/XMLSchema#',
    },
    '@id': base,
    '@type': 'dcat:Catalog',
    'dct:title': `Données ouvertes — ${context.publisher}`,
    'dct:publisher': { '@type': 'foaf:Agent', 'foaf:name': context.publisher },
    'dcat:dataset': datasets.map((dataset) => {
      const communes = datasetCommunes(dataset, context.communes);
      const licence = LICENCE_URIS[dataset.licence];
      const period = context.periodOf(dataset);
      return {
        '@id': `${base}/${dataset.id}`,
        '@type': 'dcat:Dataset',
        'dct:identifier': dataset.id,
        'dct:title': dataset.title,
        'dct:description': dataset.description,
        'dct:publisher': { '@type': 'foaf:Agent', 'foaf:name': context.publisher },
        'dct:license': { '@id': licence.uri, 'dct:title': licence.title },
        'dct:accrualPeriodicity': { '@id': FREQUENCY_URIS[dataset.frequency] },
        'dct:spatial': {
          '@type': 'dct:Location',
          'dct:title':
            dataset.spatial ?? communes.map((c) => (c.insee ? `${c.name} (${c.insee})` : c.name)).join(', '),
        },
        'dct:temporal': {
          '@type': 'dct:PeriodOfTime',
          'dcat:startDate': { '@value': period.start, '@type': 'xsd:date' },
          'dcat:endDate': { '@value': period.end, '@type': 'xsd:date' },
        },
        'dcat:keyword': dataset.keywords,
        'dcat:distribution': [
          {
            '@type': 'dcat:Distribution',
            'dcat:accessURL': { '@id': `${base}/${dataset.id}.csv` },
            'dcat:downloadURL': { '@id': `${base}/${dataset.id}.csv` },
            'dcat:mediaType': 'text/csv',
            'dct:format': 'CSV',
            'dct:license': { '@id': licence.uri },
          },
          {
            '@type': 'dcat:Distribution',
            'dcat:accessURL': { '@id': `${base}/${dataset.id}.json` },
            'dcat:downloadURL': { '@id': `${base}/${dataset.id}.json` },
            'dcat:mediaType': 'application/json',
            'dct:format': 'JSON',
            'dct:license': { '@id': licence.uri },
          },
        ],
      };
    }),
  };
}
