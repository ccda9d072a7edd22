import type { Config } from '../../config/schema';

/**
 * Shards by commune (docs/deploy.md, "Shards by commune"): which shard owns each commune, the
 * configuration as one shard sees it, and where a command goes. Pure: no I/O, tested with hand-built
 * configurations.
 */

export interface ShardSpec {
  name: string;
  communes: readonly string[];
}

export class ShardMap {
  private readonly owners = new Map<string, string>();
  readonly names: readonly string[];

  /** `own`: this instance's shard (cluster.etcd.shard). */
  constructor(
    shards: readonly ShardSpec[],
    readonly own: string,
  ) {
    for (const shard of shards) for (const commune of shard.communes) this.owners.set(commune, shard.name);
    this.names = shards.map((shard) => shard.name);
  }

  shardOf(commune: string): string | undefined {
    return this.owners.get(commune);
  }

  /** Whether communes (as CommuneIndex.communesOf gives them) all belong to other shards. */
  elsewhere(communes: readonly string[]): boolean {
    return (
      communes.length > 0 &&
      communes.every((commune) => {
        const shard = this.owners.get(commune);
        return shard !== undefined && shard !== this.own;
      })
    );
  }

  /** The communes this instance's shard owns. */
  ownCommunes(): Set<string> {
    return new Set([...this.owners].filter(([, shard]) => shard === this.own).map(([commune]) => commune));
  }
}

/**
 * The configuration as the instances of one shard see it: only the zones, presence sensors, buildings,
 * sensors and devices of its communes, so that everything built from it (device links, polling,
 * presence subscriptions, the lighting runtime) concerns those communes alone. A device that names no
 * commune (a LoRaWAN network server feeding sensors of several communes) is kept where one of its
 * communes' buildings or sensors reads from it. Communes, programs, calendars and users stay whole.
 */
export function shardView(config: Config, communes: ReadonlySet<string>): Config {
  const zones = config.zones.filter((zone) => communes.has(zone.commune));
  const zoneIds = new Set(zones.map((zone) => zone.id));
  const buildings = config.buildings.filter((building) => communes.has(building.commune));
  const sensors = config.sensors.filter((sensor) => communes.has(sensor.commune));
  const readFrom = new Set([
    ...buildings.flatMap((building) => building.points.map((point) => point.device)),
    ...sensors.map((sensor) => sensor.source),
  ]);
  return {
    ...config,
    zones,
    presence_sensors: config.presence_sensors.filter((sensor) => zoneIds.has(sensor.zone)),
    buildings,
    sensors,
    devices: config.devices.filter((device) =>
      device.commune === undefined ? readFrom.has(device.id) : communes.has(device.commune),
    ),
  };
}

/**
 * For each MQTT source a shard's view keeps, how the other shards' sensors on it are named (a shared
 * network server carries every commune's): their messages are counted apart, not taken for unknown.
 */
export function otherShardsSensors(territory: Config, view: Config): Map<string, Record<string, string>[]> {
  const kept = new Set(view.devices.map((device) => device.id));
  const ownBuildings = new Set(view.buildings.map((building) => building.id));
  const found = new Map<string, Record<string, string>[]>();
  for (const building of territory.buildings) {
    if (ownBuildings.has(building.id)) continue;
    for (const point of building.points) {
      if (!point.mqtt || !kept.has(point.device)) continue;
      const matches = found.get(point.device) ?? [];
      matches.push(point.mqtt.match);
      found.set(point.device, matches);
    }
  }
  return found;
}

/** Where a command goes: handled here, forwarded to the leader of a shard, or refused. */
export type CommandRoute =
  { to: 'here' } | { to: 'shard'; shard: string } | { to: 'nowhere'; status: 400 | 503; message: string };

export interface RouteInput {
  /** The communes the command's target reaches ('*' for all), as the configuration knows them. */
  communes: readonly string[];
  shards: ShardMap;
  /** Whether this instance leads its shard now. */
  leading: boolean;
  /** The request was forwarded by another instance already: it goes no further. */
  forwarded: boolean;
}

export function routeCommand({ communes, shards, leading, forwarded }: RouteInput): CommandRoute {
  const reached = communes.includes('*')
    ? new Set(shards.names)
    : new Set(communes.map((commune) => shards.shardOf(commune) ?? shards.own));
  if (reached.size > 1)
    return {
      to: 'nowhere',
      status: 400,
      message: `the target reaches communes of shards ${[...reached].sort().join(', ')}: send one command per shard (by commune or zone)`,
    };
  // No commune known (an unknown zone, say): the shard's own leader gives the usual answer.
  const shard = reached.values().next().value ?? shards.own;
  if (shard === shards.own && leading) return { to: 'here' };
  if (!forwarded) return { to: 'shard', shard };
  return {
    to: 'nowhere',
    status: 503,
    message:
      shard === shards.own
        ? `this instance no longer leads shard '${shard}': send the command again`
        : `forwarded to an instance of shard '${shards.own}', but the target is in shard '${shard}': send the command again`,
  };
}
