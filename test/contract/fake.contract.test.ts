import type { ModbusAddress } from '../../drivers/driver';
import { FakeDriver } from '../../drivers/fake/fakeDriver';
import { driverContract } from './driverContract';

const holding = (address: number): ModbusAddress => ({
  protocol: 'modbus',
  table: 'holding',
  address,
  type: 'uint16',
  wordOrder: 'big',
  byteOrder: 'big',
  scale: 1,
  offset: 0,
});

driverContract('FakeDriver', () => {
  const driver = new FakeDriver('fake-1', [
    [holding(0), 21],
    [holding(1), 22],
    [holding(10), 0],
    [holding(11), 0],
  ]);
  return Promise.resolve({
    driver,
    readable: [
      { ref: { key: 'a', address: holding(0) }, value: 21 },
      { ref: { key: 'b', address: holding(1) }, value: 22 },
    ],
    writes: [
      { key: 'w1', address: holding(10), value: 70 },
      { key: 'w2', address: holding(11), value: 100 },
    ],
    readBack: [
      { key: 'w1', address: holding(10) },
      { key: 'w2', address: holding(11) },
    ],
    missing: { key: 'm', address: holding(500), label: "buildings[0].points[9] 'ecole/absent'" },
    teardown: () => Promise.resolve(),
  });
});
