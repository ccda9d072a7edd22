import { channelAddress, type ChannelBlock } from '../../../config/registers';
import {
  DALI_FADE_CODES,
  levelCurve,
  NOCTURNE_STATUS,
  nearestFadeCode,
  statusDecoder,
  type LevelCurve,
} from '../../../config/deviceUnits';
import type { Config, DeviceConfig, NodeMapConfig, RegisterMapConfig } from '../../../config/schema';
import type { ModbusAddress, PointAddress, PointRef } from '../../../drivers/driver';
import type { LightingTopology } from '../topology';

/**
 * Where a segment controller keeps each value of each channel, from its register map (Modbus) or node
 * map (OPC UA), and how raw values become percent. Built once per device at start; the hot path reuses
 * the address objects and the read-back arrays (the Modbus driver caches its read plan per array).
 *
 * Levels are carried in the device's units: the profile's level curve (linear to level_max_raw, DALI arc
 * power, a table) turns percent of light output into the value written, ÷ the block's scale and rounded
 * to a whole step for integer registers. A read-back confirms a level when it is the value that level is
 * written as (within the profile's tolerance): the comparison is in device units, not in percent.
 */

export type PerChannelValue = 'output' | 'power' | 'energy' | 'lampStatus';

/** Keys are only for errors and samples; shared strings, so 100,000 luminaires cost no key strings. */
const CHANNEL_KEYS: string[] = [];
export function channelKey(kind: string, channel: number): string {
  const index = channel * 8 + KIND_INDEX[kind];
  return (CHANNEL_KEYS[index] ??= `${kind}#${channel}`);
}
const KIND_INDEX: Record<string, number> = {
  level: 0,
  inEffect: 1,
  fade: 2,
  output: 3,
  power: 4,
  energy: 5,
  lampStatus: 6,
};

export interface DeviceBinding {
  deviceId: string;
  commune: string;
  protocol: 'modbus' | 'opcua';
  /** Device index in LightingTopology.devices. */
  index: number;
  /** Luminaires on the device, ascending channel; slot k drives luminaires[k]. */
  luminaires: Int32Array;
  channels: Int32Array;
  /** Commanded-level address per slot. */
  commanded: PointAddress[];
  /** Read-back of the level in effect, one PointRef per slot, in slot order (reused: plan cache). */
  inEffect: PointRef[];
  fade: PointAddress[] | undefined;
  watchdog: PointAddress | undefined;
  failSafe: PointAddress | undefined;
  bootCount: PointRef | undefined;
  /**
   * The profile's broadcast level register, where every channel of the device drives one of our
   * luminaires: all of them going to one level is one write, not one per channel.
   */
  broadcast: PointAddress | undefined;
  /** DALI groups (lighting.groups) whose members are all our luminaires: one write for the group's level. */
  groups: { group: number; address: PointAddress; slots: Int32Array }[];
  /** Written after the levels of each command, with a value that changes every time (ADFweb). */
  commandCounter: PointAddress | undefined;
  /** Registers read at connect to check the device is the one the profile describes. */
  identification: {
    mapVersion?: { ref: PointRef; equals: number };
    channelCount?: PointRef;
  };
  /** The register map (profile) it is driven through, for messages. */
  profile: string;
  /** Poll blocks the device has (output, power, energy, lamp status). */
  reports: Partial<Record<PerChannelValue, (channel: number) => PointAddress>>;
  /** Percent → raw value written to the commanded register. */
  toRaw(level: number): number;
  /** Raw read-back of the level in effect → percent. */
  toLevel(raw: number): number;
  /** Output value as read (reports.output) → percent. */
  toOutput(value: number): number;
  /** Two levels in percent that the device holds as the same value (a read-back confirming a command). */
  matches: (level: number, other: number) => boolean;
  /** Lamp status as read → failures as a bit set (deviceUnits FAILURE_BIT), NaN for an unknown code. */
  decodeStatus(raw: number): number;
  /** Fade seconds → the value written (rounded to the register's step, or the nearest code). */
  fadeValue(seconds: number): number;
  /** The device keeps its fade: written only when it changes (else before each level, one-shot). */
  fadeStored: boolean;
  /** Configured watchdog (0: disabled) and fail-safe level, and the values written for them. */
  watchdogS: number;
  failSafeLevel: number;
  watchdogValue: number;
  failSafeValue: number;
}

