import { existsSync } from 'node:fs';
import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import path from 'node:path';
import type Aedes from 'aedes';
import { createBroker, type Client } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { MqttSection } from '../../../config/schema/service';
import { ManualClock } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import type { DriverError, Health } from '../../../drivers/driver';
import { MqttConnection } from '../../../drivers/mqtt/connection';
import type { MqttConnectionOptions } from '../../../drivers/mqtt/options';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';
import { freePort } from '../../helpers/ports';

// Every connection and peer a test opens is closed in afterEach, even when the test fails.
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface LogLine {
  level: 'error' | 'warn' | 'info' | 'debug';
  msg: string;
}

function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger: Logger = {
    error: (msg) => lines.push({ level: 'error', msg }),
    warn: (msg) => lines.push({ level: 'warn', msg }),
    info: (msg) => lines.push({ level: 'info', msg }),
    debug: (msg) => lines.push({ level: 'debug', msg: typeof msg === 'function' ? msg() : msg }),
    child: () => logger,
  };
  return { logger, lines };
}

interface Harness {
  connection: MqttConnection;
  lines: LogLine[];
  health: { health: Health; error?: DriverError }[];
  connected: { reconnect: boolean }[];
}

function newConnection(
  mqtt: Record<string, unknown>,
  extra: Partial<Omit<MqttConnectionOptions, 'config' | 'logger'>> = {},
): Harness {
  const { logger, lines } = recordingLogger();
  const connection = new MqttConnection({
    config: MqttSection.parse({ reconnect_ms: 100, keepalive_s: 5, ...mqtt }),
    instance: 'test',
    configDir: __dirname,
    logger,
    connectTimeoutMs: 2000,
    stopTimeoutMs: 2000,
    ...extra,
  });
  const harness: Harness = { connection, lines, health: [], connected: [] };
  connection.on('healthChanged', (health, error) => harness.health.push({ health, error }));
  connection.on('connected', (info) => harness.connected.push(info));
  cleanups.push(() => connection.stop());
  return harness;
}

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

/** A plain mqtt.js client on the other side of the broker. */
async function peer(
  url: string,
  topics: string[] = [],
): Promise<{ client: MqttClient; messages: Received[] }> {
  const client = await connectAsync(url, { reconnectPeriod: 100, connectTimeout: 2000 });
  cleanups.push(() => client.endAsync(true));
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }),
  );
  if (topics.length > 0) await client.subscribeAsync(topics, { qos: 1 });
  return { client, messages };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A TCP relay to the broker whose connections can be cut, as a network failure would. */
