import type { IANAZone } from 'luxon';

/**
 * CSV as a French spreadsheet opens it without an import dialog: `;` between fields (the comma is the
 * decimal separator), decimal comma, CRLF line ends, UTF-8 announced by a byte order mark (without it,
 * Excel reads the file as Windows-1252 and `°C` turns into `Â°C`). Times are local with their offset
 * (`2026-11-03T22:15:00+01:00`): readable as the commune lives them, and still one instant each on the
 * autumn night when 02:30 happens twice. Pure: values in, text out.
 */

export const BOM = '\ufeff';
export const SEPARATOR = ';';
export const LINE_END = '\r\n';

/** A number with a decimal comma, all its digits (the shortest text that reads back as the same number). */
export function frenchDecimal(value: number): string {
  if (!Number.isFinite(value)) return '';
  const text = String(value);
  if (text.includes('e')) return plainDecimal(value);
  return text.includes('.') ? text.replace('.', ',') : text;
}

/**
 * Spreadsheets do not all read `1e-7`: very small and very large numbers are written out in full, from
 * the shortest digits that read back as the number (toFixed would write the binary value's 50 digits).
 */
function plainDecimal(value: number): string {
  const [mantissa, exponentText] = String(Math.abs(value)).split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  const sign = value < 0 ? '-' : '';
  return exponent < 0
    ? `${sign}0,${'0'.repeat(-exponent - 1)}${digits}`
    : sign + digits + '0'.repeat(exponent - (digits.length - 1));
}

/** A text field, quoted when it holds the separator, a quote or a line end (RFC 4180, with `;`). */
export function csvField(text: string): string {
  return /[;"\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line from fields already formatted, with its line end. */
export function csvLine(fields: readonly string[]): string {
  return fields.join(SEPARATOR) + LINE_END;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));

/**
 * Instants as local ISO 8601 times with their offset, in one time zone. Export rows come by the
 * million, so the zone is asked once per UTC day (its offset at both ends: equal means no change that
 * day, which holds on all but the two change days of a year, asked per row) and the date text is built
 * once per local day.
 */
export class LocalTimeFormatter {
  private day = Number.NaN;
  /** Offset in minutes over the whole UTC day `day`, or NaN when it changes during it. */
  private dayOffset = Number.NaN;
  private wallDay = Number.NaN;
  private datePrefix = '';
  private readonly suffixes = new Map<number, string>();

  constructor(private readonly zone: IANAZone) {}

  /** `2026-11-03T22:15:00+01:00`; milliseconds are shown only when there are some. */
  format(t: number): string {
    const day = Math.floor(t / DAY_MS);
    if (day !== this.day) {
      this.day = day;
      const start = this.zone.offset(day * DAY_MS);
      this.dayOffset = start === this.zone.offset((day + 1) * DAY_MS - 1) ? start : Number.NaN;
    }
    const offset = Number.isNaN(this.dayOffset) ? this.zone.offset(t) : this.dayOffset;
    const wall = t + offset * MINUTE_MS;
    const wallDay = Math.floor(wall / DAY_MS);
    if (wallDay !== this.wallDay) {
      this.wallDay = wallDay;
      this.datePrefix = new Date(wallDay * DAY_MS).toISOString().slice(0, 11);
    }
    const msOfDay = wall - wallDay * DAY_MS;
    const seconds = Math.floor(msOfDay / 1000);
    const ms = msOfDay - seconds * 1000;
    return (
      this.datePrefix +
      TWO_DIGITS[Math.floor(seconds / 3600)] +
      ':' +
      TWO_DIGITS[Math.floor(seconds / 60) % 60] +
      ':' +
      TWO_DIGITS[seconds % 60] +
      (ms === 0 ? '' : `.${String(ms).padStart(3, '0')}`) +
      this.suffix(offset)
    );
  }

  private suffix(offset: number): string {
    let text = this.suffixes.get(offset);
    if (text === undefined) {
      const abs = Math.abs(offset);
      text = `${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${TWO_DIGITS[abs % 60]}`;
      this.suffixes.set(offset, text);
    }
    return text;
  }
}
