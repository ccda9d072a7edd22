import { registerCount, type DataTypeName } from '../../config/registers';

/** How a raw value sits in consecutive 16-bit registers. */
export interface RegisterFormat {
  type: DataTypeName;
  wordOrder: 'big' | 'little';
  byteOrder: 'big' | 'little';
}

const INTEGER_RANGE: Partial<Record<DataTypeName, [number, number]>> = {
  bool: [0, 1],
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};

/** Smallest and largest raw value of an integer type; undefined for floats. */
export function integerRange(type: DataTypeName): [number, number] | undefined {
  return INTEGER_RANGE[type];
}

/**
 * Raw value to registers. Integers are rounded and clamped to the type, except counters (`wrap`),
 * which roll over modulo the type's range like a real counter register.
 */
export function encodeRaw(raw: number, format: RegisterFormat, wrap = false): number[] {
  const count = registerCount(format.type);
  const bytes = Buffer.alloc(count * 2);
  const range = integerRange(format.type);
  let value = raw;
  if (range) {
    value = Number.isFinite(raw) ? Math.round(raw) : 0;
    if (wrap && format.type.startsWith('uint')) {
      const modulus = range[1] + 1;
      value = ((value % modulus) + modulus) % modulus;
    } else value = Math.min(range[1], Math.max(range[0], value));
  }
  switch (format.type) {
    case 'bool':
      bytes.writeUInt16BE(value === 0 ? 0 : 1);
      break;
    case 'uint16':
      bytes.writeUInt16BE(value);
      break;
    case 'int16':
      bytes.writeInt16BE(value);
      break;
    case 'uint32':
      bytes.writeUInt32BE(value);
      break;
    case 'int32':
      bytes.writeInt32BE(value);
      break;
    case 'float32':
      bytes.writeFloatBE(value);
      break;
    case 'float64':
      bytes.writeDoubleBE(value);
      break;
  }
  const words: number[] = [];
  for (let i = 0; i < count; i++) {
    const word = bytes.readUInt16BE(i * 2);
    words.push(format.byteOrder === 'little' ? swapBytes(word) : word);
  }
  return format.wordOrder === 'little' ? words.reverse() : words;
}

/** Registers to raw value: the inverse of encodeRaw. */
export function decodeRaw(registers: readonly number[], format: RegisterFormat): number {
  const count = registerCount(format.type);
  if (registers.length !== count)
    throw new Error(`a ${format.type} takes ${count} registers (got ${registers.length})`);
  const ordered = format.wordOrder === 'little' ? [...registers].reverse() : registers;
  const bytes = Buffer.alloc(count * 2);
  ordered.forEach((word, i) =>
    bytes.writeUInt16BE((format.byteOrder === 'little' ? swapBytes(word) : word) & 0xffff, i * 2),
  );
  switch (format.type) {
    case 'bool':
      return bytes.readUInt16BE() === 0 ? 0 : 1;
    case 'uint16':
      return bytes.readUInt16BE();
    case 'int16':
      return bytes.readInt16BE();
    case 'uint32':
      return bytes.readUInt32BE();
    case 'int32':
      return bytes.readInt32BE();
    case 'float32':
      return bytes.readFloatBE();
    case 'float64':
      return bytes.readDoubleBE();
  }
}

function swapBytes(word: number): number {
  return ((word & 0xff) << 8) | ((word >> 8) & 0xff);
}
