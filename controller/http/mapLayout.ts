import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Config } from '../../config/schema';
import type { Component } from '../../core/lifecycle';
import type { LightingService } from '../lighting/runtime/lightingService';
import type { SlotName } from '../lighting/slots';
import { coversAny, type Actor } from '../scope';
import { allows } from './access';

/**
 * What the console's map draws, in two answers. The layout (`GET /api/map`: luminaires at their
 * configured positions, zones, buildings, sensors) changes only with the configuration, so it is built
 * from the configuration alone, once per scope (every configured user's at start), kept gzipped and
 * revalidated by the browser with its ETag. The levels
 * (`GET /api/map/levels`) are live, and listed in the layout's order under the same `version`.
 * Positions come from the configuration only, so the map needs no tile server. Luminaires travel as
 * columns (one array per field), their positions as integer millionths of a degree (≈ 0.1 m) each given
 * as the difference from the previous one: along a street that is a few digits, so 10,000 luminaires
 * weigh tens of kilobytes, not hundreds.
 */

export const MAP_SLOTS: readonly SlotName[] = ['emergency', 'override', 'presence', 'schedule'];
const MICRODEGREES = 1e6;

export interface MapPlace {
  id: string;
  commune: string;
  name?: string;
  lat: number;
  lon: number;
}

export interface MapView {
  /** Identifies this layout; the levels of the same luminaires, in the same order, carry the same. */
  version: string;
  tiles: { url: string; attribution: string; maxZoom: number } | null;
  zones: MapPlace[];
  buildings: (MapPlace & { kind: string })[];
  sensors: (MapPlace & { model: string })[];
  luminaires: {
    /**
     * The ids, front-coded (frontCoded): each is the previous one's first `idShared[i]` characters,
     * then `idRest[i]`. The luminaires of a street are numbered alike ('metz-serpenoise-001', '-002'…),
     * so the ids weigh a third of what they would, and the map's first render waits less for them.
     */
    idShared: number[];
    idRest: string[];
    /** Index into `zones`. */
    zone: number[];
    /** Millionths of a degree, each the difference from the previous luminaire's (the first from 0). */
    lat: number[];
    lon: number[];
    /** Luminaires of these zones with no position in the configuration. */
    unplaced: number;
  };
}

/** The live state of the layout's luminaires, one entry per luminaire in the layout's order. */
export interface MapLevelsView {
  version: string;
  /** Decided level, null where nothing is decided (the device's fail-safe applies). */
  level: (number | null)[];
  /** Index into `slots` of the deciding slot, -1 where none. */
  slot: number[];
  slots: readonly SlotName[];
  /** Level the device reads back, null before its first read-back. */
  inEffect: (number | null)[];
  /** Indices of luminaires whose device reports a failure (lamp, gear, relay, communication). */
  failed: number[];
}

/** A layout ready to send: its JSON, gzipped once, and its ETag. */
export interface EncodedMapLayout {
  version: string;
  /**
   * The JSON, gzipped: kept so rather than as text for every scope's layout (100,000 luminaires:
   * 0.3 MB, against 8 MB for the text in memory, its accented names making it two bytes a character);
   * a client that takes no gzip gets it unzipped.
   */
  gzipped: Buffer;
  etag: string;
}

/** Whose map: what a role may read, within which communes. */
export type MapScope = Pick<Actor, 'role' | 'communes'>;

/** A zone of the configuration as the map places it: where it is drawn, and its luminaires that have a position. */
interface PlacedZone {
  place: MapPlace;
  ids: string[];
  lat: number[];
  lon: number[];
  /** Its luminaires with no position. */
  unplaced: number;
}

/** Integer millionths of a degree, each the difference from the previous value. */
export function deltaMicrodegrees(degrees: readonly number[]): number[] {
  const out = new Array<number>(degrees.length);
  let previous = 0;
  for (let i = 0; i < degrees.length; i++) {
    const value = Math.round(degrees[i] * MICRODEGREES);
    out[i] = value - previous;
    previous = value;
  }
  return out;
}

/** Ids front-coded: the characters each shares with the previous one, and the rest of it. */
export function frontCoded(ids: readonly string[]): { idShared: number[]; idRest: string[] } {
  const idShared = new Array<number>(ids.length);
  const idRest = new Array<string>(ids.length);
  let previous = '';
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    const most = Math.min(id.length, previous.length);
    let shared = 0;
    while (shared < most && id.charCodeAt(shared) === previous.charCodeAt(shared)) shared++;
    // Never between the two halves of a character outside the BMP.
    if (shared > 0 && shared < id.length && /[\uDC00-\uDFFF]/.test(id[shared])) shared--;
    idShared[i] = shared;
    idRest[i] = id.slice(shared);
    previous = id;
  }
  return { idShared, idRest };
}

export class MapLayout implements Component {
  readonly name = 'map layouts';
  /** The zones in configuration order, which is the lighting service's (controller/lighting/topology.ts). */
  private readonly zones: PlacedZone[] = [];
  /** Luminaires of zones with no place at all (neither a location nor a placed luminaire), by commune. */
  private readonly unplacedZones: { commune: string; luminaires: number }[] = [];
  private readonly placed = new Set<string>();
  private readonly buildings: (MapPlace & { kind: string })[];
  private readonly sensors: (MapPlace & { model: string })[];
  private readonly tiles: MapView['tiles'];
  private readonly users: readonly MapScope[];
  /** Layouts by scope: the configuration, hence every layout, is fixed for the service's life. */
  private readonly encoded = new Map<string, EncodedMapLayout>();
  /** The same layout for several scopes (no buildings or sensors to tell two roles apart) is kept once. */
  private readonly byVersion = new Map<string, EncodedMapLayout>();

