// Zones with their live level, who decides it and how much of it the devices confirm.
import { api, errorBox, formatNumber, h, levelBar, replace, throttle } from './lib.js';
import { t } from './i18n.js';

const SLOTS = ['emergency', 'override', 'presence', 'schedule', 'undecided'];

export function zonesPage(main, { onUnauthorized }) {
  const filter = h('select', { id: 'commune-filter' }, h('option', { value: '' }, t('zones.allCommunes')));
  const body = h('div', { class: 'scroll' });
  const detail = h('section', { 'aria-live': 'polite' });
  main.append(
    h('h1', {}, t('zones.title')),
    h(
      'div',
      { class: 'row' },
      h('div', {}, h('label', { for: 'commune-filter' }, t('zones.commune')), filter),
    ),
    body,
    detail,
  );
  let zones = [];
  let open; // zone id shown in detail

  async function refresh() {
    try {
      zones = await api('GET', '/api/zones');
      const communes = [...new Set(zones.map((z) => z.commune))].sort();
      if (filter.options.length !== communes.length + 1) {
        const chosen = filter.value;
        replace(
          filter,
          h('option', { value: '' }, t('zones.allCommunes')),
          communes.map((c) => h('option', { value: c }, c)),
        );
        filter.value = chosen;
      }
      draw();
      if (open) showDetail(open);
    } catch (error) {
      if (error.status === 401) return onUnauthorized();
      replace(body, errorBox(error));
    }
  }

  function draw() {
    const shown = zones.filter((z) => !filter.value || z.commune === filter.value);
    replace(
      body,
      h(
        'table',
        {},
        h('caption', { class: 'muted' }, t('zones.count', { count: shown.length })),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, t('zones.zone')),
            h('th', {}, t('zones.level')),
            h('th', {}, t('zones.decidedBy')),
            h('th', { class: 'num' }, t('zones.confirmed')),
            h('th', { class: 'num hide-narrow' }, t('zones.power')),
          ),
        ),
        h(
          'tbody',
          {},
          shown.map((z) =>
            h(
              'tr',
              { dataset: { zone: z.id } },
              h(
                'td',
                {},
                h(
                  'a',
                  {
                    href: '#/zones',
                    onclick: (e) => {
                      e.preventDefault();
                      showDetail(z.id);
                    },
                  },
                  z.name || z.id,
                ),
                h('div', { class: 'muted' }, z.commune),
              ),
              h('td', {}, z.level ? levelBar(z.level.min, z.level.max) : levelBar()),
              h(
                'td',
                {},
                SLOTS.filter((s) => z.slots[s] > 0).map((s) =>
                  h('span', { class: `badge ${s}` }, `${t(`slot.${s}`)} ${z.slots[s]}`),
                ),
              ),
              h('td', { class: 'num' }, `${z.confirmed}/${z.luminaires}`),
              h('td', { class: 'num hide-narrow' }, formatNumber(z.powerW)),
            ),
          ),
        ),
      ),
    );
  }

  async function showDetail(id) {
    open = id;
    try {
      const zone = await api('GET', `/api/zones/${encodeURIComponent(id)}`);
      replace(
        detail,
        h('h2', {}, zone.name || zone.id),
        h(
          'p',
          { class: 'muted' },
          zone.schedule
            ? t('zones.tonight', {
                program: zone.schedule.program,
                level: zone.schedule.level,
                presence: zone.schedule.allowPresence ? t('zones.presenceMayRaise') : '',
              })
            : t('zones.noSchedule'),
        ),
        h(
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
                h('th', {}, t('zones.luminaire')),
                h('th', {}, t('zones.level')),
                h('th', {}, t('zones.slot')),
                h('th', { class: 'num' }, t('zones.inEffect')),
                h('th', { class: 'num hide-narrow' }, t('zones.power')),
              ),
            ),
            h(
              'tbody',
              {},
              zone.luminaireStates.map((l) =>
                h(
                  'tr',
                  {},
                  h('td', {}, l.id),
                  h('td', {}, levelBar(l.level, l.level)),
                  h(
                    'td',
                    {},
                    l.slot
                      ? h('span', { class: `badge ${l.slot}` }, t(`slot.${l.slot}`))
                      : t('level.failsafe'),
                  ),
                  h('td', { class: 'num' }, l.inEffect ? `${formatNumber(l.inEffect.level)} %` : '—'),
                  h('td', { class: 'num hide-narrow' }, formatNumber(l.powerW)),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      replace(detail, errorBox(error));
    }
  }

  filter.addEventListener('change', draw);
  const later = throttle(refresh, 1000);
  refresh();
  return {
    onEvent(type) {
      if (type === 'levels' || type === 'command' || type === 'zone-calendar') later();
    },
  };
}
