// The map: luminaires at their configured positions, coloured by level and state, with zones, buildings
// and sensors, live through the event stream. Drawn from the configuration with Leaflet, so it works with
// no tile server; a commune's tile server shows beneath when configured. The luminaires are one canvas
// layer of our own (10,000 Leaflet markers took seconds to build and a redraw each per change).
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
/** A zone's line, in CSS pixels: a street beneath its luminaires' discs. */
const ZONE_LINE_PX = 6;
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

/** The state a luminaire is drawn in: a failure first, then who decides, then its level (NaN: none). */
function stateOf(level, slot, failed) {
  if (failed) return 'failed';
  if (slot === 'emergency') return 'relit';
  if (slot === 'presence') return 'presence';
  if (!(level > 0)) return 'off';
  return level >= 100 ? 'full' : 'dimmed';
}

/** Nothing decided (the device's fail-safe), or the device does not read back the decided level. */
function isUnconfirmed(level, inEffect) {
  return !(Math.abs(level - inEffect) <= 0.5);
}

/** A luminaire's disc, in CSS pixels: its radius, and the width of its ring. */
const RADIUS = 5;
const RING = 2;
/** The looks a luminaire is drawn with: each state, ringed (unconfirmed) or not. */
const STATES = Object.keys(FILL);
const lookOf = (state, unconfirmed) => STATES.indexOf(state) * 2 + (unconfirmed ? 1 : 0);
/** The tap grid's cells, in CSS pixels. */
const CELL_PX = 64;
/** A paint of every luminaire, rather than of a box around those that changed. */
const EVERYWHERE = 'everywhere';

/**
 * The map's luminaires as columns (typed arrays, index i in the layout's order): the layout of
 * GET /api/map, kept by the browser and revalidated by its ETag, and the live levels of
 * GET /api/map/levels. A level or a reading absent is NaN.
 */
class MapData {
  constructor(layout, levels) {
    const l = layout.luminaires;
    const n = l.ids.length;
    this.version = layout.version;
    this.tiles = layout.tiles;
    this.zones = layout.zones;
    this.buildings = layout.buildings;
    this.sensors = layout.sensors;
    this.unplaced = l.unplaced;
    this.ids = l.ids;
    this.zone = Int32Array.from(l.zone);
    // Positions undone from differences of millionths of a degree.
    this.lat = new Float64Array(n);
    this.lon = new Float64Array(n);
    let a = 0;
    let b = 0;
    for (let i = 0; i < n; i++) {
      a += l.lat[i];
      b += l.lon[i];
      this.lat[i] = a / 1e6;
      this.lon[i] = b / 1e6;
    }
    this.level = new Float64Array(n);
    this.inEffect = new Float64Array(n);
    this.slot = new Int8Array(n);
    this.reportedFailed = new Uint8Array(n);
    this.dispatchFailed = new Uint8Array(n);
    this.look = new Uint8Array(n);
    this.setLevels(levels);
  }

  /** The levels of GET /api/map/levels, for this layout's version; whether any luminaire now looks otherwise. */
  setLevels(levels) {
    this.slots = levels.slots;
    this.reportedFailed.fill(0);
    for (const i of levels.failed) this.reportedFailed[i] = 1;
    let changed = false;
    for (let i = 0; i < this.ids.length; i++) {
      this.level[i] = levels.level[i] ?? NaN;
      this.inEffect[i] = levels.inEffect[i] ?? NaN;
      this.slot[i] = levels.slot[i];
      if (!this.unconfirmed(i)) this.dispatchFailed[i] = 0;
      changed = this.restyle(i) || changed;
    }
    return changed;
  }

  levelOf(i) {
    return Number.isNaN(this.level[i]) ? null : this.level[i];
  }

  stateOf(i) {
    return stateOf(this.level[i], this.slots[this.slot[i]], this.reportedFailed[i] || this.dispatchFailed[i]);
  }

  unconfirmed(i) {
    return isUnconfirmed(this.level[i], this.inEffect[i]);
  }

  /** Whether the luminaire now looks otherwise (30 % → 40 % is dimmed either way). */
  restyle(i) {
    const look = lookOf(this.stateOf(i), this.unconfirmed(i));
    const changed = look !== this.look[i];
    this.look[i] = look;
    return changed;
  }
}

