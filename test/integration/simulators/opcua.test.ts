import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AttributeIds,
  ClientSubscription,
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  setErrorLogger,
  setWarningLogger,
  type ClientSession,
  type DataValue,
  type StatusCode,
} from 'node-opcua';
import { ManualClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import { Simulation } from '../../../simulators/simulation';
import { testTerritory, type TestTerritory } from './territory';

/**
 * The OPC UA simulator with a node-opcua client: one server for the file, on which the territory's
 * OPC UA segment controller and the building management system share a port.
 */

const DEVICE = 'metz-ua-01';
const node = (channel: number, name: string): string => `ns=1;s=${DEVICE}.L${channel}.${name}`;
const SCHOOL = 'metz-ecole-jules-ferry';
/** Monday 19 January 2026, 21:00 in Paris: the school is closed, its lights off. */
const START = Date.UTC(2026, 0, 19, 20, 0, 0);
/** Client certificates are made once per machine, so that a run does not pay for a new RSA key. */
const CLIENT_PKI = path.join(tmpdir(), 'nocturne-simulator-test-client-pki');

// node-opcua prints its warnings (a client reconnecting after a dropped connection) with console.log.
setWarningLogger(() => undefined);
setErrorLogger(() => undefined);

let territory: TestTerritory;
let clock: ManualClock;
let simulation: Simulation;
let endpoint: string;
const clients: OPCUAClient[] = [];

async function session(): Promise<ClientSession> {
  const client = OPCUAClient.create({
    applicationName: 'nocturne simulator test',
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: CLIENT_PKI,
      automaticallyAcceptUnknownCertificate: true,
    }),
  });
  clients.push(client);
  await client.connect(endpoint);
  return client.createSession();
}

async function read(s: ClientSession, nodeId: string): Promise<DataValue> {
  return s.read({ nodeId, attributeId: AttributeIds.Value });
}

async function write(s: ClientSession, nodeId: string, value: number): Promise<StatusCode> {
  return s.write({
    nodeId,
    attributeId: AttributeIds.Value,
    value: { value: { dataType: DataType.Double, value } },
  });
}

beforeAll(async () => {
  territory = await testTerritory({ modbus: 0, opcua: 1, luminaires: 4, bmsOnOpcuaPort: true });
  clock = new ManualClock(START);
  simulation = new Simulation(silentLogger, clock);
  const ready = await simulation.start(territory.config, { only: ['opcua'], opcuaMinimumSamplingMs: 50 });
  expect(ready.opcua).toEqual(territory.ports.opcua);
  endpoint = `opc.tcp://127.0.0.1:${territory.ports.opcua[0]}/nocturne`;
}, 30_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  simulation.applyFaults({ clear: true });
});

afterAll(() => simulation.stop());