/** Every device that drives luminaires, with the problems that kept others out (unknown maps). */
export function buildBindings(
  config: Config,
  topology: LightingTopology,
): { bindings: DeviceBinding[]; problems: string[] } {
  const devices = new Map(config.devices.map((d) => [d.id, d]));
  const registerMaps = new Map(config.register_maps.map((m) => [m.id, m]));
  const nodeMaps = new Map(config.node_maps.map((m) => [m.id, m]));
  const problems: string[] = [];
  const members: number[][] = topology.devices.map(() => []);
  for (let i = 0; i < topology.count; i++) members[topology.deviceOf[i]].push(i);
  const bindings: DeviceBinding[] = [];
  topology.devices.forEach((id, index) => {
    const device = devices.get(id);
    const lum = members[index].sort((a, b) => topology.channelOf[a] - topology.channelOf[b]);
    if (!device?.lighting) {
      problems.push(`device '${id}' drives ${lum.length} luminaire(s) but is not a segment controller`);
      return;
    }
    const luminaires = Int32Array.from(lum);
    const channels = Int32Array.from(lum, (i) => topology.channelOf[i]);
    const commune = device.commune ?? topology.communes[topology.communeOf[lum[0]]];
    if (device.protocol === 'opcua') {
      const map = nodeMaps.get(device.lighting.map);
      if (!map) problems.push(`device '${id}': unknown node map '${device.lighting.map}'`);
      else bindings.push(opcuaBinding(id, device.lighting, map, index, commune, luminaires, channels));
    } else {
      const map = registerMaps.get(device.lighting.map);
      if (!map) problems.push(`device '${id}': unknown register map '${device.lighting.map}'`);
      else bindings.push(modbusBinding(id, device.lighting, map, index, commune, luminaires, channels));
    }
  });
  return { bindings, problems };
}

type SegmentSection = NonNullable<DeviceConfig['lighting']>;