class TcpProxy {
  /** While true, new connections are closed at once: the broker is unreachable. */
  refusing = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new TcpProxy(server, port);
    server.on('connection', (client) => {
      if (proxy.refusing) {
        client.destroy();
        return;
      }
      const upstream = connectTcp(targetPort, '127.0.0.1');
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ]) {
        proxy.sockets.add(a);
        a.pipe(b);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          proxy.sockets.delete(a);
          b.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    cleanups.push(() => proxy.close());
    return proxy;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const states = (messages: Received[], topic: string): string[] =>
  messages.filter((m) => m.topic === topic).map((m) => (JSON.parse(m.payload) as { state: string }).state);

describe('MqttConnection against mosquitto', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(() => broker?.stop());

  test('connects, announces itself online, and carries QoS 0 and 1 both ways', async () => {
    const { connection, health, connected } = newConnection({ url: broker.url, base_topic: 't1' });
    const observer = await peer(broker.url, ['t1/bridge/state', 't1/out/#']);
    const received: Received[] = [];
    const record = (topic: string, payload: Buffer, packet: { retain: boolean; qos: number }): void => {
      received.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos });
    };
    await connection.subscribe('t1/in/+', 1, record);

    await connection.start();
    expect(connection.health()).toBe('up');
    expect(health.map((h) => h.health)).toEqual(['up']);
    expect(connected).toEqual([{ reconnect: false }]);
    expect(connection.clientId).toBe('nocturne-test');
    await connection.subscribe('t1/direct', 0, record);

    await observer.client.publishAsync('t1/in/a', 'zero', { qos: 0 });
    await observer.client.publishAsync('t1/in/b', 'one', { qos: 1 });
    await observer.client.publishAsync('t1/direct', 'exact', { qos: 0 });
    await waitFor('three messages', () => received.length === 3);
    expect(received).toEqual([
      { topic: 't1/in/a', payload: 'zero', retain: false, qos: 0 },
      { topic: 't1/in/b', payload: 'one', retain: false, qos: 1 },
      { topic: 't1/direct', payload: 'exact', retain: false, qos: 0 },
    ]);

    await connection.publish('t1/out/level', '40', { qos: 1 });
    await connection.publish('t1/out/level', '60');
    await connection.publish('t1/out/state', 'on', { qos: 1, retain: true });
    await waitFor(
      'three publications',
      () => observer.messages.filter((m) => m.topic.startsWith('t1/out')).length === 3,
    );
    expect(observer.messages.filter((m) => m.topic.startsWith('t1/out'))).toEqual([
      { topic: 't1/out/level', payload: '40', retain: false, qos: 1 },
      { topic: 't1/out/level', payload: '60', retain: false, qos: 0 },
      { topic: 't1/out/state', payload: 'on', retain: false, qos: 1 },
    ]);
    expect(connection.stats()).toEqual({
      received: 3,
      published: 4,
      dropped: 0,
      reconnects: 0,
      handlerErrors: 0,
    });

    await connection.stop();
    await connection.stop();
    await waitFor('offline state', () => states(observer.messages, 't1/bridge/state').includes('offline'));
    expect(states(observer.messages, 't1/bridge/state')).toEqual(['online', 'offline']);
    expect(connection.health()).toBe('down');
    expect(health.at(-1)?.error?.code).toBe('stopped');
    await expect(connection.publish('t1/out/level', '0')).rejects.toMatchObject({ code: 'stopped' });

    // Both states are retained: a newcomer learns the last one.
    const late = await peer(broker.url, ['t1/bridge/state']);
    await waitFor('retained state', () => late.messages.length === 1);
    expect(late.messages[0]).toMatchObject({ payload: '{"state":"offline"}', retain: true });
  });

  test('refuses to publish to wildcard topics and to subscribe to malformed filters', async () => {
    const { connection } = newConnection({ url: broker.url, base_topic: 't2' });
    await connection.start();
    expect(() => connection.publish('t2/+/set', '1')).toThrow(
      "MQTT publish to 't2/+/set' refused: the topic contains a wildcard ('+' or '#'); publish to a concrete topic",
    );
    expect(() => connection.publish('t2/#', '1')).toThrow(/refused: the topic contains a wildcard/);
    await expect(connection.subscribe('t2/#/x', 1, () => undefined)).rejects.toThrow(
      "MQTT subscribe: topic filter 't2/#/x' has '#' that is not alone in the last level",
    );
    await waitFor('online state acknowledged', () => connection.stats().published === 1);
    expect(connection.stats()).toMatchObject({ published: 1, dropped: 0 });
  });

  test('a throwing or rejecting handler does not stop delivery to the other handlers', async () => {
    const clock = new ManualClock(Date.parse('2026-01-15T22:00:00Z'));
    const { connection, lines } = newConnection({ url: broker.url, base_topic: 't3' }, { clock });
    const exact: string[] = [];
    const wildcard: string[] = [];
    await connection.subscribe('t3/x', 1, () => {
      throw new Error('broken handler');
    });
    await connection.subscribe('t3/x', 1, () => Promise.reject(new Error('broken async handler')));
    const unsubscribeExact = await connection.subscribe('t3/x', 1, (_t, payload) => {
      exact.push(payload.toString());
    });
    const unsubscribeBroken = await connection.subscribe('t3/+/y', 1, () => {
      throw new Error('broken wildcard handler');
    });
    const unsubscribeWildcard = await connection.subscribe('t3/+/y', 0, (topic, payload) => {
      wildcard.push(`${topic}=${payload.toString()}`);
    });
    await connection.start();
    const sender = await peer(broker.url);

    for (const n of ['1', '2', '3']) {
      await sender.client.publishAsync('t3/x', n, { qos: 1 });
      await sender.client.publishAsync(`t3/${n}/y`, n, { qos: 1 });
    }
    await waitFor('deliveries', () => exact.length === 3 && wildcard.length === 3);
    expect(exact).toEqual(['1', '2', '3']);
    expect(wildcard).toEqual(['t3/1/y=1', 't3/2/y=2', 't3/3/y=3']);
    await waitFor('async failures', () => connection.stats().handlerErrors === 9);
    // A failing handler is reported once, then its failures are counted until the next report.
    expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      "MqttConnection/message: handler for 't3/x' failed on 't3/x': broken handler",
      "MqttConnection/message: handler for 't3/+/y' failed on 't3/1/y': broken wildcard handler",
      "MqttConnection/message: handler for 't3/x' failed on 't3/x': broken async handler",
    ]);

