import type { IANAZone } from 'luxon';
import { parseCivilDate, zonedInstant } from '../../core/localTime';
import { quoteIdentifier, tagConditions, timeRange } from '../../drivers/influx/influxql';

/**
 * What an export reads: a series named by what it is about (a building point, a building, a lighting
 * zone, a commune) and a period, resolved against the configuration into InfluxQL queries, the
 * communes it touches (for scope) and how each row is labelled. Pure: configuration and text in,
 * a plan out; the exporter runs it.
 */

export const EXPORT_KINDS = ['point', 'building', 'zone', 'commune'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export const EXPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Longest period one export covers: ten years of 15-minute data is still a stream, not a memory. */
export const MAX_EXPORT_DAYS = 3660;
const DAY_MS = 86_400_000;

/** A measurement as an export reads it: which fields, and how a series' tags label its rows. */
export interface ExportShape {
  measurement: 'meter' | 'sensor' | 'lighting';
  /** Tag naming the place: a building or a zone. */
  placeTag: string;
  /** Tag naming the point: a meter, a building point or a luminaire. */
  pointTag: string;
  /** The quantity (`electricity`, `temperature`, `lighting`) from the series' tags. */
  quantity(tags: Readonly<Record<string, string>>): string;
  fields: readonly { name: string; unit(tags: Readonly<Record<string, string>>): string }[];
}

const TAGGED_UNIT = (tags: Readonly<Record<string, string>>): string => tags.unit ?? '';

/** The numeric fields exported per measurement (docs/influx-schema.md); text fields such as quality are not. */
export const EXPORT_SHAPES: Readonly<Record<ExportShape['measurement'], ExportShape>> = {
  meter: {
    measurement: 'meter',
    placeTag: 'building',
    pointTag: 'meter',
    quantity: (tags) => tags.kind ?? '',
    fields: [
      { name: 'index', unit: TAGGED_UNIT },
      { name: 'delta', unit: TAGGED_UNIT },
    ],
  },
  sensor: {
    measurement: 'sensor',
    placeTag: 'building',
    pointTag: 'point',
    quantity: (tags) => tags.quantity ?? '',
    fields: [{ name: 'value', unit: TAGGED_UNIT }],
  },
  lighting: {
    measurement: 'lighting',
    placeTag: 'zone',
    pointTag: 'luminaire',
    quantity: () => 'lighting',
    fields: [
      { name: 'level', unit: () => '%' },
      { name: 'power_w', unit: () => 'W' },
      { name: 'energy_wh', unit: () => 'Wh' },
    ],
  },
};

/** What a plan needs of the configuration (Config has it; a benchmark builds it without devices). */
export interface ExportTerritory {
  communes: readonly { id: string }[];
  zones: readonly { id: string; commune: string }[];
  buildings: readonly {
    id: string;
    commune: string;
    points: readonly { id: string; measurement: 'meter' | 'sensor' }[];
  }[];
}

export interface ExportQuery {
  shape: ExportShape;
  influxql: string;
}

export interface ExportPlan {
  kind: ExportKind;
  id: string;
  /** The communes the series belong to: the actor's scope must reach them all. */
  communes: string[];
  fromMs: number;
  toMs: number;
  queries: ExportQuery[];
  /** A file name without extension, from plain characters only. */
  baseName: string;
}

/** A request the plan cannot be made from: `field` names the parameter, `status` what kind of refusal. */
export class ExportPlanError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly status: 'invalid' | 'not-found',
  ) {
    super(`${field}: ${message}`);
    this.name = 'ExportPlanError';
  }
}

/**
 * An instant from the text of a request: a date (`2026-11-03`, midnight in the site's time zone) or an
 * ISO 8601 date-time with its offset or `Z` (`2026-11-03T22:15:00+01:00`). A date-time without an
 * offset is refused: it would be ambiguous once a year.
 */
export function parseInstant(field: string, text: string, zone: IANAZone): number {
  const date = parseCivilDate(text);
  if (date) return zonedInstant(zone, date, 0).at;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const at = Date.parse(text);
    if (Number.isFinite(at)) return at;
  }
  throw new ExportPlanError(
    field,
    `'${text.slice(0, 40)}' is not a date (2026-11-03) or a date-time with its offset (2026-11-03T22:15:00+01:00)`,
    'invalid',
  );
}

export function planExport(
  config: ExportTerritory,
  request: { kind: ExportKind; id: string; fromMs: number; toMs: number },
): ExportPlan {
  const { kind, id, fromMs, toMs } = request;
  if (toMs <= fromMs) throw new ExportPlanError('to', 'must be after from', 'invalid');
  if (toMs - fromMs > MAX_EXPORT_DAYS * DAY_MS)
    throw new ExportPlanError('to', `the period is longer than ${MAX_EXPORT_DAYS} days`, 'invalid');
  const range = timeRange(fromMs, toMs);
  const select = (shape: ExportShape, tags: Record<string, string>): ExportQuery => {
    const fields = shape.fields.map((f) => quoteIdentifier(f.name)).join(', ');
    const where = [tagConditions(tags), range].filter(Boolean).join(' AND ');
    return {
      shape,
      influxql: `SELECT ${fields} FROM ${quoteIdentifier(shape.measurement)} WHERE ${where} GROUP BY *`,
    };
  };
  const plan = (communes: string[], queries: ExportQuery[]): ExportPlan => ({
    kind,
    id,
    communes,
    fromMs,
    toMs,
    queries,
    baseName: `nocturne-${kind}-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`,
  });
  switch (kind) {
    case 'point': {
      const slash = id.indexOf('/');
      const building = config.buildings.find((b) => b.id === id.slice(0, slash));
      const point = slash > 0 ? building?.points.find((p) => p.id === id.slice(slash + 1)) : undefined;
      if (!building || !point)
        throw new ExportPlanError('id', `no building point '${id}' (write it building/point)`, 'not-found');
      const shape = EXPORT_SHAPES[point.measurement];
      return plan([building.commune], [select(shape, { building: building.id, [shape.pointTag]: point.id })]);
    }
    case 'building': {
      const building = config.buildings.find((b) => b.id === id);
      if (!building) throw new ExportPlanError('id', `no building '${id}'`, 'not-found');
      const measurements = (['meter', 'sensor'] as const).filter((m) =>
        building.points.some((p) => p.measurement === m),
      );
      return plan(
        [building.commune],
        measurements.map((m) => select(EXPORT_SHAPES[m], { building: id })),
      );
    }
    case 'zone': {
      const zone = config.zones.find((z) => z.id === id);
      if (!zone) throw new ExportPlanError('id', `no zone '${id}'`, 'not-found');
      return plan([zone.commune], [select(EXPORT_SHAPES.lighting, { zone: id })]);
    }
    case 'commune': {
      if (!config.communes.some((c) => c.id === id))
        throw new ExportPlanError('id', `no commune '${id}'`, 'not-found');
      return plan(
        [id],
        (['meter', 'sensor', 'lighting'] as const).map((m) => select(EXPORT_SHAPES[m], { commune: id })),
      );
    }
  }
}