/** GET /api/map and GET /api/map/levels, asked together. */
async function fetchMap() {
  const [layout, levels] = await Promise.all([
    api('GET', '/api/map', undefined, undefined, 'no-cache'),
    api('GET', '/api/map/levels'),
  ]);
  // Another version: the service restarted with another configuration between the two answers.
  if (layout.version !== levels.version) throw new Error(t('map.changed'));
  return new MapData(layout, levels);
}

let ahead; // the map's data asked for while the console starts, for the first map drawn

/** Asks for the map's data and Leaflet before the map page is shown (the console opens on it). */
export function fetchMapAhead() {
  // Leaflet first: the service answers in turn, and the map's data takes it longer.
  loadLeaflet().catch(() => undefined);
  ahead = fetchMap();
  ahead.catch(() => undefined);
}

/** Nobody is signed in: what was asked ahead is not theirs to see. */
export function forgetMapAhead() {
  ahead = undefined;
}

/** The map's data: what was asked ahead, if it came, or else asked now. */
function takeMapData() {
  const early = ahead;
  ahead = undefined;
  return early ? early.catch(() => fetchMap()) : fetchMap();
}

/**
 * The looks' discs, drawn once at the screen's pixel ratio and kept as the pixels to stamp: the opaque
 * ones (copied whole, as 32-bit words) and the edge ones (laid over what is beneath), each with its
 * column and row in the sprite.
 */
function drawSprites(ratio, ring) {
  const size = Math.ceil(2 * (RADIUS + RING / 2) * ratio) + 2;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  const sprites = [];
  for (const state of STATES)
    for (const ringed of [false, true]) {
      g.clearRect(0, 0, size, size);
      g.beginPath();
      g.arc(size / 2, size / 2, RADIUS * ratio, 0, 2 * Math.PI);
      g.fillStyle = FILL[state];
      g.fill();
      g.lineWidth = RING * ratio;
      g.strokeStyle = ringed ? ring : FILL[state];
      g.stroke();
      const bytes = g.getImageData(0, 0, size, size).data;
      const all = new Uint32Array(bytes.buffer);
      const pixels = (opaque) => {
        const at = [];
        for (let p = 0; p < size * size; p++)
          if (opaque ? bytes[p * 4 + 3] === 255 : bytes[p * 4 + 3] > 0 && bytes[p * 4 + 3] < 255) at.push(p);
        return {
          col: Int32Array.from(at, (p) => p % size),
          row: Int32Array.from(at, (p) => Math.floor(p / size)),
          words: Uint32Array.from(at, (p) => all[p]),
          rgba: Uint8ClampedArray.from(at.flatMap((p) => [...bytes.subarray(p * 4, p * 4 + 4)])),
        };
      };
      sprites[lookOf(state, ringed)] = { opaque: pixels(true), edge: pixels(false) };
    }
  return { sprites, size, ratio };
}

/** A disc's top-left corner, in canvas pixels, from its centre in CSS pixels. */
const cornerOf = (v, ratio, size) => Math.round(v * ratio - size / 2);

/**
 * Stamps a sprite with its top-left corner at (x0, y0) of an image, within a clip box of it: opaque
 * pixels copied whole, edges laid over what is beneath (source-over, in the straight alpha of ImageData;
 * on an opaque ground, which is most of them where discs overlap, in integers).
 */
