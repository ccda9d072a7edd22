import { ModbusTcpDevice } from '../../config/schema/devices';
import { systemClock } from '../../core/clock';
import { silentLogger } from '../../core/logger';
import type { ModbusAddress } from '../../drivers/driver';
import { ModbusDriver } from '../../drivers/modbus/modbusDriver';
import { ModbusLinkPool } from '../../drivers/modbus/pool';
import { MemoryBank, ModbusSimServer } from '../../simulators/modbus/server';
import { freePort } from '../helpers/ports';
import { driverContract } from './driverContract';

const at = (
  address: number,
  type: ModbusAddress['type'],
  table: ModbusAddress['table'] = 'holding',
): ModbusAddress => ({
  protocol: 'modbus',
  table,
  address,
  type,
  wordOrder: 'big',
  byteOrder: 'big',
  scale: 1,
  offset: 0,
});

driverContract('ModbusDriver', async () => {
  const bank = new MemoryBank();
  for (let a = 0; a < 20; a++) bank.holding.set(a, 0);
  bank.input.set(0, 215);
  bank.coil.set(0, true);
  const port = await freePort();
  const server = new ModbusSimServer(bank, { host: '127.0.0.1', port });
  await server.start();
  const pool = new ModbusLinkPool(
    { clock: systemClock, logger: silentLogger },
    { reconnect: { initialMs: 20, maxMs: 100 } },
  );
  const config = ModbusTcpDevice.parse({
    id: 'sc-contract',
    protocol: 'modbus-tcp',
    host: '127.0.0.1',
    port,
    timeout_ms: 300,
    retries: 0,
  });
  const driver = new ModbusDriver(config, { pool, clock: systemClock, logger: silentLogger });
  bank.holding.set(4, 0x3fc0); // float32 1.5, big-endian words
  bank.holding.set(5, 0x0000);
  return {
    driver,
    readable: [
      { ref: { key: 'temperature', address: at(0, 'int16', 'input') }, value: 215 },
      { ref: { key: 'door', address: at(0, 'bool', 'coil') }, value: true },
      { ref: { key: 'ratio', address: at(4, 'float32') }, value: 1.5 },
    ],
    writes: [
      { key: 'level-1', address: at(10, 'uint16'), value: 70 },
      { key: 'level-2', address: at(11, 'uint16'), value: 100 },
      { key: 'energy', address: at(12, 'uint32'), value: 123456 },
    ],
    readBack: [
      { key: 'level-1', address: at(10, 'uint16') },
      { key: 'level-2', address: at(11, 'uint16') },
      { key: 'energy', address: at(12, 'uint32') },
    ],
    missing: { key: 'absent', address: at(5000, 'uint16'), label: "buildings[0].points[9] 'ecole/absent'" },
    teardown: async () => {
      await pool.close();
      await server.stop();
    },
  };
});
