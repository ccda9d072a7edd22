import { channelAddress, type ChannelBlock } from '../../../config/registers';
import type { Config, DeviceConfig, NodeMapConfig, RegisterMapConfig } from '../../../config/schema';
import type { ModbusAddress, PointAddress, PointRef } from '../../../drivers/driver';
import type { LightingTopology } from '../topology';

/**
 * Where a segment controller keeps each value of each channel, from its register map (Modbus) or node
 * map (OPC UA), and how raw values become percent. Built once per device at start; the hot path reuses
 * the address objects and the read-back arrays (the Modbus driver caches its read plan per array).
 *
 * Levels are carried raw on the wire: raw = level % × level_max_raw / 100 (÷ the block's scale), rounded
 * to a whole raw step for integer registers; the read-back tolerance is half a step.
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
  /** Poll blocks the device has (output, power, energy, lamp status). */
  reports: Partial<Record<PerChannelValue, (channel: number) => PointAddress>>;
  /** Percent → raw value written to the commanded register. */
  toRaw(level: number): number;
  /** Raw read-back of the level in effect → percent. */
  toLevel(raw: number): number;
  /** Output value as read (reports.output) → percent. */
  toOutput(value: number): number;
  /** Percent within which a read-back confirms a level (half a raw step). */
  tolerance: number;
  /** Fade seconds → the value written (rounded to the register's step). */
  fadeValue(seconds: number): number;
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
  const readBlock = map.in_effect_level;
  const isInteger = (block: ChannelBlock): boolean => block.type !== 'float32' && block.type !== 'float64';
  const rawPerPercent = map.level_max_raw / 100 / levelBlock.scale;
  const readPercentPerRaw = (readBlock.scale * 100) / map.level_max_raw;
  const block = (b: ChannelBlock, scale: number) => (channel: number) =>
    modbusAddress(b.table, channelAddress(b, channel), b.type, b.word_order, scale);
  const commandedAt = block(levelBlock, 1);
  const inEffectAt = block(readBlock, 1);
  const fade = map.fade_s;
  const reports: DeviceBinding['reports'] = {};
  if (map.output_level) {
    const output = map.output_level;
    reports.output = block(output, (output.scale * 100) / map.level_max_raw);
  }
  if (map.power_w) reports.power = block(map.power_w, map.power_w.scale);
  if (map.energy_wh) reports.energy = block(map.energy_wh, map.energy_wh.scale);
  if (map.lamp_status) reports.lampStatus = block(map.lamp_status, map.lamp_status.scale);
  const single = (reg: RegisterMapConfig['watchdog_s'], scale: number): ModbusAddress | undefined =>
    reg && modbusAddress(reg.table, reg.address, reg.type, 'big', scale);
  const failSafeScale = map.fail_safe_level ? (map.fail_safe_level.scale * 100) / map.level_max_raw : 1;
  const fadeStep = fade?.scale ?? 1;
  const bootAddress = single(map.boot_count, map.boot_count?.scale ?? 1);
  return {
    deviceId,
    commune,
    protocol: 'modbus',
    index,
    luminaires,
    channels,
    commanded: Array.from(channels, (c) => commandedAt(c)),
    inEffect: Array.from(channels, (c) => ({ key: channelKey('inEffect', c), address: inEffectAt(c) })),
    fade: fade ? Array.from(channels, (c) => block(fade, fade.scale)(c)) : undefined,
    watchdog: single(map.watchdog_s, map.watchdog_s?.scale ?? 1),
    failSafe: single(map.fail_safe_level, failSafeScale),
    bootCount: bootAddress && { key: 'boot_count', address: bootAddress },
    reports,
    toRaw: isInteger(levelBlock)
      ? (level) => Math.round(level * rawPerPercent)
      : (level) => level * rawPerPercent,
    toLevel: (raw) => raw * readPercentPerRaw,
    // The output address carries its scale to percent already.
    toOutput: (value) => value,
    // Half a raw step of the coarser of the two blocks, plus float noise.
    tolerance: Math.max(0.5 / rawPerPercent, 0.5 * readPercentPerRaw) + 1e-9,
    // The fade register takes seconds (after its scale) in whole steps.
    fadeValue: (seconds) => Math.round(seconds / fadeStep) * fadeStep,
    watchdogS: lighting.watchdog_s,
    failSafeLevel: lighting.fail_safe_level,
    watchdogValue: roundTo(lighting.watchdog_s, map.watchdog_s?.scale ?? 1),
    failSafeValue: roundTo(lighting.fail_safe_level, failSafeScale),
  };
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
  const rawPerPercent = map.level_max_raw / 100;
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
    reports,
    toRaw: (level) => level * rawPerPercent,
    toLevel: (raw) => raw / rawPerPercent,
    toOutput: (raw) => raw / rawPerPercent,
    tolerance: 0.01,
    fadeValue: (seconds) => Math.round(seconds * 10) / 10,
    watchdogS: lighting.watchdog_s,
    failSafeLevel: lighting.fail_safe_level,
    watchdogValue: lighting.watchdog_s,
    failSafeValue: lighting.fail_safe_level * rawPerPercent,
  };
}

/** `value` in whole steps of `step` (a register's scale), so the driver can encode it exactly. */
function roundTo(value: number, step: number): number {
  return Math.round(value / step) * step;
}

function modbusAddress(
  table: ModbusAddress['table'],
  address: number,
  type: ModbusAddress['type'],
  wordOrder: ModbusAddress['wordOrder'],
  scale: number,
): ModbusAddress {
  return { protocol: 'modbus', table, address, type, wordOrder, byteOrder: 'big', scale, offset: 0 };
}
