// Open alerts, newest first; acknowledging says "seen, someone is on it".
import { api, errorBox, formatDateTime, h, replace, session, throttle } from './lib.js';
import { t } from './i18n.js';

export function alertsPage(main, { onUnauthorized }) {
  const cleared = h('input', { id: 'include-cleared', type: 'checkbox' });
  const list = h('div', { 'aria-live': 'polite' });
  main.append(
    h('h1', {}, t('alerts.title')),
    h('p', {}, h('label', { for: 'include-cleared' }, cleared, ` ${t('alerts.showCleared')}`)),
    list,
  );

  async function refresh() {
    try {
      const alerts = await api('GET', `/api/alerts?includeCleared=${cleared.checked}`);
      alerts.sort((a, b) => b.raisedAt - a.raisedAt);
      replace(
        list,
        alerts.length === 0
          ? h('p', { class: 'muted' }, t('alerts.none'))
          : h('div', { class: 'stack' }, alerts.map(card)),
      );
    } catch (error) {
      if (error.status === 401) return onUnauthorized();
      replace(list, errorBox(error));
    }
  }

  function card(alert) {
    const status = h('div', { role: 'status' });
    return h(
      'article',
      { class: 'panel', dataset: { alert: alert.id } },
      h(
        'div',
        {},
        h('span', { class: `badge ${alert.severity}` }, t(`severity.${alert.severity}`)),
        h('span', { class: 'badge' }, t(`alertState.${alert.state}`)),
        // The kind in the reader's language; the service's own message (in English) as the detail.
        h('strong', {}, t(`alertKind.${alert.kind}`)),
      ),
      h('div', { lang: 'en' }, alert.message),
      h(
        'div',
        { class: 'muted' },
        [
          alert.commune,
          alert.source,
          t('alerts.raisedAt', { at: formatDateTime(alert.raisedAt) }),
          alert.acknowledgedBy ? t('alerts.acknowledgedBy', { user: alert.acknowledgedBy }) : null,
          alert.clearedAt ? t('alerts.clearedAt', { at: formatDateTime(alert.clearedAt) }) : null,
        ]
          .filter(Boolean)
          .join(' · '),
      ),
      alert.state === 'raised' && session.can('alerts:acknowledge')
        ? h(
            'p',
            {},
            h(
              'button',
              {
                type: 'button',
                onclick: async () => {
                  try {
                    await api('POST', `/api/alerts/${encodeURIComponent(alert.id)}/acknowledge`);
                    refresh();
                  } catch (error) {
                    replace(status, errorBox(error));
                  }
                },
              },
              t('alerts.acknowledge'),
            ),
          )
        : null,
      status,
    );
  }

  cleared.addEventListener('change', refresh);
  const later = throttle(refresh, 1000);
  refresh();
  return {
    onEvent(type) {
      if (type === 'alert') later();
    },
  };
}
