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
    const n = l.idRest.length;
    this.count = n;
    this.version = layout.version;
    this.tiles = layout.tiles;
    this.zones = layout.zones;
    this.buildings = layout.buildings;
    this.sensors = layout.sensors;
    this.unplaced = l.unplaced;
    this._idShared = l.idShared;
    this._idRest = l.idRest;
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
    for (let i = 0; i < this.count; i++) {
      this.level[i] = levels.level[i] ?? NaN;
      this.inEffect[i] = levels.inEffect[i] ?? NaN;
      this.slot[i] = levels.slot[i];
      if (!this.unconfirmed(i)) this.dispatchFailed[i] = 0;
      changed = this.restyle(i) || changed;
    }
    return changed;
  }

  /** The ids, undone from their front coding when first asked for (a tap, a change told by id). */
  get ids() {
    if (!this._ids) {
      this._ids = new Array(this.count);
      for (let i = 0; i < this.count; i++) {
        const previous = i > 0 ? this._ids[i - 1] : '';
        this._ids[i] = previous.slice(0, this._idShared[i]) + this._idRest[i];
      }
    }
    return this._ids;
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

/** Boxes in canvas pixels: none yet, grown to hold a disc (its corner and size), cut to the canvas. */
const noBox = () => ({ x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity });

function growBox(box, x, y, size) {
  box.x0 = Math.min(box.x0, x);
  box.y0 = Math.min(box.y0, y);
  box.x1 = Math.max(box.x1, x + size);
  box.y1 = Math.max(box.y1, y + size);
}

/** The part of a box within a canvas of width × height, or undefined when none is. */
function cutToCanvas(box, width, height) {
  const cut = {
    x0: Math.max(0, box.x0),
    y0: Math.max(0, box.y0),
    x1: Math.min(width, box.x1),
    y1: Math.min(height, box.y1),
  };
  return cut.x0 < cut.x1 && cut.y0 < cut.y1 ? cut : undefined;
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
 * Web Mercator, as Leaflet's default CRS (EPSG:3857) computes it, so that the first frame, drawn before
 * Leaflet has loaded, is the one Leaflet's view would draw: positions in the unit square (Leaflet's
 * pixels at zoom 0, divided by 256), operation for operation as L.Projection.SphericalMercator and
 * the CRS's transformation do them (the e2e tests compare both this and simplifiedLine with Leaflet's).
 */
const EARTH_RADIUS = 6378137;
const MAX_LATITUDE = 85.0511287798;
const UNIT = 0.5 / (Math.PI * EARTH_RADIUS);
const tileScale = (zoom) => 256 * Math.pow(2, zoom);

export function projectToUnit(lat, lon) {
  const d = Math.PI / 180;
  const sin = Math.sin(Math.max(Math.min(MAX_LATITUDE, lat), -MAX_LATITUDE) * d);
  return {
    x: UNIT * (EARTH_RADIUS * lon * d) + 0.5,
    y: -UNIT * ((EARTH_RADIUS * Math.log((1 + sin) / (1 - sin))) / 2) + 0.5,
  };
}

function unprojectFromUnit(x, y) {
  const d = 180 / Math.PI;
  const mx = (x - 0.5) / UNIT;
  const my = (y - 0.5) / -UNIT;
  return {
    lat: (2 * Math.atan(Math.exp(my / EARTH_RADIUS)) - Math.PI / 2) * d,
    lon: (mx * d) / EARTH_RADIUS,
  };
}

/** The map's zoom steps, and the margin kept around the luminaires when the map opens, in CSS pixels. */
const ZOOM_SNAP = 0.5;
const FIT_MAX_ZOOM = 18;
const FIT_PADDING_PX = 20;
/** Leaflet's renderers draw beyond the view by this fraction of it on each side, for panning. */
const RENDERER_PADDING = 0.1;

/**
 * The view a map of `size` (CSS pixels) opens on: every luminaire in, at the largest zoom step that
 * holds them, at most `maxZoom` (as Leaflet's fitBounds chooses it), France when none is placed; with
 * the pixel origin and the renderer's bounds Leaflet computes for that view.
 */