    await unsubscribeExact();
    await unsubscribeExact();
    clock.advance(10_000);
    await sender.client.publishAsync('t3/x', '4', { qos: 1 });
    await sender.client.publishAsync('t3/4/y', '4', { qos: 1 });
    await waitFor('wildcard delivery', () => wildcard.length === 4);
    expect(exact).toEqual(['1', '2', '3']);
    await waitFor('second reports', () => lines.filter((l) => l.level === 'error').length === 6);
    expect(
      lines
        .filter((l) => l.level === 'error')
        .slice(3)
        .map((l) => l.msg)
        .sort(),
    ).toEqual([
      "MqttConnection/message: handler for 't3/+/y' failed on 't3/4/y': broken wildcard handler (2 more failures of this handler since the last report)",
      "MqttConnection/message: handler for 't3/x' failed on 't3/x': broken async handler (2 more failures of this handler since the last report)",
      "MqttConnection/message: handler for 't3/x' failed on 't3/x': broken handler (2 more failures of this handler since the last report)",
    ]);

    // Once the last handler of a filter is gone, the broker stops sending its messages.
    await unsubscribeWildcard();
    await unsubscribeBroken();
    let marked = false;
    await connection.subscribe('t3/marker', 1, () => {
      marked = true;
    });
    await sender.client.publishAsync('t3/5/y', '5', { qos: 1 });
    await sender.client.publishAsync('t3/marker', 'm', { qos: 1 });
    await waitFor('marker', () => marked);
    expect(connection.stats()).toMatchObject({ received: 9, handlerErrors: 12 });
    expect(wildcard).toHaveLength(4);
  });

  test('QoS 1 messages sent while the network is down arrive after the reconnection', async () => {
    const proxy = await TcpProxy.start(broker.port);
    const { connection, connected } = newConnection({
      url: proxy.url,
      base_topic: 't4',
      client_id: 't4-client',
    });
    const commands: string[] = [];
    await connection.subscribe('t4/cmd', 1, (_t, payload) => {
      commands.push(payload.toString());
    });
    await connection.start();
    const sender = await peer(broker.url);

    proxy.refusing = true;
    proxy.cut();
    await waitFor('health down', () => connection.health() === 'down');
    for (const n of ['a', 'b', 'c']) await sender.client.publishAsync('t4/cmd', n, { qos: 1 });
    await expect(connection.publish('t4/status', 'lost', { qos: 0 })).rejects.toMatchObject({
      code: 'disconnected',
    });
    const queued = connection.publish('t4/status', 'kept', { qos: 1 });
    proxy.refusing = false;

    await waitFor('queued commands', () => commands.length === 3);
    expect(commands).toEqual(['a', 'b', 'c']);
    await queued;
    expect(connected).toEqual([{ reconnect: false }, { reconnect: true }]);
    expect(connection.health()).toBe('up');
    expect(connection.stats()).toMatchObject({ received: 3, dropped: 1, reconnects: 1 });
  });

  test('the session outlives a stop: the next start with the same client id gets what was queued', async () => {
    const first = newConnection({ url: broker.url, base_topic: 't5', client_id: 't5-client' });
    await first.connection.subscribe('t5/cmd', 1, () => undefined);
    await first.connection.start();
    await first.connection.stop();

    const sender = await peer(broker.url);
    for (const n of ['1', '2']) await sender.client.publishAsync('t5/cmd', n, { qos: 1 });
    await sender.client.publishAsync('t5/cmd', 'qos0 is not queued', { qos: 0 });

    const second = newConnection({ url: broker.url, base_topic: 't5', client_id: 't5-client' });
    const commands: string[] = [];
    await second.connection.subscribe('t5/cmd', 1, (_t, payload) => {
      commands.push(payload.toString());
    });
    await second.connection.start();
    await waitFor('queued commands', () => commands.length === 2);
    expect(commands).toEqual(['1', '2']);
    expect(second.lines.some((l) => l.msg.includes('session resumed'))).toBe(true);
  });

  test('an abrupt loss publishes the last will; the reconnection publishes online again', async () => {
    const proxy = await TcpProxy.start(broker.port);
    const observer = await peer(broker.url, ['t6/bridge/state']);
    const { connection, health } = newConnection({ url: proxy.url, base_topic: 't6' });
    await connection.start();
    await waitFor('online', () => states(observer.messages, 't6/bridge/state').includes('online'));

    proxy.cut();
    await waitFor('will, then online', () => states(observer.messages, 't6/bridge/state').length === 3);
    expect(states(observer.messages, 't6/bridge/state')).toEqual(['online', 'offline', 'online']);
    expect(health.map((h) => h.health)).toEqual(['up', 'down', 'up']);
    expect(health[1].error?.code).toBe('disconnected');
  });

  test("on a shared broker each instance announces its own state: one's last will leaves the other online", async () => {
    const proxy = await TcpProxy.start(broker.port);
    const observer = await peer(broker.url, ['t7/bridge/state', 't7/bridge/state/+']);
    const cut = newConnection({ url: proxy.url, base_topic: 't7' }, { instance: 'a', sharedBroker: true });
    const kept = newConnection({ url: broker.url, base_topic: 't7' }, { instance: 'b', sharedBroker: true });
    await cut.connection.start();
    await kept.connection.start();
    await waitFor('both online', () => observer.messages.length === 2);

    proxy.cut();
    await waitFor('will, then online', () => states(observer.messages, 't7/bridge/state/a').length === 3);
    expect(states(observer.messages, 't7/bridge/state/a')).toEqual(['online', 'offline', 'online']);
    expect(states(observer.messages, 't7/bridge/state/b')).toEqual(['online']);
    expect(states(observer.messages, 't7/bridge/state')).toEqual([]);
  });

  test('broker restart with its state: reconnects to the resumed session, subscriptions still work', async () => {
    const { connection, connected, lines } = newConnection({
      url: broker.url,
      base_topic: 't7',
      client_id: 't7',
    });
    const received: string[] = [];
    await connection.subscribe('t7/in/#', 1, (_t, payload) => {
      received.push(payload.toString());
    });
    await connection.start();

    await broker.restart();
    await waitFor('reconnection', () => connected.length === 2);
    expect(lines.filter((l) => l.msg.includes('session resumed'))).toHaveLength(1);
    const sender = await peer(broker.url);
    await sender.client.publishAsync('t7/in/x', 'after restart', { qos: 1 });
    await waitFor('delivery', () => received.length === 1);
    expect(received).toEqual(['after restart']);
  });

  test('broker killed and back without its state: subscriptions made again, online republished', async () => {
    const { connection, connected, health } = newConnection({
      url: broker.url,
      base_topic: 't8',
      client_id: 't8',
    });
    const received: string[] = [];
    await connection.subscribe('t8/in/+', 1, (_t, payload) => {
      received.push(payload.toString());
    });
    await connection.subscribe('t8/exact', 0, (_t, payload) => {
      received.push(payload.toString());
    });
    await connection.start();

    await broker.kill();
    await waitFor('health down', () => connection.health() === 'down');
    await broker.restart({ keepState: false });
    await waitFor('reconnection', () => connected.length === 2 && connection.health() === 'up');
    // While the broker is dead, each failed reconnection may report 'down' again with its own error
    // (connection refused after disconnected): how many depends on how long the restart takes.
    const transitions = health.map((h) => h.health).filter((h, i, all) => h !== all[i - 1]);
    expect(transitions).toEqual(['up', 'down', 'up']);

    // The broker forgot everything: what a newcomer sees now was published after the restart.
    const observer = await peer(broker.url, ['t8/bridge/state']);
    await waitFor('online state', () => states(observer.messages, 't8/bridge/state').includes('online'));
    await observer.client.publishAsync('t8/in/a', 'wildcard', { qos: 1 });
    await observer.client.publishAsync('t8/exact', 'exact', { qos: 1 });
    await waitFor('deliveries', () => received.length === 2);
    expect(received).toEqual(['wildcard', 'exact']);
  });
});