function modbusBinding(
  deviceId: string,
  lighting: SegmentSection,
  map: RegisterMapConfig,
  index: number,
  commune: string,
  luminaires: Int32Array,
  channels: Int32Array,
): DeviceBinding {
  const levelBlock = map.commanded_level;
  const readBlock = map.in_effect_level ?? map.commanded_level;
  const isInteger = (block: ChannelBlock): boolean => block.type !== 'float32' && block.type !== 'float64';
  const curve = levelCurve(map.level_curve, map.level_max_raw, false);
  const whole = isInteger(levelBlock);
  const toRaw = (level: number): number => {
    const raw = curve.toValue(level) / levelBlock.scale;
    return whole ? Math.round(raw) : raw;
  };
  // A read-back coarser than the write confirms within half of its step; else the exact value.
  const readStep = readBlock.scale / levelBlock.scale;
  const tolerance =
    (map.confirm_tolerance !== undefined
      ? map.confirm_tolerance / levelBlock.scale
      : Math.max(isInteger(readBlock) ? readStep / 2 : 0, whole ? 0 : 0.5)) + 1e-9;
  const block = (b: ChannelBlock, scale: number) => (channel: number) =>
    modbusAddress(b.table, channelAddress(b, channel), b.type, b.word_order, scale);
  const commandedAt = block(levelBlock, 1);
  const inEffectAt = block(readBlock, 1);
  const fade = map.fade_s;
  const reports: DeviceBinding['reports'] = {};
  if (map.output_level) reports.output = block(map.output_level, map.output_level.scale);
  if (map.power_w) reports.power = block(map.power_w, map.power_w.scale);
  if (map.energy_wh) reports.energy = block(map.energy_wh, map.energy_wh.scale);
  if (map.lamp_status) reports.lampStatus = block(map.lamp_status, map.lamp_status.scale);
  const single = (reg: RegisterMapConfig['watchdog_s'], scale: number): ModbusAddress | undefined =>
    reg && modbusAddress(reg.table, reg.address, reg.type, 'big', scale);
  const fadeCodes = map.fade_codes === 'dali' ? DALI_FADE_CODES : map.fade_codes;
  const fadeStep = fadeCodes ? 1 : (fade?.scale ?? 1);
  const bootAddress = single(map.boot_count, map.boot_count?.scale ?? 1);
  const slotOfChannel = new Map(Array.from(channels, (c, k) => [c, k]));
  const groupBlock = map.group_level;
  const groups = groupBlock
    ? lighting.groups
        .filter((g) => g.channels.every((c) => slotOfChannel.has(c)))
        .map((g) => ({
          group: g.group,
          address: modbusAddress(
            groupBlock.table,
            channelAddress(groupBlock, g.group + 1),
            groupBlock.type,
            groupBlock.word_order,
            1,
          ),
          slots: Int32Array.from(new Set(g.channels), (c) => slotOfChannel.get(c)!),
        }))
    : [];
  return {
    deviceId,
    commune,
    protocol: 'modbus',
    index,
    luminaires,
    channels,
    commanded: Array.from(channels, (c) => commandedAt(c)),
    inEffect: Array.from(channels, (c) => sharedRef(channelKey('inEffect', c), inEffectAt(c))),
    fade: fade ? Array.from(channels, (c) => block(fade, fadeCodes ? 1 : fade.scale)(c)) : undefined,
    watchdog: single(map.watchdog_s, map.watchdog_s?.scale ?? 1),
    // The fail-safe register holds a level in the device's units: written through the curve, raw.
    failSafe: single(map.fail_safe_level, 1),
    bootCount: bootAddress && { key: 'boot_count', address: bootAddress },
    broadcast: luminaires.length === lighting.channels ? single(map.broadcast_level, 1) : undefined,
    groups,
    identification: identificationOf(map),
    commandCounter: single(map.command_counter, 1),
    profile: map.id,
    reports,
    toRaw,
    toLevel: (raw) => curve.toPercent(raw * readBlock.scale),
    // The output address carries its scale to the curve's units.
    toOutput: (value) => curve.toPercent(value),
    matches: (level, other) => Math.abs(toRaw(level) - toRaw(other)) <= tolerance,
    decodeStatus: statusDecoder(map.status ?? NOCTURNE_STATUS),
    fadeValue: fadeCodes
      ? (seconds) => nearestFadeCode(fadeCodes, seconds)
      : (seconds) => Math.round(seconds / fadeStep) * fadeStep,
    fadeStored: map.fade_stored,
    watchdogS: lighting.watchdog_s,
    failSafeLevel: lighting.fail_safe_level,
    watchdogValue: roundTo(lighting.watchdog_s, map.watchdog_s?.scale ?? 1),
    failSafeValue: failSafeRaw(curve, lighting.fail_safe_level, map.fail_safe_level),
  };
}

function identificationOf(map: RegisterMapConfig): DeviceBinding['identification'] {
  const { map_version: version, channel_count: count } = map.identification ?? {};
  return {
    ...(version && {
      mapVersion: {
        ref: {
          key: 'map_version',
          address: modbusAddress(version.table, version.address, 'uint16', 'big', 1),
        },
        equals: version.equals,
      },
    }),
    ...(count && {
      channelCount: {
        key: 'channel_count',
        address: modbusAddress(count.table, count.address, 'uint16', 'big', 1),
      },
    }),
  };
}

/** The fail-safe level in the fail-safe register's raw units, through the curve. */
function failSafeRaw(
  curve: LevelCurve,
  level: number,
  register: RegisterMapConfig['fail_safe_level'],
): number {
  const raw = curve.toValue(level) / (register?.scale ?? 1);
  return register && register.type !== 'float32' && register.type !== 'float64' ? Math.round(raw) : raw;
}

