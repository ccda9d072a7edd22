import type { IANAZone } from 'luxon';
import { BOM, LINE_END, LocalTimeFormatter, SEPARATOR, csvField, csvLine, frenchDecimal } from './csv';
import type { ExportFormat, ExportShape } from './selection';

/**
 * Rows of an export, as text, one piece of a series at a time: the labels of a series (commune, place,
 * point, quantity, field, unit) are formatted once per piece, then each value costs a time, a number
 * and a concatenation. One row per value: a series' fields come out as rows, never as columns, so
 * that a building's meters and sensors share one header and a pivot table regroups them.
 */

/** The columns, in French: the file is for the commune's spreadsheet. */
export const CSV_COLUMNS = ['horodatage', 'commune', 'lieu', 'point', 'grandeur', 'champ', 'unité', 'valeur'];

/** A piece of a series as InfluxDB gives it (drivers/timeSeries.ts SeriesPiece). */
export interface RowsPiece {
  tags: Readonly<Record<string, string>>;
  columns: readonly string[];
  values: readonly (readonly unknown[])[];
}

export class RowFormatter {
  private readonly times: LocalTimeFormatter;

  constructor(
    private readonly format: ExportFormat,
    zone: IANAZone,
  ) {
    this.times = new LocalTimeFormatter(zone);
  }

  /** What the file starts with: the byte order mark and the header (CSV), nothing (NDJSON). */
  start(): string {
    return this.format === 'csv' ? BOM + csvLine(CSV_COLUMNS) : '';
  }

  /** The rows of one piece; values that are absent or not numbers are left out. */
  piece(shape: ExportShape, piece: RowsPiece): string {
    const timeColumn = piece.columns.indexOf('time');
    const labels = {
      commune: piece.tags.commune ?? '',
      place: piece.tags[shape.placeTag] ?? '',
      point: piece.tags[shape.pointTag] ?? '',
      quantity: shape.quantity(piece.tags),
    };
    const fields = shape.fields
      .map((field) => ({
        column: piece.columns.indexOf(field.name),
        unit: field.unit(piece.tags),
        field: field.name,
      }))
      .filter((f) => f.column !== -1)
      .map((f) => ({
        column: f.column,
        ...(this.format === 'csv'
          ? {
              before:
                SEPARATOR +
                [labels.commune, labels.place, labels.point, labels.quantity, f.field, f.unit]
                  .map(csvField)
                  .join(SEPARATOR) +
                SEPARATOR,
              after: LINE_END,
            }
          : {
              before: `","commune":${JSON.stringify(labels.commune)},"place":${JSON.stringify(labels.place)},"point":${JSON.stringify(labels.point)},"quantity":${JSON.stringify(labels.quantity)},"field":${JSON.stringify(f.field)},"unit":${JSON.stringify(f.unit)},"value":`,
              after: '}\n',
            }),
      }));
    const start = this.format === 'csv' ? '' : '{"time":"';
    const number = this.format === 'csv' ? frenchDecimal : String;
    let text = '';
    for (const row of piece.values) {
      let time: string | undefined;
      for (const field of fields) {
        const value = row[field.column];
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        time ??= this.times.format(row[timeColumn] as number);
        text += start + time + field.before + number(value) + field.after;
      }
    }
    return text;
  }
}
