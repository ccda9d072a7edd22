import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock, type Clock } from '../core/clock';
import { silentLogger, type Logger } from '../core/logger';
import type { Config, DeviceConfig, OpcuaDeviceConfig, PointConfig } from '../config/schema';
import { BuildingModel, type BuildingFault, type BuildingSnapshot, type MeterResetMode } from './buildings';
import {
  ControlServer,
  type ChannelState,
  type DeviceState,
  type FaultRequest,
  type SimulationState,
} from './control';
import { FieldBank, UnitRouter, type Field } from './modbus/fieldBank';
import { pointFields } from './modbus/pointFields';
import { segmentFields, unmappedFields } from './modbus/segmentFields';
import { ModbusSimServer, type RegisterBank } from './modbus/server';
import type { OpcuaPointBinding, OpcuaSegmentDevice, OpcuaSimServer } from './opcua/server';
import { UplinkPublisher } from './lorawan';
import { PresencePublisher, coercePresenceOptions } from './presence';
import {
  SegmentController,
  segmentSpecFromConfig,
  type ChannelSnapshot,
  type DeviceFaults,
} from './segmentController';

export type SimulatorKind = 'modbus' | 'opcua' | 'presence' | 'sensors';
export const SIMULATOR_KINDS: readonly SimulatorKind[] = ['modbus', 'opcua', 'presence', 'sensors'];

export interface SimulationOptions {
  /** Which simulators to run. Default: all. */
  only?: readonly SimulatorKind[];
  /** Presence detections per second over all sensors. Default 0 (only on request). */
  presenceRate?: number;
  /** Presence detections per second per sensor, when presenceRate is not given. */
  presenceRatePerSensor?: number;
  /** Each MQTT sensor (LoRaWAN and others) publishes this often. Default 30 s; 0: only on request. */
  sensorEveryMs?: number;
  /** Port of the control HTTP API on 127.0.0.1; 0 picks a free one. Default: no control API. */
  controlPort?: number;
  /** Seed of the building model and the presence arrivals. Default 1. */
  seed?: number;
  /** Directory that relative secret and TLS file names in the configuration are resolved from. */
  configDir?: string;
  /** Where the OPC UA servers keep their certificate. Default: <tmpdir>/nocturne-simulator-pki. */
  pkiDir?: string;
  /** Sampling floor of OPC UA monitored items (ms). Default 100. */
  opcuaMinimumSamplingMs?: number;
  /**
   * Host names played besides loopback, e.g. the compose service name 'simulators': devices configured
   * at these hosts are served on `listen`, and OPC UA endpoints advertise the name.
   */
  serveHosts?: readonly string[];
  /** Bind address for the devices of `serveHosts`. Default '0.0.0.0'. */
  listen?: string;
}

export interface ResolvedSimulationOptions {
  only: ReadonlySet<SimulatorKind>;
  presenceRate?: number;
  presenceRatePerSensor?: number;
  sensorEveryMs: number;
  controlPort?: number;
  seed: number;
  configDir: string;
  pkiDir: string;
  opcuaMinimumSamplingMs: number;
  serveHosts: ReadonlySet<string>;
  listen: string;
}

export function coerceSimulationOptions(options: SimulationOptions = {}): ResolvedSimulationOptions {
  return {
    only: new Set(options.only ?? SIMULATOR_KINDS),
    ...(options.presenceRate !== undefined ? { presenceRate: options.presenceRate } : {}),
    ...(options.presenceRatePerSensor !== undefined
      ? { presenceRatePerSensor: options.presenceRatePerSensor }
      : {}),
    sensorEveryMs: options.sensorEveryMs ?? 30_000,
    ...(options.controlPort !== undefined ? { controlPort: options.controlPort } : {}),
    seed: options.seed ?? 1,
    configDir: options.configDir ?? process.cwd(),
    pkiDir: options.pkiDir ?? path.join(tmpdir(), 'nocturne-simulator-pki'),
    opcuaMinimumSamplingMs: options.opcuaMinimumSamplingMs ?? 100,
    serveHosts: new Set(options.serveHosts ?? []),
    listen: options.listen ?? '0.0.0.0',
  };
}