describe('OPC UA segment controller', () => {
  it('applies written levels: commanded, in effect, output and power read back', async () => {
    const s = await session();
    expect((await read(s, node(1, 'CommandedLevel'))).value.value).toBe(100);
    expect(await write(s, node(2, 'CommandedLevel'), 50)).toEqual(StatusCodes.Good);
    expect((await read(s, node(2, 'InEffectLevel'))).value.value).toBe(50);
    expect((await read(s, node(2, 'OutputLevel'))).value.value).toBe(50);
    // Channel 2 drives a 45 W luminaire.
    expect((await read(s, node(2, 'PowerW'))).value.value).toBeCloseTo(22.5, 9);
    const status = await read(s, node(2, 'LampStatus'));
    expect(status.value).toMatchObject({ dataType: DataType.UInt16, value: 0 });
  });

  it('ramps the output over FadeS and falls back to FailSafeLevel when WatchdogS expires', async () => {
    const s = await session();
    expect(await write(s, `ns=1;s=${DEVICE}.WatchdogS`, 60)).toEqual(StatusCodes.Good);
    expect(await write(s, `ns=1;s=${DEVICE}.FailSafeLevel`, 30)).toEqual(StatusCodes.Good);
    await write(s, node(3, 'CommandedLevel'), 100);
    await write(s, node(3, 'FadeS'), 10);
    await write(s, node(3, 'CommandedLevel'), 0);
    clock.advance(5_000);
    expect((await read(s, node(3, 'OutputLevel'))).value.value).toBeCloseTo(50, 9);
    clock.advance(55_000);
    expect((await read(s, node(3, 'InEffectLevel'))).value.value).toBe(30);
    await write(s, `ns=1;s=${DEVICE}.WatchdogS`, 300);
    expect((await read(s, node(3, 'InEffectLevel'))).value.value).toBe(0);
    await write(s, `ns=1;s=${DEVICE}.FailSafeLevel`, 100);
    await write(s, node(3, 'FadeS'), 0);
  });

  it('refuses writes to read-only nodes and out-of-range values', async () => {
    const s = await session();
    expect(await write(s, node(1, 'PowerW'), 5)).toEqual(StatusCodes.BadNotWritable);
    expect(await write(s, `ns=1;s=${DEVICE}.BootCount`, 5)).toEqual(StatusCodes.BadNotWritable);
    expect(await write(s, node(1, 'CommandedLevel'), 101)).toEqual(StatusCodes.BadOutOfRange);
    expect((await read(s, node(1, 'CommandedLevel'))).value.value).toBe(100);
  });

  it('reports a lamp failure as power 0 and status 1', async () => {
    const s = await session();
    simulation.applyFaults({ device: DEVICE, lamp_failure: [4] });
    expect((await read(s, node(4, 'LampStatus'))).value.value).toBe(1);
    expect((await read(s, node(4, 'PowerW'))).value.value).toBe(0);
  });

  it('forgets levels on reboot, counts the boot and closes the sessions', async () => {
    const s = await session();
    await write(s, node(1, 'CommandedLevel'), 10);
    const boots = (await read(s, `ns=1;s=${DEVICE}.BootCount`)).value.value as number;
    simulation.applyFaults({ device: DEVICE, reboot: true });
    const fresh = await session();
    expect((await read(fresh, `ns=1;s=${DEVICE}.BootCount`)).value.value).toBe(boots + 1);
    expect((await read(fresh, node(1, 'CommandedLevel'))).value.value).toBe(100);
  });

  it('withholds answers while silent, and answers once it speaks again', async () => {
    const s = await session();
    simulation.applyFaults({ device: DEVICE, silent: true });
    const pending = read(s, node(1, 'InEffectLevel'));
    const early = await Promise.race([
      pending.then(() => 'answered'),
      new Promise((resolve) => setTimeout(() => resolve('silent'), 300)),
    ]);
    expect(early).toBe('silent');
    simulation.applyFaults({ device: DEVICE, silent: false });
    expect((await pending).value.value).toBe(100);
  });

  it('answers late when slow', async () => {
    const s = await session();
    simulation.applyFaults({ device: DEVICE, slow_ms: 300 });
    const begun = Date.now();
    await read(s, node(1, 'InEffectLevel'));
    expect(Date.now() - begun).toBeGreaterThanOrEqual(290);
  });
});

describe('OPC UA building points', () => {
  it('serves each point at its node id: temperatures as Double, lights as Boolean', async () => {
    const s = await session();
    const temperature = await read(s, `ns=1;s=${SCHOOL}.classe-cp.Temperature`);
    expect(temperature.statusCode).toEqual(StatusCodes.Good);
    expect(temperature.value.dataType).toBe(DataType.Double);
    expect(temperature.value.value).toBeCloseTo(
      simulation.buildings.value(SCHOOL, 'classe-cp-temperature') as number,
      6,
    );
    const lights = await read(s, `ns=1;s=${SCHOOL}.classe-cp.LightsOn`);
    expect(lights.value).toMatchObject({ dataType: DataType.Boolean, value: false });
  });

  it('lets a monitored item see a change', async () => {
    const s = await session();
    const subscription = ClientSubscription.create(s, {
      requestedPublishingInterval: 50,
      requestedLifetimeCount: 100,
      requestedMaxKeepAliveCount: 10,
      publishingEnabled: true,
    });
    const item = await subscription.monitor(
      { nodeId: `ns=1;s=${SCHOOL}.classe-cp.LightsOn`, attributeId: AttributeIds.Value },
      { samplingInterval: 0, discardOldest: true, queueSize: 10 },
      TimestampsToReturn.Both,
    );
    const values: unknown[] = [];
    const waitFor = (expected: boolean): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (values.includes(expected)) resolve();
          else setTimeout(check, 20);
        };
        check();
      });
    item.on('changed', (value: DataValue) => values.push(value.value.value));
    await waitFor(false);
    simulation.setBuildingFault(SCHOOL, 'lights_forgotten', true);
    await waitFor(true);
    expect(values).toEqual([false, true]);
    await subscription.terminate();
  });
});
