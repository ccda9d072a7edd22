import { ConfigSchema } from '../../../config/schema';
import { MapTiles } from '../../../config/schema/service';
import { deltaMicrodegrees } from '../../../controller/http/mapLayout';
import { consoleCsp, tileOrigin } from '../../../controller/http/mapSupport';

describe('deltaMicrodegrees', () => {
  it('gives integer millionths of a degree as differences, which add back up to the positions', () => {
    const lat = [49.119312, 49.119564, 49.119817, 48.5];
    const deltas = deltaMicrodegrees(lat);
    expect(deltas).toEqual([49_119_312, 252, 253, -619_817]);
    let sum = 0;
    expect(deltas.map((d) => (sum += d) / 1e6)).toEqual(lat);
  });

  it('rounds to the nearest millionth (about 0.1 m) and handles negative longitudes', () => {
    expect(deltaMicrodegrees([-1.5000004, -1.4999994])).toEqual([-1_500_000, 1]);
  });
});

describe('the console CSP and the tile server', () => {
  it('lets images come from the tile server only when one is configured', () => {
    expect(consoleCsp(undefined)).toContain("img-src 'self' data:;");
    expect(consoleCsp('https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png')).toContain(
      "img-src 'self' data: https://*.tile.openstreetmap.org;",
    );
    expect(tileOrigin('http://tiles.metz.fr:8081/osm/{z}/{x}/{y}.png')).toBe('http://tiles.metz.fr:8081');
  });

  it.each([
    ['javascript:alert(1)/{z}/{x}/{y}', 'not http'],
    ["https://tiles.example.org/{z}/{x}/{y}.png'; script-src *", 'a quote that would end the CSP source'],
    ['https://{s}{s}.example.org/{z}/{x}/{y}.png', '{s} inside a label'],
    ['https://tiles.example.org/{z}/{x}.png', 'no {y}'],
  ])('refuses %s (%s), saying what a tile URL looks like', (url) => {
    const result = MapTiles.safeParse({ url, attribution: '© OpenStreetMap' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].message).toMatch(
      /must be an http\(s\) tile URL with \{z\}, \{x\} and \{y\}/,
    );
  });

  it('is an optional field of http, with a default zoom', () => {
    const http = ConfigSchema.shape.http.parse({
      map_tiles: { url: 'https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png', attribution: '© OSM' },
    });
    expect(http.map_tiles).toEqual({
      url: 'https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png',
      attribution: '© OSM',
      max_zoom: 19,
    });
  });
});