/** What a parent process waits for: the ports in use once everything listens. */
export interface ReadyInfo {
  modbus: number[];
  opcua: number[];
  control?: number;
}

const LOOPBACK = new Map([
  ['127.0.0.1', '127.0.0.1'],
  ['localhost', '127.0.0.1'],
  ['::1', '::1'],
  ['[::1]', '::1'],
]);

interface PlayedDevice {
  config: DeviceConfig;
  /** 'host:port' the server binds. */
  address: string;
  /** The host name clients use (OPC UA endpoints advertise it). */
  advertised: string;
  faults: DeviceFaults;
  controller?: SegmentController;
  modbus?: ModbusSimServer;
  opcua?: OpcuaSimServer;
}

/**
 * Every simulated device of a configuration, in one process: the Modbus and OPC UA servers of the devices
 * on loopback, the building model behind their points, the presence sensors and the control API.
 * main.ts runs it as a process; tests and benchmarks can run it in-process.
 */
export class Simulation {
  private readonly devices = new Map<string, PlayedDevice>();
  private readonly modbusServers: ModbusSimServer[] = [];
  private readonly opcuaServers: OpcuaSimServer[] = [];
  private presencePublisher?: PresencePublisher;
  private uplinkPublisher?: UplinkPublisher;
  private control?: ControlServer;
  private model?: BuildingModel;
  private starting?: Promise<void>;
  private stopping?: Promise<void>;

  constructor(
    private readonly logger: Logger = silentLogger,
    private readonly clock: Clock = systemClock,
  ) {}

  get buildings(): BuildingModel {
    if (!this.model) throw new Error('the simulation is not started');
    return this.model;
  }

  get presence(): PresencePublisher | undefined {
    return this.presencePublisher;
  }

  /** The MQTT sensors' uplinks (LoRaWAN network servers and other publishers), when they are simulated. */
  get sensors(): UplinkPublisher | undefined {
    return this.uplinkPublisher;
  }

  /** The model of a simulated segment controller, for tests and benchmarks that look inside. */
  controller(deviceId: string): SegmentController {
    const controller = this.devices.get(deviceId)?.controller;
    if (!controller) throw new Error(`'${deviceId}' is not a simulated segment controller`);
    return controller;
  }

