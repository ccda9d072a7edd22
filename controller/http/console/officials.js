// For elected officials: their commune at a glance (tiles) and the 24-hour curve of any sensor point,
// drawn here in SVG from the service's own memory, with no Grafana account. What the service does not
// know shows as « non disponible », never as a guess.
import { api, errorBox, formatDateTime, formatNumber, formatTime, h, replace, throttle } from './lib.js';
import { t } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { left: 48, right: 8, top: 10, bottom: 24 };
const DAY_MS = 24 * 3_600_000;
const REFRESH_MS = 30_000;

export function officialsPage(main, { onUnauthorized }) {
  const picker = h('select', { id: 'officials-commune' });
  const tiles = h('section', {
    id: 'officials-tiles',
    'aria-live': 'polite',
    'aria-label': t('officials.tiles'),
  });
  const points = h('section', { id: 'officials-points', 'aria-labelledby': 'officials-points-title' });
  const curve = h('section', { id: 'officials-curve', 'aria-live': 'polite' });
  main.append(
    h('h1', {}, t('officials.title')),
    h(
      'div',
      { class: 'row' },
      h('div', {}, h('label', { for: 'officials-commune' }, t('officials.commune')), picker),
    ),
    tiles,
    curve,
    points,
  );
  let shown; // { building, point } whose curve is drawn

  const fail = (box) => (error) => {
    if (error.status === 401) return onUnauthorized();
    replace(box, errorBox(error));
  };

  async function load() {
    try {
      const communes = await api('GET', '/api/communes');
      replace(
        picker,
        communes.map((c) => h('option', { value: c.id }, c.name)),
      );
      refresh();
    } catch (error) {
      fail(tiles)(error);
    }
  }

  async function refresh() {
    if (!picker.value) return;
    try {
      const view = await api('GET', `/api/officials/${encodeURIComponent(picker.value)}`);
      drawTiles(view);
      drawPoints(view);
      const first = view.points.find((p) => typeof p.value === 'number');
      if (!shown && first) shown = { building: first.building, point: first.id };
      if (shown) drawCurve();
    } catch (error) {
      fail(tiles)(error);
    }
  }

  function drawTiles(v) {
    const unavailable = t('officials.unavailable');
    const tile = (label, value, detail) =>
      h(
        'li',
        { class: 'tile' },
        h('span', { class: 'tile-label' }, label),
        h('strong', {}, value),
        detail ? h('small', {}, detail) : null,
      );
    const since = new Date(v.energy.since);
    const monthStart = new Date(since.getFullYear(), since.getMonth(), 1).getTime();
    replace(
      tiles,
      h(
        'ul',
        { class: 'tiles' },
        tile(
          t('officials.lightsOn'),
          `${formatNumber(v.lights.on)} / ${formatNumber(v.lights.total)}`,
          t('officials.power', { kw: formatNumber(v.lights.powerW / 1000, 1) }),
        ),
        tile(
          t('officials.energyMonth'),
          `${formatNumber(v.energy.kWh, 1)} kWh`,
          v.energy.since > monthStart ? t('officials.since', { at: formatDateTime(v.energy.since) }) : null,
        ),
        tile(
          t('officials.costMonth'),
          v.energy.eur === null ? unavailable : `${formatNumber(v.energy.eur, 2)} €`,
        ),
        v.energy.lastYear === null
          ? tile(t('officials.lastYear'), unavailable)
          : tile(
              t('officials.lastYear'),
              `${formatNumber(v.energy.lastYear.kWh, 1)} kWh`,
              [
                v.energy.lastYear.eur === null ? null : `${formatNumber(v.energy.lastYear.eur, 2)} €`,
                t('officials.lastYearTo', { at: formatDateTime(v.energy.lastYear.to) }),
              ]
                .filter(Boolean)
                .join(' · '),
            ),
        tile(
          t('officials.savings'),
          v.energy.savedKWh === null ? unavailable : `${formatNumber(v.energy.savedKWh, 1)} kWh`,
          v.energy.savedEur === null ? null : `${formatNumber(v.energy.savedEur, 2)} €`,
        ),
        tile(
          t('officials.alerts'),
          formatNumber(v.alerts.open),
          t('officials.alertsDetail', {
            critical: formatNumber(v.alerts.critical),
            warning: formatNumber(v.alerts.warning),
          }),
        ),
      ),
      h('p', { class: 'muted' }, t('officials.updated', { at: formatTime(v.at) })),
    );
  }

  function drawPoints(v) {
    replace(
      points,
      h('h2', { id: 'officials-points-title' }, t('officials.points')),
      v.points.length === 0
        ? h('p', { class: 'muted' }, t('officials.noPoints'))
        : h(
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
                  h('th', {}, t('officials.where')),
                  h('th', {}, t('officials.what')),
                  h('th', { class: 'num' }, t('officials.latest')),
                ),
              ),
              h(
                'tbody',
                {},
                v.points.map((p) =>
                  h(
                    'tr',
                    { dataset: { point: `${p.building}/${p.id}` } },
                    h('td', {}, p.buildingName || p.building),
                    h(
                      'td',
                      {},
                      h(
                        'button',
                        {
                          type: 'button',
                          class: 'quiet',
                          onclick: () => {
                            shown = { building: p.building, point: p.id };
                            drawCurve();
                          },
                        },
                        p.name || `${p.quantity} (${p.id})`,
                      ),
                    ),
                    h(
                      'td',
                      { class: 'num' },
                      typeof p.value === 'number'
                        ? `${formatNumber(p.value, 1)} ${p.unit}`
                        : t('officials.unavailable'),
                      p.stale ? h('small', { class: 'muted' }, ` ${t('officials.stale')}`) : null,
                    ),
                  ),
                ),
              ),
            ),
          ),
    );
  }

  async function drawCurve() {
    const { building, point } = shown;
    try {
      const history = await api(
        'GET',
        `/api/buildings/${encodeURIComponent(building)}/points/${encodeURIComponent(point)}/history`,
      );
      const p = history.point;
      replace(
        curve,
        h(
          'h2',
          {},
          t('officials.curveTitle', { what: p.name || `${p.quantity} (${p.id})`, where: building }),
        ),
        history.buckets.length === 0 ? h('p', { class: 'muted' }, t('officials.noHistory')) : chart(history),
      );
    } catch (error) {
      fail(curve)(error);
    }
  }

  picker.addEventListener('change', () => {
    shown = undefined;
    refresh();
  });
  const later = throttle(refresh, 2000);
  const timer = setInterval(refresh, REFRESH_MS);
  load();
  return {
    onEvent(type) {
      if (type === 'levels' || type === 'alert') later();
    },
    dispose() {
      clearInterval(timer);
    },
  };
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  node.append(...children);
  return node;
}

