import { ShardMap, otherShardsSensors, routeCommand, shardView } from '../../../controller/cluster/shards';
import { buildTerritory, type TerritoryOptions } from '../../../config/demoTerritory';
import { toYaml } from '../../../config/generateDemo';
import { ConfigError, type ConfigIssue } from '../../../config/issues';
import { parseConfig } from '../../../config/load';
import type { ConfigInput } from '../../../config/schema';

/** Four pilot communes, one Modbus controller each (two zones, a presence sensor per zone), a building each. */
const TERRITORY: TerritoryOptions = {
  communes: 4,
  modbusControllers: 4,
  opcuaControllers: 0,
  luminairesPerController: 6,
  zonesPerController: 2,
  presenceSensorsPerZone: 1,
  buildings: true,
  alerts: false,
  modbusPorts: [5021, 5022, 5023, 5024],
  opcuaPorts: [],
  meterGatewayPort: 5030,
  bmsPort: 5031,
};

const SHARDS = [
  { name: 'nord', communes: ['metz', 'woippy'] },
  { name: 'sud', communes: ['montigny-les-metz', 'marly'] },
];

function territory(cluster?: ConfigInput['cluster'], edit?: (input: ConfigInput) => void): string {
  const input = buildTerritory(TERRITORY);
  if (cluster) input.cluster = cluster;
  edit?.(input);
  return toYaml(input);
}

const ETCD = { endpoints: ['http://127.0.0.1:2379'], shard: 'nord' };