function openingView(ux, uy, size, maxZoom) {
  let zoom = 5;
  let centre = projectToUnit(46.6, 2.4);
  if (ux.length > 0) {
    let west = Infinity;
    let north = Infinity;
    let east = -Infinity;
    let south = -Infinity;
    for (let k = 0; k < ux.length; k++) {
      west = Math.min(west, ux[k]);
      east = Math.max(east, ux[k]);
      north = Math.min(north, uy[k]);
      south = Math.max(south, uy[k]);
    }
    const fit = Math.min(
      (size.x - 2 * FIT_PADDING_PX) / tileScale(0) / (east - west),
      (size.y - 2 * FIT_PADDING_PX) / tileScale(0) / (south - north),
    );
    // Within 1 % of a step counts as the step, as in Leaflet; one luminaire alone (an infinite fit)
    // is seen at maxZoom, and a box too small for the margins at the widest.
    const steps = Math.floor(Math.round(Math.log2(fit) / (ZOOM_SNAP / 100)) / 100);
    zoom = Math.min(maxZoom, Math.max(0, steps * ZOOM_SNAP));
    if (Number.isNaN(zoom)) zoom = 0;
    centre = { x: (west + east) / 2, y: (north + south) / 2 };
  }
  const centreAt = unprojectFromUnit(centre.x, centre.y);
  // What Leaflet derives from that centre: L.Map's pixel origin, then L.Renderer's bounds.
  const at = projectToUnit(centreAt.lat, centreAt.lon);
  const scale = tileScale(zoom);
  const origin = { x: Math.round(scale * at.x - size.x / 2), y: Math.round(scale * at.y - size.y / 2) };
  const min = { x: Math.round(size.x * -RENDERER_PADDING), y: Math.round(size.y * -RENDERER_PADDING) };
  const grown = 1 + RENDERER_PADDING * 2;
  return {
    centre: centreAt,
    zoom,
    origin,
    min,
    size: { x: Math.round(min.x + size.x * grown) - min.x, y: Math.round(min.y + size.y * grown) - min.y },
  };
}

/**
 * The points of a line to draw, within `tolerance` pixels of it (Douglas–Peucker after dropping
 * points closer than the tolerance to the last one kept, as Leaflet simplifies its polylines): a
 * street's hundred luminaires seen from afar are a few strokes. Returns the indices kept, from..to.
 */
export function simplifiedLine(x, y, from, to, tolerance) {
  const near = tolerance * tolerance;
  const kept = [from];
  for (let k = from + 1; k <= to; k++)
    if ((x[k] - x[kept.at(-1)]) ** 2 + (y[k] - y[kept.at(-1)]) ** 2 > near || k === to) kept.push(k);
  const marked = new Uint8Array(kept.length);
  marked[0] = marked[kept.length - 1] = 1;
  const step = (first, last) => {
    let farthest = 0;
    let index = -1;
    const [ax, ay, bx, by] = [x[kept[first]], y[kept[first]], x[kept[last]], y[kept[last]]];
    for (let j = first + 1; j < last; j++) {
      const d = squaredToSegment(x[kept[j]], y[kept[j]], ax, ay, bx, by);
      if (d > farthest) [farthest, index] = [d, j];
    }
    if (farthest > near) {
      marked[index] = 1;
      step(first, index);
      step(index, last);
    }
  };
  step(0, kept.length - 1);
  return kept.filter((_, j) => marked[j]);
}

/** Squared distance from (px, py) to the segment (ax, ay)–(bx, by). */
function squaredToSegment(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const length2 = dx * dx + dy * dy;
  const k = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / length2));
  return (px - (ax + k * dx)) ** 2 + (py - (ay + k * dy)) ** 2;
}

/**
 * The luminaires and their zones' lines, drawn by us on two canvases (the lines beneath the discs),
 * with no need of Leaflet: the first frame is drawn before Leaflet has loaded, and Leaflet then takes
 * these canvases as they are (pointLayerClass). Positions are projected once; a view is then one
 * multiply-add per luminaire, the lines stroked as one path, and the discs painted. Level changes only
 * mark the canvas: the discs repaint at most once per animation frame, the lines stay. (As Leaflet
 * polylines, the lines of 10,000 luminaires took the first render longer than the discs.)
 */
