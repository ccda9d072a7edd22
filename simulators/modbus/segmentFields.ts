import {
  CHANNEL_BLOCKS,
  DALI_GROUPS,
  SINGLE_REGISTERS,
  channelAddress,
  type ChannelBlockName,
  type SingleRegisterName,
} from '../../config/registers';
import {
  DALI_FADE_CODES,
  levelCurve,
  nearestFadeCode,
  NOCTURNE_STATUS,
  statusEncoder,
} from '../../config/deviceUnits';
import type { DeviceConfig, RegisterMapConfig } from '../../config/schema';
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
 * The fields of a segment controller laid out exactly as its register map (profile) says, played as that
 * device: levels through its level curve (linear to level_max_raw, DALI arc power, a table), the lamp
 * status as its code table or bit field, the fade as seconds or a code. Every other value is engineering
 * value / scale.
 */
export function segmentFields(
  controller: SegmentController,
  map: RegisterMapConfig,
  groups: NonNullable<DeviceConfig['lighting']>['groups'] = [],
): Field[] {
  const fields: Field[] = [];
  const curve = levelCurve(map.level_curve, map.level_max_raw, false);
  const levelToRaw = (level: number, scale: number): number => curve.toValue(level) / scale;
  const rawToLevel = (raw: number, scale: number): number => curve.toPercent(raw * scale);
  const isLevel = (raw: number, scale: number): boolean =>
    Number.isFinite(raw) && raw * scale >= 0 && raw * scale <= curve.max;
  const fadeCodes = map.fade_codes === 'dali' ? DALI_FADE_CODES : map.fade_codes;
  const encodeStatus = statusEncoder(map.status ?? NOCTURNE_STATUS);
  const units: ProfileUnits = {
    levelToRaw,
    // The controller's status codes 1 (lamp) and 2 (driver) are the failure bits lamp and gear.
    statusToRaw: (status, scale) => encodeStatus(status) / scale,
    fadeToRaw: fadeCodes
      ? (seconds) => nearestFadeCode(fadeCodes, seconds)
      : (seconds, scale) => seconds / scale,
  };
  // With a command counter (ADFweb), levels written wait until the counter changes, then apply together.
  const pending = new Map<number, number>();
  const setLevel = (channel: number, level: number): void => {
    if (map.command_counter) pending.set(channel, level);
    else controller.writeCommandedLevel(channel, level);
  };

  for (const name of CHANNEL_BLOCKS) {
    const block = map[name];
    if (!block) continue;
    for (let channel = 1; channel <= controller.channelCount; channel++) {
      const field: Field = {
        name: `${name} channel ${channel}`,
        table: block.table,
        address: channelAddress(block, channel),
        format: { type: block.type, wordOrder: block.word_order, byteOrder: 'big' },
        read: channelReader(name, block.scale, () => controller.channel(channel), units),
      };
      if (name === 'energy_wh') field.wrap = true;
      if (isWritableTable(block) && name === 'commanded_level') {
        field.write = {
          accepts: (raw) => isLevel(raw, block.scale),
          apply: (raw) => setLevel(channel, rawToLevel(raw, block.scale)),
        };
      } else if (isWritableTable(block) && name === 'fade_s') {
        field.write = fadeCodes
          ? {
              accepts: (raw) => Number.isInteger(raw) && raw >= 0 && raw < fadeCodes.length,
              apply: (raw) => controller.writeFade(channel, fadeCodes[raw]),
            }
          : {
              accepts: (raw) =>
                Number.isFinite(raw) && raw * block.scale >= 0 && raw * block.scale <= MAX_FADE_S,
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

  // Group and broadcast levels set the commanded level of every member, as a DALI gateway sends one frame
  // the gear of the group answers to; reading one gives the last value written to it.
  const sharedLevel = (
    name: string,
    where: Pick<Field, 'table' | 'address'> & { type: Field['format']['type']; scale: number },
    members: () => number[],
  ): Field => {
    let last = 0;
    return {
      name,
      table: where.table,
      address: where.address,
      format: { type: where.type, wordOrder: 'big', byteOrder: 'big' },
      read: () => last,
      write: {
        accepts: (raw) => isLevel(raw, where.scale),
        apply: (raw) => {
          last = raw;
          for (const channel of members()) setLevel(channel, rawToLevel(raw, where.scale));
        },
      },
    };
  };
  const group = map.group_level;
  for (let g = 0; group && g < DALI_GROUPS; g++) {
    const members = [
      ...new Set(groups.filter((entry) => entry.group === g).flatMap((entry) => entry.channels)),
    ];
    fields.push(
      sharedLevel(
        `group_level group ${g}`,
        { ...group, address: channelAddress(group, g + 1) },
        () => members,
      ),
    );
  }
  const counter = map.command_counter;
  if (counter) {
    let last = 0;
    fields.push({
      name: 'command_counter',
      table: counter.table,
      address: counter.address,
      format: { type: counter.type, wordOrder: 'big', byteOrder: 'big' },
      read: () => last,
      write: {
        accepts: (raw) => Number.isInteger(raw) && raw >= 0 && raw <= 255,
        apply: (raw) => {
          if (raw === last) return; // unchanged: the levels written wait
          last = raw;
          for (const [channel, level] of pending) controller.writeCommandedLevel(channel, level);
          pending.clear();
        },
      },
    });
  }
  const broadcast = map.broadcast_level;
  if (broadcast) {
    const all = Array.from({ length: controller.channelCount }, (_, c) => c + 1);
    fields.push(sharedLevel('broadcast_level', broadcast, () => all));
  }
  return fields;
}

/**
 * What a simulated controller answers besides its profile's values, where the profile puts nothing:
 * the identification registers and the reserved registers inside each channel's record.
 */
export function unmappedFields(map: RegisterMapConfig, channelCount: number): Field[] {
  return [...identificationFields(map, channelCount), ...recordGapFields(map, channelCount)];
}

/**
 * Registers inside one channel's record that the profile does not describe (ECOdim's 3001 command and
 * 3002 availability between its level at 3000 and status at 3003): read-only zeros, as a gateway answers
 * them, so a read spanning the record is answered in one request instead of refused.
 */
function recordGapFields(map: RegisterMapConfig, channelCount: number): Field[] {
  const fields: Field[] = [];
  const format = { type: 'uint16', wordOrder: 'big', byteOrder: 'big' } as const;
  for (const table of ['holding', 'input'] as const) {
    const strided = CHANNEL_BLOCKS.map((name) => map[name]).filter(
      (block) => block !== undefined && block.table === table && block.stride !== undefined,
    );
    if (strided.length < 2) continue;
    for (let channel = 1; channel <= channelCount; channel++) {
      const starts = strided.map((block) => channelAddress(block!, channel));
      for (let address = Math.min(...starts) + 1; address < Math.max(...starts); address++)
        fields.push({ name: `reserved ${table} ${address}`, table, address, format, read: () => 0 });
    }
  }
  return fields;
}

/**
 * The profile's identification registers (the map version it names, the channels the device has); a
 * profile without them gets nocturne's: IR 0 = register map version, IR 1 = channel count. Read-only.
 */
function identificationFields(map: RegisterMapConfig, channelCount: number): Field[] {
  const format = { type: 'uint16', wordOrder: 'big', byteOrder: 'big' } as const;
  const { map_version: version, channel_count: count } = map.identification ?? {
    map_version: {
      table: 'input',
      address: IDENTIFICATION.mapVersionAddress,
      equals: IDENTIFICATION.mapVersion,
    },
    channel_count: { table: 'input', address: IDENTIFICATION.channelCountAddress },
  };
  const fields: Field[] = [];
  if (version)
    fields.push({
      name: 'identification: map version',
      table: version.table,
      address: version.address,
      format,
      read: () => version.equals,
    });
  if (count)
    fields.push({ name: 'identification: channel count', ...count, format, read: () => channelCount });
  return fields;
}

/** How the profile writes the controller's values: levels through its curve, status and fade its way. */
interface ProfileUnits {
  levelToRaw: (level: number, scale: number) => number;
  statusToRaw: (status: number, scale: number) => number;
  fadeToRaw: (seconds: number, scale: number) => number;
}

function channelReader(
  name: ChannelBlockName,
  scale: number,
  snapshot: () => ChannelSnapshot,
  { levelToRaw, statusToRaw, fadeToRaw }: ProfileUnits,
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
      return () => statusToRaw(snapshot().status, scale);
    case 'fade_s':
      return () => fadeToRaw(snapshot().fadeS, scale);
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
