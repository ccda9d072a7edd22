// The map: luminaires at their configured positions, coloured by level and state, with zones, buildings
// and sensors, live through the event stream. Drawn from the configuration with Leaflet's canvas
// renderer, so it works with no tile server; a commune's tile server shows beneath when configured.
import { api, errorBox, formatNumber, h, replace } from './lib.js';
import { t } from './i18n.js';

/** Fill colours of a luminaire's state; an unconfirmed one gets a ring of the text's colour whatever its fill. */
const FILL = {
  off: '#5b6775',
  dimmed: '#c99a2e',
  full: '#ffe066',
  relit: '#ff5c5c',
  presence: '#7cc4ff',
  failed: '#d36bff',
};
const ZONE_LINE = '#3d4a5a';
const BUILDING = '#5ee08a';
const SENSOR = '#ff9f5c';
/** A tap within this many pixels of a luminaire picks it (and its zone): a gloved finger is wide. */
const TAP_PX = 40;

let leaflet; // Promise of window.L, loaded once and only by the pages that draw a map

/** Leaflet's script and stylesheet, served by the service itself (/vendor/). */
export function loadLeaflet() {
  leaflet ??= new Promise((resolve, reject) => {
    const css = h('link', { rel: 'stylesheet', href: '/vendor/leaflet.css' });
    const script = h('script', { src: '/vendor/leaflet.js' });
    script.addEventListener('load', () => resolve(window.L));
    script.addEventListener('error', () => {
      leaflet = undefined;
      reject(new Error(t('map.unavailable')));
    });
    document.head.append(css, script);
  });
  return leaflet;
}

/** The state a luminaire is drawn in: a failure first, then who decides, then its level. */
export function stateOf(level, slot, failed) {
  if (failed) return 'failed';
  if (slot === 'emergency') return 'relit';
  if (slot === 'presence') return 'presence';
  if (level === null || level === undefined || level <= 0) return 'off';
  return level >= 100 ? 'full' : 'dimmed';
}

/** Nothing decided (the device's fail-safe), or the device does not read back the decided level. */
export function isUnconfirmed(level, inEffect) {
  return level === null || inEffect === null || Math.abs(level - inEffect) > 0.5;
}

/** GET /api/map with its positions undone from differences of millionths of a degree. */
async function fetchMap() {
  const view = await api('GET', '/api/map');
  const l = view.luminaires;
  const n = l.ids.length;
  const lat = new Float64Array(n);
  const lon = new Float64Array(n);
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) {
    a += l.lat[i];
    b += l.lon[i];
    lat[i] = a / 1e6;
    lon[i] = b / 1e6;
  }
  const failed = new Uint8Array(n);
  for (const i of l.failed) failed[i] = 1;
  return {
    ...view,
    luminaires: { ...l, lat, lon, reportedFailed: failed, dispatchFailed: new Uint8Array(n) },
  };
}

/**
 * One Leaflet map of the luminaires (canvas circles, not interactive one by one: a single click handler
 * finds the nearest, which keeps 10,000 of them cheap), the zones as lines along their luminaires,
 * buildings and sensors.
 */
class LightMap {
  constructor(L, element, data, { only, onTap }) {
    this.data = data;
    // The canvas cannot read CSS variables: the text's colour, dark or light, taken once.
    this.ring = getComputedStyle(document.documentElement).getPropertyValue('--text').trim() || '#f2f5f8';
    const lums = data.luminaires;
    this.shown = [];
    for (let i = 0; i < lums.ids.length; i++)
      if (!only || data.zones[lums.zone[i]].commune === only) this.shown.push(i);
    this.index = new Map(this.shown.map((i) => [lums.ids[i], i]));
    this.map = L.map(element, {
      preferCanvas: true,
      renderer: L.canvas({ padding: 0.2 }),
      zoomSnap: 0.5,
      attributionControl: Boolean(data.tiles),
    });
    if (data.tiles)
      L.tileLayer(data.tiles.url, {
        attribution: data.tiles.attribution,
        maxZoom: data.tiles.maxZoom,
      }).addTo(this.map);
    const lines = new Map();
    for (const i of this.shown) {
      const line = lines.get(lums.zone[i]) ?? [];
      line.push([lums.lat[i], lums.lon[i]]);
      lines.set(lums.zone[i], line);
    }
    for (const line of lines.values())
      L.polyline(line, { color: ZONE_LINE, weight: 6, interactive: false }).addTo(this.map);
    this.markers = new Map();
    for (const i of this.shown) {
      const marker = L.circleMarker([lums.lat[i], lums.lon[i]], {
        radius: 5,
        weight: 2,
        fillOpacity: 1,
        interactive: false,
        ...this.styleOf(i),
      });
      marker.addTo(this.map);
      this.markers.set(i, marker);
    }
    const inScope = (place) => !only || place.commune === only;
    for (const b of data.buildings.filter(inScope))
      L.circleMarker([b.lat, b.lon], { radius: 9, color: BUILDING, weight: 3, fill: false })
        .bindTooltip(`${t('map.building')} · ${b.name || b.id}`)
        .addTo(this.map);
    for (const s of data.sensors.filter(inScope))
      L.circleMarker([s.lat, s.lon], { radius: 6, color: SENSOR, weight: 3, fill: false })
        .bindTooltip(`${t('map.sensor')} · ${s.name || s.id}`)
        .addTo(this.map);
    const bounds = this.shown.map((i) => [lums.lat[i], lums.lon[i]]);
    if (bounds.length) this.map.fitBounds(bounds, { padding: [20, 20], maxZoom: 18 });
    else this.map.setView([46.6, 2.4], 5); // France, when nothing is placed
    this.map.on('click', (event) => onTap(event.containerPoint));
  }

