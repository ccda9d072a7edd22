import type { Config } from '../../config/schema';
import type { GeoPoint } from '../../core/sun';

/**
 * The lighting territory as dense indices: luminaire i is the i-th luminaire in configuration order
 * (zone by zone), so every per-luminaire value lives in a typed array and a zone is a contiguous range.
 * Built once from the validated configuration.
 */

export interface ZoneInfo {
  id: string;
  commune: number;
  /** Luminaires start..end-1. */
  start: number;
  end: number;
  calendar: string;
  location?: GeoPoint;
  timeZone?: string;
}

/** The luminaires one presence sensor raises. */
export interface PresenceGroupInfo {
  sensor: string;
  zone: number;
  /** Luminaire indices, ascending. */
  members: Int32Array;
}

/** Whom a command is for, as an operator names it. */
export type TargetSpec =
  { all: true } | { commune: string } | { zone: string } | { luminaires: readonly string[] };

/** A target resolved to indices. */
export type Target =
  | { kind: 'all' }
  | { kind: 'commune'; commune: number }
  | { kind: 'zone'; zone: number }
  /** Ascending, without duplicates. */
  | { kind: 'luminaires'; indices: Int32Array };

export type Resolved<T> = { ok: true; value: T } | { ok: false; error: string };

type TopologyInput = Pick<Config, 'zones' | 'presence_sensors'>;

export class LightingTopology {
  private constructor(
    readonly ids: readonly string[],
    private readonly byId: ReadonlyMap<string, number>,
    private readonly lookup: {
      zones: ReadonlyMap<string, number>;
      communes: ReadonlyMap<string, number>;
      groups: ReadonlyMap<string, number>;
    },
    readonly zoneOf: Int32Array,
    readonly communeOf: Int32Array,
    /** Rated power at 100 %, W. */
    readonly ratedW: Float64Array,
    readonly deviceOf: Int32Array,
    readonly channelOf: Int32Array,
    readonly zones: readonly ZoneInfo[],
    readonly communes: readonly string[],
    readonly devices: readonly string[],
    readonly groups: readonly PresenceGroupInfo[],
    private readonly groupOffsets: Int32Array,
    private readonly groupList: Int32Array,
    /** References that could not be resolved (the configuration check reports them first). */
    readonly problems: readonly string[],
  ) {}