function stamp(image, words, sprite, size, x0, y0, clip) {
  const { width, data } = image;
  const inside = x0 >= clip.x0 && y0 >= clip.y0 && x0 + size <= clip.x1 && y0 + size <= clip.y1;
  const { opaque, edge } = sprite;
  for (let j = 0; j < opaque.words.length; j++) {
    const x = x0 + opaque.col[j];
    const y = y0 + opaque.row[j];
    if (inside || (x >= clip.x0 && x < clip.x1 && y >= clip.y0 && y < clip.y1))
      words[y * width + x] = opaque.words[j];
  }
  const rgba = edge.rgba;
  for (let j = 0; j < edge.words.length; j++) {
    const x = x0 + edge.col[j];
    const y = y0 + edge.row[j];
    if (!inside && !(x >= clip.x0 && x < clip.x1 && y >= clip.y0 && y < clip.y1)) continue;
    const d = y * width + x;
    const beneath = data[d * 4 + 3];
    const alpha = rgba[j * 4 + 3];
    if (beneath === 0) {
      words[d] = edge.words[j];
    } else if (beneath === 255) {
      const kept = 255 - alpha;
      for (let k = 0; k < 3; k++)
        data[d * 4 + k] = ((rgba[j * 4 + k] * alpha + data[d * 4 + k] * kept + 127) / 255) | 0;
    } else {
      const a = alpha / 255;
      const kept = (beneath / 255) * (1 - a);
      const out = a + kept;
      for (let k = 0; k < 3; k++) data[d * 4 + k] = (rgba[j * 4 + k] * a + data[d * 4 + k] * kept) / out;
      data[d * 4 + 3] = out * 255;
    }
  }
}

/**
 * The luminaires and their zones' lines as one layer of our own: two canvases, the lines beneath the
 * discs. Positions are projected once into the map's CRS; a view change is then one multiply-add per
 * luminaire, the lines stroked as one path, and the discs painted. Level changes only mark the layer:
 * the discs repaint at most once per animation frame, the lines stay. (As Leaflet polylines, the lines
 * of 10,000 luminaires took the first render longer than the discs.) Built on L.Renderer (itself an
 * L.Layer) for what Leaflet already does well: the canvases' bounds with a margin around the view and
 * their transform during zoom animations.
 */
