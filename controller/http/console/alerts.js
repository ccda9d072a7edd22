// Open alerts, newest first; acknowledging says "seen, someone is on it".
import { api, errorBox, formatDateTime, h, replace, session, throttle } from './lib.js';

export function alertsPage(main, { onUnauthorized }) {
  const cleared = h('input', { id: 'include-cleared', type: 'checkbox' });
  const list = h('div', { 'aria-live': 'polite' });
  main.append(
    h('h1', {}, 'Alerts'),
    h('p', {}, h('label', { for: 'include-cleared' }, cleared, ' Show recently cleared alerts')),
    list,
  );

  async function refresh() {
    try {
      const alerts = await api('GET', `/api/alerts?includeCleared=${cleared.checked}`);
      alerts.sort((a, b) => b.raisedAt - a.raisedAt);
      replace(
        list,
        alerts.length === 0
          ? h('p', { class: 'muted' }, 'No open alert.')
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
        h('span', { class: `badge ${alert.severity}` }, alert.severity),
        h('span', { class: 'badge' }, alert.state),
        h('strong', {}, alert.message),
      ),
      h(
        'div',
        { class: 'muted' },
        `${alert.commune} · ${alert.source} · ${alert.kind} · raised ${formatDateTime(alert.raisedAt)}`,
        alert.acknowledgedBy ? ` · acknowledged by ${alert.acknowledgedBy}` : '',
        alert.clearedAt ? ` · cleared ${formatDateTime(alert.clearedAt)}` : '',
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
              'Acknowledge',
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
