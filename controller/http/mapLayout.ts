import type { Config } from '../../config/schema';
import type { LightingService } from '../lighting/runtime/lightingService';
import type { SlotName } from '../lighting/slots';
import { coversAny, type Actor } from '../scope';

/**
 * What the console's map draws: luminaires at their configured positions with their live level, zones,
 * buildings and sensors, within the reader's communes. Positions come from the configuration only, so
 * the map needs no tile server. Luminaires travel as columns (one array per field), their positions as
 * integer millionths of a degree (≈ 0.1 m) each given as the difference from the previous one: along a
 * street that is a few digits, so 10,000 luminaires weigh tens of kilobytes, not hundreds.
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
    /** Decided level, null where nothing is decided (the device's fail-safe applies). */
    level: (number | null)[];
    /** Index into `slots` of the deciding slot, -1 where none. */
    slot: number[];
    slots: readonly SlotName[];
    /** Level the device reads back, null before its first read-back. */
    inEffect: (number | null)[];
    /** Indices of luminaires whose device reports a failure (lamp, gear, relay, communication). */
    failed: number[];
    /** Luminaires of these zones with no position in the configuration. */
    unplaced: number;
  };
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

  /** The map within the actor's communes; buildings and sensors only for roles that may read them. */
  view(actor: Actor, lighting: LightingService, withSites: boolean): MapView {
    const zones: MapPlace[] = [];
    const lat: number[] = [];
    const lon: number[] = [];
    const luminaires: MapView['luminaires'] = {
      ids: [],
      zone: [],
      lat: [],
      lon: [],
      level: [],
      slot: [],
      slots: MAP_SLOTS,
      inEffect: [],
      failed: [],
      unplaced: 0,
    };
    for (const zone of lighting.zones(actor)) {
      const centre = this.zoneCentres.get(zone.id);
      if (!centre) {
        luminaires.unplaced += zone.luminaires;
        continue;
      }
      const index = zones.push({ id: zone.id, commune: zone.commune, name: zone.name, ...centre }) - 1;
      for (const state of lighting.zone(zone.id, actor).luminaireStates) {
        const position = this.positions.get(state.id);
        if (!position) {
          luminaires.unplaced++;
          continue;
        }
        if (state.lampStatus) luminaires.failed.push(luminaires.ids.length);
        luminaires.ids.push(state.id);
        luminaires.zone.push(index);
        lat.push(position.lat);
        lon.push(position.lon);
        luminaires.level.push(state.level ?? null);
        luminaires.slot.push(state.slot ? MAP_SLOTS.indexOf(state.slot) : -1);
        luminaires.inEffect.push(state.inEffect?.level ?? null);
      }
    }
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