describe('MqttConnection: credentials, ACL and TLS', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto({
      users: { nocturne: 'lamp-post' },
      acl: ['user nocturne', 'topic readwrite auth/#'],
      tls: true,
      requireClientCertificate: true,
    });
  });
  afterAll(() => broker?.stop());

  const credentials = { username: 'nocturne', password: { env: 'TEST_MQTT_PASSWORD' } };

  test('accepted credentials connect', async () => {
    const { connection } = newConnection(
      { url: broker.url, base_topic: 'auth', ...credentials },
      { env: { TEST_MQTT_PASSWORD: 'lamp-post' } },
    );
    await connection.start();
    expect(connection.health()).toBe('up');
    await connection.publish('auth/ping', 'pong', { qos: 1 });
  });

  test('refused credentials leave health down with an error that names the user', async () => {
    const { connection, health } = newConnection(
      { url: broker.url, base_topic: 'auth', ...credentials },
      { env: { TEST_MQTT_PASSWORD: 'wrong' } },
    );
    await connection.start();
    expect(connection.health()).toBe('down');
    expect(health).toHaveLength(1);
    expect(health[0].error?.code).toBe('security');
    expect(health[0].error?.message).toMatch(
      new RegExp(
        `^MQTT broker ${broker.url} refused the connection \\(user 'nocturne'\\): (Not authorized|Bad username or password); check mqtt.username and mqtt.password$`,
      ),
    );
  });

  test("the broker's ACL applies: messages outside it are not delivered", async () => {
    const env = { TEST_MQTT_PASSWORD: 'lamp-post' };
    const receiver = newConnection(
      { url: broker.url, base_topic: 'auth', client_id: 'acl-rx', ...credentials },
      { env },
    );
    const sender = newConnection(
      { url: broker.url, base_topic: 'auth', client_id: 'acl-tx', ...credentials },
      { env },
    );
    const received: string[] = [];
    await receiver.connection.subscribe('#', 1, (topic) => {
      received.push(topic);
    });
    await receiver.connection.start();
    await sender.connection.start();
    await sender.connection.publish('elsewhere/x', 'denied', { qos: 1 });
    await sender.connection.publish('auth/x', 'allowed', { qos: 1 });
    await waitFor('allowed message', () => received.includes('auth/x'));
    expect(received).not.toContain('elsewhere/x');
  });

  test('TLS with the generated CA and a client certificate', async () => {
    const tls = broker.tls!;
    const { connection } = newConnection(
      {
        url: tls.url,
        base_topic: 'auth',
        ...credentials,
        tls: { ca_file: tls.caFile, cert_file: tls.clientCertFile, key_file: tls.clientKeyFile },
      },
      { env: { TEST_MQTT_PASSWORD: 'lamp-post' } },
    );
    const echoes: string[] = [];
    await connection.subscribe('auth/echo', 1, (_t, payload) => {
      echoes.push(payload.toString());
    });
    await connection.start();
    expect(connection.health()).toBe('up');
    await connection.publish('auth/echo', 'over tls', { qos: 1 });
    await waitFor('echo', () => echoes.length === 1);
  });

  test('TLS without the CA is refused with a security error', async () => {
    const tls = broker.tls!;
    const { connection, health } = newConnection(
      {
        url: tls.url,
        base_topic: 'auth',
        ...credentials,
        tls: { cert_file: tls.clientCertFile, key_file: tls.clientKeyFile },
      },
      { env: { TEST_MQTT_PASSWORD: 'lamp-post' } },
    );
    await connection.start();
    expect(connection.health()).toBe('down');
    expect(health[0].error?.code).toBe('security');
    expect(health[0].error?.message).toMatch(/TLS handshake failed.*check mqtt.tls.ca_file/);
  });
});