function issuesOf(text: string): ConfigIssue[] {
  try {
    parseConfig(text, 'site.yaml', { env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

const lineOf = (text: string, needle: string, after = 0): number =>
  text.split('\n').findIndex((line, i) => i >= after && line.includes(needle)) + 1;

describe('shards by commune: configuration', () => {
  it('accepts shards that share the communes out, the instance in one of them', () => {
    const config = parseConfig(territory({ etcd: ETCD, shards: SHARDS }), 'site.yaml', { env: {} });
    expect(config.cluster?.shards).toEqual(SHARDS);
  });

  it('locates an unknown commune, a commune in two shards, an unknown own shard', () => {
    const text = territory({
      etcd: { ...ETCD, shard: 'nrod' },
      shards: [
        { name: 'nord', communes: ['metz', 'wopy'] },
        { name: 'sud', communes: ['montigny-les-metz', 'marly', 'metz', 'woippy'] },
      ],
    });
    const issues = issuesOf(text).map((i) => `${i.line} ${i.path}: ${i.message}`);
    const sudAt = lineOf(text, 'name: sud');
    expect(issues).toEqual(
      expect.arrayContaining([
        `${lineOf(text, 'communes: [ metz, wopy ]')} cluster.shards[0].communes[1]: unknown commune 'wopy' (did you mean 'woippy'?)`,
        `${lineOf(text, 'communes: [', sudAt)} cluster.shards[1].communes[2]: commune 'metz' is already in shard 'nord': a commune has one owner`,
        `${lineOf(text, 'shard: nrod')} cluster.etcd.shard: unknown shard (cluster.shards) 'nrod' (did you mean 'nord'?)`,
      ]),
    );
  });

  it('refuses a commune with something to drive left out of every shard, and shards without etcd', () => {
    const left = issuesOf(
      territory({ etcd: ETCD, shards: [SHARDS[0], { name: 'sud', communes: ['marly'] }] }),
    );
    expect(left.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "communes[1].id: commune 'montigny-les-metz' is in no shard of cluster.shards but has zone 'montigny-pont-a-mousson': no instance would drive or read it",
    ]);
    const noEtcd = issuesOf(territory({ shards: SHARDS }));
    expect(noEtcd.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'cluster.shards: shards need cluster.etcd: the instances find the leader of each shard there to forward commands',
    ]);
  });

  it('accepts a commune with nothing to drive or read in no shard', () => {
    const text = territory({ etcd: ETCD, shards: SHARDS }, (input) => {
      input.communes.push({ id: 'scy-chazelles', name: 'Scy-Chazelles' });
    });
    expect(parseConfig(text, 'site.yaml', { env: {} }).communes).toHaveLength(5);
  });

  it('asks for advertise_url when the API listens on a wildcard address', () => {
    const text = territory({ etcd: ETCD, shards: SHARDS }, (input) => {
      input.http = { ...input.http, host: '0.0.0.0' };
    });
    expect(issuesOf(text).map((i) => `${i.path}: ${i.message}`)).toEqual([
      "cluster.etcd.advertise_url: give the address at which the other instances reach this one's API: http.host '0.0.0.0' is a wildcard address",
    ]);
  });
});

describe('shards by commune: the shard view', () => {
  const config = parseConfig(territory({ etcd: ETCD, shards: SHARDS }), 'site.yaml', { env: {} });
  const map = new ShardMap(SHARDS, 'nord');

  it('keeps the zones, presence sensors, buildings and devices of the shard’s communes only', () => {
    const view = shardView(config, map.ownCommunes());
    const communesOfDevices = new Set(view.devices.map((d) => d.commune ?? `(none: ${d.id})`));
    expect(new Set(view.zones.map((z) => z.commune))).toEqual(new Set(['metz', 'woippy']));
    expect(view.zones).toHaveLength(4);
    const zoneIds = new Set(view.zones.map((z) => z.id));
    expect(view.presence_sensors.length).toBe(4);
    expect(view.presence_sensors.every((s) => zoneIds.has(s.zone))).toBe(true);
    expect(new Set(view.buildings.map((b) => b.commune))).toEqual(new Set(['metz', 'woippy']));
    // Every device it keeps is of its communes, or read by one of its buildings.
    const readByBuildings = new Set(view.buildings.flatMap((b) => b.points.map((p) => p.device)));
    for (const device of view.devices)
      expect(
        device.commune === undefined ? readByBuildings.has(device.id) : map.ownCommunes().has(device.commune),
      ).toBe(true);
    expect(communesOfDevices.has('marly')).toBe(false);
    // Every luminaire of a kept zone has its controller.
    const deviceIds = new Set(view.devices.map((d) => d.id));
    expect(view.zones.every((z) => z.luminaires.every((l) => deviceIds.has(l.device)))).toBe(true);
    // The territory's communes, programs and users stay whole.
    expect(view.communes).toEqual(config.communes);
    expect(view.programs).toEqual(config.programs);
  });

  it('the two shards’ views share the territory’s zones and controllers out without overlap', () => {
    const nord = shardView(config, new ShardMap(SHARDS, 'nord').ownCommunes());
    const sud = shardView(config, new ShardMap(SHARDS, 'sud').ownCommunes());
    const zones = [...nord.zones, ...sud.zones].map((z) => z.id).sort();
    expect(zones).toEqual(config.zones.map((z) => z.id).sort());
    const controllers = (view: typeof config): string[] =>
      view.devices.filter((d) => d.lighting).map((d) => d.id);
    expect([...controllers(nord), ...controllers(sud)].sort()).toEqual(controllers(config).sort());
  });
});

describe('shards by commune: a network server shared by the shards', () => {
  it('is read by each shard, which knows the other shards’ sensors on it', () => {
    const config = parseConfig(
      territory({ etcd: ETCD, shards: SHARDS }, (input) => {
        Object.assign(input, { ...buildTerritory({ ...TERRITORY, sensors: true }), cluster: input.cluster });
      }),
      'site.yaml',
      { env: {} },
    );
    const view = shardView(config, new ShardMap(SHARDS, 'nord').ownCommunes());
    const sources = config.devices.filter((d) => d.protocol === 'mqtt');
    expect(sources.length).toBeGreaterThan(0);
    const own = view.sensors.map((s) => s.id);
    const others = config.sensors.filter((s) => !own.includes(s.id));
    expect(own.length).toBeGreaterThan(0);
    expect(others.length).toBeGreaterThan(0);
    const elsewhere = otherShardsSensors(config, view);
    for (const source of sources) {
      const carried = others.filter((s) => s.source === source.id).length;
      // Every point of each other sensor on the source names it: as many names as points.
      if (carried > 0) expect(view.devices.map((d) => d.id)).toContain(source.id);
      if (carried > 0) expect(elsewhere.get(source.id)?.length).toBeGreaterThanOrEqual(carried);
    }
    const named = [...elsewhere.values()].flat();
    expect(named.length).toBeGreaterThanOrEqual(others.length);
    for (const sensor of others)
      if (sensor.dev_eui !== undefined)
        expect(named).toContainEqual(expect.objectContaining({ dev_eui: sensor.dev_eui.toLowerCase() }));
    // None of its own.
    for (const sensor of view.sensors)
      if (sensor.dev_eui !== undefined)
        expect(named).not.toContainEqual(expect.objectContaining({ dev_eui: sensor.dev_eui.toLowerCase() }));
  });
});

describe('shards by commune: where a command goes', () => {
  const shards = new ShardMap(SHARDS, 'nord');

  it('knows the owner of each commune, and what lies wholly elsewhere', () => {
    expect(shards.shardOf('marly')).toBe('sud');
    expect(shards.shardOf('nowhere')).toBeUndefined();
    expect(shards.names).toEqual(['nord', 'sud']);
    expect(shards.elsewhere(['marly', 'montigny-les-metz'])).toBe(true);
    expect(shards.elsewhere(['marly', 'metz'])).toBe(false);
    expect(shards.elsewhere(['*'])).toBe(false);
    expect(shards.elsewhere([])).toBe(false);
  });

  it('handles its own shard’s commands while it leads, forwards the others', () => {
    const route = (communes: string[], leading: boolean, forwarded = false): unknown =>
      routeCommand({ communes, shards, leading, forwarded });
    expect(route(['metz'], true)).toEqual({ to: 'here' });
    expect(route(['marly'], true)).toEqual({ to: 'shard', shard: 'sud' });
    // A standby sends its own shard's commands to its leader.
    expect(route(['metz'], false)).toEqual({ to: 'shard', shard: 'nord' });
    // Nothing known of the target (an unknown zone): the own shard's leader gives the usual answer.
    expect(route([], true)).toEqual({ to: 'here' });
    expect(route([], false)).toEqual({ to: 'shard', shard: 'nord' });
  });

  it('refuses a target over several shards, and a forwarded command it cannot handle', () => {
    expect(routeCommand({ communes: ['metz', 'marly'], shards, leading: true, forwarded: false })).toEqual({
      to: 'nowhere',
      status: 400,
      message:
        'the target reaches communes of shards nord, sud: send one command per shard (by commune or zone)',
    });
    expect(routeCommand({ communes: ['*'], shards, leading: true, forwarded: false })).toMatchObject({
      status: 400,
    });
    // Forwarded once, never again: a leader that just lost its shard, or a shard map that differs.
    expect(routeCommand({ communes: ['metz'], shards, leading: false, forwarded: true })).toEqual({
      to: 'nowhere',
      status: 503,
      message: "this instance no longer leads shard 'nord': send the command again",
    });
    expect(routeCommand({ communes: ['marly'], shards, leading: true, forwarded: true })).toMatchObject({
      status: 503,
    });
    expect(routeCommand({ communes: ['metz'], shards, leading: true, forwarded: true })).toEqual({
      to: 'here',
    });
  });
});