function pointLayerClass(L) {
  return L.Renderer.extend({
    initialize(data, shown, options) {
      L.Renderer.prototype.initialize.call(this, options);
      this._data = data;
      this._shown = shown;
      const n = shown.length;
      this._x = new Float32Array(n); // canvas pixels, from the latest projection
      this._y = new Float32Array(n);
      this._order = new Int32Array(n);
      // Each luminaire's place in `shown` (-1: not on this map), for the box around those that change.
      this._shownAt = new Int32Array(data.ids.length).fill(-1);
      for (let k = 0; k < n; k++) this._shownAt[shown[k]] = k;
      // Each luminaire's street segment starts at the previous luminaire of its zone (-1: none).
      this._previous = new Int32Array(n);
      for (let k = 0; k < n; k++)
        this._previous[k] = k > 0 && data.zone[shown[k - 1]] === data.zone[shown[k]] ? k - 1 : -1;
    },

    onAdd(map) {
      if (!this._mx) {
        const { projection } = map.options.crs;
        this._mx = new Float64Array(this._shown.length);
        this._my = new Float64Array(this._shown.length);
        this._shown.forEach((i, k) => {
          const p = projection.project(L.latLng(this._data.lat[i], this._data.lon[i]));
          this._mx[k] = p.x;
          this._my[k] = p.y;
        });
      }
      L.Renderer.prototype.onAdd.call(this, map);
    },

    _initContainer() {
      this._lines = h('canvas');
      this._discs = h('canvas');
      this._container = h('div', { class: 'map-points' }, this._lines, this._discs);
      this._ctx = this._discs.getContext('2d');
    },

    _destroyContainer() {
      cancelAnimationFrame(this._frame);
      this._frame = 0;
      L.DomUtil.remove(this._container);
    },

    /**
     * After each view change: the canvases resized (which clears them), the positions projected, the
     * lines stroked and the discs painted at once.
     */
    _update() {
      L.Renderer.prototype._update.call(this);
      const size = this._bounds.getSize();
      const ratio = window.devicePixelRatio || 1;
      L.DomUtil.setPosition(this._container, this._bounds.min);
      for (const canvas of [this._lines, this._discs]) {
        canvas.width = Math.round(size.x * ratio);
        canvas.height = Math.round(size.y * ratio);
        canvas.style.width = `${size.x}px`;
        canvas.style.height = `${size.y}px`;
      }
      if (this._looks?.ratio !== ratio) this._looks = drawSprites(ratio, this.options.ring);
      this._project();
      this._strokeLines(ratio);
      this._dirty = EVERYWHERE; // resized or not, the canvas was cleared
      this._paint();
    },

    /**
     * Each zone's line along its luminaires, as one path. Simplified to within a pixel, as Leaflet does
     * its polylines: a street's hundred luminaires seen from afar are a few strokes, not a hundred.
     */
    _strokeLines(ratio) {
      const g = this._lines.getContext('2d');
      g.beginPath();
      let line = [];
      const addLine = () => {
        const points = L.LineUtil.simplify(line, ratio);
        g.moveTo(points[0].x, points[0].y);
        for (let j = 1; j < points.length; j++) g.lineTo(points[j].x, points[j].y);
      };
      for (let k = 0; k < this._x.length; k++) {
        if (this._previous[k] < 0 && line.length > 0) {
          addLine();
          line = [];
        }
        line.push(L.point(this._x[k] * ratio, this._y[k] * ratio));
      }
      if (line.length > 0) addLine();
      g.lineWidth = ZONE_LINE_PX * ratio;
      g.lineCap = g.lineJoin = 'round';
      g.strokeStyle = ZONE_LINE;
      g.stroke();
    },

    _project() {
      const { crs } = this._map.options;
      const scale = crs.scale(this._zoom);
      const zero = crs.transformation.transform(L.point(0, 0), scale);
      const one = crs.transformation.transform(L.point(1, 1), scale);
      // Layer pixels are the CRS's pixels less the map's pixel origin; the canvas starts at the bounds' corner.
      const shift = this._map.getPixelOrigin().add(this._bounds.min);
      const ax = one.x - zero.x;
      const ay = one.y - zero.y;
      const bx = zero.x - shift.x;
      const by = zero.y - shift.y;
      for (let k = 0; k < this._x.length; k++) {
        this._x[k] = ax * this._mx[k] + bx;
        this._y[k] = ay * this._my[k] + by;
      }
      this._grid = undefined;
    },

    /**
     * Something changed: one paint at the next frame, however many changes come before it. Given the
     * luminaires whose look changed, only the box around them is painted again (a street, on a map of
     * 10,000: a frame's work, not several); otherwise everything.
     */
    requestPaint(changed) {
      if (!this._map) return;
      this._dirty =
        changed && this._looks && this._dirty !== EVERYWHERE ? this._boxAround(changed) : EVERYWHERE;
      this._frame ||= requestAnimationFrame(() => this._paint());
    },

    /** The box to paint again, in canvas pixels, grown to hold the discs of `changed` (data indices). */
    _boxAround(changed) {
      const { size, ratio } = this._looks;
      const box = this._dirty ?? { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
      for (const i of changed) {
        const k = this._shownAt[i];
        if (k < 0) continue;
        const x = cornerOf(this._x[k], ratio, size);
        const y = cornerOf(this._y[k], ratio, size);
        box.x0 = Math.min(box.x0, x);
        box.y0 = Math.min(box.y0, y);
        box.x1 = Math.max(box.x1, x + size);
        box.y1 = Math.max(box.y1, y + size);
      }
      return box;
    },

    /**
     * The luminaires within the box to paint (or all), stamped into one image put on the canvas at once:
     * in software (phones, and browsers without a GPU) this is several times faster than as many canvas
     * draw calls. The box is painted from nothing, every disc that reaches into it stamped again, so any
     * box gives the pixels a whole paint would. Luminaires are grouped by look (a counting sort), which
     * also sets what lies on top: failed last.
     */
    _paint() {
      this._frame = 0;
      const dirty = this._dirty;
      this._dirty = undefined;
      const { sprites, size, ratio } = this._looks;
      const canvas = this._discs;
      const { width, height } = canvas;
      // A map whose box is hidden or gone (the emergency page moved on) has nothing to show.
      if (dirty === undefined || width === 0 || height === 0) return;
      let clip = { x0: 0, y0: 0, x1: width, y1: height };
      if (this._image?.width !== width || this._image.height !== height) {
        this._image = this._ctx.createImageData(width, height);
        this._words = new Uint32Array(this._image.data.buffer);
      } else if (dirty === EVERYWHERE) this._words.fill(0);
      else {
        clip = {
          x0: Math.max(0, dirty.x0),
          y0: Math.max(0, dirty.y0),
          x1: Math.min(width, dirty.x1),
          y1: Math.min(height, dirty.y1),
        };
        if (clip.x0 >= clip.x1 || clip.y0 >= clip.y1) return;
        for (let y = clip.y0; y < clip.y1; y++) this._words.fill(0, y * width + clip.x0, y * width + clip.x1);
      }
      const look = this._data.look;
      const starts = new Int32Array(sprites.length + 1);
      const reaches = (k) => {
        const x = cornerOf(this._x[k], ratio, size);
        const y = cornerOf(this._y[k], ratio, size);
        return x > clip.x0 - size && x < clip.x1 && y > clip.y0 - size && y < clip.y1;
      };
      for (let k = 0; k < this._shown.length; k++) if (reaches(k)) starts[look[this._shown[k]] + 1]++;
      for (let s = 1; s < starts.length; s++) starts[s] += starts[s - 1];
      const next = starts.slice(0, -1);
      for (let k = 0; k < this._shown.length; k++)
        if (reaches(k)) this._order[next[look[this._shown[k]]]++] = k;
      for (let s = 0; s < sprites.length; s++)
        for (let j = starts[s]; j < starts[s + 1]; j++) {
          const k = this._order[j];
          const x = cornerOf(this._x[k], ratio, size);
          const y = cornerOf(this._y[k], ratio, size);
          stamp(this._image, this._words, sprites[s], size, x, y, clip);
        }
      this._ctx.putImageData(this._image, 0, 0, clip.x0, clip.y0, clip.x1 - clip.x0, clip.y1 - clip.y0);
    },

    /**
     * The luminaires near a tap (a point of the map's container): those whose street segment passes
     * within TAP_PX, from a grid of the projected segments built at the first tap after a view change.
     */
    near(containerPoint) {
      const p = this._map.containerPointToLayerPoint(containerPoint).subtract(this._bounds.min);
      this._grid ??= tapGrid(this._x, this._y, this._previous, this._bounds.getSize());
      const { cols, rows, start, items } = this._grid;
      const col = Math.floor(p.x / CELL_PX);
      const row = Math.floor(p.y / CELL_PX);
      const cell = col >= 0 && col < cols && row >= 0 && row < rows ? row * cols + col : -1;
      return {
        point: p,
        candidates: cell < 0 ? [] : items.subarray(start[cell], start[cell + 1]),
      };
    },
  });
}

/**
 * Each luminaire k listed in every grid cell within TAP_PX of its street segment (from the previous
 * luminaire of its zone, or itself alone), as one array of cells' runs (start, items).
 */
function tapGrid(x, y, previous, size) {
  const cols = Math.ceil(size.x / CELL_PX);
  const rows = Math.ceil(size.y / CELL_PX);
  const start = new Int32Array(cols * rows + 1);
  const eachCell = (k, visit) => {
    const a = previous[k] < 0 ? k : previous[k];
    const c0 = Math.max(0, Math.floor((Math.min(x[a], x[k]) - TAP_PX) / CELL_PX));
    const c1 = Math.min(cols - 1, Math.floor((Math.max(x[a], x[k]) + TAP_PX) / CELL_PX));
    const r0 = Math.max(0, Math.floor((Math.min(y[a], y[k]) - TAP_PX) / CELL_PX));
    const r1 = Math.min(rows - 1, Math.floor((Math.max(y[a], y[k]) + TAP_PX) / CELL_PX));
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) visit(r * cols + c);
  };
  for (let k = 0; k < x.length; k++) eachCell(k, (cell) => start[cell + 1]++);
  for (let c = 1; c < start.length; c++) start[c] += start[c - 1];
  const items = new Int32Array(start[start.length - 1]);
  const next = start.slice(0, -1);
  for (let k = 0; k < x.length; k++) eachCell(k, (cell) => (items[next[cell]++] = k));
  return { cols, rows, start, items };
}

