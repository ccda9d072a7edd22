import { ModbusRtuOverTcpDevice, ModbusTcpDevice } from '../../config/schema/devices';
import { systemClock } from '../../core/clock';
import { silentLogger } from '../../core/logger';
import type { ModbusAddress } from '../../drivers/driver';
import { ModbusDriver } from '../../drivers/modbus/modbusDriver';
import { ModbusLinkPool } from '../../drivers/modbus/pool';
import { MemoryBank, ModbusSimServer } from '../../simulators/modbus/server';
import { freePort } from '../helpers/ports';
import { startRtuOverTcpBridge, startRtuServer } from '../helpers/serialPair';
import { driverContract, type ContractFixture } from './driverContract';

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

/** The same device, whichever wire carries it: Modbus TCP framed by us, or RTU over TCP by modbus-serial. */
async function fixture(protocol: 'modbus-tcp' | 'modbus-rtu-over-tcp'): Promise<ContractFixture> {
  const bank = new MemoryBank();
  for (let a = 0; a < 20; a++) bank.holding.set(a, 0);
  bank.input.set(0, 215);
  bank.coil.set(0, true);
  const port = await freePort();
  let stopServer: () => Promise<void>;
  if (protocol === 'modbus-tcp') {
    const server = new ModbusSimServer(bank, { host: '127.0.0.1', port });
    await server.start();
    stopServer = () => server.stop();
  } else {
    const bridge = await startRtuOverTcpBridge(port);
    const rtu = await startRtuServer(bridge.pty, bank);
    stopServer = async () => {
      await rtu.stop();
      await bridge.stop();
    };
  }
  const pool = new ModbusLinkPool(
    { clock: systemClock, logger: silentLogger },
    { reconnect: { initialMs: 20, maxMs: 100 } },
  );
  const device = { id: 'sc-contract', host: '127.0.0.1', port, timeout_ms: 300, retries: 0 };
  const config =
    protocol === 'modbus-tcp'
      ? ModbusTcpDevice.parse({ ...device, protocol })
      : ModbusRtuOverTcpDevice.parse({ ...device, protocol });
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
      await stopServer();
    },
  };
}

driverContract('ModbusDriver over Modbus TCP (mbapWire)', () => fixture('modbus-tcp'));
driverContract('ModbusDriver over RTU over TCP (modbus-serial)', () => fixture('modbus-rtu-over-tcp'));
