import type { ConfigPath } from './issues';
import type { Config } from './schema';

type Report = (path: ConfigPath, message: string) => void;
type Need = (ids: Map<string, unknown>, id: string, path: ConfigPath, what: string) => boolean;

/** Addresses on which an instance listens but at which no other instance can reach it. */
const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]', '']);

export function isWildcardHost(host: string): boolean {
  return WILDCARD_HOSTS.has(host);
}

/**
 * Shards by commune (docs/deploy.md, "Shards by commune"): every shard names known communes, each
 * commune is in one shard at most, and a commune left out of every shard has nothing to drive or read
 * (else no instance would ever command it). The instance's own shard is one of them, and the other
 * instances can reach its API.
 */
export function checkShards(
  config: Config,
  communes: Map<string, unknown>,
  need: Need,
  report: Report,
): void {
  const cluster = config.cluster;
  const shards = cluster?.shards;
  if (!cluster || !shards) return;
  if (!cluster.etcd) {
    report(
      ['cluster', 'shards'],
      'shards need cluster.etcd: the instances find the leader of each shard there to forward commands',
    );
    return;
  }
  const ownerOf = new Map<string, string>();
  const names = new Map<string, unknown>();
  shards.forEach((shard, i) => {
    if (names.has(shard.name)) report(['cluster', 'shards', i, 'name'], `duplicate shard '${shard.name}'`);
    names.set(shard.name, shard);
    shard.communes.forEach((commune, j) => {
      const path = ['cluster', 'shards', i, 'communes', j];
      if (!need(communes, commune, path, 'commune')) return;
      const owner = ownerOf.get(commune);
      if (owner !== undefined)
        report(path, `commune '${commune}' is already in shard '${owner}': a commune has one owner`);
      else ownerOf.set(commune, shard.name);
    });
  });
  need(names, cluster.etcd.shard, ['cluster', 'etcd', 'shard'], 'shard (cluster.shards)');

  const used = communesInUse(config);
  config.communes.forEach((commune, i) => {
    const what = used.get(commune.id);
    if (what !== undefined && !ownerOf.has(commune.id))
      report(
        ['communes', i, 'id'],
        `commune '${commune.id}' is in no shard of cluster.shards but has ${what}: no instance would drive or read it`,
      );
  });

  const host = config.http.host;
  if (cluster.etcd.advertise_url === undefined && isWildcardHost(host))
    report(
      ['cluster', 'etcd', 'advertise_url'],
      `give the address at which the other instances reach this one's API: http.host '${host}' is a wildcard address`,
    );
}

/** The first thing found in each commune that an instance drives or reads. */
function communesInUse(config: Config): Map<string, string> {
  const found = new Map<string, string>();
  const mark = (commune: string | undefined, what: string): void => {
    if (commune !== undefined && !found.has(commune)) found.set(commune, what);
  };
  for (const zone of config.zones) mark(zone.commune, `zone '${zone.id}'`);
  for (const device of config.devices) mark(device.commune, `device '${device.id}'`);
  for (const building of config.buildings) mark(building.commune, `building '${building.id}'`);
  for (const sensor of config.sensors) mark(sensor.commune, `sensor '${sensor.id}'`);
  return found;
}
