import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseConfig } from '../../config/load';
import type { Config } from '../../config/schema';
import { systemClock, type Clock } from '../../core/clock';
import { channelAddress, CHANNEL_BLOCKS, SINGLE_REGISTERS } from '../../config/registers';
import type { RegisterMapConfig } from '../../config/schema';
import { FieldBank } from '../../simulators/modbus/fieldBank';
import { segmentFields, unmappedFields } from '../../simulators/modbus/segmentFields';
import {
  ModbusException,
  ModbusExceptionError,
  ModbusSimServer,
  type RegisterBank,
} from '../../simulators/modbus/server';
import { SegmentController, segmentSpecFromConfig } from '../../simulators/segmentController';

/**
 * The Modbus segment controllers of a configuration (the simulators' model and register map), each on
 * its own server, recording when every write arrives. Runs in-process (tests) or as its own process
 * (benchmarks), so that the simulators do not share an event loop with the code under measurement:
 *
 *   node dist/bench/support/segmentFarm.js <config.yaml> [--lean]
 *
 * `--lean` plays each controller with LeanSegmentBank instead of the simulators' model: the same
 * addresses, the level in effect equal to the commanded one, nothing computed on a read — so that a
 * benchmark measures the service and not the simulator (the model evaluates every channel it reads).
 *
 * prints `READY {"devices":[...]}`, then answers lines on stdin: `WRITES` → `WRITES [...]` (the writes
 * recorded since the last call), `REBOOT <device|*>` → `REBOOTED`. Stops when stdin closes or on SIGTERM.
 * Arrival times are `performance.timeOrigin + performance.now()` when the request's bytes reach the
 * device's socket (before modbus-serial's server defers it), comparable across processes.
 */

export const READY_PREFIX = 'READY ';

/** A write as the device received it. */
export interface WriteRecord {
  device: string;
  /** Epoch ms with sub-millisecond precision, when the request reached the device. */
  at: number;
  address: number;
  values: number[];
  /** The writer's TCP port: two instances (or two connections) write from different ones. */
  from?: number;
}

export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

class RecordingBank implements RegisterBank {
  constructor(
    private readonly inner: RegisterBank,
    private readonly device: string,
    private readonly sink: (record: WriteRecord) => void,
    /** When the request's bytes reached the device's socket, and from which client port. */
    private readonly arrival: () => { at: number | undefined; from: number | undefined },
  ) {}

  readRegisters(table: 'holding' | 'input', address: number, count: number, unitId: number): number[] {
    return this.inner.readRegisters(table, address, count, unitId);
  }

  readBits(table: 'coil' | 'discrete', address: number, count: number, unitId: number): boolean[] {
    return this.inner.readBits(table, address, count, unitId);
  }

  writeRegisters(address: number, values: number[], unitId: number): void {
    const { at, from } = this.arrival();
    this.inner.writeRegisters(address, values, unitId);
    this.sink({ device: this.device, at: at ?? preciseNow(), address, values: values.slice(), from });
  }

  writeBits(address: number, values: boolean[], unitId: number): void {
    this.inner.writeBits(address, values, unitId);
  }
}

/**
 * The register map of a segment controller, as cheap as a device can be: commanded levels, fades,
 * watchdog and fail-safe stored as written; the level in effect and the output read back the commanded
 * level; power, energy and lamp status read 0; the boot counter 1. No watchdog expiry, no ramps: for
 * benchmarks, where the simulator must not be the bottleneck. 16-bit registers only.
 */
export class LeanSegmentBank implements RegisterBank {
  private readonly holding = new Map<number, number>();
  /** Input address → holding address it mirrors (in effect, output), or a fixed value. */
  private readonly input = new Map<number, { mirror: number } | { value: number }>();

  constructor(map: RegisterMapConfig, channels: number, failSafeRaw: number) {
    for (const name of CHANNEL_BLOCKS) {
      const block = map[name];
      if (!block) continue;
      if (block.type !== 'uint16' && block.type !== 'int16' && name !== 'energy_wh')
        throw new Error(`LeanSegmentBank: ${name} is ${block.type}; 16-bit registers only`);
      for (let c = 1; c <= channels; c++) {
        const address = channelAddress(block, c);
        const commanded = channelAddress(map.commanded_level, c);
        if (block.table === 'holding')
          this.holding.set(address, name === 'commanded_level' ? failSafeRaw : 0);
        else if (name === 'in_effect_level' || name === 'output_level')
          this.input.set(address, { mirror: commanded });
        else {
          this.input.set(address, { value: 0 });
          if (name === 'energy_wh') this.input.set(address + 1, { value: 0 });
        }
      }
    }
    for (const name of SINGLE_REGISTERS) {
      const reg = map[name];
      if (!reg) continue;
      if (reg.table === 'holding')
        this.holding.set(reg.address, name === 'fail_safe_level' ? failSafeRaw : 0);
      else this.input.set(reg.address, { value: 1 });
    }
  }