class LuminaireCanvas {
  constructor(data, shown, ring) {
    this._data = data;
    this._shown = shown;
    this._ring = ring;
    const n = shown.length;
    this._ux = new Float64Array(n); // unit square (Web Mercator)
    this._uy = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const p = projectToUnit(data.lat[shown[k]], data.lon[shown[k]]);
      this._ux[k] = p.x;
      this._uy[k] = p.y;
    }
    this.x = new Float32Array(n); // CSS pixels of the canvas, in the view drawn
    this.y = new Float32Array(n);
    this._order = new Int32Array(n);
    // Each luminaire's place in `shown` (-1: not on this map), for the box around those that change.
    this._shownAt = new Int32Array(data.count).fill(-1);
    for (let k = 0; k < n; k++) this._shownAt[shown[k]] = k;
    // Each luminaire's street segment starts at the previous luminaire of its zone (-1: none).
    this.previous = new Int32Array(n);
    for (let k = 0; k < n; k++)
      this.previous[k] = k > 0 && data.zone[shown[k - 1]] === data.zone[shown[k]] ? k - 1 : -1;
    this._lines = h('canvas');
    this._discs = h('canvas');
    this.container = h('div', { class: 'map-points' }, this._lines, this._discs);
    this._ctx = this._discs.getContext('2d');
  }

  /** The view that shows every luminaire on a map of `size` CSS pixels, at most `maxZoom`. */
  openingView(size, maxZoom) {
    return openingView(this._ux, this._uy, size, maxZoom);
  }

  /**
   * Draws the view (zoom, pixel origin, and the canvas's bounds: `min` in layer pixels and `size`),
   * unless it is the one drawn already: the canvases resized (which clears them), the positions
   * projected, the lines stroked and the discs painted at once.
   */
  show(view) {
    const ratio = window.devicePixelRatio || 1;
    const key = [
      view.zoom,
      view.origin.x,
      view.origin.y,
      view.min.x,
      view.min.y,
      view.size.x,
      view.size.y,
      ratio,
    ];
    if (this._shownKey?.every((v, j) => v === key[j])) return;
    this._shownKey = key;
    for (const canvas of [this._lines, this._discs]) {
      canvas.width = Math.round(view.size.x * ratio);
      canvas.height = Math.round(view.size.y * ratio);
      canvas.style.width = `${view.size.x}px`;
      canvas.style.height = `${view.size.y}px`;
    }
    if (this._looks?.ratio !== ratio) this._looks = drawSprites(ratio, this._ring);
    const scale = tileScale(view.zoom);
    const shiftX = view.origin.x + view.min.x;
    const shiftY = view.origin.y + view.min.y;
    for (let k = 0; k < this.x.length; k++) {
      this.x[k] = scale * this._ux[k] - shiftX;
      this.y[k] = scale * this._uy[k] - shiftY;
    }
    this._view = view;
    this._grid = undefined;
    this._strokeLines(ratio);
    this._dirty = EVERYWHERE; // resized or not, the canvas was cleared
    this._paint();
  }

  /** Each zone's line along its luminaires, as one path, simplified to within a pixel. */
  _strokeLines(ratio) {
    const g = this._lines.getContext('2d');
    g.beginPath();
    for (let from = 0; from < this.x.length;) {
      let to = from;
      while (to + 1 < this.x.length && this.previous[to + 1] >= 0) to++;
      const points = simplifiedLine(this.x, this.y, from, to, 1);
      g.moveTo(this.x[points[0]] * ratio, this.y[points[0]] * ratio);
      for (const k of points.slice(1)) g.lineTo(this.x[k] * ratio, this.y[k] * ratio);
      from = to + 1;
    }
    g.lineWidth = ZONE_LINE_PX * ratio;
    g.lineCap = g.lineJoin = 'round';
    g.strokeStyle = ZONE_LINE;
    g.stroke();
  }

  /**
   * Something changed: one paint at the next frame, however many changes come before it. Given the
   * luminaires whose look changed, only the box around them is painted again (a street, on a map of
   * 10,000: a frame's work, not several); otherwise everything.
   */
  requestPaint(changed) {
    if (!this._looks) return;
    this._dirty = changed && this._dirty !== EVERYWHERE ? this._boxAround(changed) : EVERYWHERE;
    this._frame ||= requestAnimationFrame(() => this._paint());
  }

  /** No more paints: the map is gone. */
  stop() {
    cancelAnimationFrame(this._frame);
    this._frame = 0;
  }

  /** The box to paint again, in canvas pixels, grown to hold the discs of `changed` (data indices). */
  _boxAround(changed) {
    const { size, ratio } = this._looks;
    const box = this._dirty ?? noBox();
    for (const i of changed) {
      const k = this._shownAt[i];
      if (k >= 0) growBox(box, cornerOf(this.x[k], ratio, size), cornerOf(this.y[k], ratio, size), size);
    }
    return box;
  }

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
      clip = cutToCanvas(dirty, width, height);
      if (!clip) return;
      for (let y = clip.y0; y < clip.y1; y++) this._words.fill(0, y * width + clip.x0, y * width + clip.x1);
    }
    const look = this._data.look;
    const starts = new Int32Array(sprites.length + 1);
    const reaches = (k) => {
      const x = cornerOf(this.x[k], ratio, size);
      const y = cornerOf(this.y[k], ratio, size);
      return x > clip.x0 - size && x < clip.x1 && y > clip.y0 - size && y < clip.y1;
    };
    for (let k = 0; k < this._shown.length; k++) if (reaches(k)) starts[look[this._shown[k]] + 1]++;
    for (let s = 1; s < starts.length; s++) starts[s] += starts[s - 1];
    const next = starts.slice(0, -1);
    for (let k = 0; k < this._shown.length; k++)
      if (reaches(k)) this._order[next[look[this._shown[k]]]++] = k;
    const stamped = noBox();
    for (let s = 0; s < sprites.length; s++)
      for (let j = starts[s]; j < starts[s + 1]; j++) {
        const k = this._order[j];
        const x = cornerOf(this.x[k], ratio, size);
        const y = cornerOf(this.y[k], ratio, size);
        stamp(this._image, this._words, sprites[s], size, x, y, clip);
        growBox(stamped, x, y, size);
      }
    // A whole paint puts only the box the discs cover, the rest of the canvas cleared: each pixel put
    // is converted, and the margins beyond the view (a tenth of it on each side) are mostly empty.
    if (dirty === EVERYWHERE) {
      this._ctx.clearRect(0, 0, width, height);
      clip = cutToCanvas(stamped, width, height);
      if (!clip) return;
    }
    this._ctx.putImageData(this._image, 0, 0, clip.x0, clip.y0, clip.x1 - clip.x0, clip.y1 - clip.y0);
  }

  /**
   * A point of the map's layer in the canvas's pixels, and the luminaires near it: those whose street
   * segment passes within TAP_PX, from a grid of the projected segments built at the first tap after a
   * view change.
   */
  near(layerPoint) {
    const point = { x: layerPoint.x - this._view.min.x, y: layerPoint.y - this._view.min.y };
    this._grid ??= tapGrid(this.x, this.y, this.previous, this._view.size);
    const { cols, rows, start, items } = this._grid;
    const col = Math.floor(point.x / CELL_PX);
    const row = Math.floor(point.y / CELL_PX);
    const cell = col >= 0 && col < cols && row >= 0 && row < rows ? row * cols + col : -1;
    return { point, candidates: cell < 0 ? [] : items.subarray(start[cell], start[cell + 1]) };
  }
}

