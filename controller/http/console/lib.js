// Shared helpers of the console: the API with the session's token, DOM building without innerHTML
// (every text from the service goes in as text), and formatting.

const TOKEN_KEY = 'nocturne.token';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  /** GET /api/me once logged in: user, role, communes, permissions. */
  me: undefined,
  can(permission) {
    return Boolean(this.me && this.me.permissions.includes(permission));
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** JSON over the API with the session's bearer token; throws ApiError on anything but 2xx. */
export async function api(method, path, body, token = session.token) {
  const headers = { 'x-nocturne-client': 'console' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
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

/** An error box naming every problem the API listed. */
export function errorBox(error) {
  const issues = (error && error.body && error.body.issues) || [];
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h(
      'strong',
      {},
      error instanceof ApiError ? messageFor(error) : String(error && error.message ? error.message : error),
    ),
    issues.length
      ? h(
          'ul',
          {},
          issues.map((i) => h('li', {}, `${i.path}: ${i.message}`)),
        )
      : null,
  );
}

function messageFor(error) {
  if (error.status === 401) return 'Your token is no longer valid: log in again.';
  if (error.status === 403) return `Not allowed: ${error.message}`;
  if (error.status === 429) return `Too many requests: ${error.message}`;
  if (error.status === 503) return `The service is not ready: ${error.message}`;
  return error.message;
}

/** A level bar and its percentage; the width goes through the CSSOM, which the CSP allows. */
export function levelBar(min, max) {
  if (min === undefined || min === null) return h('span', { class: 'muted' }, 'fail-safe');
  const bar = h('span');
  bar.style.setProperty('width', `${Math.max(0, Math.min(100, max))}%`);
  const text = min === max ? `${round(max)} %` : `${round(min)}–${round(max)} %`;
  return h('span', {}, h('span', { class: 'level', 'aria-hidden': 'true' }, bar), text);
}

export function round(value, digits = 0) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function formatNumber(value, digits = 0) {
  if (value === undefined || value === null) return '—';
  return value.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function formatTime(ms, timeZone) {
  if (ms === undefined || ms === null) return '—';
  return new Intl.DateTimeFormat(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone,
  }).format(ms);
}

export function formatDateTime(ms) {
  if (ms === undefined || ms === null) return '—';
  return new Intl.DateTimeFormat(undefined, {
    dateStyle: 'short',
    timeStyle: 'short',
    hourCycle: 'h23',
  }).format(ms);
}

export function describeTarget(target) {
  if (!target) return '';
  if (target.all) return 'whole territory';
  if (target.commune) return `commune ${target.commune}`;
  if (target.zone) return `zone ${target.zone}`;
  return `${target.luminaires.length} luminaire(s)`;
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
