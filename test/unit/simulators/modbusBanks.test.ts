import { ManualClock } from '../../../core/clock';
import { RegisterMap } from '../../../config/schema/devices';
import { Building } from '../../../config/schema/energy';
import { REGISTER_MAP_V1 } from '../../../config/demoTerritory';
import { BuildingModel } from '../../../simulators/buildings';
import { decodeRaw, encodeRaw, type RegisterFormat } from '../../../simulators/modbus/encoding';
import { FieldBank, UnitRouter } from '../../../simulators/modbus/fieldBank';
import { pointFields } from '../../../simulators/modbus/pointFields';
import { segmentFields, unmappedFields } from '../../../simulators/modbus/segmentFields';
import { ModbusException } from '../../../simulators/modbus/server';
import { SegmentController } from '../../../simulators/segmentController';

const START = Date.UTC(2026, 0, 19, 20, 0, 0);

/** The Modbus exception code a bank call answers with, or undefined when it succeeds. */
function exceptionOf(call: () => unknown): number | undefined {
  try {
    call();
    return undefined;
  } catch (error) {
    return (error as { modbusErrorCode?: number }).modbusErrorCode;
  }
}

function segmentBank(map = RegisterMap.parse(REGISTER_MAP_V1)): {
  clock: ManualClock;
  sc: SegmentController;
  bank: FieldBank;
} {
  const clock = new ManualClock(START);
  const sc = new SegmentController(
    {
      deviceId: 'sc',
      channels: [{ ratedPowerW: 60 }, { ratedPowerW: 45 }, { ratedPowerW: 0 }],
      failSafeLevel: 100,
      watchdogS: 0,
    },
    clock,
  );
  const bank = new FieldBank(segmentFields(sc, map), 'exception');
  for (const field of unmappedFields(map, sc.channelCount))
    if (!bank.occupied(field.table, field.address)) bank.add(field);
  return { clock, sc, bank };
}