/**
 * The luminaires' canvases as a Leaflet layer, taken as they are: built on L.Renderer (itself an
 * L.Layer) for what Leaflet already does well, the canvases' bounds with a margin around the view and
 * their transform during zoom animations. A view the canvases already show is not drawn again.
 */
function pointLayerClass(L) {
  return L.Renderer.extend({
    initialize(points, options) {
      L.Renderer.prototype.initialize.call(this, options);
      this._points = points;
    },

    _initContainer() {
      this._container = this._points.container;
    },

    _destroyContainer() {
      this._points.stop();
      L.DomUtil.remove(this._container);
    },

    _update() {
      L.Renderer.prototype._update.call(this);
      this._points.show({
        zoom: this._zoom,
        origin: this._map.getPixelOrigin(),
        min: this._bounds.min,
        size: this._bounds.getSize(),
      });
      L.DomUtil.setPosition(this._container, this._bounds.min);
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
 * One map of the luminaires and the zones' lines along them. Its first frame is drawn as soon as the
 * data is there (Leaflet's evaluation would hold it by tens of milliseconds); then Leaflet, once
 * loaded (attach), brings pan and zoom, tiles, the buildings and sensors, and taps: our canvases
 * become a layer beneath the buildings and sensors, taking no pointer (a tap reaches the map, which
 * asks the canvas's grid).
 */
class LightMap {
  constructor(element, data, { only, onTap }) {
    this.element = element;
    this.data = data;
    this.only = only;
    this.onTap = onTap;
    const shown = [];
    for (let i = 0; i < data.count; i++)
      if (!only || data.zones[data.zone[i]].commune === only) shown.push(i);
    this.shown = Int32Array.from(shown);
    // The canvas cannot read CSS variables: the text's colour, dark or light, taken once.
    const ring = getComputedStyle(document.documentElement).getPropertyValue('--text').trim() || '#f2f5f8';
    this.points = new LuminaireCanvas(data, this.shown, ring);
    // No closer than the commune's tiles go, if it has a tile server: Leaflet would zoom out to them.
    const maxZoom = Math.min(FIT_MAX_ZOOM, data.tiles?.maxZoom ?? Infinity);
    this.view = this.points.openingView({ x: element.clientWidth, y: element.clientHeight }, maxZoom);
    const { min } = this.view;
    this.points.container.style.transform = `translate3d(${min.x}px, ${min.y}px, 0)`;
    element.append(this.points.container);
    this.points.show(this.view);
  }

  /** Each luminaire of this map by its id: built at the first change told by id, after the first frame. */
  get index() {
    this._index ??= new Map(Array.from(this.shown, (i) => [this.data.ids[i], i]));
    return this._index;
  }

  /** Leaflet's map over the first frame, on the same view: the canvases drawn are kept. */
  attach(L) {
    const data = this.data;
    this.map = L.map(this.element, {
      center: [this.view.centre.lat, this.view.centre.lon],
      zoom: this.view.zoom,
      preferCanvas: true,
      zoomSnap: ZOOM_SNAP,
      attributionControl: Boolean(data.tiles),
    });
    if (data.tiles)
      L.tileLayer(data.tiles.url, {
        attribution: data.tiles.attribution,
        maxZoom: data.tiles.maxZoom,
      }).addTo(this.map);
    const inScope = (place) => !this.only || place.commune === this.only;
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
    const PointLayer = pointLayerClass(L);
    new PointLayer(this.points, { pane: 'luminaires', padding: RENDERER_PADDING }).addTo(this.map);
    this.map.on('click', (event) => this.onTap(event.containerPoint));
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

  /** A tap on the map (a point of its container), in the canvas's pixels, and the luminaires near it. */
  _near(containerPoint) {
    return this.points.near(this.map.containerPointToLayerPoint(containerPoint));
  }

  /** The luminaire nearest a tap, within TAP_PX. */
  nearestOnScreen(containerPoint) {
    const { point, candidates } = this._near(containerPoint);
    const { x, y } = this.points;
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
    const { point, candidates } = this._near(containerPoint);
    const { x, y, previous } = this.points;
    let best;
    let bestD = TAP_PX * TAP_PX;
    for (const k of candidates) {
      const a = previous[k] < 0 ? k : previous[k];
      const d = squaredToSegment(point.x, point.y, x[a], y[a], x[k], y[k]);
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
    this.points.stop();
    if (this.map) this.map.remove();
    else this.points.container.remove();
  }
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
      const data = await fetchMap();
      if (!box.isConnected) return;
      lightMap = new LightMap(box, data, {
        onTap: (point) => {
          const i = lightMap.nearestOnScreen(point);
          replace(detail, i === undefined ? '' : describeLuminaire(lightMap, i));
        },
      });
      for (const apply of early.splice(0)) apply();
      // The canvases are drawn; marked at the frame that shows them: what the benchmark waits for. Then
      // Leaflet, and the count: the page's first number formatted costs the locale's number data.
      await new Promise((resolve) => requestAnimationFrame(resolve));
      performance.mark('nocturne:map-drawn');
      markDrawn();
      const L = await loadLeaflet();
      if (!box.isConnected) return;
      lightMap.attach(L);
      // Taps are answered from here on: what the tests wait for.
      box.dataset.ready = 'true';
      replace(
        status,
        t('map.count', { placed: formatNumber(data.count), unplaced: formatNumber(data.unplaced) }),
      );
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
      const data = await fetchMap();
      if (!box.isConnected) return;
      const lightMap = new LightMap(box, data, {
        only: commune,
        onTap: (point) => {
          const i = lightMap.zoneNearOnScreen(point);
          if (i === undefined) replace(status, t('map.tapCloser'));
          else pick(lightMap, i);
        },
      });
      picker = lightMap;
      const L = await loadLeaflet();
      if (picker !== lightMap || !box.isConnected) return;
      lightMap.attach(L);
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
