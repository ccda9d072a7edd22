// Open alerts, newest first; acknowledging says "seen, someone is on it".
import { api, errorBox, formatDateTime, h, replace, session, throttle } from './lib.js';
import { currentLocale, t } from './i18n.js';

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
        h('strong', {}, t(`alertKind.${alert.kind}`)),
      ),
      h('div', {}, alertText(alert)),
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

/**
 * The alert's text in the reader's language, from its code and parameters, by the same rules as the
 * service's catalogue (controller/telemetry/alerts/texts.ts): numbers in the reader's locale, `unit`
 * with its space, names ending in `Ms` as durations, `faults` translated, `devices` joined by
 * semicolons, other lists by commas. A code this console does not know shows the service's message.
 */
export function alertText(alert) {
  const template = known(`alertText.${alert.code}`, null);
  if (template === null) return alert.message;
  const params = alert.params || {};
  return template.replace(/\{(\w+)\}/g, (_, name) => alertParam(name, params[name]));
}

function alertParam(name, value) {
  if (name === 'unit') return value ? ` ${value}` : '';
  if (name.endsWith('Ms')) return alertDuration(value);
  if (Array.isArray(value)) {
    if (name === 'faults') return value.map((code) => known(`alertFault.${code}`, code)).join(', ');
    return value.join(name === 'devices' ? ' ; ' : ', ');
  }
  if (typeof value === 'string') return value;
  return alertNumber(value);
}

function alertNumber(value) {
  return typeof value === 'number' && Number.isFinite(value)
    ? value.toLocaleString(currentLocale(), { maximumFractionDigits: 3 })
    : '?';
}

function alertDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '?';
  const minutes = Math.round(ms / 60_000);
  const hours = Math.round(minutes / 60);
  const [unit, n] =
    minutes < 1
      ? ['s', Math.max(1, Math.round(ms / 1000))]
      : minutes < 120
        ? ['min', minutes]
        : hours < 48
          ? ['h', hours]
          : ['days', Math.round(hours / 24)];
  return t(`alertDuration.${unit}`, { n: alertNumber(n) });
}

/** The catalogue's text for `key`, or `fallback` when it has none. */
function known(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}
