// Run as soon as it arrives, before the console's other modules (index.html loads it as an async module
// with no imports but request.js): a console opened on the map asks at once for the map's data and
// Leaflet, most of the map's first render. Used or forgotten by map.js once the reader is known.
import { TOKEN_KEY, request } from './request.js';

let leaflet; // Promise of window.L, loaded once and only by the pages that draw a map

/** Leaflet's script and stylesheet, served by the service itself (/vendor/); rejects if it cannot load. */
export function loadLeaflet() {
  leaflet ??= new Promise((resolve, reject) => {
    const css = Object.assign(document.createElement('link'), {
      rel: 'stylesheet',
      href: '/vendor/leaflet.css',
    });
    const script = Object.assign(document.createElement('script'), { src: '/vendor/leaflet.js' });
    script.addEventListener('load', () => resolve(window.L));
    script.addEventListener('error', () => {
      leaflet = undefined;
      reject(new Error('leaflet'));
    });
    document.head.append(css, script);
  });
  return leaflet;
}

/** The map's requests: its layout (kept by the browser, revalidated by its ETag) and its live levels. */
export function askMap(token) {
  return {
    layout: request('GET', '/api/map', { token, cache: 'no-cache' }),
    levels: request('GET', '/api/map/levels', { token }),
  };
}

/** What was asked before the console started, if it opened on the map (taken once). */
let mapAsked;
if (/^#\/map\b/.test(location.hash)) {
  loadLeaflet().catch(() => undefined);
  mapAsked = askMap(sessionStorage.getItem(TOKEN_KEY));
  // Read, or dropped if nobody is signed in: never an unhandled rejection.
  for (const asked of Object.values(mapAsked)) asked.catch(() => undefined);
}

export function takeMapAsked() {
  const asked = mapAsked;
  mapAsked = undefined;
  return asked;
}

/** Nobody is signed in: what was asked is not theirs to see. */
export function forgetMapAsked() {
  mapAsked = undefined;
}