/**
 * One Leaflet map of the luminaires and the zones' lines along them (our layer, beneath the buildings
 * and sensors and taking no pointer: a tap reaches the map, which asks the layer's grid).
 */
class LightMap {
  constructor(L, element, data, { only, onTap }) {
    this.data = data;
    const shown = [];
    for (let i = 0; i < data.ids.length; i++)
      if (!only || data.zones[data.zone[i]].commune === only) shown.push(i);
    this.shown = Int32Array.from(shown);
    this.index = new Map();
    for (const i of this.shown) this.index.set(data.ids[i], i);
    this.map = L.map(element, {
      preferCanvas: true,
      zoomSnap: 0.5,
      attributionControl: Boolean(data.tiles),
    });
    if (data.tiles)
      L.tileLayer(data.tiles.url, {
        attribution: data.tiles.attribution,
        maxZoom: data.tiles.maxZoom,
      }).addTo(this.map);
    this.fit();
    const inScope = (place) => !only || place.commune === only;
    for (const b of data.buildings.filter(inScope))
      L.circleMarker([b.lat, b.lon], { radius: 9, color: BUILDING, weight: 3, fill: false })
        .bindTooltip(`${t('map.building')} · ${b.name || b.id}`)
        .addTo(this.map);
    for (const s of data.sensors.filter(inScope))
      L.circleMarker([s.lat, s.lon], { radius: 6, color: SENSOR, weight: 3, fill: false })
        .bindTooltip(`${t('map.sensor')} · ${s.name || s.id}`)
        .addTo(this.map);
    // Beneath the sites' rings (overlay pane, 400), above tiles (200); the pointer goes through to the
    // sites' tooltips and to the map's click.
    const pane = this.map.createPane('luminaires');
    pane.style.zIndex = '350';
    pane.style.pointerEvents = 'none';
    // The canvas cannot read CSS variables: the text's colour, dark or light, taken once.
    const ring = getComputedStyle(document.documentElement).getPropertyValue('--text').trim() || '#f2f5f8';
    const PointLayer = pointLayerClass(L);
    this.points = new PointLayer(data, this.shown, { pane: 'luminaires', ring }).addTo(this.map);
    this.map.on('click', (event) => onTap(event.containerPoint));
  }

