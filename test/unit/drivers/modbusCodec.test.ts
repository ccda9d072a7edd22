import type { ModbusAddress } from '../../../drivers/driver';
import {
  allowedRange,
  decodeRegisters,
  encodeBit,
  encodeRegisters,
  widthOf,
} from '../../../drivers/modbus/codec';

function addr(type: ModbusAddress['type'], extra: Partial<ModbusAddress> = {}): ModbusAddress {
  return {
    protocol: 'modbus',
    table: 'holding',
    address: 0,
    type,
    wordOrder: 'big',
    byteOrder: 'big',
    scale: 1,
    offset: 0,
    ...extra,
  };
}

function bufferOf(registers: number[]): Buffer {
  const buffer = Buffer.alloc(registers.length * 2);
  registers.forEach((r, i) => buffer.writeUInt16BE(r, i * 2));
  return buffer;
}

function encode(value: number | boolean, address: ModbusAddress): number[] | string {
  const out: number[] = [];
  const problem = encodeRegisters(value, address, out, 0);
  return problem ?? out;
}

const ORDERS = [
  ['big', 'big'],
  ['little', 'big'],
  ['big', 'little'],
  ['little', 'little'],
] as const;

describe('decodeRegisters', () => {
  it.each([
    ['big', 'big', [0x3fc0, 0x0000]],
    ['little', 'big', [0x0000, 0x3fc0]],
    ['big', 'little', [0xc03f, 0x0000]],
    ['little', 'little', [0x0000, 0xc03f]],
  ] as const)('reads float32 1.5 stored word %s / byte %s', (wordOrder, byteOrder, registers) => {
    expect(decodeRegisters(bufferOf([...registers]), 0, addr('float32', { wordOrder, byteOrder }))).toBe(1.5);
  });

  it('reads signed, unsigned, 32 and 64-bit patterns at an offset in the reply', () => {
    const reply = bufferOf([0xaaaa, 0xfffe, 0xffff, 0xfffe, 0x4009, 0x21fb, 0x5444, 0x2d18]);
    expect(decodeRegisters(reply, 2, addr('int16'))).toBe(-2);
    expect(decodeRegisters(reply, 2, addr('uint16'))).toBe(65534);
    expect(decodeRegisters(reply, 4, addr('int32'))).toBe(-2);
    expect(decodeRegisters(reply, 4, addr('uint32'))).toBe(0xfffffffe);
    expect(decodeRegisters(reply, 8, addr('float64'))).toBeCloseTo(Math.PI, 12);
    expect(decodeRegisters(bufferOf([0x0001, 0x0000]), 0, addr('uint32', { wordOrder: 'little' }))).toBe(1);
  });

  it('reads float64 with its four words reversed for little word order', () => {
    const reply = bufferOf([0x2d18, 0x5444, 0x21fb, 0x4009]);
    expect(decodeRegisters(reply, 0, addr('float64', { wordOrder: 'little' }))).toBeCloseTo(Math.PI, 12);
  });

  it('applies scale and offset, and reads bool registers as non-zero', () => {
    expect(decodeRegisters(bufferOf([215]), 0, addr('int16', { scale: 0.1, offset: -1 }))).toBeCloseTo(
      20.5,
      10,
    );
    expect(decodeRegisters(bufferOf([2]), 0, addr('bool'))).toBe(true);
    expect(decodeRegisters(bufferOf([0]), 0, addr('bool'))).toBe(false);
  });
});

describe('encodeRegisters', () => {
  it('writes float32 1.5 in each word and byte order', () => {
    expect(encode(1.5, addr('float32'))).toEqual([0x3fc0, 0x0000]);
    expect(encode(1.5, addr('float32', { wordOrder: 'little' }))).toEqual([0x0000, 0x3fc0]);
    expect(encode(1.5, addr('float32', { byteOrder: 'little' }))).toEqual([0xc03f, 0x0000]);
    expect(encode(1.5, addr('float32', { wordOrder: 'little', byteOrder: 'little' }))).toEqual([
      0x0000, 0xc03f,
    ]);
  });

  const samples: [ModbusAddress['type'], number][] = [
    ['int16', -12345],
    ['uint16', 54321],
    ['int32', -123456789],
    ['uint32', 3_000_000_000],
    ['float32', -0.15625],
    ['float64', 1234.5678901234],
  ];
  for (const [wordOrder, byteOrder] of ORDERS)
    it.each(samples)(`round-trips %s %d (word ${wordOrder}, byte ${byteOrder})`, (type, value) => {
      const a = addr(type, { wordOrder, byteOrder });
      const out = encode(value, a);
      expect(Array.isArray(out)).toBe(true);
      expect((out as number[]).length).toBe(widthOf(a));
      expect(decodeRegisters(bufferOf(out as number[]), 0, a)).toBe(value);
    });

  it('applies the inverse of scale and offset, accepting float noise but not fractions', () => {
    expect(encode(12.3, addr('uint16', { scale: 0.1 }))).toEqual([123]);
    expect(encode(20.5, addr('int16', { scale: 0.1, offset: -1 }))).toEqual([215]);
    expect(encode(1.5, addr('int16', { scale: 0.5 }))).toEqual([3]);
  });

  it('refuses values that do not fit, naming the value and the allowed range', () => {
    expect(encode(70000, addr('uint16'))).toBe('70000 does not fit uint16: allowed 0..65535');
    expect(encode(-1, addr('uint16'))).toBe('-1 does not fit uint16: allowed 0..65535');
    expect(encode(1.5, addr('int16'))).toBe('1.5 does not fit int16: allowed -32768..32767');
    expect(encode(0.05, addr('int16', { scale: 0.1 }))).toBe(
      '0.05 does not fit int16: allowed -3276.8..3276.7 in steps of 0.1 (scale 0.1, offset 0)',
    );
    expect(encode(5e38, addr('float32'))).toMatch(/does not fit float32/);
    expect(encode(Number.NaN, addr('float64'))).toBe('NaN is not a finite number (float64 point)');
    expect(encode(true, addr('uint16'))).toBe('true is not a finite number (uint16 point)');
    expect(encode(2, addr('bool'))).toBe('2 is not a boolean (true/false or 1/0)');
  });

  it('encodes bools and bits from booleans or 1/0 only', () => {
    expect(encode(true, addr('bool'))).toEqual([1]);
    expect(encode(0, addr('bool'))).toEqual([0]);
    expect(encodeBit(1)).toBe(true);
    expect(encodeBit(false)).toBe(false);
    expect(encodeBit(0.5)).toBe('0.5 is not a boolean (true/false or 1/0)');
  });

  it('describes ranges with negative scales in ascending order', () => {
    expect(allowedRange(addr('uint16', { scale: -1 }))).toBe(
      'allowed -65535..0 in steps of 1 (scale -1, offset 0)',
    );
    expect(allowedRange(addr('float32'))).toMatch(/^allowed -3\.40282346639e\+38\.\.3\.40282346639e\+38$/);
  });

  it('counts one bit per coil whatever the declared type', () => {
    expect(widthOf(addr('float64', { table: 'coil' }))).toBe(1);
    expect(widthOf(addr('float64'))).toBe(4);
  });
});
