import path from 'node:path';
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  ReadRequest,
  SecurityPolicy,
  StatusCodes,
  Variant,
  VariantArrayType,
  WriteRequest,
  nodesets,
  standardUnits,
  type StatusCode,
  type UAVariable,
} from 'node-opcua';
import type { Driver, Sample } from '../../drivers/driver';

/** The variables of the test server, by name. */
export const TEST_NODES = {
  temperature: {
    nodeId: 'ns=1;s=Room1.Temperature',
    dataType: DataType.Double,
    initial: 20.5,
    writable: false,
  },
  setpoint: { nodeId: 'ns=1;s=Room1.Setpoint', dataType: DataType.Double, initial: 19, writable: true },
  humidity: { nodeId: 'ns=1;s=Room1.Humidity', dataType: DataType.Float, initial: 45.5, writable: true },
  level: { nodeId: 'ns=1;s=Lighting.Level', dataType: DataType.UInt16, initial: 0, writable: true },
  energy: { nodeId: 'ns=1;s=Meter.Energy', dataType: DataType.Int32, initial: 1000, writable: true },
  lightsOn: { nodeId: 'ns=1;s=Room1.LightsOn', dataType: DataType.Boolean, initial: false, writable: true },
  pressure: { nodeId: 'ns=1;s=Boiler.Pressure', dataType: DataType.Double, initial: 1.5, writable: false },
} as const;

export type TestNodeName = keyof typeof TEST_NODES;

/** The one variable with an EURange property (0..50), for percent deadbands. */
export const EU_RANGE_NODE: TestNodeName = 'temperature';

export interface OpcuaTestServerOptions {
  port: number;
  /** Server PKI, kept across restarts so that the server keeps its certificate. */
  pkiDir: string;
  /** Accepted user names and passwords; when set, anonymous sessions are refused. */
  users?: Record<string, string>;
  /** Endpoint security modes; default None only. Sign modes use Basic256Sha256. */
  securityModes?: ('None' | 'Sign' | 'SignAndEncrypt')[];
  /** Server operation limits; 0 or absent: none. */
  maxNodesPerRead?: number;
  maxNodesPerWrite?: number;
}

/**
 * A real node-opcua server on 127.0.0.1 with a small address space (TEST_NODES), which counts the Read
 * and Write requests it receives for its own nodes and can stop and start again on the same port.
 */
export class OpcuaTestServer {
  /** Node ids of each Write request received, one entry per request. */
  readonly writeRequests: string[][] = [];
  /** Node ids of each Read request received that touches namespace 1 (keep-alive reads are left out). */
  readonly readRequests: string[][] = [];
  private server?: OPCUAServer;
  private variables = new Map<TestNodeName, UAVariable>();

  constructor(private readonly options: OpcuaTestServerOptions) {}

  get endpoint(): string {
    return `opc.tcp://127.0.0.1:${this.options.port}/test`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const manager = (name: string): OPCUACertificateManager =>
      new OPCUACertificateManager({
        rootFolder: path.join(this.options.pkiDir, name),
        automaticallyAcceptUnknownCertificate: true,
        disableFileWatchers: true,
      });
    const serverCertificateManager = manager('server');
    const userCertificateManager = manager('user');
    await serverCertificateManager.initialize();
    await userCertificateManager.initialize();
    const modes = this.options.securityModes ?? ['None'];
    const users = this.options.users;
    const server = new OPCUAServer({
      port: this.options.port,
      host: '127.0.0.1',
      hostname: '127.0.0.1',
      resourcePath: '/test',
      nodeset_filename: [nodesets.standard],
      serverCertificateManager,
      userCertificateManager,
      securityModes: modes.map((mode) => MessageSecurityMode[mode]),
      securityPolicies: modes.includes('None')
        ? [SecurityPolicy.None, SecurityPolicy.Basic256Sha256]
        : [SecurityPolicy.Basic256Sha256],
      allowAnonymous: !users,
      userManager: users
        ? { isValidUser: (name: string, password: string) => users[name] === password }
        : undefined,
      serverCapabilities: {
        operationLimits: {
          maxNodesPerRead: this.options.maxNodesPerRead ?? 0,
          maxNodesPerWrite: this.options.maxNodesPerWrite ?? 0,
        },
      },
      isAuditing: false,
    });
    server.on('request', (request) => {
      if (request instanceof WriteRequest) {
        this.writeRequests.push((request.nodesToWrite ?? []).map((n) => n.nodeId.toString()));
      } else if (request instanceof ReadRequest) {
        const nodes = (request.nodesToRead ?? []).map((n) => n.nodeId.toString());
        if (nodes.some((n) => n.startsWith('ns=1;'))) this.readRequests.push(nodes);
      }
    });
    try {
      await server.initialize();
      this.buildAddressSpace(server);
      await server.start();
    } catch (error) {
      // e.g. the port is taken: release what initialize() opened before reporting
      await server.shutdown(0);
      throw error;
    }
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.variables.clear();
    // shutdown() closes the sessions and channels and disposes both certificate managers
    await server.shutdown(0);
  }

