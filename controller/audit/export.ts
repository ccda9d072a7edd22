import { BOM, csvField, csvLine } from '../exports/csv';
import type { AuditEntry } from './entry';

/**
 * A person's own actions, as the audit log holds them, for a right-of-access request (RGPD art. 15):
 * JSON, or CSV that opens as it is in a French spreadsheet (';' between fields, UTF-8 with a BOM, times
 * in the site's local time with their offset). Pure: entries in, text out.
 */

export const AUDIT_EXPORT_FORMATS = ['json', 'csv'] as const;
export type AuditExportFormat = (typeof AUDIT_EXPORT_FORMATS)[number];

const COLUMNS = [
  'at',
  'actor',
  'role',
  'via',
  'from',
  'action',
  'target',
  'communes',
  'result',
  'status',
  'message',
  'id',
  'count',
] as const;

export interface AuditExport {
  contentType: string;
  body: string;
}

/** Oldest first, as a person reads their history. */
export function auditExport(
  user: string,
  entries: readonly AuditEntry[],
  format: AuditExportFormat,
  context: { timeZone: string; exportedAt: number },
): AuditExport {
  const ordered = [...entries].sort((a, b) => a.at - b.at);
  if (format === 'json')
    return {
      contentType: 'application/json; charset=utf-8',
      body: `${JSON.stringify(
        {
          user,
          exportedAt: new Date(context.exportedAt).toISOString(),
          count: ordered.length,
          entries: ordered.map((entry) => ({ ...entry, time: localIso(entry.at, context.timeZone) })),
        },
        null,
        2,
      )}\n`,
    };
  const rows = ordered.map((entry) =>
    COLUMNS.map((column) => {
      if (column === 'at') return localIso(entry.at, context.timeZone);
      if (column === 'communes') return entry.communes.join(' ');
      const value = entry[column];
      return value === undefined ? '' : String(value);
    }),
  );
  return {
    contentType: 'text/csv; charset=utf-8',
    body: BOM + [[...COLUMNS], ...rows].map((row) => csvLine(row.map(defused).map(csvField))).join(''),
  };
}

/** '2026-12-04T22:13:05+01:00': local time with its offset, unambiguous on the autumn night. */
export function localIso(at: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  }).formatToParts(at);
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)!.value;
  const offset = part('timeZoneName').replace('GMT', '') || '+00:00';
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}${offset}`;
}

/** A leading = + - @ would make a spreadsheet read a formula: written as text instead. */
function defused(value: string): string {
  return /^[=+\-@]/.test(value) ? `'${value}` : value;
}