  static fromConfig(config: TopologyInput): LightingTopology {
    const problems: string[] = [];
    const ids: string[] = [];
    const byId = new Map<string, number>();
    const communes: string[] = [];
    const communeIndex = new Map<string, number>();
    const devices: string[] = [];
    const deviceIndex = new Map<string, number>();
    const zones: ZoneInfo[] = [];
    const total = config.zones.reduce((n, z) => n + z.luminaires.length, 0);
    const zoneOf = new Int32Array(total);
    const communeOf = new Int32Array(total);
    const ratedW = new Float64Array(total);
    const deviceOf = new Int32Array(total);
    const channelOf = new Int32Array(total);

    const intern = (map: Map<string, number>, list: string[], id: string): number => {
      let i = map.get(id);
      if (i === undefined) {
        i = list.length;
        list.push(id);
        map.set(id, i);
      }
      return i;
    };

    for (const zone of config.zones) {
      const commune = intern(communeIndex, communes, zone.commune);
      const start = ids.length;
      for (const lum of zone.luminaires) {
        const i = ids.length;
        if (byId.has(lum.id))
          problems.push(`luminaire '${lum.id}' in zone '${zone.id}' is a duplicate; the first one is used`);
        else byId.set(lum.id, i);
        ids.push(lum.id);
        zoneOf[i] = zones.length;
        communeOf[i] = commune;
        ratedW[i] = lum.power_w;
        deviceOf[i] = intern(deviceIndex, devices, lum.device);
        channelOf[i] = lum.channel;
      }
      const info: ZoneInfo = { id: zone.id, commune, start, end: ids.length, calendar: zone.calendar };
      if (zone.location) info.location = zone.location;
      if (zone.timezone) info.timeZone = zone.timezone;
      zones.push(info);
    }

    const neighbours = explicitNeighbours(config, byId);
    const zoneIndex = new Map(zones.map((z, i) => [z.id, i]));
    const groups: PresenceGroupInfo[] = [];
    for (const sensor of config.presence_sensors) {
      const zone = zoneIndex.get(sensor.zone);
      if (zone === undefined) {
        problems.push(`presence sensor '${sensor.id}': unknown zone '${sensor.zone}'; sensor ignored`);
        continue;
      }
      const members = new Set<number>();
      for (const id of sensor.luminaires ?? []) {
        const i = byId.get(id);
        if (i === undefined) problems.push(`presence sensor '${sensor.id}': unknown luminaire '${id}'`);
        else members.add(i);
      }
      if (sensor.luminaires === undefined && sensor.at !== undefined) {
        const at = byId.get(sensor.at);
        if (at === undefined)
          problems.push(`presence sensor '${sensor.id}': unknown luminaire '${sensor.at}' in 'at'`);
        else {
          for (const i of alongStreet(at, sensor.ahead, sensor.behind, zones, zoneOf, neighbours))
            members.add(i);
        }
      }
      if (members.size === 0) {
        problems.push(`presence sensor '${sensor.id}': raises no luminaire; sensor ignored`);
        continue;
      }
      groups.push({ sensor: sensor.id, zone, members: Int32Array.from([...members].sort((a, b) => a - b)) });
    }

    // Compressed rows: the groups of luminaire i are groupList[groupOffsets[i] .. groupOffsets[i+1]).
    const groupOffsets = new Int32Array(total + 1);
    for (const g of groups) for (const i of g.members) groupOffsets[i + 1]++;
    for (let i = 0; i < total; i++) groupOffsets[i + 1] += groupOffsets[i];
    const fill = groupOffsets.slice(0, total);
    const groupList = new Int32Array(groupOffsets[total]);
    groups.forEach((g, k) => {
      for (const i of g.members) groupList[fill[i]++] = k;
    });

    return new LightingTopology(
      ids,
      byId,
      { zones: zoneIndex, communes: communeIndex, groups: new Map(groups.map((g, k) => [g.sensor, k])) },
      zoneOf,
      communeOf,
      ratedW,
      deviceOf,
      channelOf,
      zones,
      communes,
      devices,
      groups,
      groupOffsets,
      groupList,
      problems,
    );
  }

  get count(): number {
    return this.ids.length;
  }

  indexOf(id: string): number | undefined {
    return this.byId.get(id);
  }

  zoneIndex(id: string): number | undefined {
    return this.lookup.zones.get(id);
  }

  communeIndex(id: string): number | undefined {
    return this.lookup.communes.get(id);
  }

  groupIndex(sensor: string): number | undefined {
    return this.lookup.groups.get(sensor);
  }

  /** Presence groups that include luminaire i (a view, not a copy). */
  groupsOf(i: number): Int32Array {
    return this.groupList.subarray(this.groupOffsets[i], this.groupOffsets[i + 1]);
  }

  resolveTarget(spec: TargetSpec): Resolved<Target> {
    if ('all' in spec) return { ok: true, value: { kind: 'all' } };
    if ('commune' in spec) {
      const commune = this.communeIndex(spec.commune);
      return commune === undefined
        ? { ok: false, error: `unknown commune '${spec.commune}' (or it has no lighting zone)` }
        : { ok: true, value: { kind: 'commune', commune } };
    }
    if ('zone' in spec) {
      const zone = this.zoneIndex(spec.zone);
      return zone === undefined
        ? { ok: false, error: `unknown zone '${spec.zone}'` }
        : { ok: true, value: { kind: 'zone', zone } };
    }
    if (spec.luminaires.length === 0) return { ok: false, error: 'the luminaire list is empty' };
    const unknown = spec.luminaires.filter((id) => !this.byId.has(id));
    if (unknown.length > 0) {
      const shown = unknown
        .slice(0, 5)
        .map((id) => `'${id}'`)
        .join(', ');
      return {
        ok: false,
        error: `unknown luminaire(s) ${shown}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`,
      };
    }
    const indices = Int32Array.from(new Set(spec.luminaires.map((id) => this.byId.get(id)!))).sort();
    return { ok: true, value: { kind: 'luminaires', indices } };
  }

