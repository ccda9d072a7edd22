import {
  DataType,
  DataValue,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  Variant,
  nodesets,
  resolveNodeId,
  type AddVariableOptions,
  type BindVariableOptions,
  type INamespace,
  type StatusCode,
  type UAObject,
} from 'node-opcua';
import type { Clock } from '../../core/clock';
import {
  CHANNEL_BLOCKS,
  SINGLE_REGISTERS,
  type ChannelBlockName,
  type SingleRegisterName,
} from '../../config/registers';
import type { Logger } from '../../core/logger';
import type { NodeMapConfig, PointConfig } from '../../config/schema';
import type { BuildingModel } from '../buildings';
import {
  MAX_FADE_S,
  MAX_WATCHDOG_S,
  type ChannelSnapshot,
  type DeviceFaults,
  type SegmentController,
} from '../segmentController';

export interface OpcuaSegmentDevice {
  controller: SegmentController;
  map: NodeMapConfig;
}

export interface OpcuaPointBinding {
  deviceId: string;
  buildingId: string;
  point: PointConfig;
}

export interface OpcuaSimServerOptions {
  /** Bind address. */
  host: string;
  /** Host name advertised in the endpoints (default: host). */
  advertisedHost?: string;
  port: number;
  resourcePath: string;
  /** Where the server keeps its self-signed certificate; reused across runs so start stays fast. */
  pkiDir: string;
  /**
   * Every value is computed when read; monitored items asking for 0 (on change) are sampled at this
   * interval instead, so they see values that change with time. Default 100 ms.
   */
  minimumSamplingMs?: number;
}

/** A node map names the same values as a register map: per channel, and per device. */
const CHANNEL_NODES = CHANNEL_BLOCKS;
const DEVICE_NODES = SINGLE_REGISTERS;
type NodeName = ChannelBlockName | SingleRegisterName;

const BROWSE_NAMES: Record<NodeName, string> = {
  commanded_level: 'CommandedLevel',
  in_effect_level: 'InEffectLevel',
  output_level: 'OutputLevel',
  power_w: 'PowerW',
  energy_wh: 'EnergyWh',
  lamp_status: 'LampStatus',
  fade_s: 'FadeS',
  watchdog_s: 'WatchdogS',
  fail_safe_level: 'FailSafeLevel',
  boot_count: 'BootCount',
};

/** Quantities served as Boolean; every other point is a Double. */
const BOOLEAN_QUANTITIES = new Set(['lights_on', 'door_open']);

/** The node id a template gives for a device and channel. */
export function nodeIdFor(template: string, deviceId: string, channel?: number): string {
  return template.replaceAll('{device}', deviceId).replaceAll('{channel}', String(channel ?? ''));
}

/**
 * One OPC UA server (one endpoint port) playing the segment controllers and building points bound to it.
 * Values are computed from the models when read; writes go to the segment controller model. Transport
 * faults of each device delay or withhold the answers for its nodes.
 */
export class OpcuaSimServer {
  private server?: OPCUAServer;
  private readonly held = new Map<string, (() => void)[]>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly options: OpcuaSimServerOptions,
    private readonly segments: readonly OpcuaSegmentDevice[],
    private readonly points: readonly OpcuaPointBinding[],
    private readonly buildings: BuildingModel,
    private readonly faultsFor: (deviceId: string) => DeviceFaults | undefined,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  get port(): number {
    return this.options.port;
  }

  async start(): Promise<void> {
    const certificateManager = new OPCUACertificateManager({
      rootFolder: this.options.pkiDir,
      automaticallyAcceptUnknownCertificate: true,
    });
    const server = new OPCUAServer({
      port: this.options.port,
      host: this.options.host,
      hostname: this.options.advertisedHost ?? this.options.host,
      resourcePath: this.options.resourcePath,
      securityModes: [MessageSecurityMode.None],
      securityPolicies: [SecurityPolicy.None],
      allowAnonymous: true,
      disableDiscovery: true,
      serverCertificateManager: certificateManager,
      userCertificateManager: certificateManager,
      nodeset_filename: [nodesets.standard],
      serverInfo: {
        // One URI for every simulator server, so they share one certificate.
        applicationUri: 'urn:nocturne:simulator',
        productUri: 'urn:nocturne:simulator',
        applicationName: { text: 'nocturne simulator', locale: 'en' },
      },
      buildInfo: { productName: 'nocturne simulator', manufacturerName: 'nocturne' },
    });
    this.server = server;
    await server.initialize();
    this.populate(server);
    await server.start();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    // Answers withheld by a silent device are abandoned with the server.
    this.held.clear();
    await server.shutdown(0);
  }

