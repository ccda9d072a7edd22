// The console's shell: sign-in (name and password, enrolment link, or a token), the pages a role may
// see, the live event stream, and the language switch.
import { ApiError, api, dropEarlyAnswers, errorBox, h, replace, session } from './lib.js';
import { currentLanguage, setLanguage, t } from './i18n.js';
import { mapPage } from './map.js';
// What a role cannot do is not shown; the API refuses it anyway.
// Each page's module loads when the page is first shown: the console opens with its shell and that page
// only. The map's is part of the shell: opened on the map, the console draws it with no module to wait for.
const PAGES = [
  {
    id: 'emergency',
    title: 'nav.emergency',
    permission: 'relight',
    load: () => import('./emergency.js').then((m) => m.emergencyPage),
    className: 'emergency',
  },
  {
    id: 'zones',
    title: 'nav.zones',
    permission: 'lighting:read',
    load: () => import('./zones.js').then((m) => m.zonesPage),
  },
  {
    id: 'map',
    title: 'map.title',
    permission: 'lighting:read',
    load: () => Promise.resolve(mapPage),
  },
  {
    id: 'programs',
    title: 'nav.programs',
    permission: 'programs:read',
    load: () => import('./programs.js').then((m) => m.programsPage),
  },
  {
    id: 'calendars',
    title: 'calendars.title',
    permission: 'programs:read',
    load: () => import('./calendars.js').then((m) => m.calendarsPage),
  },
  {
    id: 'overrides',
    title: 'overrides.title',
    // Those who may give overrides; the zones page shows everyone which luminaires one holds.
    permission: 'override',
    load: () => import('./overrides.js').then((m) => m.overridesPage),
  },
  {
    id: 'alerts',
    title: 'nav.alerts',
    permission: 'alerts:read',
    load: () => import('./alerts.js').then((m) => m.alertsPage),
  },
  {
    id: 'report',
    title: 'report.nav',
    permission: 'reports:read',
    load: () => import('./report.js').then((m) => m.reportPage),
  },
  {
    id: 'exports',
    title: 'exports.title',
    permission: 'exports:read',
    load: () => import('./exports.js').then((m) => m.exportsPage),
  },
  {
    id: 'officials',
    title: 'officials.title',
    permission: 'energy:read',
    load: () => import('./officials.js').then((m) => m.officialsPage),
  },
  {
    id: 'people',
    title: 'nav.people',
    permission: 'users:manage',
    load: () => import('./people.js').then((m) => m.peoplePage),
  },
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
const language = document.getElementById('language');

let current; // { id, drawn?, onEvent?, dispose? }
let stream; // EventSource
let streamWanted = false; // opened (or reopening) since the session began
let reconnectTimer;
let liveOn = false;

function visiblePages() {
  return PAGES.filter((p) => session.can(p.permission));
}

/** The shell's fixed texts, in the reader's language. */
function drawShell() {
  for (const node of document.querySelectorAll('[data-text]')) node.textContent = t(node.dataset.text);
  nav.setAttribute('aria-label', t('nav.pages'));
  // The switch names the other language in that language, as people look for it.
  const other = currentLanguage() === 'fr' ? 'en' : 'fr';
  language.textContent = t('nav.otherLanguage');
  language.setAttribute('lang', other);
  language.title = t('nav.language');
  if (!live.hidden) setLive(liveOn);
}

function forget() {
  dropEarlyAnswers();
  streamWanted = false;
  clearTimeout(reconnectTimer);
  closeStream();
  session.token = null;
  session.csrf = undefined;
  session.me = undefined;
  nav.hidden = true;
  live.hidden = true;
  logout.hidden = true;
  who.textContent = '';
}

function showLogin(message) {
  forget();
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const user = h('input', {
    id: 'user',
    name: 'username',
    autocomplete: 'username',
    autocapitalize: 'off',
    spellcheck: 'false',
    required: true,
  });
  const password = h('input', {
    id: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const form = h(
    'form',
    {
      class: 'panel stack',
      onsubmit: async (event) => {
        event.preventDefault();
        replace(status, t('login.checking'));
        try {
          signedIn(await api('POST', '/api/session', { user: user.value.trim(), password: password.value }));
        } catch (error) {
          password.value = '';
          replace(status, loginError(error, 'login.wrong'));
        }
      },
    },
    h('label', { for: 'user' }, t('login.user')),
    user,
    h('label', { for: 'password' }, t('login.password')),
    password,
    h('button', { class: 'primary', type: 'submit' }, t('login.submit')),
  );
  const token = h('input', {
    id: 'token',
    type: 'password',
    // A password manager may keep it: nobody types a 43-character token at 3 a.m.
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    required: true,
  });
  const tokenForm = h(
    'form',
    {
      class: 'stack',
      onsubmit: async (event) => {
        event.preventDefault();
        replace(status, t('login.checking'));
        try {
          const me = await api('GET', '/api/me', undefined, token.value.trim());
          session.token = token.value.trim();
          session.me = me;
          replace(status);
          beacon({ event: 'sign-in' });
          start();
        } catch (error) {
          replace(status, loginError(error, 'login.tokenWrong'));
        }
      },
    },
    h('p', { class: 'muted' }, t('login.tokenHelp')),
    h('label', { for: 'token' }, t('login.token')),
    token,
    h('button', { type: 'submit' }, t('login.tokenSubmit')),
  );
  replace(
    main,
    h('h1', {}, t('login.title')),
    message ? h('p', { class: 'error', role: 'alert' }, message) : null,
    h('p', { class: 'muted' }, t('login.intro')),
    form,
    status,
    h('details', { class: 'other-method' }, h('summary', {}, t('login.other')), tokenForm),
  );
  user.focus();
}

function loginError(error, wrongKey) {
  if (error instanceof ApiError && error.status === 401) return errorText(t(wrongKey));
  if (error instanceof ApiError && error.status === 429)
    return errorText(t('login.locked', { seconds: retryAfter(error) }));
  return errorBox(error);
}

const errorText = (text) => h('p', { class: 'error', role: 'alert' }, text);

/** The seconds the service said to wait, from its message (the header is not exposed to the page). */
function retryAfter(error) {
  const match = /(\d+) s\b/.exec(error.message);
  return match ? match[1] : '…';
}

/** An enrolment link (#enrol=<code>): the phone signs in once with it, and the code leaves the address bar. */
async function enrol(code) {
  history.replaceState(null, '', location.pathname);
  forget();
  replace(main, h('h1', {}, t('login.title')), h('p', { role: 'status' }, t('login.enrolling')));
  try {
    signedIn(await api('POST', '/api/session/enrol', { code }));
  } catch (error) {
    showLogin(error instanceof ApiError && error.status === 401 ? t('login.enrolWrong') : error.message);
  }
}

function signedIn(answer) {
  const { csrf, ...me } = answer;
  session.csrf = csrf;
  session.me = me;
  beacon({ event: 'sign-in' });
  start();
}

function start() {
  const me = session.me;
  who.textContent = `${me.name || me.user} · ${t(`role.${me.role}`)} · ${me.communes.join(', ')}`;
  logout.hidden = false;
  nav.hidden = false;
  replace(
    nav,
    visiblePages().map((p) =>
      h('a', { href: `#/${p.id}`, class: p.className, dataset: { page: p.id } }, t(p.title)),
    ),
  );
  route();
}

function route() {
  const enrolment = /^#enrol=([\w-]+)$/.exec(location.hash);
  if (enrolment) return enrol(enrolment[1]);
  if (!session.me) return;
  const pages = visiblePages();
  if (pages.length === 0) {
    replace(main, h('p', {}, t('nav.noPage')));
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
  current = { id: page.id };
  replace(main);
  const shown = current;
  page.load().then(
    (render) => {
      // Another page was asked for, or the session ended, while this one's module loaded.
      if (current !== shown || !session.me) return;
      Object.assign(current, render(main, { onUnauthorized: () => showLogin(t('nav.sessionEnded')) }));
      dropEarlyAnswers();
      main.focus({ preventScroll: true });
      // A page that draws its first view later (the map) says when: the event stream and the beacon
      // wait for it rather than compete with it. The page catches up on 'ready'.
      (current.drawn ?? Promise.resolve()).then(() => {
        if (current !== shown || !session.me) return;
        beacon({ event: 'page', page: page.id });
        if (!streamWanted) {
          streamWanted = true;
          openStream();
        }
      });
    },
    (error) => {
      if (current === shown) replace(main, errorBox(error));
    },
  );
}

// ---- live events: a one-use ticket for each EventSource, since it cannot send the token ----

const EVENT_TYPES = ['levels', 'progress', 'command', 'program', 'calendar', 'zone-calendar', 'alert'];

async function openStream() {
  closeStream();
  try {
    const { ticket } = await api('POST', '/api/events/ticket');
    // Signed out while the ticket came.
    if (!streamWanted) return;
    stream = new EventSource(`/api/events?ticket=${encodeURIComponent(ticket)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showLogin(t('nav.sessionEnded'));
    return scheduleReconnect();
  }
  // Events sent while the stream was closed are lost: pages that show live state read it again.
  stream.addEventListener('ready', () => {
    setLive(true);
    if (current && current.onEvent) current.onEvent('ready');
  });
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
  liveOn = on;
  live.hidden = false;
  live.className = `live ${on ? 'on' : 'off'}`;
  live.textContent = on ? t('nav.live') : t('nav.reconnecting');
}

logout.addEventListener('click', async () => {
  if (!session.token && session.me) await api('DELETE', '/api/session').catch(() => undefined);
  showLogin();
  location.hash = '';
});

language.addEventListener('click', () => {
  setLanguage(currentLanguage() === 'fr' ? 'en' : 'fr');
  drawShell();
  if (session.me) start();
  else showLogin();
});

window.addEventListener('hashchange', route);

(async () => {
  drawShell();
  if (/^#enrol=/.test(location.hash)) return route();
  // With a token in this tab, or else the cookie of a person signed in on this device (asked for by
  // index.html already, with the map's data when the console opens on the map).
  const asked = api('GET', '/api/me');
  try {
    const me = await asked;
    session.csrf = me.csrf;
    session.me = me;
    start();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401)
      return showLogin(session.token ? t('nav.sessionEnded') : undefined);
    showLogin(error.message);
  }
})();