  /**
   * Starts every simulator and resolves with the ports once all listen. An aborted signal stops the start
   * between two servers; whatever had started is stopped and the promise rejects.
   */
  async start(config: Config, options: SimulationOptions = {}, signal?: AbortSignal): Promise<ReadyInfo> {
    if (this.starting || this.stopping) throw new Error('a Simulation starts once');
    const run = this.run(config, coerceSimulationOptions(options), signal);
    this.starting = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await run;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Stops in reverse order once a start under way has settled; idempotent; safe after a failed start. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.starting;
      await this.stopAll();
    })();
    return this.stopping;
  }

  private async run(
    config: Config,
    options: ResolvedSimulationOptions,
    signal: AbortSignal | undefined,
  ): Promise<ReadyInfo> {
    const step = (): void => signal?.throwIfAborted();
    this.model = new BuildingModel(config, this.clock, options.seed);
    this.playDevices(config, options);
    if (options.only.has('modbus')) await this.startModbus(config, step);
    step();
    if (options.only.has('opcua')) await this.startOpcua(config, options);
    step();
    if (options.only.has('presence')) this.startPresence(config, options);
    if (options.only.has('sensors')) this.startSensors(config, options);
    if (options.controlPort !== undefined) {
      this.control = new ControlServer(this, this.logger.child('control'));
      await this.control.start(options.controlPort);
    }
    return {
      modbus: this.modbusServers.map((s) => s.port).sort((a, b) => a - b),
      opcua: this.opcuaServers.map((s) => s.port).sort((a, b) => a - b),
      ...(this.control ? { control: this.control.port } : {}),
    };
  }

  state(): SimulationState {
    return {
      devices: [...this.devices.values()].map((device) => this.describe(device)),
      buildings: this.model?.snapshot() ?? [],
      ...(this.presencePublisher ? { presence: this.presencePublisher.stats() } : {}),
      ...(this.uplinkPublisher ? { sensors: this.uplinkPublisher.stats() } : {}),
    };
  }

  private describe(played: PlayedDevice): DeviceState {
    const { config, controller, faults } = played;
    const state: DeviceState = {
      id: config.id,
      protocol: config.protocol,
      address: played.address,
      ...('unit_id' in config ? { unit_id: config.unit_id } : {}),
      faults: { slow_ms: faults.delayMs, silent: faults.silent },
    };
    if (controller) {
      const info = controller.device();
      state.lighting = {
        boot_count: info.bootCount,
        watchdog_s: info.watchdogS,
        fail_safe_level: info.failSafeLevel,
        fail_safe_active: info.failSafeActive,
        channels: controller.allChannels().map(channelState),
      };
    }
    return state;
  }

  /** Applies a fault request (see FaultRequest); throws with a message for the caller on bad input. */
  applyFaults(request: FaultRequest): DeviceState | { cleared: 'all' } {
    if (request.device === undefined) {
      if (!request.clear) throw new Error("name the 'device' (only 'clear' may go without one)");
      for (const device of this.devices.values()) this.clearDevice(device);
      if (this.model) for (const building of this.model.snapshot()) this.model.clearFaults(building.id);
      return { cleared: 'all' };
    }
    const device = this.device(request.device);
    const lampFaults = [request.lamp_ok, request.lamp_failure, request.driver_failure].some((c) => c?.length);
    if ((lampFaults || request.reboot) && !device.controller)
      throw new Error(`device '${device.config.id}' is not a segment controller: no lamps and no reboot`);
    const controller = device.controller;
    for (const channel of [
      ...(request.lamp_ok ?? []),
      ...(request.lamp_failure ?? []),
      ...(request.driver_failure ?? []),
    ])
      if (controller && (!Number.isInteger(channel) || channel < 1 || channel > controller.channelCount))
        throw new Error(
          `device '${device.config.id}' has channels 1-${controller.channelCount} (got ${channel})`,
        );

    if (request.clear) this.clearDevice(device);
    for (const channel of request.lamp_ok ?? []) controller?.setLampFault(channel, undefined);
    for (const channel of request.lamp_failure ?? []) controller?.setLampFault(channel, 'lamp');
    for (const channel of request.driver_failure ?? []) controller?.setLampFault(channel, 'driver');
    if (request.slow_ms !== undefined) device.faults.delayMs = request.slow_ms;
    if (request.silent !== undefined) {
      device.faults.silent = request.silent;
      if (!request.silent) device.opcua?.release(device.config.id);
    }
    if (request.drop_connections) {
      device.modbus?.dropConnections();
      device.opcua?.dropConnections();
    }
    if (request.reboot) {
      controller?.reboot();
      device.modbus?.dropConnections();
      device.opcua?.closeSessions();
    }
    this.logger.info(`faults of '${device.config.id}': ${JSON.stringify(request)}`);
    return this.describe(device);
  }

  setBuildingFault(buildingId: string, fault: BuildingFault, on: boolean): BuildingSnapshot {
    this.buildings.setFault(buildingId, fault, on);
    this.logger.info(`building '${buildingId}': ${fault} ${on ? 'on' : 'off'}`);
    return this.buildingState(buildingId);
  }

  resetMeter(
    buildingId: string,
    mode: MeterResetMode,
    pointId?: string,
  ): BuildingSnapshot & { reset: string[] } {
    const reset = this.buildings.resetMeter(buildingId, mode, pointId);
    this.logger.info(`building '${buildingId}': meter ${mode} of ${reset.join(', ')}`);
    return { ...this.buildingState(buildingId), reset };
  }

  buildingState(buildingId: string): BuildingSnapshot {
    return this.buildings.snapshotOf(buildingId);
  }

  hasDevice(deviceId: string): boolean {
    return this.devices.has(deviceId);
  }

  private device(deviceId: string): PlayedDevice {
    const device = this.devices.get(deviceId);
    if (!device) {
      const known = [...this.devices.keys()];
      throw new Error(
        `'${deviceId}' is not a simulated device (simulated: ${known.length > 0 ? known.join(', ') : 'none'})`,
      );
    }
    return device;
  }

  private clearDevice(device: PlayedDevice): void {
    device.controller?.clearFaults();
    device.faults.delayMs = 0;
    const wasSilent = device.faults.silent;
    device.faults.silent = false;
    if (wasSilent) device.opcua?.release(device.config.id);
  }

  /** The devices this process plays: those on loopback or a served host, of the protocols asked for. */
  private playDevices(config: Config, options: ResolvedSimulationOptions): void {
    const only = options.only;
    for (const device of config.devices) {
      const played = playedAddress(device, options);
      if (played === undefined) {
        this.logger.info(
          `device '${device.id}' is not on loopback, nor on a served host, nor over TCP: not simulated`,
        );
        continue;
      }
      const { address, advertised } = played;
      if (device.protocol === 'modbus-rtu-over-tcp') {
        this.logger.warn(`device '${device.id}': RTU over TCP framing is not simulated`);
        continue;
      }
      if (!only.has(device.protocol === 'opcua' ? 'opcua' : 'modbus')) continue;
      if (
        device.protocol === 'opcua' &&
        (device.security.mode !== 'None' || device.auth.type !== 'anonymous')
      )
        this.logger.warn(
          `device '${device.id}': the simulator offers security None and anonymous login only (configured: ${device.security.mode}, ${device.auth.type})`,
        );
      const controller = device.lighting
        ? new SegmentController(segmentSpecFromConfig(config, device), this.clock)
        : undefined;
      this.devices.set(device.id, {
        config: device,
        address,
        advertised,
        controller,
        faults: controller?.faults ?? { delayMs: 0, silent: false },
      });
    }
  }

  private async startModbus(config: Config, step: () => void): Promise<void> {
    const byAddress = new Map<string, PlayedDevice[]>();
    for (const device of this.devices.values()) {
      if (device.config.protocol === 'opcua') continue;
      const list = byAddress.get(device.address) ?? [];
      list.push(device);
      byAddress.set(device.address, list);
    }
    for (const [address, devices] of byAddress) {
      const banks = new Map<number, RegisterBank>();
      for (const device of devices) {
        const unitId = (device.config as { unit_id: number }).unit_id;
        const other = devices.find(
          (d) => d !== device && (d.config as { unit_id: number }).unit_id === unitId,
        );
        if (other)
          throw new Error(
            `devices '${other.config.id}' and '${device.config.id}' are both unit ${unitId} at ${address}`,
          );
        try {
          banks.set(unitId, this.modbusBank(config, device));
        } catch (error) {
          throw new Error(`device '${device.config.id}': ${(error as Error).message}`, { cause: error });
        }
      }
      step();
      const { host, port } = splitAddress(address);
      const faultsByUnit = new Map(devices.map((d) => [(d.config as { unit_id: number }).unit_id, d.faults]));
      // One device: other unit ids get no answer, as on a bus. Several: a gateway, which answers for them.
      const server = new ModbusSimServer(
        devices.length === 1 ? banks.values().next().value! : new UnitRouter(banks),
        {
          host,
          port,
          ...(devices.length === 1 ? { unitIds: [...banks.keys()] } : {}),
          unitFaults: (unitId) => faultsByUnit.get(unitId),
        },
      );
      this.modbusServers.push(server);
      const names = devices.map((d) => d.config.id).join(', ');
      await server.start().catch((error: Error) => {
        throw new Error(`Modbus ${address} (${names}): ${error.message}`, { cause: error });
      });
      for (const device of devices) device.modbus = server;
      this.logger.info(`Modbus ${address}: ${names}`);
    }
  }

  private modbusBank(config: Config, device: PlayedDevice): FieldBank {
    const fields: Field[] = [];
    let unmapped: Field[] = [];
    if (device.controller && device.config.lighting) {
      const mapId = device.config.lighting.map;
      const map = config.register_maps.find((m) => m.id === mapId);
      if (!map) throw new Error(`device '${device.config.id}': unknown register map '${mapId}'`);
      fields.push(...segmentFields(device.controller, map, device.config.lighting.groups));
      unmapped = unmappedFields(map, device.controller.channelCount);
    }
    fields.push(...pointFields(this.buildings, pointsOf(config, device.config.id)));
    const bank = new FieldBank(fields, device.controller ? 'exception' : 'zero');
    // The identification and reserved registers step aside where a register map puts something else.
    for (const field of unmapped) if (!bank.occupied(field.table, field.address)) bank.add(field);
    return bank;
  }

  private async startOpcua(config: Config, options: ResolvedSimulationOptions): Promise<void> {
    const byPort = new Map<number, PlayedDevice[]>();
    for (const device of this.devices.values()) {
      if (device.config.protocol !== 'opcua') continue;
      const port = splitAddress(device.address).port;
      byPort.set(port, [...(byPort.get(port) ?? []), device]);
    }
    if (byPort.size === 0) return;
    // node-opcua takes half a second to load: only when there is an OPC UA device to play.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { OpcuaSimServer } = require('./opcua/server') as typeof import('./opcua/server');
    const starts: Promise<void>[] = [];
    for (const [port, devices] of byPort) {
      const first = new URL((devices[0].config as OpcuaDeviceConfig).endpoint);
      const segments: OpcuaSegmentDevice[] = [];
      const points: OpcuaPointBinding[] = [];
      for (const device of devices) {
        if (device.controller && device.config.lighting) {
          const mapId = device.config.lighting.map;
          const map = config.node_maps.find((m) => m.id === mapId);
          if (!map) throw new Error(`device '${device.config.id}': unknown node map '${mapId}'`);
          segments.push({ controller: device.controller, map });
        }
        for (const { buildingId, point } of pointsOf(config, device.config.id))
          if (point.opcua) points.push({ deviceId: device.config.id, buildingId, point });
      }
      const server = new OpcuaSimServer(
        {
          host: splitAddress(devices[0].address).host,
          advertisedHost: devices[0].advertised,
          port,
          resourcePath: first.pathname === '/' ? '' : first.pathname,
          pkiDir: options.pkiDir,
          minimumSamplingMs: options.opcuaMinimumSamplingMs,
        },
        segments,
        points,
        this.buildings,
        (deviceId) => this.devices.get(deviceId)?.faults,
        this.clock,
        this.logger.child('opcua'),
      );
      this.opcuaServers.push(server);
      for (const device of devices) device.opcua = server;
      const begun = Date.now();
      const where = `OPC UA opc.tcp://${devices[0].address}${first.pathname} (${devices.map((d) => d.config.id).join(', ')})`;
      starts.push(
        server.start().then(
          () => this.logger.info(`${where} started in ${Date.now() - begun} ms`),
          (error: Error) => {
            throw new Error(`${where}: ${error.message}`, { cause: error });
          },
        ),
      );
    }
    // Each server spends most of its start loading the standard nodeset: start them side by side.
    const failure = (await Promise.allSettled(starts)).find(
      (r): r is PromiseRejectedResult => r.status === 'rejected',
    );
    if (failure) throw failure.reason as Error;
  }

  private startPresence(config: Config, options: ResolvedSimulationOptions): void {
    if (config.presence_sensors.length === 0) return;
    const presence = new PresencePublisher(
      config.presence_sensors,
      config.mqtt,
      coercePresenceOptions(
        {
          ...(options.presenceRate !== undefined ? { ratePerSecond: options.presenceRate } : {}),
          ...(options.presenceRatePerSensor !== undefined
            ? { ratePerSensor: options.presenceRatePerSensor }
            : {}),
          seed: options.seed,
          configDir: options.configDir,
        },
        config.presence_sensors.length,
      ),
      this.clock,
      this.logger.child('presence'),
    );
    this.presencePublisher = presence;
    presence.start();
  }

  private startSensors(config: Config, options: ResolvedSimulationOptions): void {
    const uplinks = new UplinkPublisher(config, this.clock, this.logger.child('sensors'), {
      ...(options.sensorEveryMs > 0 ? { everyMs: options.sensorEveryMs } : {}),
      seed: options.seed,
      configDir: options.configDir,
    });
    this.uplinkPublisher = uplinks;
    uplinks.start();
  }

  private async stopAll(): Promise<void> {
    const steps: [string, () => Promise<void>][] = [
      ['control API', async () => this.control?.stop()],
      ['presence', async () => this.presencePublisher?.stop()],
      ['sensors', async () => this.uplinkPublisher?.stop()],
      ...[...this.opcuaServers]
        .reverse()
        .map((s): [string, () => Promise<void>] => [`OPC UA :${s.port}`, () => s.stop()]),
      ...[...this.modbusServers]
        .reverse()
        .map((s): [string, () => Promise<void>] => [`Modbus :${s.port}`, () => s.stop()]),
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.logger.error(`${name} failed to stop: ${(error as Error).message}`);
      }
    }
  }
}