  /** The view that shows every luminaire of this map (France, when none is placed). */
  fit() {
    if (this.shown.length === 0) return this.map.setView([46.6, 2.4], 5);
    let south = Infinity;
    let west = Infinity;
    let north = -Infinity;
    let east = -Infinity;
    for (const i of this.shown) {
      south = Math.min(south, this.data.lat[i]);
      north = Math.max(north, this.data.lat[i]);
      west = Math.min(west, this.data.lon[i]);
      east = Math.max(east, this.data.lon[i]);
    }
    this.map.fitBounds(
      [
        [south, west],
        [north, east],
      ],
      { padding: [20, 20], maxZoom: 18 },
    );
  }

  /** The event stream's levels: the luminaires of this map that changed, repainted at the next frame. */
  update(levels) {
    const d = this.data;
    const changed = [];
    for (const change of levels) {
      const i = this.index.get(change.id);
      if (i === undefined) continue;
      d.level[i] = change.level ?? NaN;
      d.slot[i] = change.slot ? d.slots.indexOf(change.slot) : -1;
      d.inEffect[i] = change.inEffect ?? NaN;
      if (!d.unconfirmed(i)) d.dispatchFailed[i] = 0;
      if (d.restyle(i)) changed.push(i);
    }
    if (changed.length > 0) this.points.requestPaint(changed);
  }

  /** The levels read again (the event stream reopened, having missed what changed meanwhile). */
  refresh(levels) {
    if (this.data.setLevels(levels)) this.points.requestPaint();
  }

  /** Luminaires a command's progress reports as not confirmed after their retries. */
  markFailed(progress) {
    const changed = [];
    for (const failure of progress.failures)
      for (const id of failure.luminaires) {
        const i = this.index.get(id);
        if (i === undefined) continue;
        this.data.dispatchFailed[i] = 1;
        if (this.data.restyle(i)) changed.push(i);
      }
    if (changed.length > 0) this.points.requestPaint(changed);
  }

  /** The luminaire nearest a tap, within TAP_PX. */
  nearestOnScreen(containerPoint) {
    const { point, candidates } = this.points.near(containerPoint);
    const x = this.points._x;
    const y = this.points._y;
    let best;
    let bestD = TAP_PX * TAP_PX;
    for (const k of candidates) {
      const d = (x[k] - point.x) ** 2 + (y[k] - point.y) ** 2;
      if (d <= bestD) {
        best = this.shown[k];
        bestD = d;
      }
    }
    return best;
  }

