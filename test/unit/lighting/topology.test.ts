import { LightingTopology } from '../../../controller/lighting/topology';
import { sensor, zone } from './fixtures';

const serpenoise = zone('serpenoise', 'metz', 10);
const foch = zone('foch', 'metz', 10);
const briey = zone('briey', 'woippy', 5);

describe('LightingTopology', () => {
  const topology = LightingTopology.fromConfig({
    zones: [serpenoise, foch, briey],
    presence_sensors: [
      sensor({ id: 's1', zone: 'serpenoise', at: 'serpenoise-005', ahead: 2, behind: 1 }),
      sensor({ id: 's2', zone: 'serpenoise', at: 'serpenoise-010', ahead: 3, behind: 2 }),
      sensor({ id: 's3', zone: 'foch', luminaires: ['foch-002', 'foch-001'] }),
      sensor({ id: 's4', zone: 'serpenoise', at: 'serpenoise-006', ahead: 0, behind: 0 }),
    ],
  });

  it('numbers luminaires zone by zone, in configuration order', () => {
    expect(topology.count).toBe(25);
    expect(topology.indexOf('foch-001')).toBe(10);
    expect(topology.ids[24]).toBe('briey-005');
    expect(Array.from(topology.zoneOf.subarray(9, 11))).toEqual([0, 1]);
    expect(topology.zones.map((z) => [z.id, z.start, z.end])).toEqual([
      ['serpenoise', 0, 10],
      ['foch', 10, 20],
      ['briey', 20, 25],
    ]);
    expect(topology.communes).toEqual(['metz', 'woippy']);
    expect(topology.communeOf[24]).toBe(1);
    expect(topology.ratedW[3]).toBe(50);
    expect(topology.devices[topology.deviceOf[12]]).toBe('foch-sc');
    expect(topology.channelOf[12]).toBe(3);
    expect(topology.problems).toEqual([]);
  });

  it('raises the luminaire at the sensor, `behind` before and `ahead` after it, within the zone', () => {
    const members = (sensorId: string) =>
      Array.from(topology.groups[topology.groupIndex(sensorId)!].members, (i) => topology.ids[i]);
    expect(members('s1')).toEqual(['serpenoise-004', 'serpenoise-005', 'serpenoise-006', 'serpenoise-007']);
    expect(members('s2')).toEqual(['serpenoise-008', 'serpenoise-009', 'serpenoise-010']);
    expect(members('s3')).toEqual(['foch-001', 'foch-002']);
    expect(members('s4')).toEqual(['serpenoise-006']);
  });

  it('knows which groups each luminaire belongs to', () => {
    expect(Array.from(topology.groupsOf(topology.indexOf('serpenoise-006')!))).toEqual([0, 3]);
    expect(Array.from(topology.groupsOf(topology.indexOf('serpenoise-001')!))).toEqual([]);
  });

  it('walks explicit neighbours as a graph (a crossing into another street)', () => {
    const crossing = zone('crossing', 'metz', 5);
    crossing.luminaires[2].neighbours = ['crossing-001', 'foch-010'];
    const withCrossing = LightingTopology.fromConfig({
      zones: [foch, crossing],
      presence_sensors: [sensor({ id: 'x', zone: 'crossing', at: 'crossing-003', ahead: 2, behind: 1 })],
    });
    const ids = Array.from(withCrossing.groups[0].members, (i) => withCrossing.ids[i]);
    // Two hops: crossing-001 and foch-010 directly, then their zone neighbours crossing-002 and foch-009.
    expect(ids).toEqual(['foch-009', 'foch-010', 'crossing-001', 'crossing-002', 'crossing-003']);
  });

  it('resolves targets and says which communes they touch', () => {
    const all = topology.resolveTarget({ all: true });
    const woippy = topology.resolveTarget({ commune: 'woippy' });
    const list = topology.resolveTarget({ luminaires: ['briey-001', 'foch-003', 'briey-001'] });
    expect(all.ok && topology.communesOf(all.value)).toEqual(['metz', 'woippy']);
    expect(woippy).toEqual({ ok: true, value: { kind: 'commune', commune: 1 } });
    expect(list).toEqual({ ok: true, value: { kind: 'luminaires', indices: Int32Array.from([12, 20]) } });
    expect(list.ok && topology.communesOf(list.value)).toEqual(['metz', 'woippy']);
    expect(list.ok && topology.describeTarget(list.value)).toEqual({ luminaires: ['foch-003', 'briey-001'] });
    const covered: number[] = [];
    if (woippy.ok) topology.forEachIn(woippy.value, (i) => covered.push(i));
    expect(covered).toEqual([20, 21, 22, 23, 24]);
  });

  it('names zone and commune targets back as given', () => {
    for (const spec of [{ zone: 'foch' }, { commune: 'woippy' }, { all: true as const }]) {
      const target = topology.resolveTarget(spec);
      expect(target.ok && topology.describeTarget(target.value)).toEqual(spec);
    }
    const foch = topology.resolveTarget({ zone: 'foch' });
    const woippy = topology.resolveTarget({ commune: 'woippy' });
    expect(foch.ok && topology.communesOf(foch.value)).toEqual(['metz']);
    expect(woippy.ok && topology.communesOf(woippy.value)).toEqual(['woippy']);
  });

  it('says what is wrong with a target', () => {
    expect(topology.resolveTarget({ commune: 'nancy' })).toEqual({
      ok: false,
      error: "unknown commune 'nancy' (or it has no lighting zone)",
    });
    expect(topology.resolveTarget({ zone: 'rue-x' })).toEqual({ ok: false, error: "unknown zone 'rue-x'" });
    expect(topology.resolveTarget({ luminaires: [] })).toEqual({
      ok: false,
      error: 'the luminaire list is empty',
    });
    const many = Array.from({ length: 7 }, (_, k) => `ghost-${k}`);
    expect(topology.resolveTarget({ luminaires: ['foch-001', ...many] })).toEqual({
      ok: false,
      error: "unknown luminaire(s) 'ghost-0', 'ghost-1', 'ghost-2', 'ghost-3', 'ghost-4' and 2 more",
    });
  });

  it('skips references it cannot resolve and reports them', () => {
    const broken = LightingTopology.fromConfig({
      zones: [serpenoise],
      presence_sensors: [
        sensor({ id: 'a', zone: 'nowhere', at: 'serpenoise-001' }),
        sensor({ id: 'b', zone: 'serpenoise', at: 'ghost' }),
        sensor({ id: 'c', zone: 'serpenoise', luminaires: ['serpenoise-001', 'ghost'] }),
      ],
    });
    expect(broken.groups.map((g) => g.sensor)).toEqual(['c']);
    const twice = LightingTopology.fromConfig({
      zones: [serpenoise, zone('other', 'metz', 1)],
      presence_sensors: [],
    });
    expect(twice.problems).toEqual([]);
    const clash = zone('clash', 'metz', 1);
    clash.luminaires[0].id = 'serpenoise-001';
    expect(
      LightingTopology.fromConfig({ zones: [serpenoise, clash], presence_sensors: [] }).problems,
    ).toEqual(["luminaire 'serpenoise-001' in zone 'clash' is a duplicate; the first one is used"]);
    expect(broken.problems).toEqual([
      "presence sensor 'a': unknown zone 'nowhere'; sensor ignored",
      "presence sensor 'b': unknown luminaire 'ghost' in 'at'",
      "presence sensor 'b': raises no luminaire; sensor ignored",
      "presence sensor 'c': unknown luminaire 'ghost'",
    ]);
  });
});