  /** Cuts every client connection, as a cable pulled out would; sessions survive and can be reactivated. */
  dropConnections(): void {
    for (const endpoint of this.server?.endpoints ?? []) endpoint.abruptlyInterruptChannels();
  }

  /** A device restart: sessions are lost, connections are cut. */
  closeSessions(): void {
    const engine = this.server?.engine;
    if (!engine) return;
    for (const session of engine.getSessions())
      engine.closeSession(session.authenticationToken, true, 'Forcing');
    this.dropConnections();
  }

  /** Answers what a device withheld while silent, once it speaks again (its clients have long given up). */
  release(deviceId: string): void {
    const held = this.held.get(deviceId);
    if (!held) return;
    this.held.delete(deviceId);
    for (const respond of held) this.answer(deviceId, respond, respond);
  }

  private populate(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error(`OPC UA simulator on port ${this.options.port}: no address space`);
    const objects = addressSpace.rootFolder.objects;
    const namespaceFor = (nodeId: string): INamespace => {
      const index = resolveNodeId(nodeId).namespace;
      if (index === 0) throw new Error(`node id '${nodeId}' is in namespace 0 (OPC UA's own); use ns=1`);
      while (addressSpace.getNamespaceArray().length <= index)
        addressSpace.registerNamespace(`urn:nocturne:simulator:ns${addressSpace.getNamespaceArray().length}`);
      return addressSpace.getNamespace(index);
    };
    /** Adds a variable; a bad or duplicate node id is reported with the configuration entry it comes from. */
    const addVariable = (where: string, options: AddVariableOptions & { nodeId: string }): void => {
      try {
        namespaceFor(options.nodeId).addVariable(options);
      } catch (error) {
        throw new Error(`${where}: node '${options.nodeId}': ${(error as Error).message}`, { cause: error });
      }
    };
    const own = addressSpace.getOwnNamespace();

    for (const { controller, map } of this.segments) {
      const deviceId = controller.deviceId;
      const device = own.addObject({ organizedBy: objects, browseName: deviceId });
      const add = (parent: UAObject, name: NodeName, channel = 0): void => {
        const template = map[name];
        if (!template) return;
        const nodeId = nodeIdFor(template, deviceId, channel);
        const where = `device '${deviceId}', node map '${map.id}' ${name}`;
        const write = this.writer(controller, map, name, channel);
        const access = write ? 'CurrentRead | CurrentWrite' : 'CurrentRead';
        addVariable(where, {
          componentOf: parent,
          browseName: BROWSE_NAMES[name],
          nodeId,
          dataType: name === 'boot_count' ? 'UInt32' : name === 'lamp_status' ? 'UInt16' : 'Double',
          accessLevel: access,
          userAccessLevel: access,
          minimumSamplingInterval: this.options.minimumSamplingMs ?? 100,
          value: this.bind(deviceId, this.reader(controller, map, name, channel), write),
        });
      };
      for (let channel = 1; channel <= controller.channelCount; channel++) {
        const channelObject = own.addObject({ componentOf: device, browseName: `L${channel}` });
        for (const name of CHANNEL_NODES) add(channelObject, name, channel);
      }
      for (const name of DEVICE_NODES) add(device, name);
    }

    const buildingObjects = new Map<string, UAObject>();
    for (const { deviceId, buildingId, point } of this.points) {
      const nodeId = point.opcua!.node_id;
      let parent = buildingObjects.get(buildingId);
      if (!parent) {
        parent = own.addObject({ organizedBy: objects, browseName: buildingId });
        buildingObjects.set(buildingId, parent);
      }
      const isBoolean = BOOLEAN_QUANTITIES.has(point.quantity);
      addVariable(`point '${buildingId}/${point.id}'`, {
        componentOf: parent,
        browseName: point.id,
        nodeId,
        dataType: isBoolean ? 'Boolean' : 'Double',
        accessLevel: 'CurrentRead',
        userAccessLevel: 'CurrentRead',
        minimumSamplingInterval: this.options.minimumSamplingMs ?? 100,
        value: this.bind(deviceId, () => {
          const value = this.buildings.value(buildingId, point.id);
          return isBoolean
            ? new Variant({ dataType: DataType.Boolean, value: Boolean(value) })
            : new Variant({ dataType: DataType.Double, value: Number(value) });
        }),
      });
    }
  }