function opcuaBinding(
  deviceId: string,
  lighting: SegmentSection,
  map: NodeMapConfig,
  index: number,
  commune: string,
  luminaires: Int32Array,
  channels: Int32Array,
): DeviceBinding {
  const node = (template: string, channel?: number): PointAddress => ({
    protocol: 'opcua',
    nodeId: template
      .replaceAll('{device}', deviceId)
      .replaceAll('{channel}', channel === undefined ? '' : String(channel)),
  });
  const perChannel = (template: string | undefined) =>
    template === undefined ? undefined : (channel: number) => node(template, channel);
  const reports: DeviceBinding['reports'] = {};
  const output = perChannel(map.output_level);
  const power = perChannel(map.power_w);
  const energy = perChannel(map.energy_wh);
  const lampStatus = perChannel(map.lamp_status);
  if (output) reports.output = output;
  if (power) reports.power = power;
  if (energy) reports.energy = energy;
  if (lampStatus) reports.lampStatus = lampStatus;
  const curve = levelCurve(map.level_curve, map.level_max_raw, false);
  // Doubles on the wire: the same value within 0.01 % of full scale.
  const tolerance = curve.max * 1e-4;
  return {
    deviceId,
    commune,
    protocol: 'opcua',
    index,
    luminaires,
    channels,
    commanded: Array.from(channels, (c) => node(map.commanded_level, c)),
    inEffect: Array.from(channels, (c) => ({
      key: channelKey('inEffect', c),
      address: node(map.in_effect_level, c),
    })),
    fade: map.fade_s === undefined ? undefined : Array.from(channels, (c) => node(map.fade_s!, c)),
    watchdog: map.watchdog_s === undefined ? undefined : node(map.watchdog_s),
    failSafe: map.fail_safe_level === undefined ? undefined : node(map.fail_safe_level),
    bootCount:
      map.boot_count === undefined ? undefined : { key: 'boot_count', address: node(map.boot_count) },
    broadcast: undefined,
    groups: [],
    identification: {},
    commandCounter: undefined,
    profile: map.id,
    reports,
    toRaw: (level) => curve.toValue(level),
    toLevel: (raw) => curve.toPercent(raw),
    toOutput: (raw) => curve.toPercent(raw),
    matches: (level, other) => Math.abs(curve.toValue(level) - curve.toValue(other)) <= tolerance,
    decodeStatus: statusDecoder(map.status ?? NOCTURNE_STATUS),
    fadeValue: (seconds) => Math.round(seconds * 10) / 10,
    fadeStored: false,
    watchdogS: lighting.watchdog_s,
    failSafeLevel: lighting.fail_safe_level,
    watchdogValue: lighting.watchdog_s,
    failSafeValue: curve.toValue(lighting.fail_safe_level),
  };
}

/** `value` in whole steps of `step` (a register's scale), so the driver can encode it exactly. */
function roundTo(value: number, step: number): number {
  return Math.round(value / step) * step;
}

/** A read of an address under a key, one frozen object per pair, shared like the addresses. */
const REFS = new WeakMap<Readonly<ModbusAddress>, Map<string, Readonly<PointRef>>>();
function sharedRef(key: string, address: ModbusAddress): PointRef {
  let byKey = REFS.get(address);
  if (!byKey) {
    byKey = new Map();
    REFS.set(address, byKey);
  }
  let ref = byKey.get(key);
  if (!ref) {
    ref = Object.freeze({ key, address });
    byKey.set(key, ref);
  }
  return ref;
}

/**
 * One object per distinct address, frozen: the controllers of one register map share their channels'
 * addresses (100,000 luminaires on 1,000 controllers: 300 objects, not 300,000, ~27 MB less).
 */
const ADDRESSES = new Map<string, Readonly<ModbusAddress>>();
function modbusAddress(
  table: ModbusAddress['table'],
  address: number,
  type: ModbusAddress['type'],
  wordOrder: ModbusAddress['wordOrder'],
  scale: number,
): ModbusAddress {
  const key = `${table} ${address} ${type} ${wordOrder} ${scale}`;
  let known = ADDRESSES.get(key);
  if (!known) {
    known = Object.freeze({
      protocol: 'modbus',
      table,
      address,
      type,
      wordOrder,
      byteOrder: 'big',
      scale,
      offset: 0,
    } as const);
    ADDRESSES.set(key, known);
  }
  return known;
}
