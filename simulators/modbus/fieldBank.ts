import { registerCount } from '../../config/registers';
import { decodeRaw, encodeRaw, type RegisterFormat } from './encoding';
import { ModbusException, ModbusExceptionError, type RegisterBank, type Table } from './server';

/**
 * One value of a simulated device: where it sits, how it is encoded, where it comes from and, when
 * writable, how a raw value is checked and applied. Values are computed when read, never stored.
 */
export interface Field {
  /** What the field is, for errors: 'commanded_level ch 3', 'point metz-ecole/electricite'. */
  name: string;
  table: Table;
  address: number;
  format: RegisterFormat;
  /** Counters roll over at the type's range instead of sticking at its maximum. */
  wrap?: boolean;
  read(): number;
  write?: {
    /** False when the device refuses the value (IllegalDataValue). */
    accepts(raw: number): boolean;
    apply(raw: number): void;
  };
}

/** What a read of an address with no field answers: an exception (strict devices) or 0 (most gateways). */
export type HolePolicy = 'exception' | 'zero';

interface Cell {
  field: Field;
  word: number;
}

/** A register bank made of fields: the adapter between a device model and ModbusSimServer. */
export class FieldBank implements RegisterBank {
  private readonly cells: Record<Table, Map<number, Cell>> = {
    holding: new Map(),
    input: new Map(),
    coil: new Map(),
    discrete: new Map(),
  };

  constructor(
    fields: readonly Field[],
    private readonly holes: HolePolicy,
  ) {
    for (const field of fields) this.add(field);
  }

  /** True when some field already uses this address, so optional fields can step aside. */
  occupied(table: Table, address: number): boolean {
    return this.cells[table].has(address);
  }

  add(field: Field): void {
    const cells = this.cells[field.table];
    const count = registerCount(field.format.type);
    for (let word = 0; word < count; word++) {
      const other = cells.get(field.address + word);
      if (other)
        throw new Error(
          `${field.table} ${field.address + word}: ${field.name} overlaps ${other.field.name} in the same device`,
        );
    }
    for (let word = 0; word < count; word++) cells.set(field.address + word, { field, word });
  }

  readRegisters(table: 'holding' | 'input', address: number, count: number): number[] {
    return this.readWords(table, address, count);
  }

  readBits(table: 'coil' | 'discrete', address: number, count: number): boolean[] {
    return this.readWords(table, address, count).map((word) => word !== 0);
  }

  writeRegisters(address: number, values: number[]): void {
    this.writeWords('holding', address, values);
  }

  writeBits(address: number, values: boolean[]): void {
    this.writeWords(
      'coil',
      address,
      values.map((v) => (v ? 1 : 0)),
    );
  }

  private readWords(table: Table, address: number, count: number): number[] {
    const cells = this.cells[table];
    const encoded = new Map<Field, number[]>();
    let found = false;
    const words = Array.from({ length: count }, (_, i) => {
      const cell = cells.get(address + i);
      if (!cell) {
        if (this.holes === 'zero') return 0;
        throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
      }
      found = true;
      let registers = encoded.get(cell.field);
      if (!registers) {
        registers = encodeRaw(cell.field.read(), cell.field.format, cell.field.wrap);
        encoded.set(cell.field, registers);
      }
      return registers[cell.word];
    });
    if (!found) throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
    return words;
  }

  /** All or nothing: every value is checked before any is applied, as a device validates a whole request. */
  private writeWords(table: 'holding' | 'coil', address: number, values: number[]): void {
    const cells = this.cells[table];
    const pending = new Map<Field, number[]>();
    values.forEach((value, i) => {
      const cell = cells.get(address + i);
      if (!cell?.field.write) throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
      const words = pending.get(cell.field) ?? [];
      words[cell.word] = value & 0xffff;
      pending.set(cell.field, words);
    });
    const writes: { field: Field; raw: number }[] = [];
    for (const [field, words] of pending) {
      // A multi-register value written in part would be torn: refuse it.
      const count = registerCount(field.format.type);
      if (words.length !== count || ![...words].every((word) => word !== undefined))
        throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
      const raw = decodeRaw(words, field.format);
      if (!field.write!.accepts(raw)) throw new ModbusExceptionError(ModbusException.IllegalDataValue);
      writes.push({ field, raw });
    }
    for (const { field, raw } of writes) field.write!.apply(raw);
  }
}

/**
 * Several devices behind one address (a Modbus gateway): each unit id answers from its own bank; an
 * unknown unit gets GatewayTargetDeviceFailedToRespond, as a gateway answers for a slave that is not there.
 */
export class UnitRouter implements RegisterBank {
  constructor(private readonly banks: ReadonlyMap<number, RegisterBank>) {}

  readRegisters(table: 'holding' | 'input', address: number, count: number, unitId: number): number[] {
    return this.bank(unitId).readRegisters(table, address, count, unitId);
  }

  readBits(table: 'coil' | 'discrete', address: number, count: number, unitId: number): boolean[] {
    return this.bank(unitId).readBits(table, address, count, unitId);
  }

  writeRegisters(address: number, values: number[], unitId: number): void {
    this.bank(unitId).writeRegisters(address, values, unitId);
  }

  writeBits(address: number, values: boolean[], unitId: number): void {
    this.bank(unitId).writeBits(address, values, unitId);
  }

  private bank(unitId: number): RegisterBank {
    const bank = this.banks.get(unitId);
    if (!bank) throw new ModbusExceptionError(ModbusException.GatewayTargetDeviceFailedToRespond);
    return bank;
  }
}