  /**
   * The zone whose street passes nearest a tap: distance to each segment between consecutive luminaires
   * of a zone (they are listed along the street), so a tap between two light points picks their street.
   */
  zoneNearOnScreen(containerPoint) {
    const { point, candidates } = this.points.near(containerPoint);
    const x = this.points._x;
    const y = this.points._y;
    const previous = this.points._previous;
    let best;
    let bestD = TAP_PX;
    for (const k of candidates) {
      const a = previous[k] < 0 ? k : previous[k];
      const d = distanceToSegment(point, { x: x[a], y: y[a] }, { x: x[k], y: y[k] });
      if (d <= bestD) {
        best = this.shown[k];
        bestD = d;
      }
    }
    return best;
  }

  /** The luminaire nearest a position (equirectangular distance, exact enough within a commune), metres. */
  nearestTo(lat, lon) {
    const d = this.data;
    const k = Math.cos((lat * Math.PI) / 180);
    let best;
    let bestD = Infinity;
    for (const i of this.shown) {
      const d2 = ((d.lat[i] - lat) * 111_320) ** 2 + ((d.lon[i] - lon) * 111_320 * k) ** 2;
      if (d2 < bestD) {
        best = i;
        bestD = d2;
      }
    }
    return best === undefined ? undefined : { i: best, metres: Math.sqrt(bestD) };
  }

  zoneOf(i) {
    return this.data.zones[this.data.zone[i]];
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
  let markDrawn;
  const drawn = new Promise((resolve) => (markDrawn = resolve));

  (async () => {
    try {
      const [L, data] = await Promise.all([loadLeaflet(), takeMapData()]);
      if (!box.isConnected) return;
      lightMap = new LightMap(L, box, data, {
        onTap: (point) => {
          const i = lightMap.nearestOnScreen(point);
          replace(detail, i === undefined ? '' : describeLuminaire(lightMap, i));
        },
      });
      for (const apply of early.splice(0)) apply();
      // The layer has drawn its canvas; marked at the frame that shows it: what the benchmark and the
      // tests wait for. The count comes after that frame: the page's first number formatted costs the
      // locale's number data, which the map need not wait for.
      requestAnimationFrame(() => {
        performance.mark('nocturne:map-drawn');
        box.dataset.ready = 'true';
        markDrawn();
        setTimeout(() =>
          replace(
            status,
            t('map.count', { placed: formatNumber(data.ids.length), unplaced: formatNumber(data.unplaced) }),
          ),
        );
      });
    } catch (error) {
      markDrawn();
      if (error.status === 401) return onUnauthorized();
      replace(status, errorBox(error));
    }
  })();

  /** The levels asked again, once the map is drawn. */
  async function readLevelsAgain() {
    try {
      const levels = await api('GET', '/api/map/levels');
      if (!box.isConnected) return;
      // Another version: the service restarted with another configuration.
      if (levels.version !== lightMap.data.version)
        return replace(status, errorBox(new Error(t('map.changed'))));
      lightMap.refresh(levels);
    } catch (error) {
      if (error.status === 401) return onUnauthorized();
      replace(status, errorBox(error));
    }
  }

  const when = (apply) => (lightMap ? apply() : early.push(apply));
  return {
    drawn,
    onEvent(type, data) {
      if (type === 'ready') when(readLevelsAgain);
      if (type === 'levels') when(() => lightMap.update(data.luminaires));
      if (type === 'progress') when(() => lightMap.markFailed(data.progress));
    },
    dispose() {
      lightMap?.remove();
    },
  };
}

function describeLuminaire(lightMap, i) {
  const d = lightMap.data;
  const zone = lightMap.zoneOf(i);
  const level = d.levelOf(i);
  return h(
    'div',
    { class: 'panel' },
    h('strong', {}, d.ids[i]),
    ` · ${zone.name || zone.id} · `,
    level === null ? t('map.noDecision') : `${formatNumber(level)} %`,
    ` · ${t(`map.state.${d.stateOf(i)}`)}`,
    d.unconfirmed(i) ? ` · ${t('map.state.unconfirmed')}` : '',
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
