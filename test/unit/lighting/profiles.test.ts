import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import {
  DALI_FADE_CODES,
  curvePointsProblem,
  daliArcToPercent,
  levelCurve,
  nearestFadeCode,
  percentToDaliArc,
  statusDecoder,
  statusEncoder,
} from '../../../config/deviceUnits';
import { ConfigError } from '../../../config/issues';
import { parseConfig } from '../../../config/load';
import { PROFILE_LIBRARY, resolveProfiles } from '../../../config/profiles';
import { buildBindings } from '../../../controller/lighting/runtime/bindings';
import { LightingTopology } from '../../../controller/lighting/topology';
import type { ModbusAddress } from '../../../drivers/driver';
import { territory } from './runtime/fakes';

describe('DALI arc power (IEC 62386-102: % = 10^((n − 1)/(253/3) − 1))', () => {
  test('published points: 254 is 100 %, 1 is 0.1 %, a factor of ten every 253/3 steps, 0 off, 255 no level', () => {
    expect(daliArcToPercent(254)).toBeCloseTo(100, 10);
    expect(daliArcToPercent(1)).toBeCloseTo(0.1, 10);
    expect(daliArcToPercent(1 + 253 / 3)).toBeCloseTo(1, 10);
    expect(daliArcToPercent(1 + (2 * 253) / 3)).toBeCloseTo(10, 10);
    expect(daliArcToPercent(0)).toBe(0);
    expect(daliArcToPercent(255)).toBeNaN();
  });

  test('50 % is arc 229 (not 127, which is 3 % of light); 10 % is 170; off stays off; 255 is never written', () => {
    expect(percentToDaliArc(50)).toBe(229);
    expect(daliArcToPercent(127)).toBeCloseTo(3.12, 2);
    expect(percentToDaliArc(10)).toBe(170);
    expect(percentToDaliArc(100)).toBe(254);
    expect(percentToDaliArc(120)).toBe(254);
    expect(percentToDaliArc(0)).toBe(0);
    // Below the lowest arc, the least light the gear gives without going off.
    expect(percentToDaliArc(0.01)).toBe(1);
  });

  test('every arc comes back as itself through percent', () => {
    for (let arc = 0; arc <= 254; arc++) expect(percentToDaliArc(daliArcToPercent(arc))).toBe(arc);
  });
});

describe('level curves', () => {
  test('linear to level_max_raw, rounded for integer registers', () => {
    const curve = levelCurve('linear', 255, true);
    expect(curve.toValue(70)).toBe(179);
    expect(curve.toPercent(255)).toBe(100);
    expect(levelCurve('linear', 100, false).toValue(37.3)).toBeCloseTo(37.3, 10);
  });

  test('a table of points, interpolated both ways and held at its ends', () => {
    const curve = levelCurve(
      {
        points: [
          [0, 0],
          [50, 100],
          [100, 1000],
        ],
      },
      100,
      false,
    );
    expect(curve.toValue(25)).toBe(50);
    expect(curve.toValue(75)).toBe(550);
    expect(curve.toPercent(550)).toBe(75);
    expect(curve.toPercent(2000)).toBe(100);
    expect(curve.max).toBe(1000);
  });

  test('a table must run from 0 % to 100 % with both columns rising, said with the point at fault', () => {
    expect(curvePointsProblem([[0, 0]])).toMatch(/two points/);
    expect(
      curvePointsProblem([
        [10, 0],
        [100, 5],
      ]),
    ).toMatch(/starts at 10 %/);
    expect(
      curvePointsProblem([
        [0, 0],
        [50, 60],
        [40, 70],
        [100, 90],
      ]),
    ).toBe('point 3 [40, 70] does not rise above point 2 [50, 60]');
  });
});