  styleOf(i) {
    const l = this.data.luminaires;
    const failed = l.reportedFailed[i] || l.dispatchFailed[i];
    const fill = FILL[stateOf(l.level[i], l.slots[l.slot[i]], failed)];
    return { fillColor: fill, color: isUnconfirmed(l.level[i], l.inEffect[i]) ? this.ring : fill };
  }

  /** The event stream's levels: each luminaire of this map that changed is redrawn. */
  update(levels) {
    const l = this.data.luminaires;
    for (const change of levels) {
      const i = this.index.get(change.id);
      if (i === undefined) continue;
      l.level[i] = change.level;
      l.slot[i] = change.slot ? l.slots.indexOf(change.slot) : -1;
      l.inEffect[i] = change.inEffect;
      if (!isUnconfirmed(change.level, change.inEffect)) l.dispatchFailed[i] = 0;
      this.markers.get(i).setStyle(this.styleOf(i));
    }
  }

  /** Luminaires a command's progress reports as not confirmed after their retries. */
  markFailed(progress) {
    for (const failure of progress.failures)
      for (const id of failure.luminaires) {
        const i = this.index.get(id);
        if (i === undefined) continue;
        this.data.luminaires.dispatchFailed[i] = 1;
        this.markers.get(i).setStyle(this.styleOf(i));
      }
  }

  nearestOnScreen(point) {
    const l = this.data.luminaires;
    let best;
    let bestD = TAP_PX * TAP_PX;
    for (const i of this.shown) {
      const p = this.map.latLngToContainerPoint([l.lat[i], l.lon[i]]);
      const d = (p.x - point.x) ** 2 + (p.y - point.y) ** 2;
      if (d <= bestD) {
        best = i;
        bestD = d;
      }
    }
    return best;
  }

  /**
   * The zone whose street passes nearest a tap: distance to each segment between consecutive luminaires
   * of a zone (they are listed along the street), so a tap between two light points picks their street.
   */
  zoneNearOnScreen(point) {
    const l = this.data.luminaires;
    let best;
    let bestD = TAP_PX;
    let previous;
    for (const i of this.shown) {
      const p = this.map.latLngToContainerPoint([l.lat[i], l.lon[i]]);
      const sameZone = previous !== undefined && l.zone[previous.i] === l.zone[i];
      const d = distanceToSegment(point, sameZone ? previous.p : p, p);
      if (d <= bestD) {
        best = i;
        bestD = d;
      }
      previous = { i, p };
    }
    return best;
  }

  /** The luminaire nearest a position (equirectangular distance, exact enough within a commune), metres. */
  nearestTo(lat, lon) {
    const l = this.data.luminaires;
    const k = Math.cos((lat * Math.PI) / 180);
    let best;
    let bestD = Infinity;
    for (const i of this.shown) {
      const d = ((l.lat[i] - lat) * 111_320) ** 2 + ((l.lon[i] - lon) * 111_320 * k) ** 2;
      if (d < bestD) {
        best = i;
        bestD = d;
      }
    }
    return best === undefined ? undefined : { i: best, metres: Math.sqrt(bestD) };
  }

  zoneOf(i) {
    return this.data.zones[this.data.luminaires.zone[i]];
  }

  remove() {
    this.map.remove();
  }
}

/** Distance in pixels from p to the segment a–b. */
function distanceToSegment(p, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const length2 = dx * dx + dy * dy;
  const k = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / length2));
  return Math.hypot(p.x - (a.x + k * dx), p.y - (a.y + k * dy));
}

function legend() {
  return h(
    'ul',
    { class: 'map-legend', 'aria-label': t('map.legend') },
    Object.keys(FILL).map((state) =>
      h('li', {}, h('span', { class: `swatch ${state}`, 'aria-hidden': 'true' }), t(`map.state.${state}`)),
    ),
    h(
      'li',
      {},
      h('span', { class: 'swatch unconfirmed', 'aria-hidden': 'true' }),
      t('map.state.unconfirmed'),
    ),
    h('li', {}, h('span', { class: 'swatch building', 'aria-hidden': 'true' }), t('map.building')),
    h('li', {}, h('span', { class: 'swatch sensor', 'aria-hidden': 'true' }), t('map.sensor')),
  );
}

