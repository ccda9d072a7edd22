import { integerValue, seriesKey } from '../../drivers/influx/lineProtocol';
import { formatCivilDate, localDateTime, parseCivilDate, timeZone, zonedInstant } from '../../core/localTime';

/**
 * How much the console and the API are used: counts per day, role, commune and kind, and nothing else —
 * no user id, no address, no time finer than the day (docs/evaluation.md). Pure: the I/O side
 * (usageLog.ts) persists the counts and writes them to InfluxDB.
 */

/**
 * `sign-in` (a console log-in), `page:<page>` (a console page shown), or `api:<METHOD> <path>` (a request
 * to an endpoint of access.ts's ENDPOINTS, the console's included).
 */
export type UsageKind = 'sign-in' | `page:${string}` | `api:${string}`;

export interface UsageRecord {
  /** 'YYYY-MM-DD', local day of the site. */
  day: string;
  role: string;
  /** The communes of the token: one id, several joined by ',' in order, or '*' for the territory. */
  commune: string;
  kind: UsageKind;
  count: number;
}

/** The scope of a token as the aggregate keeps it: '*' when it covers everything, else its ids sorted. */
export function usageCommune(communes: readonly string[]): string {
  return communes.includes('*') ? '*' : [...communes].sort().join(',');
}

/** Whether a scope may read a record: every commune of the record lies within it. */
export function usageVisibleTo(scope: readonly string[], record: { commune: string }): boolean {
  if (scope.includes('*')) return true;
  return record.commune !== '*' && record.commune.split(',').every((c) => scope.includes(c));
}

const SEPARATOR = '\u0000';

export class UsageCounts {
  private readonly counts = new Map<string, number>();
  private readonly zone;

  constructor(timeZoneName: string) {
    this.zone = timeZone(timeZoneName);
  }

  /** Counts one use at instant `at`; returns the local day it went to. */
  count(at: number, role: string, communes: readonly string[], kind: UsageKind): string {
    const day = formatCivilDate(localDateTime(this.zone, at).date);
    const key = [day, role, usageCommune(communes), kind].join(SEPARATOR);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    return day;
  }

  /** Records from a saved file, added to what is counted (a restart continues the day's counts). */
  restore(records: readonly UsageRecord[]): void {
    for (const r of records) {
      const key = [r.day, r.role, r.commune, r.kind].join(SEPARATOR);
      this.counts.set(key, (this.counts.get(key) ?? 0) + r.count);
    }
  }

  /** Records of days from `from` to `to` included ('YYYY-MM-DD'; either open), in key order. */
  records(from?: string, to?: string): UsageRecord[] {
    const out: UsageRecord[] = [];
    for (const [key, count] of this.counts) {
      const [day, role, commune, kind] = key.split(SEPARATOR);
      if ((from !== undefined && day < from) || (to !== undefined && day > to)) continue;
      out.push({ day, role, commune, kind: kind as UsageKind, count });
    }
    return out.sort(
      (a, b) =>
        compare(a.day, b.day) ||
        compare(a.role, b.role) ||
        compare(a.commune, b.commune) ||
        compare(a.kind, b.kind),
    );
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A record as a point of the `usage` measurement (docs/influx-schema.md): tags commune, kind, role; the
 * day's count as an integer field, at local midnight of the day, so that a later count overwrites it.
 */
export function usageLine(record: UsageRecord, zone: ReturnType<typeof timeZone>): string {
  const date = parseCivilDate(record.day);
  if (!date) throw new Error(`usage: day '${record.day}' is not a date`);
  const tags = { commune: record.commune, kind: record.kind, role: record.role };
  return `${seriesKey('usage', tags)} count=${integerValue(record.count)} ${zonedInstant(zone, date, 0).at}`;
}
