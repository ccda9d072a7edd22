// The console's shell: login with a token, the pages a role may see, the live event stream.
import { ApiError, api, errorBox, h, replace, session } from './lib.js';
import { alertsPage } from './alerts.js';
import { emergencyPage } from './emergency.js';
import { exportsPage } from './exports.js';
import { mapEntry } from './map.js';
import { calendarsEntry } from './calendars.js';
import { overridesEntry } from './overrides.js';
import { officialsEntry } from './officials.js';
import { programsPage } from './programs.js';
import { reportPage } from './report.js';
import { t } from './i18n.js';
import { zonesPage } from './zones.js';

// What a role cannot do is not shown; the API refuses it anyway.
const PAGES = [
  {
    id: 'emergency',
    title: 'Emergency',
    permission: 'relight',
    render: emergencyPage,
    className: 'emergency',
  },
  { id: 'zones', title: 'Zones', permission: 'lighting:read', render: zonesPage },
  mapEntry,
  { id: 'programs', title: 'Programs', permission: 'programs:read', render: programsPage },
  calendarsEntry,
  overridesEntry,
  { id: 'alerts', title: 'Alerts', permission: 'alerts:read', render: alertsPage },
  { id: 'report', title: t('report.nav'), permission: 'reports:read', render: reportPage },
  { id: 'exports', title: 'Exports', permission: 'exports:read', render: exportsPage },
  officialsEntry,
];

/** Usage counting (docs/evaluation.md): what happened, never who; a lost beacon is not worth an error. */
function beacon(body) {
  api('POST', '/api/usage/views', body).catch(() => undefined);
}

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const live = document.getElementById('live');
const logout = document.getElementById('logout');

let current; // { id, onEvent?, dispose? }
let stream; // EventSource
let reconnectTimer;

function visiblePages() {
  return PAGES.filter((p) => session.can(p.permission));
}

function showLogin(message) {
  closeStream();
  session.token = null;
  session.me = undefined;
  nav.hidden = true;
  live.hidden = true;
  logout.hidden = true;
  who.textContent = '';
  const input = h('input', {
    id: 'token',
    type: 'password',
    // The phone's password manager may keep it: nobody types a 43-character token at 3 a.m.
    autocomplete: 'current-password',
    autocapitalize: 'off',
    spellcheck: 'false',
    required: true,
  });
  const status = h('div', { role: 'status' });
  const form = h(
    'form',
    {
      class: 'panel stack',
      onsubmit: async (event) => {
        event.preventDefault();
        replace(status, 'Checking…');
        try {
          const me = await api('GET', '/api/me', undefined, input.value.trim());
          session.token = input.value.trim();
          session.me = me;
          replace(status);
          beacon({ event: 'sign-in' });
          start();
        } catch (error) {
          replace(status, errorBox(error.status === 401 ? new Error('This token is not valid.') : error));
        }
      },
    },
    h('label', { for: 'token' }, 'Access token'),
    input,
    h('button', { class: 'primary', type: 'submit' }, 'Log in'),
    status,
  );
  replace(
    main,
    h('h1', {}, 'Log in'),
    message ? h('p', { class: 'error', role: 'alert' }, message) : null,
    h('p', { class: 'muted' }, 'Paste the token your administrator gave you. It stays in this tab only.'),
    form,
  );
  input.focus();
}

function start() {
  const me = session.me;
  who.textContent = `${me.name || me.user} · ${me.role} · ${me.communes.join(', ')}`;
  logout.hidden = false;
  nav.hidden = false;
  replace(
    nav,
    visiblePages().map((p) =>
      h('a', { href: `#/${p.id}`, class: p.className, dataset: { page: p.id } }, p.title),
    ),
  );
  openStream();
  route();
}

function route() {
  if (!session.me) return;
  const pages = visiblePages();
  if (pages.length === 0) {
    replace(main, h('p', {}, 'This token gives access to no page of the console.'));
    return;
  }
  const wanted = location.hash.replace(/^#\//, '').split('/')[0];
  const page = pages.find((p) => p.id === wanted);
  if (!page) {
    location.replace(`#/${pages[0].id}`);
    return;
  }
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.page === page.id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (current && current.dispose) current.dispose();
  replace(main);
  current = {
    id: page.id,
    ...(page.render(main, { onUnauthorized: () => showLogin('Your session ended: log in again.') }) || {}),
  };
  main.focus({ preventScroll: true });
  beacon({ event: 'page', page: page.id });
}

// ---- live events: a one-use ticket for each EventSource, since it cannot send the token ----

const EVENT_TYPES = ['levels', 'progress', 'command', 'program', 'calendar', 'zone-calendar', 'alert'];

async function openStream() {
  closeStream();
  try {
    const { ticket } = await api('POST', '/api/events/ticket');
    stream = new EventSource(`/api/events?ticket=${encodeURIComponent(ticket)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401)
      return showLogin('Your session ended: log in again.');
    return scheduleReconnect();
  }
  stream.addEventListener('ready', () => setLive(true));
  for (const type of EVENT_TYPES)
    stream.addEventListener(type, (event) => {
      if (current && current.onEvent) current.onEvent(type, JSON.parse(event.data));
    });
  // A ticket is good once: on any error, a new stream with a new ticket.
  stream.addEventListener('error', () => {
    setLive(false);
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  closeStream();
  setLive(false);
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(() => {
    if (session.me) openStream();
  }, 3000);
}

function closeStream() {
  if (stream) stream.close();
  stream = undefined;
}

function setLive(on) {
  live.hidden = false;
  live.className = `live ${on ? 'on' : 'off'}`;
  live.textContent = on ? 'live' : 'reconnecting…';
}

logout.addEventListener('click', () => {
  showLogin();
  location.hash = '';
});
window.addEventListener('hashchange', route);

(async () => {
  if (!session.token) return showLogin();
  try {
    session.me = await api('GET', '/api/me');
    start();
  } catch (error) {
    showLogin(
      error instanceof ApiError && error.status === 401 ? 'Your session ended: log in again.' : error.message,
    );
  }
})();