describe('status registers', () => {
  test('a bit field (HMS Intesis: bit 0 ballast, bit 1 lamp, bit 4 fade running ignored)', () => {
    const decode = statusDecoder({ bits: { '0': 'gear', '1': 'lamp', '4': 'ignore' } });
    expect(decode(0)).toBe(0);
    expect(decode(0b10000)).toBe(0); // only the fade running
    expect(decode(0b00010)).toBe(1); // lamp
    expect(decode(0b10001)).toBe(2); // gear, while fading
    expect(decode(0b00011)).toBe(3);
    expect(decode(-1)).toBeNaN();
  });

  test('a code table; an unknown code is unknown (NaN), never healthy', () => {
    const decode = statusDecoder({ codes: { '0': 'ok', '1': 'lamp', '2': 'gear', '7': 'relay' } });
    expect([0, 1, 2, 7].map(decode)).toEqual([0, 1, 2, 4]);
    expect(decode(3)).toBeNaN();
  });

  test('what a simulator reports for failures reads back as those failures', () => {
    for (const decoding of [
      { bits: { '0': 'gear', '1': 'lamp', '6': 'communication' } } as const,
      { codes: { '0': 'ok', '1': 'lamp', '2': 'gear' } } as const,
    ]) {
      const encode = statusEncoder(decoding);
      const decode = statusDecoder(decoding);
      for (const failures of [0, 1, 2]) expect(decode(encode(failures))).toBe(failures);
    }
  });
});

test('DALI fade codes: the nearest stored fade time', () => {
  expect(DALI_FADE_CODES).toHaveLength(16);
  expect(nearestFadeCode(DALI_FADE_CODES, 0)).toBe(0);
  expect(nearestFadeCode(DALI_FADE_CODES, 0.8)).toBe(1);
  expect(nearestFadeCode(DALI_FADE_CODES, 10)).toBe(9);
  expect(nearestFadeCode(DALI_FADE_CODES, 600)).toBe(15);
});

describe('bindings of a shipped profile', () => {
  const ecodim = resolveProfiles(
    territory({ controllers: 1, perController: 4 }, (input) => {
      for (const device of input.devices ?? []) if (device.lighting) device.lighting.map = 'ecodim-dali-gw2';
    }),
  );
  const [binding] = buildBindings(ecodim, LightingTopology.fromConfig(ecodim)).bindings;

  test('per-channel records at 3000 + 5·A: level written, read back and status at their own registers', () => {
    expect(binding.commanded.map((a) => (a as ModbusAddress).address)).toEqual([3000, 3005, 3010, 3015]);
    expect(binding.inEffect.map((r) => (r.address as ModbusAddress).address)).toEqual([
      3004, 3009, 3014, 3019,
    ]);
    expect((binding.reports.lampStatus!(2) as ModbusAddress).address).toBe(3008);
  });

  test('levels go out as arcs and are confirmed only by the same arc', () => {
    expect(binding.toRaw(50)).toBe(229);
    expect(binding.toLevel(229)).toBeCloseTo(50.5, 1);
    // One arc is ~2.8 % of light near full power and ~0.003 % near the bottom: compared in arcs.
    expect(binding.matches(50, binding.toLevel(229))).toBe(true);
    expect(binding.matches(50, binding.toLevel(230))).toBe(false);
    expect(binding.matches(0.1, binding.toLevel(2))).toBe(false);
    expect(binding.decodeStatus(0b10)).toBe(1);
  });
});

test('controllers of one register map share their channels’ addresses and reads, which nobody can change', () => {
  const config = resolveProfiles(territory({ controllers: 2, perController: 4 }));
  const [a, b] = buildBindings(config, LightingTopology.fromConfig(config)).bindings;
  expect(a.deviceId).not.toBe(b.deviceId);
  a.commanded.forEach((address, k) => expect(b.commanded[k]).toBe(address));
  a.inEffect.forEach((ref, k) => expect(b.inEffect[k]).toBe(ref));
  expect(new Set(a.commanded).size).toBe(4);
  expect(Object.isFrozen(a.commanded[0])).toBe(true);
  expect(Object.isFrozen(a.inEffect[0])).toBe(true);
  expect(() => {
    (a.commanded[0] as ModbusAddress).address = 1;
  }).toThrow(TypeError);
});

