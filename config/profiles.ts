import { RegisterMap } from './schema/devices';
import type { Config, ConfigInput, RegisterMapConfig } from './schema';

/**
 * The device profiles shipped with nocturne: register maps of lighting gateways as their makers publish
 * them (`../shared/FIELD.md`), each citing its source. A site refers to one by id (`lighting.map`) without
 * copying it; a `register_maps` entry of the same id in the site file replaces the shipped one.
 * `nocturne profiles` lists them.
 */

type ProfileInput = NonNullable<ConfigInput['register_maps']>[number] & { source: string };

/**
 * The status byte DALI gear answers to QUERY STATUS (IEC 62386-102): bit 0 control gear failure, bit 1
 * lamp failure, bit 2 lamp arc power on, bit 3 limit error, bit 4 fade running, bit 5 reset state, bit 6
 * missing short address (no gear at the address), bit 7 power cycle seen.
 */
const DALI_STATUS_BYTE = {
  bits: {
    '0': 'gear',
    '1': 'lamp',
    '2': 'ignore',
    '3': 'ignore',
    '4': 'ignore',
    '5': 'ignore',
    '6': 'communication',
    '7': 'ignore',
  },
} as const;

/** nocturne's own segment controller (docs/register-map.md), played by the simulators. */
export const REGISTER_MAP_V1 = {
  id: 'nocturne-sc-v1',
  description: 'nocturne segment controller, Modbus register map v1',
  source: 'docs/register-map.md',
  level_max_raw: 100,
  commanded_level: { table: 'holding', start: 1000 },
  fade_s: { table: 'holding', start: 2000, scale: 0.1 },
  in_effect_level: { table: 'input', start: 1000 },
  output_level: { table: 'input', start: 1500 },
  power_w: { table: 'input', start: 2000, scale: 0.1 },
  energy_wh: { table: 'input', start: 3000, type: 'uint32' },
  lamp_status: { table: 'input', start: 4000 },
  watchdog_s: { table: 'holding', address: 10 },
  fail_safe_level: { table: 'holding', address: 11 },
  boot_count: { table: 'input', address: 2 },
  identification: {
    map_version: { table: 'input', address: 0, equals: 1 },
    channel_count: { table: 'input', address: 1 },
  },
} as const satisfies ProfileInput;

export const PROFILE_LIBRARY: readonly ProfileInput[] = [
  REGISTER_MAP_V1,
  {
    id: 'ecodim-dali-gw2',
    description:
      'ECOdim DALI GW2, Modbus-DALI gateway: one record of 5 registers per DALI short address A (channel A + 1); DALI arc power; status read as the DALI status byte',
    source:
      'wirenboard/wb-mqtt-serial, templates/config-ecodim-dali-gw2.json.jinja (response timeout 100 ms, guard interval 5 ms)',
    guard_interval_ms: 5,
    level_curve: 'dali-arc',
    commanded_level: { table: 'holding', start: 3000, stride: 5 },
    in_effect_level: { table: 'holding', start: 3004, stride: 5 },
    lamp_status: { table: 'holding', start: 3003, stride: 5 },
    status: DALI_STATUS_BYTE,
    group_level: { table: 'holding', start: 2000, stride: 5 },
    broadcast_level: { table: 'holding', address: 1000 },
    // "DALI Devices Quantity": the gear the gateway found on its line.
    identification: { channel_count: { table: 'holding', address: 31 } },
  },
  {
    id: 'arlight-dali-logic-lite',
    description:
      'Arlight DALI-LOGIC-LITE, Modbus-DALI gateway: level per DALI short address A at 256 + A, read back at 2560 + A, status at A; DALI arc power',
    source: 'wirenboard/wb-mqtt-serial, templates/config-arlight-dali-logic-lite-ps-x1.json.jinja',
    level_curve: 'dali-arc',
    commanded_level: { table: 'holding', start: 256 },
    in_effect_level: { table: 'holding', start: 2560 },
    lamp_status: { table: 'holding', start: 0 },
    status: DALI_STATUS_BYTE,
    group_level: { table: 'holding', start: 384 },
  },
  {
    id: 'hms-intesis-dali',
    description:
      'HMS Intesis DALI (IN/IBMBSDAL), line 1: ballast a (channel a + 1) at 7000 + 100·a; level in percent (the gateway applies the DALI curve); status bit field; DALI fade codes kept by the gear; power in W',
    source: 'HMS Intesis DALI Modbus server user manual (IN/IBMBSDAL): ballast base 7000·line + 100·a',
    level_max_raw: 100,
    commanded_level: { table: 'holding', start: 7015, stride: 100 },
    in_effect_level: { table: 'holding', start: 7006, stride: 100 },
    lamp_status: { table: 'holding', start: 7005, stride: 100 },
    status: { bits: { '0': 'gear', '1': 'lamp', '4': 'ignore' } },
    fade_s: { table: 'holding', start: 7013, stride: 100 },
    fade_codes: 'dali',
    fade_stored: true,
    power_w: { table: 'holding', start: 7036, stride: 100 },
  },
  {
    id: 'dalion',
    description:
      "DALION Modbus-DALI gateway: 512 holding registers, lamp A at A, level 0–255 for 0–100 %; no read-back of the gear: the register read back is the gateway's own copy",
    source: 'docs.bacmove.com, DALION Modbus register map',
    level_max_raw: 255,
    commanded_level: { table: 'holding', start: 0 },
    group_level: { table: 'holding', start: 64 },
    broadcast_level: { table: 'holding', address: 80 },
  },
];

let parsed: Map<string, RegisterMapConfig> | undefined;

/** The shipped profiles, checked by the schema as a site's own would be. */
export function libraryProfiles(): Map<string, RegisterMapConfig> {
  parsed ??= new Map(PROFILE_LIBRARY.map((p) => [p.id, RegisterMap.parse(p)]));
  return parsed;
}

/**
 * The configuration with the shipped profiles its Modbus devices name and do not define themselves, and
 * each such device given its profile's guard interval unless it sets its own.
 */
export function resolveProfiles(config: Config): Config {
  const maps = new Map(config.register_maps.map((m) => [m.id, m]));
  const added: RegisterMapConfig[] = [];
  for (const device of config.devices) {
    if (!device.lighting || device.protocol === 'opcua' || maps.has(device.lighting.map)) continue;
    const profile = libraryProfiles().get(device.lighting.map);
    if (!profile) continue;
    maps.set(profile.id, profile);
    added.push(profile);
  }
  const devices = config.devices.map((device) => {
    if (!device.lighting || device.protocol === 'opcua') return device;
    const guard = maps.get(device.lighting.map)?.guard_interval_ms;
    return device.guard_ms === undefined && guard !== undefined ? { ...device, guard_ms: guard } : device;
  });
  const changed = added.length > 0 || devices.some((d, k) => d !== config.devices[k]);
  return changed ? { ...config, register_maps: [...config.register_maps, ...added], devices } : config;
}
