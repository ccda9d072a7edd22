// Zones with their live level, who decides it and how much of it the devices confirm.
import { api, errorBox, formatNumber, h, levelBar, replace, throttle } from './lib.js';

const SLOTS = ['emergency', 'override', 'presence', 'schedule', 'undecided'];

export function zonesPage(main, { onUnauthorized }) {
  const filter = h('select', { id: 'commune-filter' }, h('option', { value: '' }, 'All communes'));
  const body = h('div', { class: 'scroll' });
  const detail = h('section', { 'aria-live': 'polite' });
  main.append(
    h('h1', {}, 'Zones'),
    h('div', { class: 'row' }, h('div', {}, h('label', { for: 'commune-filter' }, 'Commune'), filter)),
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
          h('option', { value: '' }, 'All communes'),
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
        h('caption', { class: 'muted' }, `${shown.length} zones`),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'Zone'),
            h('th', {}, 'Level'),
            h('th', {}, 'Decided by'),
            h('th', { class: 'num' }, 'Confirmed'),
            h('th', { class: 'num hide-narrow' }, 'Power W'),
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
                  h('span', { class: `badge ${s}` }, `${s} ${z.slots[s]}`),
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
            ? `Tonight: program ${zone.schedule.program}, ${zone.schedule.level} % by schedule${zone.schedule.allowPresence ? ', presence may raise it' : ''}.`
            : 'No schedule decision now.',
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
                h('th', {}, 'Luminaire'),
                h('th', {}, 'Level'),
                h('th', {}, 'Slot'),
                h('th', { class: 'num' }, 'In effect'),
                h('th', { class: 'num hide-narrow' }, 'Power W'),
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
                  h('td', {}, l.slot ? h('span', { class: `badge ${l.slot}` }, l.slot) : 'fail-safe'),
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