describe('the library', () => {
  const small = readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'config', 'small.yaml'), 'utf8');

  test.each(PROFILE_LIBRARY.map((p) => p.id))(
    '%s: a site names it and validates, 64 DALI addresses',
    (id) => {
      const text = small.replace(
        'lighting: { channels: 8, map: sc-v1 }',
        `lighting: { channels: 64, map: ${id} }`,
      );
      expect(text).not.toBe(small);
      const config = parseConfig(text, 'site.yaml', { env: {} });
      expect(config.register_maps.map((m) => m.id)).toContain(id);
    },
  );

  test('every profile cites its source', () => {
    for (const profile of PROFILE_LIBRARY) expect(profile.source.length).toBeGreaterThan(10);
  });

  test('a map id neither in the file nor shipped is refused, naming where the shipped ones are listed', () => {
    const text = small.replace(
      'lighting: { channels: 8, map: sc-v1 }',
      'lighting: { channels: 8, map: ecodim-gw3 }',
    );
    try {
      parseConfig(text, 'site.yaml', { env: {} });
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toMatch(
        /unknown register map .*shipped profile: nocturne profiles.*'ecodim-gw3'/s,
      );
    }
  });

  test('the worked example of docs/register-map.md validates as written', () => {
    const doc = readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'register-map.md'), 'utf8');
    const example = doc.split('### Worked example')[1].split('```yaml\n')[1].split('```')[0];
    const { register_maps, devices } = parse(example) as { register_maps: unknown[]; devices: unknown[] };
    const site = parse(small) as { register_maps: unknown[]; devices: unknown[] };
    site.register_maps.push(...register_maps);
    site.devices.push(...devices);
    const config = parseConfig(stringify(site), 'site.yaml', { env: {} });
    expect(config.devices.find((d) => d.id === 'armoire-gare-l2')?.lighting?.map).toBe('intesis-ligne-2');
  });

  test('DALI groups need group registers in the profile and channels of the device, each group once', () => {
    const issues = (map: string, groups: string): string[] => {
      const text = small.replace(
        'lighting: { channels: 8, map: sc-v1 }',
        `lighting: { channels: 8, map: ${map}, groups: ${groups} }`,
      );
      try {
        parseConfig(text, 'site.yaml', { env: {} });
        return [];
      } catch (error) {
        return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
      }
    };
    expect(
      issues('ecodim-dali-gw2', '[{ group: 0, channels: [1, 2] }, { group: 1, channels: [3] }]'),
    ).toEqual([]);
    expect(issues('hms-intesis-dali', '[{ group: 0, channels: [1] }]')).toEqual([
      "devices[0].lighting.groups: register map 'hms-intesis-dali' has no group_level registers: its groups cannot be commanded",
    ]);
    expect(
      issues('ecodim-dali-gw2', '[{ group: 2, channels: [1, 9] }, { group: 2, channels: [3] }]'),
    ).toEqual([
      "devices[0].lighting.groups[0].channels[1]: channel 9 is beyond the device's 8 channels",
      'devices[0].lighting.groups[1].group: DALI group 2 appears twice',
    ]);
  });

  test("a device takes its profile's guard interval unless it sets its own", () => {
    const guards = (extra: string): (number | undefined)[] => {
      const text = small.replace(
        'lighting: { channels: 8, map: sc-v1 }',
        `lighting: { channels: 8, map: ecodim-dali-gw2 }\n${extra}`,
      );
      return parseConfig(text, 'site.yaml', { env: {} }).devices.map((d) =>
        'guard_ms' in d ? d.guard_ms : undefined,
      );
    };
    expect(guards('')[0]).toBe(5);
    expect(guards('    guard_ms: 20')[0]).toBe(20);
  });

  test('per-channel addresses as an explicit list, where no stride describes them', () => {
    const site = (levels: string, channels = 4): string =>
      small
        .replace(
          'register_maps:\n',
          `register_maps:\n  - id: listed\n    commanded_level: ${levels}\n    in_effect_level: { table: input, start: 100 }\n`,
        )
        .replace('lighting: { channels: 8, map: sc-v1 }', `lighting: { channels: ${channels}, map: listed }`);
    const config = parseConfig(site('{ addresses: [40, 41, 47, 52] }'), 'site.yaml', { env: {} });
    const [binding] = buildBindings(config, LightingTopology.fromConfig(config)).bindings;
    expect(binding.commanded.map((a) => (a as ModbusAddress).address)).toEqual(
      [40, 41, 47, 52].slice(0, binding.channels.length),
    );
    const issues = (text: string): string[] => {
      try {
        parseConfig(text, 'site.yaml', { env: {} });
        return [];
      } catch (error) {
        return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
      }
    };
    expect(issues(site('{ addresses: [40, 41] }'))).toEqual([
      "devices[0].lighting.channels: 4 channels, but map 'listed' lists 2 addresses for commanded_level",
    ]);
    expect(issues(site('{ start: 40, addresses: [40, 41, 47, 52] }'))[0]).toMatch(
      /register_maps\[0\]\.commanded_level.*give 'start' \(and 'stride'\) or 'addresses', one of the two/,
    );
  });
});