/** The last 24 hours: the band from min to max of each 5 minutes, and the mean as a line. */
function chart(history) {
  const buckets = history.buckets;
  const end = buckets[buckets.length - 1].at + history.bucketMs;
  const start = end - DAY_MS;
  let low = Math.min(...buckets.map((b) => b.min));
  let high = Math.max(...buckets.map((b) => b.max));
  if (high === low) {
    high += 1;
    low -= 1;
  }
  const x = (at) =>
    PAD.left + ((at + history.bucketMs / 2 - start) / DAY_MS) * (WIDTH - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - low) / (high - low)) * (HEIGHT - PAD.top - PAD.bottom);
  const line = (values) =>
    values.map(([at, v], i) => `${i ? 'L' : 'M'}${x(at).toFixed(1)},${y(v).toFixed(1)}`).join('');
  const band =
    line(buckets.map((b) => [b.at, b.max])) +
    line([...buckets].reverse().map((b) => [b.at, b.min])).replace(/^M/, 'L') +
    'Z';
  const unit = history.point.unit;
  const last = buckets[buckets.length - 1];
  const ticks = [0, 6, 12, 18, 24].map((hour) => start + hour * 3_600_000);
  return svg(
    'svg',
    {
      class: 'curve',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-label': t('officials.curveLabel', {
        min: formatNumber(low, 1),
        max: formatNumber(high, 1),
        unit,
        last: formatNumber(last.mean, 1),
      }),
    },
    svg('path', { class: 'band', d: band }),
    svg('path', { class: 'mean', d: line(buckets.map((b) => [b.at, b.mean])) }),
    svg('text', { x: 4, y: PAD.top + 10 }, `${formatNumber(high, 1)} ${unit}`),
    svg('text', { x: 4, y: HEIGHT - PAD.bottom }, `${formatNumber(low, 1)} ${unit}`),
    ...ticks.map((at) =>
      svg(
        'text',
        { x: x(at - history.bucketMs / 2), y: HEIGHT - 6, 'text-anchor': 'middle' },
        formatTime(at),
      ),
    ),
  );
}
