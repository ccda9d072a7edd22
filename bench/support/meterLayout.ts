import type { ModbusAddress } from '../../drivers/driver';

/**
 * The register map of the energy meters of the read benchmark: 50 points of mixed types, in two
 * blocks with small gaps, as meter manufacturers publish them (holding block from 100, input block from 0).
 */

export interface MeterPoint {
  key: string;
  table: 'holding' | 'input';
  address: number;
  type: 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
  wordOrder: 'big' | 'little';
  scale: number;
}

const HOLDING_TYPES = [
  'float32',
  'float32',
  'float32',
  'uint16',
  'int32',
  'float32',
  'uint32',
  'int16',
  'float64',
  'uint16',
] as const;
const HOLDING_GAPS = [0, 0, 2, 0, 1, 0, 0, 4, 0, 1];
const INPUT_TYPES = ['uint16', 'float32', 'uint16', 'int16'] as const;
const INPUT_GAPS = [0, 1, 0, 2];

export const WIDTH: Record<MeterPoint['type'], number> = {
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  float64: 4,
};

export function meterLayout(): MeterPoint[] {
  const points: MeterPoint[] = [];
  const block = (
    table: MeterPoint['table'],
    start: number,
    count: number,
    types: readonly MeterPoint['type'][],
    gaps: readonly number[],
  ): void => {
    let address = start;
    for (let i = 0; i < count; i++) {
      const type = types[i % types.length];
      points.push({
        key: `${table}-${address}`,
        table,
        address,
        type,
        // Many meters store floats low word first.
        wordOrder: type === 'float32' && i % 3 === 0 ? 'little' : 'big',
        scale: type === 'int16' ? 0.1 : 1,
      });
      address += WIDTH[type] + gaps[i % gaps.length];
    }
  };
  block('holding', 100, 30, HOLDING_TYPES, HOLDING_GAPS);
  block('input', 0, 20, INPUT_TYPES, INPUT_GAPS);
  return points;
}

export function toModbusAddress(point: MeterPoint): ModbusAddress {
  return {
    protocol: 'modbus',
    table: point.table,
    address: point.address,
    type: point.type,
    wordOrder: point.wordOrder,
    byteOrder: 'big',
    scale: point.scale,
    offset: 0,
  };
}

/** What a hand-written client reads: each block of the map whole, in chunks of at most 125 registers. */
export interface BlockRead {
  table: MeterPoint['table'];
  start: number;
  count: number;
  points: MeterPoint[];
}

export function blockReads(layout: readonly MeterPoint[]): BlockRead[] {
  const reads: BlockRead[] = [];
  for (const table of ['holding', 'input'] as const) {
    const points = layout.filter((p) => p.table === table).sort((a, b) => a.address - b.address);
    let current: BlockRead | undefined;
    for (const p of points) {
      const end = p.address + WIDTH[p.type];
      if (current && end - current.start <= 125) {
        current.count = end - current.start;
        current.points.push(p);
      } else {
        current = { table, start: p.address, count: WIDTH[p.type], points: [p] };
        reads.push(current);
      }
    }
  }
  return reads;
}

const scratch = Buffer.alloc(8);

/** The decoding a hand-written client does with Buffer reads. */
export function decodeByHand(registers: Buffer, byteOffset: number, p: MeterPoint): number {
  let source = registers;
  let at = byteOffset;
  if (p.wordOrder === 'little' && WIDTH[p.type] > 1) {
    const words = WIDTH[p.type];
    for (let w = 0; w < words; w++)
      registers.copy(scratch, 2 * w, byteOffset + 2 * (words - 1 - w), byteOffset + 2 * (words - w));
    source = scratch;
    at = 0;
  }
  switch (p.type) {
    case 'int16':
      return source.readInt16BE(at) * p.scale;
    case 'uint16':
      return source.readUInt16BE(at) * p.scale;
    case 'int32':
      return source.readInt32BE(at) * p.scale;
    case 'uint32':
      return source.readUInt32BE(at) * p.scale;
    case 'float32':
      return source.readFloatBE(at) * p.scale;
    case 'float64':
      return source.readDoubleBE(at) * p.scale;
  }
}
