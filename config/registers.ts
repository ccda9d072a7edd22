import { registersOf } from '../drivers/modbus/codec';
import type { ModbusBindingConfig, RegisterMapConfig } from './schema';

export type DataTypeName = ModbusBindingConfig['type'];

/** Number of 16-bit registers a value of this type occupies: the driver's own table. */
export const registerCount: (type: DataTypeName) => number = registersOf;

export const CHANNEL_BLOCKS = [
  'commanded_level',
  'in_effect_level',
  'output_level',
  'power_w',
  'energy_wh',
  'lamp_status',
  'fade_s',
] as const;
export type ChannelBlockName = (typeof CHANNEL_BLOCKS)[number];
export type ChannelBlock = NonNullable<RegisterMapConfig[ChannelBlockName]>;

/** DALI groups 0–15: a profile's group_level block has one register per group. */
export const DALI_GROUPS = 16;

export const SINGLE_REGISTERS = ['watchdog_s', 'fail_safe_level', 'boot_count'] as const;
export type SingleRegisterName = (typeof SINGLE_REGISTERS)[number];

/** Address of a channel (1-based) in a per-channel block; NaN for a channel beyond its list of addresses. */
export function channelAddress(block: ChannelBlock, channel: number): number {
  if (block.addresses) return block.addresses[channel - 1] ?? Number.NaN;
  return (block.start ?? 0) + (channel - 1) * (block.stride ?? registerCount(block.type));
}
