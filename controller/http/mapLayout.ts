import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Config } from '../../config/schema';
import type { LightingService, LuminaireLevelStatus } from '../lighting/runtime/lightingService';
import type { SlotName } from '../lighting/slots';
import { coversAny, type Actor } from '../scope';

/**
 * What the console's map draws, in two answers. The layout (`GET /api/map`: luminaires at their
 * configured positions, zones, buildings, sensors) changes only with the configuration, so it is built
 * once per scope, kept gzipped and revalidated by the browser with its ETag. The levels
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
    ids: string[];
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
  view: MapView;
  json: string;
  gzipped: Buffer;
  etag: string;
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

export class MapLayout {
  private readonly positions = new Map<string, { lat: number; lon: number }>();
  private readonly zoneCentres = new Map<string, { lat: number; lon: number }>();
  private readonly buildings: (MapPlace & { kind: string })[];
  private readonly sensors: (MapPlace & { model: string })[];
  private readonly tiles: MapView['tiles'];
  /** Layouts by scope: the configuration, hence every layout, is fixed for the service's life. */
  private readonly encoded = new Map<string, EncodedMapLayout>();

  constructor(
    config: Pick<Config, 'zones' | 'buildings' | 'sensors'> & { http: Pick<Config['http'], 'map_tiles'> },
  ) {
    for (const zone of config.zones) {
      const placed = zone.luminaires.filter((l) => l.position !== undefined);
      for (const l of placed) this.positions.set(l.id, l.position!);
      // A zone is drawn where it says it is, else at the middle of its luminaires.
      const centre = zone.location ?? centroid(placed.map((l) => l.position!));
      if (centre) this.zoneCentres.set(zone.id, centre);
    }
    this.buildings = config.buildings.flatMap((b) =>
      b.location ? [{ id: b.id, commune: b.commune, name: b.name, kind: b.kind, ...b.location }] : [],
    );
    this.sensors = config.sensors.flatMap((s) =>
      s.location ? [{ id: s.id, commune: s.commune, name: s.name, model: s.model, ...s.location }] : [],
    );
    const tiles = config.http.map_tiles;
    this.tiles = tiles ? { url: tiles.url, attribution: tiles.attribution, maxZoom: tiles.max_zoom } : null;
  }

  /** The layout within the actor's communes; buildings and sensors only for roles that may read them. */
  layout(actor: Actor, lighting: LightingService, withSites: boolean): EncodedMapLayout {
    const key = `${withSites ? 'sites' : 'lights'}:${[...actor.communes].sort().join(',')}`;
    let encoded = this.encoded.get(key);
    if (!encoded) {
      encoded = this.encode(this.build(actor, lighting, withSites));
      this.encoded.set(key, encoded);
    }
    return encoded;
  }

  /** The live levels of the layout's luminaires, in its order. */
  levels(actor: Actor, lighting: LightingService, withSites: boolean): MapLevelsView {
    const levels: MapLevelsView = {
      version: this.layout(actor, lighting, withSites).view.version,
      level: [],
      slot: [],
      slots: MAP_SLOTS,
      inEffect: [],
      failed: [],
    };
    this.eachPlaced(actor, lighting, undefined, (state) => {
      if (state.lampStatus) levels.failed.push(levels.level.length);
      levels.level.push(state.level);
      levels.slot.push(state.slot ? MAP_SLOTS.indexOf(state.slot) : -1);
      levels.inEffect.push(state.inEffect);
    });
    return levels;
  }

  private build(actor: Actor, lighting: LightingService, withSites: boolean): Omit<MapView, 'version'> {
    const lat: number[] = [];
    const lon: number[] = [];
    const zones: MapPlace[] = [];
    const luminaires: MapView['luminaires'] = { ids: [], zone: [], lat: [], lon: [], unplaced: 0 };
    const onZone = (zone: MapPlace): number => zones.push(zone);
    luminaires.unplaced = this.eachPlaced(actor, lighting, onZone, (state, position) => {
      luminaires.ids.push(state.id);
      luminaires.zone.push(zones.length - 1);
      lat.push(position.lat);
      lon.push(position.lon);
    });
    luminaires.lat = deltaMicrodegrees(lat);
    luminaires.lon = deltaMicrodegrees(lon);
    const inScope = (place: MapPlace): boolean => coversAny(actor.communes, [place.commune]);
    return {
      tiles: this.tiles,
      zones,
      buildings: withSites ? this.buildings.filter(inScope) : [],
      sensors: withSites ? this.sensors.filter(inScope) : [],
      luminaires,
    };
  }

  /**
   * Every luminaire of the actor's zones that has a position, zone by zone in the lighting service's
   * order: the one walk both answers take, so the levels line up with the layout. Returns how many
   * luminaires have no position (or belong to a zone with none).
   */
  private eachPlaced(
    actor: Actor,
    lighting: LightingService,
    onZone: ((zone: MapPlace) => void) | undefined,
    onLuminaire: (state: LuminaireLevelStatus, position: { lat: number; lon: number }) => void,
  ): number {
    let unplaced = 0;
    for (const zone of lighting.zones(actor)) {
      const centre = this.zoneCentres.get(zone.id);
      if (!centre) {
        unplaced += zone.luminaires;
        continue;
      }
      onZone?.({ id: zone.id, commune: zone.commune, name: zone.name, ...centre });
      for (const state of lighting.zoneLevels(zone.id, actor)) {
        const position = this.positions.get(state.id);
        if (position) onLuminaire(state, position);
        else unplaced++;
      }
    }
    return unplaced;
  }

  private encode(layout: Omit<MapView, 'version'>): EncodedMapLayout {
    const version = createHash('sha256').update(JSON.stringify(layout)).digest('base64url').slice(0, 16);
    const view: MapView = { version, ...layout };
    const json = JSON.stringify(view);
    return { view, json, gzipped: gzipSync(json), etag: `"${version}"` };
  }
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
