import { connectAsync, type MqttClient } from 'mqtt';
import { MqttSection } from '../../../config/schema/service';
import { systemClock } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import type { MqttAddress, PointRef, Sample } from '../../../drivers/driver';
import { MqttConnection } from '../../../drivers/mqtt/connection';
import { MqttSourceDriver, type MqttSourceOptions } from '../../../drivers/mqtt/sourceDriver';
import { compilePath } from '../../../drivers/mqtt/uplinks';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';

// MQTT sources against a real mosquitto: ChirpStack v4 and The Things Stack v3 uplinks as their network
// servers publish them, bad and repeated messages, a broker restart.

let broker: Mosquitto;
const cleanups: (() => Promise<unknown>)[] = [];
const warnings: string[] = [];
const logger: Logger = {
  error: (msg) => warnings.push(msg),
  warn: (msg) => warnings.push(msg),
  info: () => undefined,
  debug: () => undefined,
  child: () => logger,
};

beforeAll(async () => {
  broker = await startMosquitto();
}, 30_000);
afterAll(async () => {
  await broker?.stop();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  warnings.length = 0;
});

const BIN = '24e124136b502217';
const OTHER_BIN = '24e124136b502218';

function ref(key: string, address: Partial<MqttAddress>): PointRef {
  return {
    key,
    label: key,
    address: { protocol: 'mqtt', match: {}, path: [], scale: 1, offset: 0, ...address },
  };
}

async function serviceConnection(clientId: string): Promise<MqttConnection> {
  const connection = new MqttConnection({
    config: MqttSection.parse({ url: broker.url, reconnect_ms: 100, client_id: clientId }),
    instance: 'test',
    configDir: __dirname,
    logger,
    connectTimeoutMs: 2000,
    stopTimeoutMs: 2000,
  });
  await connection.start();
  cleanups.push(() => connection.stop());
  return connection;
}

async function publisher(clientId = `pub-${Math.random()}`): Promise<MqttClient> {
  const client = await connectAsync(broker.url, { clientId, clean: false, reconnectPeriod: 100 });
  cleanups.push(() => client.endAsync(true));
  return client;
}

function source(
  options: Partial<MqttSourceOptions> & Pick<MqttSourceOptions, 'format'>,
  messaging: MqttConnection,
  connection?: MqttConnection,
): { driver: MqttSourceDriver; samples: Sample[] } {
  const driver = new MqttSourceDriver(
    { deviceId: 'lns', qos: 1, logEveryMs: 60_000, ...options },
    { messaging, ...(connection ? { connection } : {}), clock: systemClock, logger },
  );
  const samples: Sample[] = [];
  driver.on('samples', (batch) => samples.push(...batch));
  cleanups.push(() => driver.stop());
  return { driver, samples };
}

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let uplinkCount = 0;
function chirpstackUp(
  devEui: string,
  time: string,
  object: unknown,
  dedup = `dedup-${++uplinkCount}`,
): string {
  return JSON.stringify({
    deduplicationId: dedup,
    time,
    deviceInfo: { applicationName: 'pav', devEui },
    fCnt: uplinkCount,
    fPort: 85,
    object,
    rxInfo: [{ gatewayId: 'gw1', rssi: -104, snr: 3.5 }],
  });
}
const upTopic = (devEui: string, event = 'up'): string => `application/app-1/device/${devEui}/event/${event}`;