describe('register encoding', () => {
  const formats: RegisterFormat[] = [];
  for (const type of ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'] as const)
    for (const wordOrder of ['big', 'little'] as const)
      for (const byteOrder of ['big', 'little'] as const) formats.push({ type, wordOrder, byteOrder });

  it.each(formats)('round-trips %o', (format) => {
    const value = format.type.startsWith('float') ? -1234.5 : format.type.startsWith('u') ? 4321 : -4321;
    expect(decodeRaw(encodeRaw(value, format), format)).toBe(value);
  });

  it('lays out words and bytes as configured', () => {
    expect(encodeRaw(0x12345678, { type: 'uint32', wordOrder: 'big', byteOrder: 'big' })).toEqual([
      0x1234, 0x5678,
    ]);
    expect(encodeRaw(0x12345678, { type: 'uint32', wordOrder: 'little', byteOrder: 'big' })).toEqual([
      0x5678, 0x1234,
    ]);
    expect(encodeRaw(0x12345678, { type: 'uint32', wordOrder: 'big', byteOrder: 'little' })).toEqual([
      0x3412, 0x7856,
    ]);
    expect(encodeRaw(1.5, { type: 'float32', wordOrder: 'big', byteOrder: 'big' })).toEqual([0x3fc0, 0x0000]);
  });

  it('clamps sensors to the type and wraps counters', () => {
    const uint16 = { type: 'uint16', wordOrder: 'big', byteOrder: 'big' } as const;
    expect(encodeRaw(70_000, uint16)).toEqual([0xffff]);
    expect(encodeRaw(-5, uint16)).toEqual([0]);
    expect(encodeRaw(65_536 + 7, uint16, true)).toEqual([7]);
    expect(encodeRaw(-40_000, { type: 'int16', wordOrder: 'big', byteOrder: 'big' })).toEqual([0x8000]);
  });
});

describe('segment controller register bank (register map v1)', () => {
  it('answers identification, levels, power, energy, status and settings at the documented addresses', () => {
    const { clock, sc, bank } = segmentBank();
    expect(bank.readRegisters('input', 0, 3)).toEqual([1, 3, 1]);
    expect(bank.readRegisters('holding', 1000, 3)).toEqual([100, 100, 100]);
    expect(bank.readRegisters('holding', 10, 2)).toEqual([0, 100]);
    sc.writeCommandedLevel(2, 40);
    clock.advance(3_600_000);
    expect(bank.readRegisters('input', 1000, 3)).toEqual([100, 40, 100]);
    expect(bank.readRegisters('input', 1500, 3)).toEqual([100, 40, 100]);
    // 0.1 W per unit: 60 W and 40 % of 45 W.
    expect(bank.readRegisters('input', 2000, 3)).toEqual([600, 180, 0]);
    // uint32 Wh, two registers per channel: 60 Wh and 18 Wh in one hour.
    expect(bank.readRegisters('input', 3000, 6)).toEqual([0, 60, 0, 18, 0, 0]);
    expect(bank.readRegisters('input', 4000, 3)).toEqual([0, 0, 0]);
  });

  it('applies written levels, fades, watchdog and fail-safe level', () => {
    const { clock, sc, bank } = segmentBank();
    bank.writeRegisters(2000, [50, 0, 0]); // 5.0 s fade on channel 1
    bank.writeRegisters(1000, [0, 30, 70]);
    // The fade was used up by this level write (one-shot), the ramp it started goes on.
    expect(sc.channel(1)).toMatchObject({ commanded: 0, fadeS: 0, output: 100 });
    clock.advance(2_500);
    expect(bank.readRegisters('input', 1500, 1)).toEqual([50]);
    bank.writeRegisters(10, [60, 20]);
    expect(sc.device()).toMatchObject({ watchdogS: 60, failSafeLevel: 20 });
    clock.advance(60_000);
    expect(bank.readRegisters('input', 1000, 3)).toEqual([20, 20, 20]);
  });

  it('refuses a level above level_max_raw with IllegalDataValue, applying nothing of the request', () => {
    const { sc, bank } = segmentBank();
    expect(exceptionOf(() => bank.writeRegisters(1000, [10, 101, 10]))).toBe(
      ModbusException.IllegalDataValue,
    );
    expect(sc.allChannels().map((c) => c.commanded)).toEqual([100, 100, 100]);
  });

  it('refuses writes outside writable blocks and reads of unmapped addresses with IllegalDataAddress', () => {
    const { bank } = segmentBank();
    expect(exceptionOf(() => bank.writeRegisters(1003, [10]))).toBe(ModbusException.IllegalDataAddress);
    expect(exceptionOf(() => bank.writeRegisters(999, [10, 10]))).toBe(ModbusException.IllegalDataAddress);
    expect(exceptionOf(() => bank.readRegisters('holding', 1002, 2))).toBe(
      ModbusException.IllegalDataAddress,
    );
    expect(exceptionOf(() => bank.readRegisters('input', 3, 1))).toBe(ModbusException.IllegalDataAddress);
    expect(exceptionOf(() => bank.readBits('coil', 0, 1))).toBe(ModbusException.IllegalDataAddress);
  });

  it('scales levels by level_max_raw and honours each block type, word order and stride', () => {
    const map = RegisterMap.parse({
      id: 'custom',
      level_max_raw: 1000,
      commanded_level: { start: 100, stride: 4, type: 'uint32', word_order: 'little' },
      in_effect_level: { table: 'input', start: 100, type: 'float32' },
      energy_wh: { table: 'input', start: 200, type: 'uint16', scale: 1000 },
    });
    const { sc, bank } = segmentBank(map);
    bank.writeRegisters(104, [250, 0]); // channel 2: 250/1000 = 25 %
    expect(sc.channel(2).commanded).toBe(25);
    expect(bank.readRegisters('holding', 104, 2)).toEqual([250, 0]);
    const inEffect = bank.readRegisters('input', 102, 2);
    expect(decodeRaw(inEffect, { type: 'float32', wordOrder: 'big', byteOrder: 'big' })).toBe(250);
    // A multi-register value written in part would be torn.
    expect(exceptionOf(() => bank.writeRegisters(104, [250]))).toBe(ModbusException.IllegalDataAddress);
    expect(exceptionOf(() => bank.writeRegisters(104, [1001, 0]))).toBe(ModbusException.IllegalDataValue);
    // The map puts nothing at input 0-1, so the identification registers are there too.
    expect(bank.readRegisters('input', 0, 2)).toEqual([1, 3]);
  });
});

describe('building points register bank', () => {
  const building = Building.parse({
    id: 'ecole',
    commune: 'metz',
    kind: 'school',
    opening_hours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' }],
    points: [
      {
        id: 'electricite',
        measurement: 'meter',
        quantity: 'electricity',
        unit: 'kWh',
        device: 'gw',
        modbus: { address: 0, type: 'uint32', scale: 0.1 },
      },
      {
        id: 'puissance',
        measurement: 'sensor',
        quantity: 'power',
        unit: 'kW',
        device: 'gw',
        modbus: { address: 2, type: 'float32', word_order: 'little', byte_order: 'little' },
      },
      {
        id: 'debit',
        measurement: 'sensor',
        quantity: 'water_flow',
        unit: 'm³/h',
        device: 'gw',
        modbus: { table: 'input', address: 0, type: 'int16', scale: 0.01 },
      },
      {
        id: 'porte',
        measurement: 'sensor',
        quantity: 'door_open',
        device: 'gw',
        modbus: { table: 'discrete', address: 3, type: 'bool' },
      },
      {
        id: 'tension',
        measurement: 'sensor',
        quantity: 'voltage',
        unit: 'V',
        device: 'gw',
        modbus: { table: 'input', address: 8, type: 'uint16', scale: 0.1, offset: 200 },
      },
    ],
  });
  const clock = new ManualClock(START);
  const model = new BuildingModel(
    {
      site: { name: 't', timezone: 'Europe/Paris', location: { lat: 49.1, lon: 6.2 } },
      buildings: [building],
    },
    clock,
    3,
  );
  const bank = new FieldBank(
    pointFields(
      model,
      building.points.map((point) => ({ buildingId: building.id, point })),
    ),
    'zero',
  );

  it('serves every point at its address, type, word and byte order and scale', () => {
    const index = model.value('ecole', 'electricite') as number;
    expect(
      decodeRaw(bank.readRegisters('holding', 0, 2), { type: 'uint32', wordOrder: 'big', byteOrder: 'big' }),
    ).toBe(Math.floor(index / 0.1 + 1e-6));
    const power = decodeRaw(bank.readRegisters('holding', 2, 2), {
      type: 'float32',
      wordOrder: 'little',
      byteOrder: 'little',
    });
    expect(power).toBeCloseTo(model.value('ecole', 'puissance') as number, 4);
    const volts = bank.readRegisters('input', 8, 1)[0] * 0.1 + 200;
    expect(volts).toBeCloseTo(model.value('ecole', 'tension') as number, 0);
    expect(bank.readBits('discrete', 3, 1)).toEqual([false]);
    model.setFault('ecole', 'door', true);
    expect(bank.readBits('discrete', 3, 1)).toEqual([true]);
  });

  it('reads holes between points as 0, like a gateway, but refuses a read with no point at all', () => {
    const words = bank.readRegisters('input', 0, 9);
    expect(words.slice(1, 8)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(words[8]).toBeGreaterThan(250);
    expect(exceptionOf(() => bank.readRegisters('input', 1, 7))).toBe(ModbusException.IllegalDataAddress);
  });

  it('is read-only', () => {
    expect(exceptionOf(() => bank.writeRegisters(0, [1, 2]))).toBe(ModbusException.IllegalDataAddress);
  });

  it('answers each unit from its own bank behind a gateway, and GatewayTargetDeviceFailedToRespond for others', () => {
    const router = new UnitRouter(new Map([[3, bank]]));
    expect(router.readBits('discrete', 3, 1, 3)).toHaveLength(1);
    expect(exceptionOf(() => router.readRegisters('holding', 0, 2, 4))).toBe(
      ModbusException.GatewayTargetDeviceFailedToRespond,
    );
  });
});
