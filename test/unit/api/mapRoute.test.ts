import type { MapLevelsView, MapView } from '../../../controller/http/mapLayout';
import { bearer, call, startApi, type ApiHarness } from './harness';

// The map's two answers over the HTTP layer: the layout kept by the browser and revalidated by its
// ETag, the levels never kept and under the layout's version.

let api: ApiHarness;

beforeAll(async () => {
  api = await startApi();
});

afterAll(async () => {
  await api.close();
});

it('answers 304 to a layout revalidated with its ETag, and the levels carry its version and are never kept', async () => {
  const layout = await call<MapView>(api, 'GET', '/api/map', { headers: bearer('viewer-metz') });
  expect(layout.status).toBe(200);
  expect(layout.headers.get('cache-control')).toBe('private, no-cache');
  const etag = layout.headers.get('etag');
  expect(etag).toBe(`"${layout.body.version}"`);

  const unchanged = await call(api, 'GET', '/api/map', {
    headers: { ...bearer('viewer-metz'), 'if-none-match': etag! },
  });
  expect(unchanged.status).toBe(304);
  expect(unchanged.text).toBe('');
  const stale = await call(api, 'GET', '/api/map', {
    headers: { ...bearer('viewer-metz'), 'if-none-match': '"another-version"' },
  });
  expect(stale.status).toBe(200);
  // Kept gzipped only: unzipped for a client that takes no gzip, the same JSON.
  expect(layout.headers.get('content-encoding')).toBe('gzip');
  const plain = await call<MapView>(api, 'GET', '/api/map', {
    headers: { ...bearer('viewer-metz'), 'accept-encoding': 'identity' },
  });
  expect(plain.headers.get('content-encoding')).toBeNull();
  expect(plain.body).toEqual(layout.body);

  const levels = await call<MapLevelsView>(api, 'GET', '/api/map/levels', { headers: bearer('viewer-metz') });
  expect(levels.status).toBe(200);
  expect(levels.headers.get('cache-control')).toBe('no-store');
  expect(levels.body).toMatchObject({ version: layout.body.version, level: [], failed: [] });
  expect((await call(api, 'GET', '/api/map/levels')).status).toBe(401);
});