/** The map page: every luminaire of the reader's communes, live. */
export function mapPage(main, { onUnauthorized }) {
  const box = h('div', { id: 'map', class: 'map', role: 'region', 'aria-label': t('map.title') });
  const status = h('p', { class: 'muted', role: 'status' }, t('map.loading'));
  const detail = h('div', { id: 'map-detail', 'aria-live': 'polite' });
  main.append(h('h1', {}, t('map.title')), legend(), box, detail, status);
  let lightMap;
  const early = []; // events that arrive before the map is drawn

  (async () => {
    try {
      const [L, data] = await Promise.all([loadLeaflet(), fetchMap()]);
      if (!box.isConnected) return;
      lightMap = new LightMap(L, box, data, {
        onTap: (point) => {
          const i = lightMap.nearestOnScreen(point);
          replace(detail, i === undefined ? '' : describeLuminaire(lightMap, i));
        },
      });
      for (const apply of early.splice(0)) apply();
      const lums = data.luminaires;
      replace(
        status,
        t('map.count', { placed: formatNumber(lums.ids.length), unplaced: formatNumber(lums.unplaced) }),
      );
      // Drawn once the canvas has been painted: what the benchmark and the tests wait for.
      requestAnimationFrame(() => {
        performance.mark('nocturne:map-drawn');
        box.dataset.ready = 'true';
      });
    } catch (error) {
      if (error.status === 401) return onUnauthorized();
      replace(status, errorBox(error));
    }
  })();

  const when = (apply) => (lightMap ? apply() : early.push(apply));
  return {
    onEvent(type, data) {
      if (type === 'levels') when(() => lightMap.update(data.luminaires));
      if (type === 'progress') when(() => lightMap.markFailed(data.progress));
    },
    dispose() {
      lightMap?.remove();
    },
  };
}

function describeLuminaire(lightMap, i) {
  const l = lightMap.data.luminaires;
  const zone = lightMap.zoneOf(i);
  const state = stateOf(l.level[i], l.slots[l.slot[i]], l.reportedFailed[i] || l.dispatchFailed[i]);
  return h(
    'div',
    { class: 'panel' },
    h('strong', {}, l.ids[i]),
    ` · ${zone.name || zone.id} · `,
    l.level[i] === null ? t('map.noDecision') : `${formatNumber(l.level[i])} %`,
    ` · ${t(`map.state.${state}`)}`,
    isUnconfirmed(l.level[i], l.inEffect[i]) ? ` · ${t('map.state.unconfirmed')}` : '',
  );
}

let picker; // the emergency page's map, one at a time

/**
 * The emergency page's way to choose a zone: tap near a street on the map of the commune, or "near me"
 * (the phone's position → the nearest luminaire's zone). Calls onPick(zoneId).
 */
export function zoneMapPicker(container, { commune, onPick }) {
  picker?.remove();
  picker = undefined;
  const box = h('div', {
    id: 'zone-map',
    class: 'map small',
    role: 'region',
    'aria-label': t('map.pickLabel'),
  });
  const status = h('p', { class: 'muted', role: 'status' });
  const nearMe = h('button', { type: 'button', disabled: true }, t('map.nearMe'));
  replace(container, h('p', { class: 'muted' }, t('map.pickHelp')), nearMe, box, status);
  const pick = (lightMap, i) => {
    const zone = lightMap.zoneOf(i);
    lightMap.remove();
    picker = undefined;
    onPick(zone.id);
  };
  (async () => {
    try {
      const [L, data] = await Promise.all([loadLeaflet(), fetchMap()]);
      if (!box.isConnected) return;
      const lightMap = new LightMap(L, box, data, {
        only: commune,
        onTap: (point) => {
          const i = lightMap.zoneNearOnScreen(point);
          if (i === undefined) replace(status, t('map.tapCloser'));
          else pick(lightMap, i);
        },
      });
      picker = lightMap;
      box.dataset.ready = 'true';
      if (navigator.geolocation) nearMe.disabled = false;
      nearMe.addEventListener('click', () => {
        replace(status, t('map.locating'));
        navigator.geolocation.getCurrentPosition(
          (position) => {
            const nearest = lightMap.nearestTo(position.coords.latitude, position.coords.longitude);
            if (nearest) pick(lightMap, nearest.i);
            else replace(status, t('map.nothingNear'));
          },
          () => replace(status, t('map.noPosition')),
          { enableHighAccuracy: true, timeout: 15_000, maximumAge: 60_000 },
        );
      });
    } catch (error) {
      replace(status, errorBox(error));
    }
  })();
}

/** The page's entry in the console's navigation. */
export const mapEntry = {
  id: 'map',
  get title() {
    return t('map.title');
  },
  permission: 'lighting:read',
  render: mapPage,
};