describe('MqttConnection: subscriptions the broker refuses', () => {
  let allowAlarms = false;
  let broker: Aedes;
  let server: Server;
  let url: string;
  const clients = new Map<string, Client>();
  beforeAll(async () => {
    const port = await freePort();
    // aedes answers SUBACK 0x80 when authorizeSubscribe grants nothing; mosquitto 2.0 grants and filters instead.
    broker = createBroker({
      authorizeSubscribe: (_client, subscription, callback) => {
        if (subscription.topic.startsWith('alarms/') && !allowAlarms) callback(null, null);
        else callback(null, subscription);
      },
    });
    broker.on('client', (client) => clients.set(client.id, client));
    broker.on('clientDisconnect', (client) => clients.delete(client.id));
    server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    url = `mqtt://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise((resolve) => server.close(resolve));
  });

  test('a refusal turns health to degraded, is retried on reconnection, and ends with the unsubscription', async () => {
    const { connection, health } = newConnection({ url, base_topic: 'r', client_id: 'refused' });
    await connection.subscribe('lights/#', 1, () => undefined);
    await connection.start();
    expect(connection.health()).toBe('up');

    const unsubscribe = await connection.subscribe('alarms/#', 1, () => undefined);
    expect(connection.health()).toBe('degraded');
    expect(health.at(-1)?.error).toMatchObject({ code: 'security' });
    expect(health.at(-1)?.error?.message).toBe(
      `MQTT broker ${url} refused subscriptions: 'alarms/#' (Unspecified error)`,
    );

    // The broker's rules changed: the next connection asks again and succeeds.
    allowAlarms = true;
    clients.get('refused')?.close();
    await waitFor('health up after reconnection', () => connection.health() === 'up');
    expect(health.map((h) => h.health)).toEqual(['up', 'degraded', 'down', 'up']);

    allowAlarms = false;
    await unsubscribe();
    expect(connection.health()).toBe('up');
  });
});

describe('MqttConnection without a working broker', () => {
  test('start resolves after a refused first attempt; mqtt.js keeps retrying until stop', async () => {
    const port = await freePort();
    const { connection, health, lines } = newConnection({
      url: `mqtt://127.0.0.1:${port}`,
      base_topic: 'n1',
    });
    await connection.start();
    expect(connection.health()).toBe('down');
    expect(health[0].error).toMatchObject({ code: 'disconnected', detail: 'ECONNREFUSED' });
    await waitFor('a few retries', () => lines.filter((l) => l.msg.startsWith('reconnecting')).length >= 2);
    // The same failure again is not news: one warning, one health change.
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(health).toHaveLength(1);
    await connection.stop();
    expect(health.at(-1)).toMatchObject({ health: 'down', error: { code: 'stopped' } });
  });

  test('a broker that never answers CONNACK: the attempt times out, and start can be aborted', async () => {
    const port = await freePort();
    const silent = createServer(() => undefined);
    const sockets = new Set<Socket>();
    silent.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const url = `mqtt://127.0.0.1:${port}`;

    const timedOut = newConnection({ url, base_topic: 'n2' }, { connectTimeoutMs: 200 });
    await timedOut.connection.start();
    expect(timedOut.connection.health()).toBe('down');
    expect(timedOut.health[0].error).toMatchObject({ code: 'timeout' });
    await timedOut.connection.stop();

    const aborted = newConnection({ url, base_topic: 'n2' });
    const controller = new AbortController();
    const starting = aborted.connection.start(controller.signal);
    setTimeout(() => controller.abort(new Error('service shutting down')), 50);
    await expect(starting).rejects.toThrow('service shutting down');
    expect(aborted.connection.health()).toBe('down');
    await expect(aborted.connection.publish('n2/x', 'late', { qos: 1 })).rejects.toMatchObject({
      code: 'stopped',
    });
    await expect(aborted.connection.subscribe('n2/#', 1, () => undefined)).rejects.toMatchObject({
      code: 'stopped',
    });
  });

  test('configuration it cannot use makes start throw, naming the entry; stop is still safe', async () => {
    const { connection } = newConnection(
      { url: 'mqtt://127.0.0.1:1', username: 'u', password: { env: 'NOCTURNE_TEST_UNSET' } },
      { env: {} },
    );
    await expect(connection.start()).rejects.toThrow(
      'mqtt.password: environment variable NOCTURNE_TEST_UNSET is not set',
    );
    await connection.stop();
    expect(connection.health()).toBe('down');
  });
});

describe('mosquitto harness', () => {
  test('a broker that cannot start reports why, and its temp directory is removed', async () => {
    const error = await startMosquitto({ extraConfig: ['no_such_option true'] }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(
      /^mosquitto exited during start \(config .*\/mosquitto.conf\)\n[\s\S]*no_such_option/,
    );
    const configFile = /\(config (.*)\)/.exec(error?.message ?? '')?.[1] ?? '';
    expect(existsSync(path.dirname(configFile))).toBe(false);
  });
});
