// Numbers, dates and times in the reader's locale (fr-FR first), for the map, calendars, overrides and
// officials' pages. A value the service does not have shows as « — », never as 0.
import { currentLocale } from './i18n.js';

export function number(value, digits = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return '—';
  return new Intl.NumberFormat(currentLocale(), {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  }).format(value);
}

/** 'YYYY-MM-DD' → « mar. 14 juil. 2026 » (a calendar date, without time zone). */
export function civilDate(date) {
  const [y, m, d] = date.split('-').map(Number);
  return new Intl.DateTimeFormat(currentLocale(), {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  }).format(Date.UTC(y, m - 1, d));
}

export function time(ms, timeZone) {
  if (ms === undefined || ms === null) return '—';
  return new Intl.DateTimeFormat(currentLocale(), { hour: '2-digit', minute: '2-digit', timeZone }).format(
    ms,
  );
}

export function dateTime(ms) {
  if (ms === undefined || ms === null) return '—';
  return new Intl.DateTimeFormat(currentLocale(), { dateStyle: 'short', timeStyle: 'short' }).format(ms);
}
