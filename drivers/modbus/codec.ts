import type { ModbusAddress, Value } from '../driver';

/**
 * Conversion between engineering values and Modbus registers: data type, word order, byte order,
 * scale and offset. Pure functions, no I/O.
 *
 * On the wire every register is big-endian. `wordOrder: little` means the device stores the least
 * significant word first (CDAB); `byteOrder: little` means it swaps the two bytes inside each register (BADC).
 */

export type DataType = ModbusAddress['type'];

const WIDTH: Record<DataType, number> = {
  bool: 1,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  float64: 4,
};

const FLOAT32_MAX = 3.4028234663852886e38;

/** Raw (register) range of the integer types; floats are bounded only by their format. */
const RAW_RANGE: Record<DataType, readonly [number, number]> = {
  bool: [0, 1],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  float32: [-FLOAT32_MAX, FLOAT32_MAX],
  float64: [-Number.MAX_VALUE, Number.MAX_VALUE],
};

export function isBitTable(table: ModbusAddress['table']): boolean {
  return table === 'coil' || table === 'discrete';
}

/** Number of 16-bit registers a value of this type occupies. */
export function registersOf(type: DataType): number {
  return WIDTH[type];
}

/** Registers (or bits, in coil and discrete tables) one value occupies. */
export function widthOf(address: ModbusAddress): number {
  return isBitTable(address.table) ? 1 : registersOf(address.type);
}

/** How a register value can be read without the general decoder: 1 uint16, 2 int16 (plain order, no scaling); 0 otherwise. */
export type FastDecode = 0 | 1 | 2;

export function fastDecodeOf(address: ModbusAddress): FastDecode {
  if (isBitTable(address.table) || address.byteOrder !== 'big' || address.scale !== 1 || address.offset !== 0)
    return 0;
  return address.type === 'uint16' ? 1 : address.type === 'int16' ? 2 : 0;
}

// Reused for reordering words and bytes; decode and encode are synchronous, so sharing it is safe.
const scratch = Buffer.alloc(8);

/**
 * Decodes the value of `address` whose first register starts at `byteOffset` in `registers`
 * (bytes as received: big-endian registers), applying orders, scale and offset.
 */
export function decodeRegisters(registers: Buffer, byteOffset: number, address: ModbusAddress): Value {
  const words = WIDTH[address.type];
  let source = registers;
  let at = byteOffset;
  const swapBytes = address.byteOrder === 'little';
  if (swapBytes || (words > 1 && address.wordOrder === 'little')) {
    const reverseWords = address.wordOrder === 'little';
    for (let w = 0; w < words; w++) {
      const from = byteOffset + 2 * (reverseWords ? words - 1 - w : w);
      scratch[2 * w] = registers[swapBytes ? from + 1 : from];
      scratch[2 * w + 1] = registers[swapBytes ? from : from + 1];
    }
    source = scratch;
    at = 0;
  }
  let raw: number;
  switch (address.type) {
    case 'bool':
      return source.readUInt16BE(at) !== 0;
    case 'int16':
      raw = source.readInt16BE(at);
      break;
    case 'uint16':
      raw = source.readUInt16BE(at);
      break;
    case 'int32':
      raw = source.readInt32BE(at);
      break;
    case 'uint32':
      raw = source.readUInt32BE(at);
      break;
    case 'float32':
      raw = source.readFloatBE(at);
      break;
    case 'float64':
      raw = source.readDoubleBE(at);
      break;
  }
  return raw * address.scale + address.offset;
}

/**
 * Encodes `value` for `address` into `out` starting at `index` (one number per register, as sent).
 * Returns why the value does not fit, or undefined when it was written.
 */
export function encodeRegisters(
  value: Value,
  address: ModbusAddress,
  out: number[],
  index: number,
): string | undefined {
  const type = address.type;
  let raw: number;
  if (type === 'bool') {
    if (value === true || value === 1) raw = 1;
    else if (value === false || value === 0) raw = 0;
    else return `${describe(value)} is not a boolean (true/false or 1/0)`;
    out[index] = raw;
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value))
    return `${describe(value)} is not a finite number (${type} point)`;
  raw = (value - address.offset) / address.scale;
  // The common case (a level, a setpoint): one register, plain order, a whole number in range.
  if ((type === 'uint16' || type === 'int16') && address.byteOrder === 'big' && Number.isInteger(raw)) {
    if (type === 'uint16' ? raw >= 0 && raw <= 65535 : raw >= -32768 && raw <= 32767) {
      out[index] = raw & 0xffff;
      return undefined;
    }
  }
  const [min, max] = RAW_RANGE[type];
  const integer = type !== 'float32' && type !== 'float64';
  if (integer) {
    const rounded = Math.round(raw);
    // Engineering values like 12.3 with scale 0.1 give 122.99999999999999: accept float noise, not real fractions.
    if (Math.abs(raw - rounded) > 1e-9 * Math.max(1, Math.abs(raw)))
      return `${describe(value)} does not fit ${type}: ${allowedRange(address)}`;
    raw = rounded;
  }
  if (!(raw >= min && raw <= max)) return `${describe(value)} does not fit ${type}: ${allowedRange(address)}`;

  switch (type) {
    case 'int16':
      scratch.writeInt16BE(raw, 0);
      break;
    case 'uint16':
      scratch.writeUInt16BE(raw, 0);
      break;
    case 'int32':
      scratch.writeInt32BE(raw, 0);
      break;
    case 'uint32':
      scratch.writeUInt32BE(raw, 0);
      break;
    case 'float32':
      scratch.writeFloatBE(raw, 0);
      break;
    case 'float64':
      scratch.writeDoubleBE(raw, 0);
      break;
  }
  const words = WIDTH[type];
  const reverseWords = address.wordOrder === 'little';
  const swapBytes = address.byteOrder === 'little';
  for (let w = 0; w < words; w++) {
    const hi = scratch[2 * w];
    const lo = scratch[2 * w + 1];
    out[index + (reverseWords ? words - 1 - w : w)] = swapBytes ? (lo << 8) | hi : (hi << 8) | lo;
  }
  return undefined;
}

/** Coils and discrete inputs hold booleans; 1/0 are accepted for writes. */
export function encodeBit(value: Value): boolean | string {
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  return `${describe(value)} is not a boolean (true/false or 1/0)`;
}

/** The engineering range a point accepts, e.g. "allowed 0..6553.5 in steps of 0.1". */
export function allowedRange(address: ModbusAddress): string {
  const [min, max] = RAW_RANGE[address.type];
  const a = min * address.scale + address.offset;
  const b = max * address.scale + address.offset;
  const range = `allowed ${tidy(Math.min(a, b))}..${tidy(Math.max(a, b))}`;
  const integer = address.type !== 'float32' && address.type !== 'float64';
  const scaled = address.scale !== 1 || address.offset !== 0;
  if (!integer || !scaled) return range;
  return `${range} in steps of ${tidy(Math.abs(address.scale))} (scale ${tidy(address.scale)}, offset ${tidy(address.offset)})`;
}

function tidy(n: number): string {
  return String(Number(n.toPrecision(12)));
}

function describe(value: unknown): string {
  return typeof value === 'number' ? tidy(value) : (JSON.stringify(value) ?? String(value));
}
