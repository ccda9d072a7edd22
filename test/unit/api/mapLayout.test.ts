import { ConfigSchema, type Config } from '../../../config/schema';
import { MapTiles } from '../../../config/schema/service';
import { gunzipSync } from 'node:zlib';
import {
  MapLayout,
  deltaMicrodegrees,
  frontCoded,
  type EncodedMapLayout,
  type MapView,
} from '../../../controller/http/mapLayout';
import type {
  LightingService,
  LuminaireLevelStatus,
} from '../../../controller/lighting/runtime/lightingService';
import { coversAny, type Actor } from '../../../controller/scope';
import { consoleCsp, tileOrigin } from '../../../controller/http/mapSupport';
import { inlineScriptSources } from '../../../controller/http/staticFiles';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

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

/** As the console reads them: each id is the previous one's first `idShared[i]` characters, then `idRest[i]`. */
function undoFrontCoding({ idShared, idRest }: { idShared: number[]; idRest: string[] }): string[] {
  const ids: string[] = [];
  idRest.forEach((rest, i) => ids.push((ids[i - 1] ?? '').slice(0, idShared[i]) + rest));
  return ids;
}

describe('frontCoded: the map’s luminaire ids', () => {
  it('sends of each id what it does not share with the previous one, and gives every id back', () => {
    const ids = [
      'metz-serpenoise-001',
      'metz-serpenoise-002',
      'metz-serpenoise-010',
      'woippy-1',
      'w',
      'w',
      '',
    ];
    const coded = frontCoded(ids);
    expect(coded).toEqual({
      idShared: [0, 18, 17, 0, 1, 1, 0],
      idRest: ['metz-serpenoise-001', '2', '10', 'woippy-1', '', '', ''],
    });
    expect(undoFrontCoding(coded)).toEqual(ids);
  });

  it('never splits a character outside the BMP between what is shared and the rest', () => {
    const ids = ['rue-\u{1F4A1}-1', 'rue-\u{1F526}-2'];
    const coded = frontCoded(ids);
    // The two bulbs share their first UTF-16 half: the shared part stops before it.
    expect(coded.idShared[1]).toBe(4);
    expect(coded.idRest[1]).toBe('\u{1F526}-2');
    expect(undoFrontCoding(JSON.parse(JSON.stringify(coded)) as typeof coded)).toEqual(ids);
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

  it('allows inline only the scripts of index.html, each by its hash, and none when it has none', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nocturne-console-'));
    writeFileSync(
      path.join(dir, 'index.html'),
      '<head><script>one();</script><script type="module" src="app.js"></script>\n<script>\n two();\n</script>',
    );
    const hash = (script: string) => `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
    expect(inlineScriptSources(dir)).toEqual([hash('one();'), hash('\n two();\n')]);
    expect(consoleCsp(undefined, inlineScriptSources(dir))).toContain(
      `script-src 'self' ${hash('one();')} ${hash('\n two();\n')};`,
    );
    expect(consoleCsp(undefined, inlineScriptSources(path.join(dir, 'none')))).toContain(
      "script-src 'self';",
    );
    // The console's own page: its one inline script, which asks for the first answers.
    const consoleDir = path.join(__dirname, '..', '..', '..', 'controller', 'http', 'console');
    expect(readFileSync(path.join(consoleDir, 'index.html'), 'utf8')).toContain('window.nocturneEarly');
    expect(inlineScriptSources(consoleDir)).toHaveLength(1);
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

describe('MapLayout: the layout once per scope, from the configuration, the levels in its order', () => {
  type MapConfig = ConstructorParameters<typeof MapLayout>[0];
  const luminaire = (id: string, position?: { lat: number; lon: number }) => ({ id, position });
  const config = {
    zones: [
      {
        id: 'serpenoise',
        commune: 'metz',
        name: 'Rue Serpenoise',
        luminaires: [
          luminaire('s-1', { lat: 49.1, lon: 6.17 }),
          luminaire('s-2'),
          luminaire('s-3', { lat: 49.1003, lon: 6.1702 }),
        ],
      },
      // Placed by its location alone: listed, its luminaires counted as without a position.
      { id: 'parc', commune: 'metz', location: { lat: 49.11, lon: 6.18 }, luminaires: [luminaire('p-1')] },
      // Placed nowhere: not listed, its luminaires counted as without a position.
      { id: 'cour', commune: 'metz', luminaires: [luminaire('c-1'), luminaire('c-2')] },
      { id: 'gare', commune: 'montigny-les-metz', luminaires: [luminaire('g-1', { lat: 49.09, lon: 6.15 })] },
    ],
    buildings: [{ id: 'ecole', commune: 'metz', kind: 'school', location: { lat: 49.105, lon: 6.175 } }],
    sensors: [],
    users: [],
    http: {},
  } as unknown as MapConfig;
  const levels: Record<string, Partial<LuminaireLevelStatus>> = {
    's-1': { level: 40, slot: 'schedule', inEffect: 40 },
    's-3': { level: 100, slot: 'emergency', inEffect: null, lampStatus: 1 },
  };
  // The one call of the lighting service the map makes (its zone's luminaires in configuration order),
  // refusing a zone outside the actor's communes as the service does.
  const lighting = {
    zoneLevels: (id: string, actor: Actor) => {
      const zone = (config as unknown as Config).zones.find((z) => z.id === id)!;
      if (!coversAny(actor.communes, [zone.commune])) throw new Error(`zone '${id}' is not the actor's`);
      return zone.luminaires.map((l) => ({
        id: l.id,
        level: null,
        slot: null,
        inEffect: null,
        lampStatus: undefined,
        ...levels[l.id],
      })) as LuminaireLevelStatus[];
    },
  } as unknown as LightingService;
  const actor = (communes: string[], role: Actor['role'] = 'admin'): Actor => ({
    user: 'u',
    role,
    communes,
    via: 'api',
    from: 'test',
  });
  const viewOf = (layout: EncodedMapLayout): MapView =>
    JSON.parse(gunzipSync(layout.gzipped).toString()) as MapView;
  const idsOf = (view: MapView): string[] => undoFrontCoding(view.luminaires);

  it('lists the placed luminaires as columns, zones placed by a location too, and counts the others', () => {
    const layout = viewOf(new MapLayout(config).layout(actor(['metz'])));
    expect(idsOf(layout)).toEqual(['s-1', 's-3']);
    expect(layout.luminaires.zone).toEqual([0, 0]);
    expect(layout.luminaires.lat).toEqual([49_100_000, 300]);
    expect(layout.luminaires.unplaced).toBe(4);
    expect(layout.zones.map((z) => z.id)).toEqual(['serpenoise', 'parc']);
    expect(layout.zones[0]).toMatchObject({ lat: 49.10015, lon: 6.1701 });
    expect(layout.buildings.map((b) => b.id)).toEqual(['ecole']);
  });

  it('shows buildings and sensors only to roles that may read energy', () => {
    const map = new MapLayout(config);
    expect(viewOf(map.layout(actor(['metz'], 'energy-manager'))).buildings.map((b) => b.id)).toEqual([
      'ecole',
    ]);
    expect(viewOf(map.layout(actor(['metz'], 'emergency'))).buildings).toEqual([]);
  });

  it('builds a layout once per scope, with a version and ETag that differ between scopes', () => {
    const map = new MapLayout(config);
    const metz = map.layout(actor(['metz']));
    expect(map.layout(actor(['metz']))).toBe(metz);
    expect(metz.etag).toBe(`"${metz.version}"`);
    expect(viewOf(metz).version).toBe(metz.version);
    const all = map.layout(actor(['*']));
    expect(idsOf(viewOf(all))).toEqual(['s-1', 's-3', 'g-1']);
    expect(viewOf(all).luminaires.zone).toEqual([0, 0, 2]);
    expect(all.version).not.toBe(metz.version);
  });

  it('keeps one layout for scopes that see the same map', () => {
    const map = new MapLayout(config);
    // Montigny has no building or sensor: an energy manager's map there is an emergency user's.
    const withSites = map.layout(actor(['montigny-les-metz'], 'energy-manager'));
    expect(map.layout(actor(['montigny-les-metz'], 'emergency'))).toBe(withSites);
    expect(map.layout(actor(['metz'], 'emergency'))).not.toBe(map.layout(actor(['metz'], 'energy-manager')));
  });

  it('builds at start the layout of every configured user who may read the map, and of nobody else', async () => {
    const users = [
      { id: 'police', role: 'emergency', communes: ['metz'] },
      { id: 'elus', role: 'viewer', communes: ['montigny-les-metz'] },
    ];
    const map = new MapLayout({ ...config, users } as unknown as MapConfig);
    const built = (): number => (map as unknown as { encoded: Map<string, unknown> }).encoded.size;
    expect(built()).toBe(0);
    await map.start();
    expect(built()).toBe(2);
    // Served from what start built: the same object, not another encoding.
    const police = map.layout(actor(['metz'], 'emergency'));
    expect(built()).toBe(2);
    expect(idsOf(viewOf(police))).toEqual(['s-1', 's-3']);
    expect(idsOf(viewOf(map.layout(actor(['montigny-les-metz'], 'viewer'))))).toEqual(['g-1']);
    expect(built()).toBe(2);
  });

  it('gives the levels in the layout’s order under its version, failures by index', () => {
    const map = new MapLayout(config);
    const levelsView = map.levels(actor(['*']), lighting);
    expect(levelsView.version).toBe(map.layout(actor(['*'])).version);
    expect(levelsView.level).toEqual([40, 100, null]);
    expect(levelsView.slot).toEqual([3, 0, -1]);
    expect(levelsView.slots[levelsView.slot[1]]).toBe('emergency');
    expect(levelsView.inEffect).toEqual([40, null, null]);
    expect(levelsView.failed).toEqual([1]);
    expect(map.levels(actor(['montigny-les-metz']), lighting).level).toEqual([null]);
  });
});
