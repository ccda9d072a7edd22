import { spawn, type ChildProcess } from 'node:child_process';
import { once, setMaxListeners } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { toYaml } from '../../config/generateDemo';
import { parseConfig } from '../../config/load';
import type { Config, ConfigInput } from '../../config/schema';
import ModbusRTU from 'modbus-serial';
import { Bus } from '../../controller/bus';
import { systemClock } from '../../core/clock';
import { DeviceRegistry } from '../../controller/devices';
import type { Actor } from '../../controller/scope';
import { LightingRuntime } from '../../controller/lighting/runtime/runtime';
import { silentLogger } from '../../core/logger';
import { MqttConnection } from '../../drivers/mqtt/connection';
import { READY_PREFIX, type WriteRecord } from './segmentFarm';

/** What the lighting benchmarks share: a territory written to a temp dir, and the segment farm as a child process. */

export const BENCH_ACTOR: Actor = {
  user: 'bench',
  role: 'admin',
  communes: ['*'],
  via: 'cli',
  from: 'bench',
};

export interface Workspace {
  dir: string;
  configFile: string;
  config: Config;
  remove(): Promise<void>;
}

export async function workspace(input: ConfigInput): Promise<Workspace> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-bench-'));
  const configFile = path.join(dir, 'territory.yaml');
  const yaml = toYaml(input);
  await writeFile(configFile, yaml);
  return {
    dir,
    configFile,
    config: parseConfig(yaml, configFile),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * The service's lighting path as the benchmarks drive it (device registry, Modbus driver, lighting
 * runtime, MQTT connection), beside one bare modbus-serial client per controller for the floor.
 */
export class LightingStack {
  private readonly signal = new AbortController().signal;

  private constructor(
    readonly runtime: LightingRuntime,
    readonly mqtt: MqttConnection,
    private readonly devices: DeviceRegistry,
    readonly clients: ModbusRTU[],
    private readonly controllerIds: readonly string[],
  ) {}

  static create(ws: Workspace, ports: readonly number[], instance: string): LightingStack {
    const { config } = ws;
    const bus = new Bus(silentLogger);
    const devices = new DeviceRegistry(config, {
      logger: silentLogger,
      clock: systemClock,
      bus,
      configDir: ws.dir,
      stateDir: ws.dir,
    });
    const mqtt = new MqttConnection({
      config: config.mqtt,
      instance,
      configDir: ws.dir,
      logger: silentLogger,
      clock: systemClock,
    });
    const runtime = new LightingRuntime(
      { config, stateDir: ws.dir, logger: silentLogger, clock: systemClock, bus, mqtt, devices },
      // No reconciliation or reports during the runs: the floor's writes would otherwise be "healed".
      { dispatch: { reconcileMs: 3_600_000, reportMs: 3_600_000 } },
    );
    return new LightingStack(
      runtime,
      mqtt,
      devices,
      ports.map(() => new ModbusRTU()),
      config.devices.filter((d) => d.lighting).map((d) => d.id),
    );
  }