  covers(target: Target, i: number): boolean {
    switch (target.kind) {
      case 'all':
        return true;
      case 'commune':
        return this.communeOf[i] === target.commune;
      case 'zone':
        return this.zoneOf[i] === target.zone;
      case 'luminaires':
        return binarySearch(target.indices, i);
    }
  }

  /** Calls fn for every luminaire of the target, in ascending order. */
  forEachIn(target: Target, fn: (i: number) => void): void {
    switch (target.kind) {
      case 'all':
        for (let i = 0; i < this.count; i++) fn(i);
        return;
      case 'commune':
        for (const zone of this.zones) {
          if (zone.commune === target.commune) for (let i = zone.start; i < zone.end; i++) fn(i);
        }
        return;
      case 'zone': {
        const zone = this.zones[target.zone];
        for (let i = zone.start; i < zone.end; i++) fn(i);
        return;
      }
      case 'luminaires':
        for (const i of target.indices) fn(i);
        return;
    }
  }

  /** The communes a target touches, for scope checks ("this token may command only metz"). */
  communesOf(target: Target): string[] {
    switch (target.kind) {
      case 'all':
        return [...this.communes];
      case 'commune':
        return [this.communes[target.commune]];
      case 'zone':
        return [this.communes[this.zones[target.zone].commune]];
      case 'luminaires':
        return [...new Set(Array.from(target.indices, (i) => this.communes[this.communeOf[i]]))];
    }
  }

  /** The target as an operator would name it again, for records and persistence. */
  describeTarget(target: Target): TargetSpec {
    switch (target.kind) {
      case 'all':
        return { all: true };
      case 'commune':
        return { commune: this.communes[target.commune] };
      case 'zone':
        return { zone: this.zones[target.zone].id };
      case 'luminaires':
        return { luminaires: Array.from(target.indices, (i) => this.ids[i]) };
    }
  }
}

function binarySearch(sorted: Int32Array, value: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] === value) return true;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Neighbour lists given in the configuration, as indices. */
function explicitNeighbours(config: TopologyInput, byId: ReadonlyMap<string, number>): Map<number, number[]> {
  const result = new Map<number, number[]>();
  for (const zone of config.zones) {
    for (const lum of zone.luminaires) {
      if (!lum.neighbours) continue;
      const i = byId.get(lum.id)!;
      result.set(
        i,
        lum.neighbours.map((id) => byId.get(id)).filter((n): n is number => n !== undefined),
      );
    }
  }
  return result;
}

/**
 * The luminaire at a sensor and its neighbours: `behind` before it and `ahead` after it in the zone's
 * order. When luminaires of the zone name explicit neighbours (a crossing, a street continuing in
 * another zone), the street is walked as a graph instead, up to max(ahead, behind) hops, since a graph has no
 * "ahead"; luminaires without an explicit list keep their previous and next in the zone.
 */
function alongStreet(
  at: number,
  ahead: number,
  behind: number,
  zones: readonly ZoneInfo[],
  zoneOf: Int32Array,
  neighbours: ReadonlyMap<number, number[]>,
): number[] {
  const home = zones[zoneOf[at]];
  let explicitInZone = false;
  for (let i = home.start; i < home.end && !explicitInZone; i++) explicitInZone = neighbours.has(i);
  if (!explicitInZone) {
    const from = Math.max(home.start, at - behind);
    const to = Math.min(home.end - 1, at + ahead);
    return Array.from({ length: to - from + 1 }, (_, k) => from + k);
  }
  const adjacent = (i: number): number[] => {
    const explicit = neighbours.get(i);
    if (explicit) return explicit;
    // Without a list of its own, a luminaire's street is its zone: previous and next in it.
    const zone = zones[zoneOf[i]];
    return [i - 1, i + 1].filter((n) => n >= zone.start && n < zone.end);
  };
  const depth = Math.max(ahead, behind);
  const seen = new Set([at]);
  let frontier = [at];
  for (let d = 0; d < depth && frontier.length > 0; d++) {
    const next: number[] = [];
    for (const i of frontier) {
      for (const n of adjacent(i)) {
        if (!seen.has(n)) {
          seen.add(n);
          next.push(n);
        }
      }
    }
    frontier = next;
  }
  return [...seen];
}
