import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { SegmentFarm } from '../../bench/support/segmentFarm';
import { toYaml } from '../../config/generateDemo';
import { parseConfig } from '../../config/load';
import type { ConfigInput } from '../../config/schema';
import { buildTerritory } from '../../config/demoTerritory';
import { systemClock } from '../../core/clock';
import { freePorts } from './ports';
import { killProcess, startServiceProcess, type ServiceProcess } from './serviceProcess';
import { eventually } from '../integration/lighting/harness';

/**
 * Two instances of one shard as their own processes (`a` and `b`, each with its configuration and state
 * directory), the simulated segment controllers in this process recording every write and the client
 * port it came from, and an MQTT client for emergency relights.
 */

export const SCHEDULE_LEVEL = 20;
const FAIL_SAFE_LEVEL = 50;

export interface PairOptions {
  mqttUrl: string;
  /** etcd endpoints of each instance. */
  endpoints: { a: string[]; b: string[] };
  /** Keys of this pair only, so that pairs of several tests share one etcd cluster. */
  keyPrefix: string;
  controllers?: number;
  luminairesPerController?: number;
  /** Simulated controllers as LeanSegmentBank (benchmarks: nothing computed on a read). */
  lean?: boolean;
  /** Changes both instances' configuration (before it is written); `spare` is a free port for it to use. */
  configure?: (input: ConfigInput, spare: number) => void;
}

export class InstancePair {
  readonly farm: SegmentFarm;
  devices: string[] = [];
  a?: ServiceProcess;
  b?: ServiceProcess;
  /** Each instance's API. */
  readonly urls = { a: '', b: '' };
  private client?: MqttClient;
  private readonly responses = new Map<string, { status: string; error?: string }>();
  private transaction = 0;
  private configFiles = { a: '', b: '' };

  private constructor(
    readonly dir: string,
    private readonly options: PairOptions,
  ) {
    this.farm = new SegmentFarm(systemClock, options.lean ?? false);
  }

  static async start(options: PairOptions): Promise<InstancePair> {
    const pair = new InstancePair(await mkdtemp(path.join(tmpdir(), 'nocturne-cluster-')), options);
    await pair.setUp();
    return pair;
  }

  private async setUp(): Promise<void> {
    const controllers = this.options.controllers ?? 2;
    const ports = await freePorts(controllers + 3);
    for (const name of ['a', 'b'] as const) {
      const input = buildTerritory({
        communes: 1,
        modbusControllers: controllers,
        opcuaControllers: 0,
        luminairesPerController: this.options.luminairesPerController ?? 8,
        zonesPerController: 2,
        presenceSensorsPerZone: 0,
        buildings: false,
        alerts: false,
        modbusPorts: ports.slice(0, controllers),
        opcuaPorts: [],
        mqttUrl: this.options.mqttUrl,
        httpPort: name === 'a' ? ports[controllers] : ports[controllers + 1],
        stateDir: path.join(this.dir, name),
      });
      // A schedule that says the same all day, so that what the devices get does not depend on the hour.
      input.programs = [{ id: 'constant', steps: [{ at: '12:00', level: SCHEDULE_LEVEL }] }];
      input.calendars = (input.calendars ?? []).map((c) => ({ id: c.id, default: 'constant', rules: [] }));
      for (const device of input.devices ?? [])
        if (device.lighting) device.lighting = { ...device.lighting, fail_safe_level: FAIL_SAFE_LEVEL };
      input.service = { ...input.service, log_level: 'info', instance: `nocturne-${name}` };
      input.mqtt = { ...input.mqtt, client_id: `nocturne-${name}-${process.pid}` };
      input.cluster = {
        etcd: {
          endpoints: this.options.endpoints[name],
          key_prefix: this.options.keyPrefix,
          lease_ttl_s: 2,
          safety_margin_ms: 300,
        },
      };
      this.options.configure?.(input, ports[controllers + 2]);
      this.urls[name] = `http://127.0.0.1:${input.http!.port}`;
      const yaml = toYaml(input);
      const file = path.join(this.dir, `${name}.yaml`);
      await writeFile(file, yaml);
      this.configFiles[name] = file;
      if (name === 'a') this.devices = await this.farm.start(parseConfig(yaml, file));
    }
    this.client = await connectAsync(this.options.mqttUrl, { clientId: `cta-${process.pid}-${Date.now()}` });
    this.client.on('message', (_topic, payload) => {
      const response = JSON.parse(payload.toString()) as {
        transaction: string;
        status: string;
        error?: string;
      };
      this.responses.set(response.transaction, response);
    });
    await this.client.subscribeAsync('nocturne/bridge/response/relight', { qos: 1 });
  }

  startInstance(name: 'a' | 'b'): ServiceProcess {
    const running = startServiceProcess(this.configFiles[name]);
    this[name] = running;
    return running;
  }

  /** Every channel's commanded level. */
  commanded(): number[] {
    return this.devices.flatMap((d) =>
      this.farm
        .controller(d)
        .allChannels()
        .map((c) => c.commanded),
    );
  }

  /** Every channel's level in effect. */
  inEffect(): number[] {
    return this.devices.flatMap((d) =>
      this.farm
        .controller(d)
        .allChannels()
        .map((c) => c.inEffect),
    );
  }

  /** Publishes an emergency relight of everything; resolves with the response, or undefined. */
  async relight(level: number, options: { id?: string; waitMs?: number } = {}): Promise<string | undefined> {
    const transaction = `t${++this.transaction}`;
    const request = {
      transaction,
      id: options.id ?? 'evacuation',
      target: { all: true },
      level,
      reason: 'evacuation',
      actor: 'cta-57',
    };
    await this.client!.publishAsync('nocturne/bridge/request/relight', JSON.stringify(request), { qos: 1 });
    if (options.waitMs === 0) return undefined;
    const response = await eventually(
      () => this.responses.get(transaction),
      (r) => r !== undefined,
      { timeoutMs: options.waitMs ?? 250 },
    ).catch(() => undefined);
    return response?.status;
  }

  /** Sends the relight until an instance answers 'ok' (the leader subscribes once its MQTT is up). */
  async relightAcknowledged(level: number): Promise<void> {
    for (let attempt = 0; attempt < 40; attempt++)
      if ((await this.relight(level, { waitMs: 1_000 })) === 'ok') return;
    throw new Error(`no relight acknowledged\n${this.outputs()}`);
  }

  outputs(): string {
    return `--- a:\n${this.a?.output.join('') ?? ''}\n--- b:\n${this.b?.output.join('') ?? ''}`;
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
    await killProcess(this.a, 'SIGKILL');
    await killProcess(this.b, 'SIGKILL');
    await this.farm.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Resolves when the instance's output contains `text`. */
export function logged(running: ServiceProcess, text: string, timeoutMs = 15_000): Promise<unknown> {
  return eventually(
    () => running.output.join(''),
    (output) => output.includes(text),
    { what: `'${text}' in the output`, timeoutMs },
  ).catch((error: Error) => {
    throw new Error(`${error.message.slice(0, 200)}\n${running.output.join('')}`);
  });
}