function channelState(c: ChannelSnapshot): ChannelState {
  return {
    channel: c.channel,
    ...(c.luminaire !== undefined ? { luminaire: c.luminaire } : {}),
    commanded: c.commanded,
    in_effect: c.inEffect,
    output: round(c.output, 3),
    fade_s: c.fadeS,
    power_w: round(c.powerW, 3),
    energy_wh: round(c.energyWh, 3),
    status: c.status,
    ...(c.fault ? { fault: c.fault } : {}),
  };
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** Where the device is served and under which name, or undefined when this process does not play it. */
function playedAddress(
  device: DeviceConfig,
  options: Pick<ResolvedSimulationOptions, 'serveHosts' | 'listen'>,
): { address: string; advertised: string } | undefined {
  const at = (name: string, port: number): { address: string; advertised: string } | undefined => {
    const loopback = LOOPBACK.get(name);
    if (loopback !== undefined) return { address: joinAddress(loopback, port), advertised: loopback };
    if (options.serveHosts.has(name)) return { address: joinAddress(options.listen, port), advertised: name };
    return undefined;
  };
  switch (device.protocol) {
    case 'modbus-tcp':
    case 'modbus-rtu-over-tcp':
      return at(device.host, device.port);
    case 'opcua': {
      const url = new URL(device.endpoint);
      return at(url.hostname, url.port === '' ? 4840 : Number(url.port));
    }
    case 'modbus-rtu':
    case 'mqtt':
    case 'http-json':
      return undefined;
  }
}

function joinAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function splitAddress(address: string): { host: string; port: number } {
  const match = /^\[?(.*?)\]?:(\d+)$/.exec(address)!;
  return { host: match[1], port: Number(match[2]) };
}

function pointsOf(config: Config, deviceId: string): { buildingId: string; point: PointConfig }[] {
  return config.buildings.flatMap((building) =>
    building.points.filter((p) => p.device === deviceId).map((point) => ({ buildingId: building.id, point })),
  );
}
