import type { AlertView, Severity } from '../services';
import type { AlertChange } from './engine';
import { withUnit } from './messages';

/**
 * What people read, in French: an e-mail (subject, plain text, simple HTML) and an SMS text, saying
 * the severity, what, where (commune, then the building, zone, luminaire or device), when in the site's
 * local time, and a link to the console. Pure: the alert and its context in, texts out.
 */

export interface MessageContext {
  /** IANA zone of the site: times are shown in it. */
  timeZone: string;
  /** Commune ids to their names. */
  communeNames: ReadonlyMap<string, string>;
  /** The console's address; absent: no link. */
  consoleUrl?: string;
}

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

const SEVERITY_LABEL: Readonly<Record<Severity, string>> = {
  info: 'Information',
  warning: 'Avertissement',
  critical: 'CRITIQUE',
};

const CHANGE_LABEL: Readonly<Record<AlertChange, string>> = {
  raised: 'Alerte',
  acknowledged: 'Alerte prise en compte',
  cleared: 'Fin d’alerte',
};

export function emailMessage(alert: AlertView, change: AlertChange, context: MessageContext): EmailMessage {
  const lines = detailLines(alert, change, context);
  const heading = `${CHANGE_LABEL[change]} ${SEVERITY_LABEL[alert.severity].toLowerCase()}`;
  const subject = `[Nocturne] ${SEVERITY_LABEL[alert.severity]} – ${CHANGE_LABEL[change]} : ${alert.message} (${communeName(alert.commune, context)})`;
  const text = [
    heading,
    '',
    ...lines.map(([label, value]) => `${label} : ${value}`),
    '',
    'Message envoyé automatiquement par Nocturne.',
  ].join('\n');
  const html = [
    '<!doctype html><html lang="fr"><body style="font-family:sans-serif">',
    `<h2>${escapeHtml(heading)}</h2>`,
    '<table>',
    ...lines.map(([label, value]) =>
      label === 'Console'
        ? `<tr><th align="left">${label}</th><td><a href="${escapeHtml(value)}">${escapeHtml(value)}</a></td></tr>`
        : `<tr><th align="left">${label}</th><td>${escapeHtml(value)}</td></tr>`,
    ),
    '</table>',
    '<p><small>Message envoyé automatiquement par Nocturne.</small></p>',
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

/** One line, cut to `maxChars` with an ellipsis: severity, change, what, where, when. */
export function smsText(
  alert: AlertView,
  change: AlertChange,
  context: MessageContext,
  maxChars: number,
): string {
  const at = changeTime(alert, change);
  const full =
    `${CHANGE_LABEL[change]} ${SEVERITY_LABEL[alert.severity]} ${formatShortTime(at, context.timeZone)} ` +
    `${communeName(alert.commune, context)}, ${alert.source} : ${alert.message}`;
  return cut(full, maxChars);
}

function detailLines(
  alert: AlertView,
  change: AlertChange,
  context: MessageContext,
): [label: string, value: string][] {
  const lines: [string, string][] = [
    ['Gravité', SEVERITY_LABEL[alert.severity]],
    ['Quoi', alert.message],
    ['Où', `${communeName(alert.commune, context)} – ${alert.source}`],
    ['Quand', formatLongTime(alert.raisedAt, context.timeZone)],
  ];
  if (alert.value !== undefined) lines.push(['Valeur', withUnit(alert.value, alert.unit)]);
  lines.push(['Règle', alert.ruleName ? `${alert.ruleName} (${alert.rule})` : alert.rule]);
  if (change === 'acknowledged' || alert.acknowledgedBy !== undefined)
    lines.push([
      'Prise en compte',
      `par ${alert.acknowledgedBy ?? '?'} le ${formatLongTime(alert.acknowledgedAt ?? changeTime(alert, change), context.timeZone)}`,
    ]);
  if (change === 'cleared') lines.push(['Fin', formatLongTime(changeTime(alert, change), context.timeZone)]);
  lines.push(['Identifiant', alert.id]);
  if (context.consoleUrl) lines.push(['Console', `${context.consoleUrl.replace(/\/+$/, '')}/#/alerts`]);
  return lines;
}

function changeTime(alert: AlertView, change: AlertChange): number {
  if (change === 'acknowledged') return alert.acknowledgedAt ?? alert.raisedAt;
  if (change === 'cleared') return alert.clearedAt ?? alert.raisedAt;
  return alert.raisedAt;
}

function communeName(id: string, context: MessageContext): string {
  return id === '*' ? 'tout le territoire' : (context.communeNames.get(id) ?? id);
}

/** 'vendredi 4 décembre 2026 à 22:13 (UTC+1)': local time with its offset, unambiguous in October. */
function formatLongTime(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('fr-FR', {
    timeZone,
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'shortOffset',
  }).format(at);
}

/** '04/12 22:13' */
function formatShortTime(at: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('fr-FR', {
    timeZone,
    day: '2-digit',
    month: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).formatToParts(at);
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)!.value;
  return `${part('day')}/${part('month')} ${part('hour')}:${part('minute')}`;
}

/** Cut on a character boundary (not inside a surrogate pair), with an ellipsis. */
function cut(text: string, maxChars: number): string {
  const chars = Array.from(text);
  return chars.length <= maxChars ? text : `${chars.slice(0, maxChars - 1).join('')}…`;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
