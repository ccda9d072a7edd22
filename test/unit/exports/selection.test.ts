import path from 'node:path';
import { RowFormatter } from '../../../controller/exports/rows';
import {
  ExportPlanError,
  EXPORT_SHAPES,
  parseInstant,
  planExport,
} from '../../../controller/exports/selection';
import { loadConfig } from '../../../config/load';
import { timeZone } from '../../../core/localTime';

const config = loadConfig(path.join(__dirname, '../../fixtures/config/exports.yaml'));
const paris = timeZone('Europe/Paris');
const FROM = Date.parse('2026-11-01T00:00:00+01:00');
const TO = Date.parse('2026-12-01T00:00:00+01:00');

describe('parseInstant', () => {
  it('reads a date as local midnight, and a date-time with its offset', () => {
    expect(parseInstant('from', '2026-11-01', paris)).toBe(FROM);
    expect(parseInstant('from', '2026-07-14', paris)).toBe(Date.parse('2026-07-13T22:00:00Z'));
    expect(parseInstant('to', '2026-11-03T22:15:00+01:00', paris)).toBe(Date.parse('2026-11-03T21:15:00Z'));
    expect(parseInstant('to', '2026-11-03T21:15Z', paris)).toBe(Date.parse('2026-11-03T21:15:00Z'));
  });

  it('refuses a date-time without offset and what is not a date, naming the field', () => {
    expect(() => parseInstant('from', '2026-11-03T22:15:00', paris)).toThrow(
      "from: '2026-11-03T22:15:00' is not a date (2026-11-03) or a date-time with its offset",
    );
    expect(() => parseInstant('to', '2026-02-30', paris)).toThrow(ExportPlanError);
    expect(() => parseInstant('to', 'hier', paris)).toThrow("to: 'hier'");
  });
});

describe('planExport', () => {
  it('reads one meter point by its building and meter tags, with escaped names and the period', () => {
    const plan = planExport(config, { kind: 'point', id: 'mairie/elec', fromMs: FROM, toMs: TO });
    expect(plan.communes).toEqual(['metz']);
    expect(plan.queries.map((q) => q.influxql)).toEqual([
      `SELECT "index", "delta" FROM "meter" WHERE "building" = 'mairie' AND "meter" = 'elec' AND time >= ${FROM}ms AND time < ${TO}ms GROUP BY *`,
    ]);
    expect(plan.baseName).toBe('nocturne-point-mairie_elec');
  });

  it('reads a building’s meters and sensors, a zone’s luminaires, a commune’s everything', () => {
    const measurements = (kind: 'building' | 'zone' | 'commune', id: string): string[] =>
      planExport(config, { kind, id, fromMs: FROM, toMs: TO }).queries.map((q) => q.shape.measurement);
    expect(measurements('building', 'mairie')).toEqual(['meter', 'sensor']);
    expect(measurements('building', 'gymnase')).toEqual(['meter']);
    expect(measurements('zone', 'rue-serpenoise')).toEqual(['lighting']);
    expect(measurements('commune', 'montigny')).toEqual(['meter', 'sensor', 'lighting']);
    expect(
      planExport(config, { kind: 'zone', id: 'rue-serpenoise', fromMs: FROM, toMs: TO }).communes,
    ).toEqual(['metz']);
    expect(
      planExport(config, { kind: 'commune', id: 'montigny', fromMs: FROM, toMs: TO }).queries[0].influxql,
    ).toContain(`WHERE "commune" = 'montigny' AND time >=`);
  });

  it('refuses unknown series as not found and bad periods as invalid, naming the field', () => {
    const refusal = (request: Parameters<typeof planExport>[1]): unknown => {
      try {
        planExport(config, request);
      } catch (error) {
        return { status: (error as ExportPlanError).status, message: (error as Error).message };
      }
      return undefined;
    };
    expect(refusal({ kind: 'point', id: 'mairie/gaz', fromMs: FROM, toMs: TO })).toEqual({
      status: 'not-found',
      message: "id: no building point 'mairie/gaz' (write it building/point)",
    });
    expect(refusal({ kind: 'point', id: 'elec', fromMs: FROM, toMs: TO })).toMatchObject({
      status: 'not-found',
    });
    expect(refusal({ kind: 'zone', id: "x' OR 1=1", fromMs: FROM, toMs: TO })).toMatchObject({
      status: 'not-found',
    });
    expect(refusal({ kind: 'commune', id: 'metz', fromMs: TO, toMs: FROM })).toEqual({
      status: 'invalid',
      message: 'to: must be after from',
    });
    expect(refusal({ kind: 'commune', id: 'metz', fromMs: 0, toMs: 3661 * 86_400_000 })).toEqual({
      status: 'invalid',
      message: 'to: the period is longer than 3660 days',
    });
  });
});

describe('RowFormatter', () => {
  const piece = {
    tags: { commune: 'metz', building: 'mairie', meter: 'elec', kind: 'electricity', unit: 'kWh' },
    columns: ['time', 'index', 'delta'],
    values: [
      [Date.parse('2026-10-25T00:45:00Z'), 1000.5, null],
      [Date.parse('2026-10-25T01:00:00Z'), 1001.25, 0.75],
    ],
  };

  it('writes CSV with a BOM, a French header and one row per value', () => {
    const csv = new RowFormatter('csv', paris);
    expect(csv.start()).toBe('\ufeffhorodatage;commune;lieu;point;grandeur;champ;unité;valeur\r\n');
    expect(csv.piece(EXPORT_SHAPES.meter, piece)).toBe(
      [
        '2026-10-25T02:45:00+02:00;metz;mairie;elec;electricity;index;kWh;1000,5',
        '2026-10-25T02:00:00+01:00;metz;mairie;elec;electricity;index;kWh;1001,25',
        '2026-10-25T02:00:00+01:00;metz;mairie;elec;electricity;delta;kWh;0,75',
        '',
      ].join('\r\n'),
    );
  });

  it('writes NDJSON objects with numbers as JSON numbers', () => {
    const ndjson = new RowFormatter('ndjson', paris);
    expect(ndjson.start()).toBe('');
    const lines = ndjson
      .piece(EXPORT_SHAPES.meter, piece)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      {
        time: '2026-10-25T02:45:00+02:00',
        commune: 'metz',
        place: 'mairie',
        point: 'elec',
        quantity: 'electricity',
        field: 'index',
        unit: 'kWh',
        value: 1000.5,
      },
      {
        time: '2026-10-25T02:00:00+01:00',
        commune: 'metz',
        place: 'mairie',
        point: 'elec',
        quantity: 'electricity',
        field: 'index',
        unit: 'kWh',
        value: 1001.25,
      },
      {
        time: '2026-10-25T02:00:00+01:00',
        commune: 'metz',
        place: 'mairie',
        point: 'elec',
        quantity: 'electricity',
        field: 'delta',
        unit: 'kWh',
        value: 0.75,
      },
    ]);
  });

  it('quotes labels that hold a separator and gives lighting fields their units', () => {
    const csv = new RowFormatter('csv', paris);
    const text = csv.piece(EXPORT_SHAPES.lighting, {
      tags: { commune: 'metz', zone: 'place;gare', luminaire: 'l-1' },
      columns: ['time', 'level', 'power_w', 'energy_wh'],
      values: [[Date.parse('2026-11-03T21:15:00Z'), 50, 20, null]],
    });
    expect(text).toBe(
      '2026-11-03T22:15:00+01:00;metz;"place;gare";l-1;lighting;level;%;50\r\n' +
        '2026-11-03T22:15:00+01:00;metz;"place;gare";l-1;lighting;power_w;W;20\r\n',
    );
  });
});
