// People, for administrators: an enrolment link and its QR code to sign a phone in, and sign-out
// everywhere (a lost phone, someone leaving). Passwords are set from the command line, where they are
// typed without echo: `nocturne user password <id>`.
import { api, errorBox, formatDateTime, h, replace } from './lib.js';
import { t } from './i18n.js';

export function peoplePage(main, { onUnauthorized }) {
  const list = h('div', { class: 'scroll' });
  const result = h('section', { id: 'people-result', 'aria-live': 'polite' });
  main.append(h('h1', {}, t('people.title')), h('p', { class: 'muted' }, t('people.intro')), result, list);

  const fail = (box) => (error) => {
    if (error.status === 401) return onUnauthorized();
    replace(box, errorBox(error));
  };

  async function refresh() {
    try {
      const people = await api('GET', '/api/users');
      replace(
        list,
        h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, t('people.person')),
              h('th', {}, t('people.role')),
              h('th', { class: 'num' }, t('people.sessions')),
              h('th', {}, t('people.actions')),
            ),
          ),
          h('tbody', {}, people.map(row)),
        ),
      );
    } catch (error) {
      fail(list)(error);
    }
  }

  function row(person) {
    const label = person.name || person.user;
    return h(
      'tr',
      { dataset: { user: person.user } },
      h(
        'td',
        {},
        label,
        h(
          'div',
          { class: 'muted' },
          `${person.user} · ${person.communes.join(', ')} · ${t(person.password ? 'people.passwordSet' : 'people.noPassword')}`,
        ),
      ),
      h('td', {}, t(`role.${person.role}`)),
      h('td', { class: 'num' }, String(person.sessions)),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'row' },
          h('button', { type: 'button', onclick: () => enrol(person.user, label) }, t('people.enrol')),
          h(
            'button',
            { type: 'button', class: 'quiet', onclick: () => signOut(person.user, label) },
            t('people.signOut'),
          ),
        ),
      ),
    );
  }

  async function enrol(user, label) {
    try {
      const issued = await api('POST', `/api/users/${encodeURIComponent(user)}/enrolment`);
      const qr = h('img', {
        class: 'qr',
        alt: t('people.qrAlt', { person: label }),
        src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(issued.qrSvg)}`,
      });
      replace(
        result,
        h(
          'div',
          { class: 'panel' },
          h('h2', { tabindex: '-1' }, t('people.enrolTitle', { person: label })),
          qr,
          h('p', {}, t('people.enrolHelp', { at: formatDateTime(issued.expiresAt) })),
          h('p', {}, h('code', { class: 'link' }, issued.link)),
        ),
      );
      result.querySelector('h2').focus();
      refresh();
    } catch (error) {
      fail(result)(error);
    }
  }

  async function signOut(user, label) {
    if (!window.confirm(t('people.signOutAsk', { person: label }))) return;
    try {
      const { sessionsEnded } = await api('POST', `/api/users/${encodeURIComponent(user)}/signout`);
      replace(
        result,
        h(
          'div',
          { class: 'confirmed', role: 'status' },
          t('people.signedOut', { person: label, count: sessionsEnded }),
        ),
      );
      refresh();
    } catch (error) {
      fail(result)(error);
    }
  }

  refresh();
}
