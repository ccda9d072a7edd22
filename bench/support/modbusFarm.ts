import { MemoryBank, ModbusSimServer } from '../../simulators/modbus/server';
import { freePorts } from '../../test/helpers/ports';

/**
 * A farm of Modbus TCP devices for the benchmarks, run in its own process so that the simulators do
 * not share an event loop with the code under measurement.
 *
 *   node dist/bench/support/modbusFarm.js <devices> <registers>
 *
 * Starts <devices> simulators on 127.0.0.1, each with holding and input registers 0..<registers>-1,
 * prints one line `READY {"ports":[...]}` on stdout, and stops them all when stdin closes or on SIGTERM.
 */

export const READY_PREFIX = 'READY ';

/** Deterministic content, different per device and address, so that decoding is checked for real. */
export function farmRegister(device: number, address: number): number {
  return (address * 7 + device * 13) & 0xffff;
}

async function main(): Promise<void> {
  const devices = Number(process.argv[2]);
  const registers = Number(process.argv[3]);
  if (!Number.isInteger(devices) || devices < 1 || !Number.isInteger(registers) || registers < 1)
    throw new Error(
      `usage: modbusFarm <devices> <registers> (got '${process.argv[2]}' '${process.argv[3]}')`,
    );
  const ports = await freePorts(devices);
  const servers = ports.map((port, device) => {
    const bank = new MemoryBank();
    for (let a = 0; a < registers; a++) {
      bank.holding.set(a, farmRegister(device, a));
      bank.input.set(a, farmRegister(device, a));
    }
    return new ModbusSimServer(bank, { host: '127.0.0.1', port });
  });
  await Promise.all(servers.map((s) => s.start()));

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void Promise.allSettled(servers.map((s) => s.stop())).then(() => process.exit(0));
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  process.stdout.write(`${READY_PREFIX}${JSON.stringify({ ports })}\n`);
}

if (require.main === module)
  main().catch((error: unknown) => {
    process.stderr.write(`modbusFarm: ${(error as Error).message}\n`);
    process.exit(1);
  });