  /**
   * An emergency relight of everything at `level`, timed from the command to every luminaire confirmed
   * (and to its acknowledgement, the state file fsynced concurrently), with the Modbus requests it took;
   * then cleared, outside the time, once the schedule's levels are confirmed again.
   */
  async timedRelight(
    level: number,
    run: number,
    total: number,
  ): Promise<{ confirmedMs: number; ackMs: number; requests: number; errors: number }> {
    const { runtime } = this;
    const id = `bench-${run}`;
    const before = this.modbusRequests();
    const t0 = performance.now();
    let ackMs = 0;
    const accepted = runtime
      .relight({ id, target: { all: true }, level, reason: 'benchmark' }, BENCH_ACTOR)
      .then((a) => {
        ackMs = performance.now() - t0;
        return a;
      });
    const progress = await runtime.waitForConfirmation(id, { timeoutMs: 20_000 });
    const confirmedMs = performance.now() - t0;
    const requests = this.modbusRequests() - before;
    await accepted;
    const confirmed = runtime.stats().dispatch.confirmed;
    await runtime.clearRelight(id, BENCH_ACTOR);
    for (let waited = 0; runtime.stats().dispatch.confirmed < confirmed + total; waited += 5) {
      if (waited > 20_000) throw new Error(`relight ${id}: schedule levels not confirmed after the clear`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return { confirmedMs, ackMs, requests, errors: progress.total - progress.confirmed };
  }

  /** Modbus requests the service's drivers have sent to the segment controllers so far. */
  modbusRequests(): number {
    return this.controllerIds.reduce((sum, id) => sum + (this.devices.get(id)?.stats().requests ?? 0), 0);
  }

  /** Starts the driver and the runtime, connects the bare clients, and waits for the first levels confirmed. */
  async start(ports: readonly number[], options: { mqtt: boolean }): Promise<void> {
    // Each device's first connection listens to this one signal, as under the service's lifecycle.
    setMaxListeners(0, this.signal);
    await this.devices.component('modbus').start(this.signal);
    await this.runtime.start(this.signal);
    if (options.mqtt) await this.mqtt.start(this.signal);
    await Promise.all(
      this.clients.map(async (client, i) => {
        await client.connectTCP('127.0.0.1', { port: ports[i] });
        client.setID(1);
        client.setTimeout(2000);
      }),
    );
    const total = this.runtime.zones(BENCH_ACTOR).reduce((n, z) => n + z.luminaires, 0);
    for (let waited = 0; this.confirmed() < total; waited += 50) {
      if (waited > 20_000) throw new Error(`first levels not confirmed: ${this.confirmed()} of ${total}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  confirmed(): number {
    return this.runtime.zones(BENCH_ACTOR).reduce((n, z) => n + z.confirmed, 0);
  }

  async stop(): Promise<void> {
    await this.runtime.stop();
    await this.mqtt.stop();
    await this.devices.component('modbus').stop();
    await Promise.allSettled(
      this.clients.map((c) => new Promise<void>((resolve) => c.close(() => resolve()))),
    );
  }
}

/** A helper process that speaks in lines: one request line on stdin, one answer line on stdout. */
export class LineChild {
  private readonly lines: Interface;
  private readonly waiting: ((line: string) => void)[] = [];

  private constructor(
    private readonly child: ChildProcess & { stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream },
    private readonly exited: Promise<unknown>,
  ) {
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (line) => this.waiting.shift()?.(line));
  }

  /**
   * Starts `dist/bench/support/<script>.js` and waits for its line starting with `ready`. Node flags for
   * the helpers alone come from `BENCH_CHILD_NODE_ARGS` (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`,
   * which NODE_OPTIONS refuses), space-separated.
   */
  static async start(script: string, args: string[], ready: string): Promise<LineChild> {
    const nodeArgs = process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? [];
    const child = spawn(process.execPath, [...nodeArgs, path.join(__dirname, `${script}.js`), ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const helper = new LineChild(child, once(child, 'exit'));
    const line = await Promise.race([
      helper.next(),
      helper.exited.then(() => {
        throw new Error(`${script} exited before it was ready`);
      }),
    ]);
    if (!line.startsWith(ready)) throw new Error(`${script}: unexpected '${line}'`);
    return helper;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends a line and resolves with the answer line. */
  ask(line: string): Promise<string> {
    const answer = this.next();
    this.child.stdin.write(`${line}\n`);
    return answer;
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    await this.exited;
    this.lines.close();
  }

  private next(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/** The segment controllers in their own process (bench/support/segmentFarm.ts). */
export class FarmProcess {
  private constructor(private readonly child: LineChild) {}

  /** `lean`: LeanSegmentBank instead of the simulators' model (see segmentFarm.ts). */
  static async start(configFile: string, lean: boolean): Promise<FarmProcess> {
    return new FarmProcess(
      await LineChild.start('segmentFarm', lean ? [configFile, '--lean'] : [configFile], READY_PREFIX),
    );
  }

  get pid(): number {
    return this.child.pid;
  }

  async writes(): Promise<WriteRecord[]> {
    const line = await this.child.ask('WRITES');
    return JSON.parse(line.slice('WRITES '.length)) as WriteRecord[];
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  // Nearest rank: the smallest value with at least p % of the values at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

export function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`--${name} must be a number (got '${process.argv[i + 1]}')`);
  return value;
}
