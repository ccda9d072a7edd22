import {
  CHANNEL_BLOCKS,
  SINGLE_REGISTERS,
  channelAddress,
  type ChannelBlockName,
  type SingleRegisterName,
} from '../../config/registers';
import type { RegisterMapConfig } from '../../config/schema';
import {
  MAX_FADE_S,
  MAX_WATCHDOG_S,
  type ChannelSnapshot,
  type SegmentController,
} from '../segmentController';
import type { Field } from './fieldBank';

/** Identification input registers every simulated segment controller answers (docs/register-map.md). */
export const IDENTIFICATION = { mapVersionAddress: 0, channelCountAddress: 1, mapVersion: 1 } as const;

type SingleRegister = NonNullable<RegisterMapConfig[SingleRegisterName]>;

/**
 * The fields of a segment controller laid out exactly as its register map says. Levels are raw values
 * where level_max_raw means 100 %; every other value is engineering value / scale.
 */
export function segmentFields(controller: SegmentController, map: RegisterMapConfig): Field[] {
  const fields: Field[] = [];
  const levelToRaw = (level: number, scale: number): number => (level * map.level_max_raw) / 100 / scale;
  const rawToLevel = (raw: number, scale: number): number => (raw * scale * 100) / map.level_max_raw;
  const isLevel = (raw: number, scale: number): boolean =>
    Number.isFinite(raw) && raw * scale >= 0 && raw * scale <= map.level_max_raw;

  for (const name of CHANNEL_BLOCKS) {
    const block = map[name];
    if (!block) continue;
    for (let channel = 1; channel <= controller.channelCount; channel++) {
      const field: Field = {
        name: `${name} channel ${channel}`,
        table: block.table,
        address: channelAddress(block, channel),
        format: { type: block.type, wordOrder: block.word_order, byteOrder: 'big' },
        read: channelReader(name, block.scale, () => controller.channel(channel), levelToRaw),
      };
      if (name === 'energy_wh') field.wrap = true;
      if (isWritableTable(block) && name === 'commanded_level') {
        field.write = {
          accepts: (raw) => isLevel(raw, block.scale),
          apply: (raw) => controller.writeCommandedLevel(channel, rawToLevel(raw, block.scale)),
        };
      } else if (isWritableTable(block) && name === 'fade_s') {
        field.write = {
          accepts: (raw) => Number.isFinite(raw) && raw * block.scale >= 0 && raw * block.scale <= MAX_FADE_S,
          apply: (raw) => controller.writeFade(channel, raw * block.scale),
        };
      }
      fields.push(field);
    }
  }

  for (const name of SINGLE_REGISTERS) {
    const reg = map[name];
    if (!reg) continue;
    fields.push(singleField(name, reg, controller, levelToRaw, rawToLevel, isLevel));
  }
  return fields;
}

/** IR 0 = register map version, IR 1 = channel count; read-only. */
export function identificationFields(channelCount: number): Field[] {
  const format = { type: 'uint16', wordOrder: 'big', byteOrder: 'big' } as const;
  return [
    {
      name: 'identification: map version',
      table: 'input',
      address: IDENTIFICATION.mapVersionAddress,
      format,
      read: () => IDENTIFICATION.mapVersion,
    },
    {
      name: 'identification: channel count',
      table: 'input',
      address: IDENTIFICATION.channelCountAddress,
      format,
      read: () => channelCount,
    },
  ];
}

function channelReader(
  name: ChannelBlockName,
  scale: number,
  snapshot: () => ChannelSnapshot,
  levelToRaw: (level: number, scale: number) => number,
): () => number {
  switch (name) {
    case 'commanded_level':
      return () => levelToRaw(snapshot().commanded, scale);
    case 'in_effect_level':
      return () => levelToRaw(snapshot().inEffect, scale);
    case 'output_level':
      return () => levelToRaw(snapshot().output, scale);
    case 'power_w':
      return () => snapshot().powerW / scale;
    case 'energy_wh':
      // A counter shows whole units: it only steps once a full unit is drawn.
      return () => Math.floor(snapshot().energyWh / scale + 1e-6);
    case 'lamp_status':
      return () => snapshot().status / scale;
    case 'fade_s':
      return () => snapshot().fadeS / scale;
  }
}

function singleField(
  name: SingleRegisterName,
  reg: SingleRegister,
  controller: SegmentController,
  levelToRaw: (level: number, scale: number) => number,
  rawToLevel: (raw: number, scale: number) => number,
  isLevel: (raw: number, scale: number) => boolean,
): Field {
  const base = {
    name,
    table: reg.table,
    address: reg.address,
    format: { type: reg.type, wordOrder: 'big', byteOrder: 'big' } as const,
  };
  const writable = isWritableTable(reg);
  switch (name) {
    case 'watchdog_s':
      return {
        ...base,
        read: () => controller.device().watchdogS / reg.scale,
        ...(writable && {
          write: {
            accepts: (raw: number) =>
              Number.isFinite(raw) && raw * reg.scale >= 0 && raw * reg.scale <= MAX_WATCHDOG_S,
            apply: (raw: number) => controller.writeWatchdog(raw * reg.scale),
          },
        }),
      };
    case 'fail_safe_level':
      return {
        ...base,
        read: () => levelToRaw(controller.device().failSafeLevel, reg.scale),
        ...(writable && {
          write: {
            accepts: (raw: number) => isLevel(raw, reg.scale),
            apply: (raw: number) => controller.writeFailSafeLevel(rawToLevel(raw, reg.scale)),
          },
        }),
      };
    case 'boot_count':
      return { ...base, wrap: true, read: () => controller.device().bootCount / reg.scale };
  }
}

/** Holding registers and coils can be written; input registers and discrete inputs cannot. */
function isWritableTable(block: { table: string }): boolean {
  return block.table === 'holding' || block.table === 'coil';
}