  constructor(
    config: Pick<Config, 'zones' | 'buildings' | 'sensors' | 'users'> & {
      http: Pick<Config['http'], 'map_tiles'>;
    },
  ) {
    for (const zone of config.zones) {
      const placed = zone.luminaires.filter((l) => l.position !== undefined);
      // A zone is drawn where it says it is, else at the middle of its luminaires.
      const centre = zone.location ?? centroid(placed.map((l) => l.position!));
      if (!centre) {
        this.unplacedZones.push({ commune: zone.commune, luminaires: zone.luminaires.length });
        continue;
      }
      for (const l of placed) this.placed.add(l.id);
      this.zones.push({
        place: { id: zone.id, commune: zone.commune, name: zone.name, ...centre },
        ids: placed.map((l) => l.id),
        lat: placed.map((l) => l.position!.lat),
        lon: placed.map((l) => l.position!.lon),
        unplaced: zone.luminaires.length - placed.length,
      });
    }
    this.buildings = config.buildings.flatMap((b) =>
      b.location ? [{ id: b.id, commune: b.commune, name: b.name, kind: b.kind, ...b.location }] : [],
    );
    this.sensors = config.sensors.flatMap((s) =>
      s.location ? [{ id: s.id, commune: s.commune, name: s.name, model: s.model, ...s.location }] : [],
    );
    const tiles = config.http.map_tiles;
    this.tiles = tiles ? { url: tiles.url, attribution: tiles.attribution, maxZoom: tiles.max_zoom } : null;
    this.users = config.users;
  }

  /**
   * The layout of every configured user who may read the map, built before the API listens: encoding
   * 10,000 luminaires takes a first request hundreds of milliseconds, which the first map would wait.
   */
  start(): Promise<void> {
    for (const user of this.users) if (allows(user, 'lighting:read').allowed) this.layout(user);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  /** The layout within the scope's communes; buildings and sensors only for roles that may read energy. */
  layout(scope: MapScope): EncodedMapLayout {
    const withSites = allows(scope, 'energy:read').allowed;
    const key = `${withSites ? 'sites' : 'lights'}:${[...scope.communes].sort().join(',')}`;
    let encoded = this.encoded.get(key);
    if (!encoded) {
      const built = encode(this.build(scope.communes, withSites));
      encoded = this.byVersion.get(built.version) ?? built;
      this.byVersion.set(encoded.version, encoded);
      this.encoded.set(key, encoded);
    }
    return encoded;
  }

  /** The live levels of the layout's luminaires, in its order. */
  levels(actor: Actor, lighting: LightingService): MapLevelsView {
    const levels: MapLevelsView = {
      version: this.layout(actor).version,
      level: [],
      slot: [],
      slots: MAP_SLOTS,
      inEffect: [],
      failed: [],
    };
    for (const zone of this.zonesOf(actor.communes))
      for (const state of lighting.zoneLevels(zone.place.id, actor)) {
        if (!this.placed.has(state.id)) continue;
        if (state.lampStatus) levels.failed.push(levels.level.length);
        levels.level.push(state.level);
        levels.slot.push(state.slot ? MAP_SLOTS.indexOf(state.slot) : -1);
        levels.inEffect.push(state.inEffect);
      }
    return levels;
  }

  private zonesOf(communes: readonly string[]): PlacedZone[] {
    return this.zones.filter((zone) => coversAny(communes, [zone.place.commune]));
  }

  private build(communes: readonly string[], withSites: boolean): Omit<MapView, 'version'> {
    const zones = this.zonesOf(communes);
    const ids: string[] = [];
    const zoneOf: number[] = [];
    const lat: number[] = [];
    const lon: number[] = [];
    let unplaced = 0;
    zones.forEach((zone, z) => {
      for (let i = 0; i < zone.ids.length; i++) {
        ids.push(zone.ids[i]);
        zoneOf.push(z);
        lat.push(zone.lat[i]);
        lon.push(zone.lon[i]);
      }
      unplaced += zone.unplaced;
    });
    for (const zone of this.unplacedZones)
      if (coversAny(communes, [zone.commune])) unplaced += zone.luminaires;
    const luminaires: MapView['luminaires'] = {
      ...frontCoded(ids),
      zone: zoneOf,
      lat: deltaMicrodegrees(lat),
      lon: deltaMicrodegrees(lon),
      unplaced,
    };
    const inScope = (place: MapPlace): boolean => coversAny(communes, [place.commune]);
    return {
      tiles: this.tiles,
      zones: zones.map((zone) => zone.place),
      buildings: withSites ? this.buildings.filter(inScope) : [],
      sensors: withSites ? this.sensors.filter(inScope) : [],
      luminaires,
    };
  }
}

/** The layout's JSON with its version (a hash of the rest) first, gzipped once. */
function encode(layout: Omit<MapView, 'version'>): EncodedMapLayout {
  const body = JSON.stringify(layout);
  const version = createHash('sha256').update(body).digest('base64url').slice(0, 16);
  const gzipped = gzipSync(`{"version":${JSON.stringify(version)},${body.slice(1)}`);
  return { version, gzipped, etag: `"${version}"` };
}

function centroid(points: { lat: number; lon: number }[]): { lat: number; lon: number } | undefined {
  if (points.length === 0) return undefined;
  let lat = 0;
  let lon = 0;
  for (const p of points) {
    lat += p.lat;
    lon += p.lon;
  }
  return { lat: lat / points.length, lon: lon / points.length };
}