describe('a ChirpStack v4 source on the service broker', () => {
  it('counts the messages of other shards’ sensors apart, neither read nor dropped as unknown', async () => {
    const mqtt = await serviceConnection('svc-shards');
    const THIRD_BIN = '24e124136b502219';
    const { driver, samples } = source(
      { format: 'chirpstack-v4', otherShards: [{ dev_eui: OTHER_BIN.toUpperCase() }] },
      mqtt,
    );
    driver.subscribe([ref('distance', { match: { dev_eui: BIN }, path: ['distance'] })]);
    await driver.start();
    const client = await publisher();
    const up = (eui: string, distance: number): Promise<unknown> =>
      client.publishAsync(upTopic(eui), chirpstackUp(eui, '2026-11-14T22:00:00Z', { distance }), { qos: 1 });
    await up(OTHER_BIN, 1);
    await up(THIRD_BIN, 2);
    await up(BIN, 500);
    await until('the own sensor’s uplink', () => samples.some((s) => s.value === 500));
    expect(samples.map((s) => s.value)).toEqual([500]);
    expect(driver.stats()).toMatchObject({
      requests: 3,
      errors: 1,
      dropped: { 'other-shard': 1, 'unknown-sensor': 1 },
    });
  });

  it('delivers each point of the sensor with the uplink time, its radio readings, its battery', async () => {
    const mqtt = await serviceConnection('svc-chirpstack');
    const { driver, samples } = source({ format: 'chirpstack-v4' }, mqtt);
    driver.subscribe([
      ref('fill', { match: { dev_eui: BIN }, path: ['distance'], scale: -0.0833, offset: 100 }),
      ref('distance', { match: { dev_eui: BIN }, path: ['distance'] }),
      ref('rssi', { match: { dev_eui: BIN }, radio: 'rssi' }),
      ref('battery', { match: { dev_eui: BIN }, radio: 'battery' }),
    ]);
    await driver.start();
    expect(driver.health()).toBe('up');
    const client = await publisher();
    // Network servers write the DevEUI in lower case; the configuration may not.
    await client.publishAsync(upTopic(BIN), chirpstackUp(BIN, '2026-11-14T21:03:11Z', { distance: 600 }), {
      qos: 1,
    });
    await until('the uplink', () => samples.length >= 3);
    const at = Date.parse('2026-11-14T21:03:11Z');
    expect(samples.map((s) => [s.key, s.value, s.sourceTime, s.quality])).toEqual([
      ['fill', 50.02, at, 'good'],
      ['distance', 600, at, 'good'],
      ['rssi', -104, at, 'good'],
    ]);
    await client.publishAsync(
      upTopic(BIN, 'status'),
      JSON.stringify({ deduplicationId: 'st-1', time: '2026-11-14T21:30:00Z', margin: 9, batteryLevel: 87 }),
      { qos: 1 },
    );
    // A join is no uplink: ignored, not counted as dropped.
    await client.publishAsync(upTopic(BIN, 'join'), JSON.stringify({ devEui: BIN }), { qos: 1 });
    await until('the battery', () => samples.some((s) => s.key === 'battery'));
    expect(samples.at(-1)).toMatchObject({ key: 'battery', value: 87 });
    expect(Object.values(driver.stats().dropped!).every((n) => n === 0)).toBe(true);
  });

  it('counts and drops what it cannot use, and goes on: bad JSON, no codec, unknown sensor, missing field, duplicates, late messages', async () => {
    const mqtt = await serviceConnection('svc-bad');
    const { driver, samples } = source({ format: 'chirpstack-v4' }, mqtt);
    driver.subscribe([ref('distance', { match: { dev_eui: BIN }, path: ['distance'] })]);
    await driver.start();
    const client = await publisher();
    const send = (topic: string, payload: string | Buffer): Promise<unknown> =>
      client.publishAsync(topic, payload, { qos: 1 });
    const good = chirpstackUp(BIN, '2026-11-14T22:00:00Z', { distance: 500 }, 'same-uplink');
    await send(upTopic(BIN), good);
    await send(upTopic(BIN), good); // redelivered by a broker
    await send(upTopic(BIN), '{"object": {"distance": ');
    await send(upTopic(BIN), Buffer.from([0xff, 0xfe, 0x00]));
    await send(upTopic(BIN), chirpstackUp(BIN, '2026-11-14T22:05:00Z', undefined));
    await send(upTopic(OTHER_BIN), chirpstackUp(OTHER_BIN, '2026-11-14T22:05:00Z', { distance: 1 }));
    await send(upTopic(BIN), chirpstackUp(BIN, '2026-11-14T22:06:00Z', { temperature: 12 }));
    await send(upTopic(BIN), chirpstackUp(BIN, '2026-11-14T21:00:00Z', { distance: 999 }));
    await send(upTopic(BIN), chirpstackUp(BIN, '2026-11-14T22:10:00Z', { distance: 480 }));
    await until('the last good uplink', () => samples.some((s) => s.value === 480));
    expect(samples.map((s) => s.value)).toEqual([500, 480]);
    expect(driver.stats()).toMatchObject({
      requests: 9,
      errors: 7,
      dropped: {
        duplicate: 1,
        'not-json': 2,
        'no-values': 1,
        'unknown-sensor': 1,
        'missing-field': 1,
        'out-of-order': 1,
        'wrong-type': 0,
      },
    });
    // One line per reason, naming the device and the topic.
    expect(warnings.filter((w) => w.includes('(not-json)'))).toHaveLength(1);
    expect(warnings.find((w) => w.includes('(missing-field)'))).toMatch(
      /^device 'lns': message on 'application\/app-1\/device\/24e124136b502217\/event\/up' dropped \(missing-field\): distance: no value at 'distance'/,
    );
    expect(driver.health()).toBe('up');
  });

  it('knows a repeat after later uplinks, or without a time, as a duplicate', async () => {
    const mqtt = await serviceConnection('svc-repeat');
    const { driver, samples } = source({ format: 'chirpstack-v4' }, mqtt);
    driver.subscribe([ref('distance', { match: { dev_eui: BIN }, path: ['distance'] })]);
    await driver.start();
    const client = await publisher();
    const send = (payload: string): Promise<unknown> =>
      client.publishAsync(upTopic(BIN), payload, { qos: 1 });
    const first = chirpstackUp(BIN, '2026-11-14T22:00:00Z', { distance: 500 }, 'first');
    const untimed = JSON.stringify({ ...JSON.parse(first), time: undefined, deduplicationId: 'untimed' });
    await send(first);
    await send(chirpstackUp(BIN, '2026-11-14T22:05:00Z', { distance: 490 }, 'second'));
    await send(first); // older than the last one, and a repeat: counted as the repeat it is
    await send(untimed);
    await send(untimed); // no time of its own: only its key tells
    await send(chirpstackUp(BIN, '2099-01-01T00:00:00Z', { distance: 480 }, 'last'));
    await until('the last uplink', () => driver.stats().requests === 6);
    expect(samples.map((s) => s.value)).toEqual([500, 490, 500, 480]);
    expect(driver.stats().dropped).toMatchObject({ duplicate: 2, 'out-of-order': 0 });
  });

  it('loses nothing and repeats nothing through a broker restart', async () => {
    const mqtt = await serviceConnection('svc-restart');
    const { driver, samples } = source({ format: 'chirpstack-v4' }, mqtt);
    driver.subscribe([ref('distance', { match: { dev_eui: BIN }, path: ['distance'] })]);
    await driver.start();
    const client = await publisher('pub-restart');
    await client.publishAsync(upTopic(BIN), chirpstackUp(BIN, '2026-11-15T00:00:00Z', { distance: 100 }), {
      qos: 1,
    });
    await until('the first uplink', () => samples.length === 1);
    await broker.restart();
    // Published while both clients reconnect: queued by the publisher, then by the broker for the session.
    const sent = [1, 2, 3, 4, 5].map((k) =>
      client.publishAsync(
        upTopic(BIN),
        chirpstackUp(BIN, `2026-11-15T00:0${k}:00Z`, { distance: 100 + k }, `restart-${k}`),
        { qos: 1 },
      ),
    );
    await Promise.all(sent);
    // A network server that did not see its acknowledgement publishes the same uplink again.
    await client.publishAsync(
      upTopic(BIN),
      chirpstackUp(BIN, '2026-11-15T00:05:00Z', { distance: 105 }, 'restart-5'),
      { qos: 1 },
    );
    await until('every uplink', () => samples.length === 6, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(samples.map((s) => s.value)).toEqual([100, 101, 102, 103, 104, 105]);
    expect(driver.stats().dropped!.duplicate).toBe(1);
  }, 20_000);
});

describe('a The Things Stack v3 source on a broker of its own', () => {
  it('reads decoded_payload and received_at, and announces nothing of its own there', async () => {
    // The service connections of the other tests left their retained state: cleared first.
    const cleaner = await publisher();
    await cleaner.publishAsync('nocturne/bridge/state', '', { qos: 1, retain: true });
    const own = new MqttConnection({
      config: MqttSection.parse({ url: broker.url, reconnect_ms: 100, client_id: 'tts-reader' }),
      instance: 'test',
      configDir: __dirname,
      logger,
      connectTimeoutMs: 2000,
      stopTimeoutMs: 2000,
      announceState: false,
    });
    const { driver, samples } = source({ format: 'ttn-v3', qos: 0 }, own, own);
    driver.subscribe([
      ref('level', { match: { device_id: 'limni-moselle' }, path: compilePath('level_m') }),
      ref('state', { match: { device_id: 'limni-moselle' }, path: ['status'], states: { ok: 0, alarm: 1 } }),
      ref('battery', { match: { device_id: 'limni-moselle' }, radio: 'battery' }),
    ]);
    await driver.start();
    const client = await publisher();
    await client.publishAsync(
      'v3/crues@ttn/devices/limni-moselle/up',
      JSON.stringify({
        end_device_ids: { device_id: 'limni-moselle', application_ids: { application_id: 'crues' } },
        received_at: '2026-11-14T21:05:00.5Z',
        uplink_message: {
          f_cnt: 12,
          decoded_payload: { level_m: 1.87, status: 'ALARM' },
          rx_metadata: [{ rssi: -99, snr: 8 }],
          last_battery_percentage: { value: 64 },
        },
      }),
      { qos: 0 },
    );
    await until('the uplink', () => samples.length === 3);
    const at = Date.parse('2026-11-14T21:05:00.5Z');
    expect(samples.map((s) => [s.key, s.value, s.sourceTime])).toEqual([
      ['level', 1.87, at],
      ['state', 1, at],
      ['battery', 64, at],
    ]);
    // No retained state topic or last will of ours on the network server's broker.
    const watcher = await publisher();
    const retained: string[] = [];
    watcher.on('message', (topic) => retained.push(topic));
    await watcher.subscribeAsync('nocturne/#');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(retained).toEqual([]);
    await driver.stop();
    expect(driver.health()).toBe('down');
  });
});