  /** A process restart: every session and subscription is lost, values start again from their initial ones. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Changes a value as the device would, with an optional status and source time. */
  setValue(
    name: TestNodeName,
    value: number | boolean,
    options: { status?: StatusCode; sourceTimestamp?: Date } = {},
  ): void {
    const variable = this.variable(name);
    variable.setValueFromSource(
      new Variant({ dataType: TEST_NODES[name].dataType, arrayType: VariantArrayType.Scalar, value }),
      options.status ?? StatusCodes.Good,
      options.sourceTimestamp ?? new Date(),
    );
  }

  value(name: TestNodeName): unknown {
    return this.variable(name).readValue().value.value;
  }

  private variable(name: TestNodeName): UAVariable {
    const variable = this.variables.get(name);
    if (!variable) throw new Error(`OpcuaTestServer is not running: no variable '${name}'`);
    return variable;
  }

  private buildAddressSpace(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error('OpcuaTestServer: no address space after initialize()');
    const namespace = addressSpace.getOwnNamespace();
    const folder = namespace.addFolder(addressSpace.rootFolder.objects, { browseName: 'Test' });
    for (const [name, node] of Object.entries(TEST_NODES) as [
      TestNodeName,
      (typeof TEST_NODES)[TestNodeName],
    ][]) {
      const access = node.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead';
      const common = {
        organizedBy: folder,
        browseName: node.nodeId.slice('ns=1;s='.length),
        nodeId: node.nodeId.slice('ns=1;'.length),
        accessLevel: access,
        userAccessLevel: access,
        minimumSamplingInterval: 10,
        value: new Variant({
          dataType: node.dataType,
          arrayType: VariantArrayType.Scalar,
          value: node.initial,
        }),
      };
      const variable =
        name === EU_RANGE_NODE
          ? namespace.addAnalogDataItem({
              ...common,
              dataType: DataType[node.dataType],
              engineeringUnitsRange: { low: 0, high: 50 },
              engineeringUnits: standardUnits.degree_celsius,
            })
          : namespace.addVariable({ ...common, dataType: DataType[node.dataType] });
      this.variables.set(name, variable);
    }
  }
}

/** The next `connected` event of a driver; rejects after `ms`. */
export function nextConnected(
  driver: Pick<Driver, 'once' | 'off'>,
  ms = 15_000,
): Promise<{ reconnect: boolean }> {
  return new Promise((resolve, reject) => {
    const listener = (info: { reconnect: boolean }): void => {
      clearTimeout(timer);
      resolve(info);
    };
    const timer = setTimeout(() => {
      driver.off('connected', listener);
      reject(new Error(`no 'connected' event within ${ms} ms`));
    }, ms);
    driver.once('connected', listener);
  });
}

/** Records every sample a driver delivers, so that tests wait on what came and what comes. */
export class SampleLog {
  readonly samples: Sample[] = [];
  private waiters: { accept: (s: Sample) => boolean; resolve: (s: Sample) => void }[] = [];

  constructor(driver: Pick<Driver, 'on'>) {
    driver.on('samples', (samples) => {
      this.samples.push(...samples);
      for (const waiter of [...this.waiters]) {
        const match = samples.find(waiter.accept);
        if (match) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    });
  }

  /** The first sample, delivered already or to come, that `accept` takes. */
  until(accept: (s: Sample) => boolean, ms = 15_000): Promise<Sample> {
    const seen = this.samples.find(accept);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        accept,
        resolve: (sample: Sample): void => {
          clearTimeout(timer);
          resolve(sample);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no matching sample within ${ms} ms; got ${JSON.stringify(this.samples)}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  valuesOf(key: string): unknown[] {
    return this.samples.filter((s) => s.key === key).map((s) => s.value);
  }
}

export const valueIs =
  (key: string, value: unknown) =>
  (s: Sample): boolean =>
    s.key === key && s.value === value;
