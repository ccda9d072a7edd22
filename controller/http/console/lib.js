// Shared helpers of the console: the API with the session's cookie or token, DOM building without
// innerHTML (every text from the service goes in as text), and formatting in the reader's locale.
import { currentLocale, t } from './i18n.js';

const TOKEN_KEY = 'nocturne.token';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  /**
   * A person signed in with a cookie (which no script reads): the CSRF token that must go with every
   * request that changes something. From the sign-in answer, or GET /api/me after a reload.
   */
  csrf: undefined,
  /** GET /api/me once logged in: user, role, communes, permissions. */
  me: undefined,
  can(permission) {
    return Boolean(this.me && this.me.permissions.includes(permission));
  },
};

/** The answers index.html asked for while the modules loaded (path → fetch), each taken once by api(). */
const early = window.nocturneEarly ?? new Map();

/** What index.html asked for serves the first page shown only, and nobody once signed out. */
export function dropEarlyAnswers() {
  early.clear();
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * JSON over the API with the session's bearer token, or else its cookie and CSRF token; throws
 * ApiError on anything but 2xx (status 0 when the service cannot be reached). Nothing is kept by the
 * browser unless `cache` says so ('no-cache': kept, and revalidated by its ETag at each use).
 */
export async function api(method, path, body, token = session.token, cache = 'no-store') {
  const headers = { 'x-nocturne-client': 'console' };
  if (token) headers.authorization = `Bearer ${token}`;
  else if (session.csrf && method !== 'GET') headers['x-csrf-token'] = session.csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const asked = early.get(path);
  early.delete(path);
  let response;
  try {
    response =
      asked && method === 'GET' && token === session.token
        ? await asked
        : await fetch(path, {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            cache,
            credentials: 'same-origin',
          });
  } catch {
    throw new ApiError(0, undefined);
  }
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** h('button', { class: 'primary', onclick }, 'Relight') */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** An error box: what went wrong in the reader's words, then every problem the API listed. */
export function errorBox(error) {
  const issues = (error && error.body && error.body.issues) || [];
  const [title, detail] =
    error instanceof ApiError ? messageFor(error) : [String(error && error.message ? error.message : error)];
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('strong', {}, title),
    detail ? h('div', { class: 'detail' }, detail) : null,
    issues.length
      ? h(
          'ul',
          {},
          issues.map((i) => h('li', {}, `${i.path}: ${i.message}`)),
        )
      : null,
  );
}

/** The reader's words for what went wrong, by status; the service's own words (in English) as detail. */
function messageFor(error) {
  if (error.status === 0) return [t('error.network')];
  const generic = [400, 401, 403, 404, 409, 429, 500, 503].includes(error.status)
    ? t(`error.${error.status}`)
    : t('error.500');
  const own = error.body && error.body.message;
  return own && error.status !== 401 && error.status !== 500
    ? [generic, t('error.detail', { message: own })]
    : [generic];
}

/** A level bar and its percentage; the width goes through the CSSOM, which the CSP allows. */
export function levelBar(min, max) {
  if (min === undefined || min === null) return h('span', { class: 'muted' }, t('level.failsafe'));
  const bar = h('span');
  bar.style.setProperty('width', `${Math.max(0, Math.min(100, max))}%`);
  const text = min === max ? `${round(max)} %` : `${round(min)}–${round(max)} %`;
  return h('span', {}, h('span', { class: 'level', 'aria-hidden': 'true' }, bar), text);
}

export function round(value, digits = 0) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A value the service does not have shows as « — », never as 0. */
export function formatNumber(value, digits = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return '—';
  return value.toLocaleString(currentLocale(), {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

export function formatTime(ms, timeZone) {
  if (ms === undefined || ms === null) return '—';
  return new Intl.DateTimeFormat(currentLocale(), {
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone,
  }).format(ms);
}

export function formatDateTime(ms) {
  if (ms === undefined || ms === null) return '—';
  return new Intl.DateTimeFormat(currentLocale(), {
    dateStyle: 'short',
    timeStyle: 'short',
    hourCycle: 'h23',
  }).format(ms);
}

/** A calendar day given as 'YYYY-MM-DD', in words of the reader's locale: « 14 juillet 2026 ». */
export function formatDay(isoDate) {
  const ms = Date.parse(`${isoDate}T00:00:00Z`);
  if (Number.isNaN(ms)) return isoDate;
  return new Intl.DateTimeFormat(currentLocale(), { dateStyle: 'long', timeZone: 'UTC' }).format(ms);
}

/** A calendar day given as 'YYYY-MM-DD', short and with its weekday: « mar. 14 juil. 2026 » (a night's row). */
export function formatNightDay(isoDate) {
  const ms = Date.parse(`${isoDate}T00:00:00Z`);
  if (Number.isNaN(ms)) return isoDate;
  return new Intl.DateTimeFormat(currentLocale(), {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  }).format(ms);
}

/** A table of energy, cost and emissions, one row per [label, {kWh, eur, kgCo2e}]: a year's cost compared. */
export function costTable(rows) {
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}),
          h('th', { class: 'num' }, 'kWh'),
          h('th', { class: 'num' }, '€'),
          h('th', { class: 'num' }, 'kg CO2e'),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map(([label, f]) =>
          h(
            'tr',
            {},
            h('th', {}, label),
            h('td', { class: 'num' }, formatNumber(f.kWh)),
            h('td', { class: 'num' }, formatNumber(f.eur)),
            h('td', { class: 'num' }, formatNumber(f.kgCo2e)),
          ),
        ),
      ),
    ),
  );
}

export function describeTarget(target) {
  if (!target) return '';
  if (target.all) return t('target.all');
  if (target.commune) return t('target.commune', { id: target.commune });
  if (target.zone) return t('target.zone', { id: target.zone });
  return t('target.luminaires', { count: target.luminaires.length });
}

/**
 * Reasons of emergency relights travel as codes, in any language's log the same ('road-accident'),
 * with the free text, if any, after a colon ('road-accident: rue barrée'); a reason given as plain
 * text by an older client is shown as it is.
 */
export const REASON_CODES = ['road-accident', 'police', 'fire-rescue', 'public-safety', 'medical'];

export function reasonOf(code, note) {
  const text = (note || '').trim();
  return text ? `${code}: ${text}` : code;
}

export function describeReason(reason) {
  const match = /^([a-z-]+)(?::\s*([\s\S]*))?$/.exec(reason || '');
  if (!match || !REASON_CODES.includes(match[1])) return reason;
  return match[2] ? `${t(`reason.${match[1]}`)} — ${match[2]}` : t(`reason.${match[1]}`);
}

/** Calls fn at most once per `ms`, the last call winning. */
export function throttle(fn, ms) {
  let timer;
  let last = 0;
  return () => {
    const wait = Math.max(0, last + ms - Date.now());
    clearTimeout(timer);
    timer = setTimeout(() => {
      last = Date.now();
      fn();
    }, wait);
  };
}
