import { ConfigSchema, type Config, type ConfigInput } from '../../../../config/schema';
import { buildTerritory, REGISTER_MAP_V1 } from '../../../../config/demoTerritory';
import type { Logger } from '../../../../core/logger';
import type {
  ModbusAddress,
  PointRef,
  PointWrite,
  Sample,
  Value,
  WriteResult,
} from '../../../../drivers/driver';
import { FakeDriver, addressKey } from '../../../../drivers/fake/fakeDriver';

/**
 * A segment controller for unit tests of dispatch decisions: FakeDriver's memory with the register map
 * v1 layout, where writing a commanded level sets the level in effect (as a device does), unless the
 * test freezes a channel (a device that ignores it) or holds the writes (to see what queues meanwhile).
 */
export class FakeSegmentController extends FakeDriver {
  /** Every write() call, as given. */
  readonly writeCalls: PointWrite[][] = [];
  /** Channels whose level in effect does not follow the commanded level. */
  readonly frozen = new Set<number>();
  private held: (() => void)[] | undefined;
  /** Requests are handled one after the other, in the order they came, as a device on one link does. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    deviceId: string,
    readonly channels: number,
    failSafe = 100,
  ) {
    super(deviceId);
    const set = (table: ModbusAddress['table'], address: number, value: Value): void => {
      this.values.set(addressKey(holding(address, table)), value);
    };
    for (let c = 1; c <= channels; c++) {
      set('holding', REGISTER_MAP_V1.commanded_level.start + c - 1, failSafe);
      set('input', REGISTER_MAP_V1.in_effect_level.start + c - 1, failSafe);
      set('holding', REGISTER_MAP_V1.fade_s.start + c - 1, 0);
      set('input', REGISTER_MAP_V1.output_level.start + c - 1, failSafe);
      set('input', REGISTER_MAP_V1.power_w.start + c - 1, 0);
      set('input', REGISTER_MAP_V1.energy_wh.start + 2 * (c - 1), 0);
      set('input', REGISTER_MAP_V1.lamp_status.start + c - 1, 0);
    }
    set('holding', REGISTER_MAP_V1.watchdog_s.address, 0);
    set('holding', REGISTER_MAP_V1.fail_safe_level.address, failSafe);
    set('input', REGISTER_MAP_V1.boot_count.address, 1);
  }

  /** Level in effect of a channel (raw = %, map v1). */
  inEffect(channel: number): number {
    return this.values.get(`input:${REGISTER_MAP_V1.in_effect_level.start + channel - 1}`) as number;
  }

  commanded(channel: number): number {
    return this.values.get(`holding:${REGISTER_MAP_V1.commanded_level.start + channel - 1}`) as number;
  }

  setInEffect(channel: number, level: number): void {
    this.values.set(`input:${REGISTER_MAP_V1.in_effect_level.start + channel - 1}`, level);
  }

  /** A power cut: levels back to the fail-safe, boot counter +1 (the connection stays, as behind a gateway). */
  reboot(failSafe = 100): void {
    for (let c = 1; c <= this.channels; c++) {
      this.values.set(`holding:${REGISTER_MAP_V1.commanded_level.start + c - 1}`, failSafe);
      this.setInEffect(c, failSafe);
      this.values.set(`holding:${REGISTER_MAP_V1.fade_s.start + c - 1}`, 0);
    }
    const boot = `input:${REGISTER_MAP_V1.boot_count.address}`;
    this.values.set(boot, (this.values.get(boot) as number) + 1);
  }

  /** Writes wait until release(). */
  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const go of held) go();
  }

  override read(points: readonly PointRef[]): Promise<Sample[]> {
    return this.inOrder(() => super.read(points));
  }

  override write(writes: readonly PointWrite[]): Promise<WriteResult[]> {
    // Copies: the caller may reuse its write objects once the write has resolved.
    this.writeCalls.push(writes.map((w) => ({ ...w })));
    return this.inOrder(() => this.apply(writes));
  }

  private inOrder<T>(request: () => Promise<T>): Promise<T> {
    const answer = this.queue.then(request);
    this.queue = answer.catch(() => undefined);
    return answer;
  }

  private async apply(writes: readonly PointWrite[]): Promise<WriteResult[]> {
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    const results = await super.write(writes);
    writes.forEach((w, j) => {
      if (!results[j].ok || w.address.protocol !== 'modbus') return;
      const channel = w.address.address - REGISTER_MAP_V1.commanded_level.start + 1;
      if (
        w.address.table === 'holding' &&
        channel >= 1 &&
        channel <= this.channels &&
        !this.frozen.has(channel)
      )
        this.setInEffect(channel, w.value as number);
    });
    return results;
  }

  /** Level writes (commanded block) of each call: [channel, value][]. */
  levelWrites(): [number, number][][] {
    return this.writeCalls
      .map((call) =>
        call
          .filter((w) => w.address.protocol === 'modbus' && w.address.table === 'holding')
          .map(
            (w) =>
              [
                (w.address as ModbusAddress).address - REGISTER_MAP_V1.commanded_level.start + 1,
                w.value as number,
              ] as [number, number],
          )
          .filter(([channel]) => channel >= 1 && channel <= this.channels),
      )
      .filter((call) => call.length > 0);
  }

  /** Addresses of every write, in order (to check what came first). */
  writtenAddresses(): number[][] {
    return this.writeCalls.map((call) => call.map((w) => (w.address as ModbusAddress).address));
  }
}

function holding(address: number, table: ModbusAddress['table']): ModbusAddress {
  return {
    protocol: 'modbus',
    table,
    address,
    type: 'uint16',
    wordOrder: 'big',
    byteOrder: 'big',
    scale: 1,
    offset: 0,
  };
}

/** A small territory (Metz): `controllers` Modbus segment controllers of `perController` luminaires. */
export function territory(
  options: {
    controllers?: number;
    perController?: number;
    zonesPerController?: number;
    sensors?: number;
  } = {},
  edit?: (input: ConfigInput) => void,
): Config {
  const controllers = options.controllers ?? 2;
  const input = buildTerritory({
    communes: 2,
    modbusControllers: controllers,
    opcuaControllers: 0,
    luminairesPerController: options.perController ?? 4,
    zonesPerController: options.zonesPerController ?? 1,
    presenceSensorsPerZone: options.sensors ?? 0,
    buildings: false,
    alerts: false,
    modbusPorts: Array.from({ length: controllers }, (_, i) => 15001 + i),
    opcuaPorts: [],
    mqttUrl: 'mqtt://127.0.0.1:1',
  });
  edit?.(input);
  return ConfigSchema.parse(input);
}

/** A logger that keeps what it is told, for assertions on what was logged. */
export class RecordingLogger implements Logger {
  readonly lines: { level: string; msg: string }[] = [];
  error(msg: string): void {
    this.lines.push({ level: 'error', msg });
  }
  warn(msg: string): void {
    this.lines.push({ level: 'warn', msg });
  }
  info(msg: string): void {
    this.lines.push({ level: 'info', msg });
  }
  debug(): void {
    // Debug lines are lazy and not kept.
  }
  child(): Logger {
    return this;
  }
}
