import { createServer, type Server, type Socket } from 'node:net';
import type Aedes from 'aedes';
import { createBroker } from 'aedes';
import { ManualClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import type { Config } from '../../../config/schema';
import { PresencePublisher, coercePresenceOptions, detectionPayload } from '../../../simulators/presence';
import { testTerritory } from './territory';

/** The presence publisher against an in-process aedes broker on loopback. */

interface Detection {
  class: string;
  seq: number;
  timestamp: string;
}
type Payload = { sensor: string; uplink_message?: { decoded_payload: Detection } } & Partial<Detection>;
interface Received {
  topic: string;
  payload: Payload;
}
/** The detection, wherever the sensor's class path puts it. */
const detection = (payload: Payload): Partial<Detection> =>
  payload.uplink_message?.decoded_payload ?? payload;

let config: Config;
let brokerPort: number;
let broker: { aedes: Aedes; server: Server; sockets: Set<Socket> } | undefined;
const received: Received[] = [];
const publishers: PresencePublisher[] = [];

async function startBroker(): Promise<void> {
  const aedes = createBroker();
  aedes.on('publish', (packet, client) => {
    if (client)
      received.push({ topic: packet.topic, payload: JSON.parse(packet.payload.toString()) as Payload });
  });
  const sockets = new Set<Socket>();
  const server = createServer(aedes.handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(brokerPort, '127.0.0.1', resolve));
  broker = { aedes, server, sockets };
}

async function stopBroker(): Promise<void> {
  const b = broker;
  broker = undefined;
  if (!b) return;
  for (const socket of b.sockets) socket.destroy();
  await new Promise<void>((resolve) => b.server.close(() => resolve()));
  await new Promise<void>((resolve) => b.aedes.close(() => resolve()));
}

function publisher(clock: ManualClock, ratePerSecond: number): PresencePublisher {
  const p = new PresencePublisher(
    config.presence_sensors,
    config.mqtt,
    coercePresenceOptions({ ratePerSecond, seed: 5 }, config.presence_sensors.length),
    clock,
    silentLogger,
  );
  publishers.push(p);
  return p;
}

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeAll(async () => {
  const territory = await testTerritory({ modbus: 1, luminaires: 6, overrides: { zonesPerController: 2 } });
  brokerPort = territory.ports.mqtt;
  config = { ...territory.config, mqtt: { ...territory.config.mqtt, reconnect_ms: 100 } };
  expect(config.mqtt.url).toBeUndefined();
  expect(config.presence_sensors).toHaveLength(2);
});

afterEach(async () => {
  await Promise.all(publishers.splice(0).map((p) => p.stop()));
  await stopBroker();
  received.length = 0;
});

describe('presence publisher', () => {
  it('connects once the broker comes up, and publishes on demand with the class at the class path', async () => {
    const p = publisher(new ManualClock(Date.UTC(2026, 0, 19, 21)), 0);
    p.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(p.stats().connected).toBe(false);
    await startBroker();
    await until('the connection', () => p.stats().connected);

    const [ttn, plain] = config.presence_sensors;
    expect(ttn.class_path).toBe('uplink_message.decoded_payload.class');
    p.detect(ttn.id, 'cyclist');
    p.detect(plain.id, 'vehicle');
    await until('two detections', () => received.length === 2);
    expect(received[0]).toEqual({
      topic: ttn.topic,
      payload: {
        sensor: ttn.id,
        uplink_message: {
          decoded_payload: { class: 'cyclist', seq: 1, timestamp: '2026-01-19T21:00:00.000Z' },
        },
      },
    });
    expect(received[1]).toEqual({
      topic: plain.topic,
      payload: { sensor: plain.id, class: 'vehicle', seq: 1, timestamp: '2026-01-19T21:00:00.000Z' },
    });
    expect(() => p.detect('nope')).toThrow("unknown presence sensor 'nope'");
  });

  it('emits Poisson arrivals at the configured rate, numbered per sensor', async () => {
    await startBroker();
    const clock = new ManualClock(Date.UTC(2026, 0, 19, 21));
    const p = publisher(clock, 20);
    p.start();
    await until('the connection', () => p.stats().connected);
    for (let i = 0; i < 100; i++) clock.advance(100);
    const published = p.stats().published;
    // 200 expected over 10 s; a Poisson count stays within ±25 % far beyond any reasonable doubt.
    expect(published).toBeGreaterThan(150);
    expect(published).toBeLessThan(250);
    await until(`${published} detections`, () => received.length === published);
    for (const sensor of config.presence_sensors) {
      const mine = received.filter((r) => r.topic === sensor.topic);
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.map((r) => detection(r.payload).seq)).toEqual(mine.map((_, i) => i + 1));
    }
    const classes = new Set(received.map((r) => detection(r.payload).class));
    expect([...classes].sort()).toEqual(['cyclist', 'pedestrian', 'vehicle']);
  });

  it('does not queue detections while the broker is away', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 19, 21));
    const p = publisher(clock, 50);
    p.start();
    for (let i = 0; i < 10; i++) clock.advance(100);
    expect(p.stats()).toMatchObject({ connected: false, published: 0 });
    expect(p.stats().dropped).toBeGreaterThan(0);
    await startBroker();
    await until('the connection', () => p.stats().connected);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toHaveLength(0);
  });
});

describe('detection payload', () => {
  it('nests the class as the class path says, with sequence number and timestamp beside it', () => {
    expect(detectionPayload({ id: 's1', class_path: 'a.b.kind' }, 'pedestrian', 7, 0)).toEqual({
      sensor: 's1',
      a: { b: { kind: 'pedestrian', seq: 7, timestamp: '1970-01-01T00:00:00.000Z' } },
    });
  });
});