  readRegisters(table: 'holding' | 'input', address: number, count: number): number[] {
    const out = new Array<number>(count);
    for (let k = 0; k < count; k++) {
      const at = address + k;
      if (table === 'holding') {
        const value = this.holding.get(at);
        if (value === undefined) throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
        out[k] = value;
      } else {
        const cell = this.input.get(at);
        if (cell === undefined) throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
        out[k] = 'mirror' in cell ? this.holding.get(cell.mirror)! : cell.value;
      }
    }
    return out;
  }

  readBits(): boolean[] {
    throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
  }

  writeRegisters(address: number, values: number[]): void {
    for (let k = 0; k < values.length; k++)
      if (!this.holding.has(address + k)) throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
    for (let k = 0; k < values.length; k++) this.holding.set(address + k, values[k]);
  }

  writeBits(): void {
    throw new ModbusExceptionError(ModbusException.IllegalDataAddress);
  }
}

export class SegmentFarm {
  private readonly servers = new Map<string, ModbusSimServer>();
  private readonly controllers = new Map<string, SegmentController>();
  private writes: WriteRecord[] = [];

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly lean = false,
  ) {}

  /** One server per Modbus segment controller of the configuration (each on its own host:port). */
  async start(config: Config): Promise<string[]> {
    const maps = new Map(config.register_maps.map((m) => [m.id, m]));
    for (const device of config.devices) {
      if (device.protocol !== 'modbus-tcp' || !device.lighting) continue;
      const map = maps.get(device.lighting.map);
      if (!map) throw new Error(`device '${device.id}': unknown register map '${device.lighting.map}'`);
      const controller = new SegmentController(segmentSpecFromConfig(config, device), this.clock);
      let bank: RegisterBank;
      if (this.lean) {
        const failSafeRaw = Math.round((device.lighting.fail_safe_level * map.level_max_raw) / 100);
        bank = new LeanSegmentBank(map, device.lighting.channels, failSafeRaw);
      } else {
        const fields = new FieldBank(segmentFields(controller, map, device.lighting.groups), 'exception');
        for (const field of unmappedFields(map, controller.channelCount))
          if (!fields.occupied(field.table, field.address)) fields.add(field);
        bank = fields;
      }
      const server: ModbusSimServer = new ModbusSimServer(
        new RecordingBank(
          bank,
          device.id,
          (record) => this.writes.push(record),
          () => ({ at: server.requestArrivedAt, from: server.requestFrom }),
        ),
        { host: device.host, port: device.port, unitIds: [device.unit_id], stampArrivals: true },
      );
      this.controllers.set(device.id, controller);
      this.servers.set(device.id, server);
      await server.start();
    }
    return [...this.servers.keys()];
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.servers.values()].map((s) => s.stop()));
    this.servers.clear();
  }

  controller(deviceId: string): SegmentController {
    const controller = this.controllers.get(deviceId);
    if (!controller) throw new Error(`no simulated segment controller '${deviceId}'`);
    return controller;
  }

  /** The writes received since the last call. */
  takeWrites(): WriteRecord[] {
    const writes = this.writes;
    this.writes = [];
    return writes;
  }

  /** A power cut: levels forgotten (fail-safe level in effect), boot counter +1, connections cut. */
  /** `deviceId`, or '*' for all. */
  reboot(deviceId: string): void {
    for (const [id, controller] of this.controllers) {
      if (deviceId !== '*' && id !== deviceId) continue;
      controller.reboot();
      this.servers.get(id)?.dropConnections();
    }
  }
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: segmentFarm <config.yaml> [--lean]');
  const config = parseConfig(readFileSync(file, 'utf8'), file);
  const farm = new SegmentFarm(systemClock, process.argv.includes('--lean'));
  const devices = await farm.start(config);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void farm.stop().then(() => process.exit(0));
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [command, argument] = line.trim().split(/\s+/);
    if (command === 'WRITES') process.stdout.write(`WRITES ${JSON.stringify(farm.takeWrites())}\n`);
    else if (command === 'REBOOT') {
      farm.reboot(argument ?? '*');
      process.stdout.write('REBOOTED\n');
    } else process.stderr.write(`segmentFarm: unknown command '${line}'\n`);
  });
  lines.on('close', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`${READY_PREFIX}${JSON.stringify({ devices })}\n`);
}

if (require.main === module)
  main().catch((error: unknown) => {
    process.stderr.write(`segmentFarm: ${(error as Error).message}\n`);
    process.exit(1);
  });