  private reader(
    controller: SegmentController,
    map: NodeMapConfig,
    name: NodeName,
    channel: number,
  ): () => Variant {
    const double = (value: number): Variant => new Variant({ dataType: DataType.Double, value });
    const level = (percent: number): Variant => double((percent * map.level_max_raw) / 100);
    const ofChannel = (pick: (c: ChannelSnapshot) => Variant): (() => Variant) => {
      return () => pick(controller.channel(channel));
    };
    switch (name) {
      case 'commanded_level':
        return ofChannel((c) => level(c.commanded));
      case 'in_effect_level':
        return ofChannel((c) => level(c.inEffect));
      case 'output_level':
        return ofChannel((c) => level(c.output));
      case 'power_w':
        return ofChannel((c) => double(c.powerW));
      case 'energy_wh':
        return ofChannel((c) => double(c.energyWh));
      case 'lamp_status':
        return ofChannel((c) => new Variant({ dataType: DataType.UInt16, value: c.status }));
      case 'fade_s':
        return ofChannel((c) => double(c.fadeS));
      case 'watchdog_s':
        return () => double(controller.device().watchdogS);
      case 'fail_safe_level':
        return () => level(controller.device().failSafeLevel);
      case 'boot_count':
        return () => new Variant({ dataType: DataType.UInt32, value: controller.device().bootCount });
    }
  }

  /** The writer of a writable node, undefined for read-only ones; out-of-range values are refused. */
  private writer(
    controller: SegmentController,
    map: NodeMapConfig,
    name: NodeName,
    channel: number,
  ): ((value: number) => StatusCode) | undefined {
    const within = (value: number, max: number, apply: () => void): StatusCode => {
      if (!Number.isFinite(value) || value < 0 || value > max) return StatusCodes.BadOutOfRange;
      apply();
      return StatusCodes.Good;
    };
    const max = map.level_max_raw;
    switch (name) {
      case 'commanded_level':
        return (v) => within(v, max, () => controller.writeCommandedLevel(channel, (v * 100) / max));
      case 'fade_s':
        return (v) => within(v, MAX_FADE_S, () => controller.writeFade(channel, v));
      case 'watchdog_s':
        return (v) => within(v, MAX_WATCHDOG_S, () => controller.writeWatchdog(v));
      case 'fail_safe_level':
        return (v) => within(v, max, () => controller.writeFailSafeLevel((v * 100) / max));
      case 'in_effect_level':
      case 'output_level':
      case 'power_w':
      case 'energy_wh':
      case 'lamp_status':
      case 'boot_count':
        return undefined;
    }
  }

  private bind(
    deviceId: string,
    read: () => Variant,
    write?: (value: number) => StatusCode,
  ): BindVariableOptions {
    const where = `OPC UA simulator on port ${this.options.port}, device '${deviceId}'`;
    const dataValue = (): DataValue => {
      try {
        return new DataValue({
          value: read(),
          statusCode: StatusCodes.Good,
          sourceTimestamp: new Date(this.clock.now()),
          serverTimestamp: new Date(),
        });
      } catch (error) {
        this.logger.warn(`${where}: read failed: ${(error as Error).message}`);
        return new DataValue({ statusCode: StatusCodes.BadInternalError, serverTimestamp: new Date() });
      }
    };
    const written = (value: DataValue): StatusCode => {
      if (!write) return StatusCodes.BadNotWritable;
      try {
        return write(Number(value.value.value));
      } catch (error) {
        this.logger.warn(`${where}: write failed: ${(error as Error).message}`);
        return StatusCodes.BadInternalError;
      }
    };
    return {
      timestamped_get: (callback: (err: Error | null, value?: DataValue) => void) =>
        this.answer(
          deviceId,
          () => callback(null, dataValue()),
          () => callback(null, dataValue()),
        ),
      timestamped_set: (value: DataValue, callback: (err: Error | null, status?: StatusCode) => void) =>
        this.answer(
          deviceId,
          () => callback(null, written(value)),
          // A silent device never saw the request: nothing is applied.
          () => callback(null, StatusCodes.BadNoCommunication),
        ),
    };
  }

  /** Answers now, after the device's delay, or (silent) only when it speaks again. */
  private answer(deviceId: string, respond: () => void, whenSilent: () => void): void {
    const faults = this.faultsFor(deviceId);
    if (faults?.silent) {
      const held = this.held.get(deviceId) ?? [];
      held.push(whenSilent);
      this.held.set(deviceId, held);
      return;
    }
    if (!faults || faults.delayMs <= 0) {
      respond();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      respond();
    }, faults.delayMs);
    this.timers.add(timer);
  }
}
