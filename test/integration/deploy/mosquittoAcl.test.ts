import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';

// The broker configuration docker-compose.yml ships (deploy/mosquitto), on Debian's mosquitto: the
// entry point writes the password file from MQTT_PASSWORD_<USER> variables, and the shipped security
// directives and ACL decide. Mosquitto 2 acknowledges a publish the ACL denies and drops it, so every
// denial is shown by a privileged subscriber that does not see the message, though it sees a marker
// published after it.

const DEPLOY = path.join(__dirname, '..', '..', '..', 'deploy', 'mosquitto');
/** Where mosquitto.conf expects the password file and the ACL, and where entrypoint.sh puts them. */
const AUTH_DIR_IN_IMAGE = '/mosquitto/auth';
const BASE = 'nocturne';

const aclUsers = [...readFileSync(path.join(DEPLOY, 'acl'), 'utf8').matchAll(/^user (\S+)$/gm)].map(
  (m) => m[1],
);
const passwords = new Map(aclUsers.map((user) => [user, randomBytes(12).toString('hex')]));

let dir: string;
let broker: Mosquitto;
const clients: MqttClient[] = [];
let nextClientId = 0;

/** The security directives of the shipped mosquitto.conf, with the auth directory of this test. */
function securityDirectives(authDir: string): string[] {
  const lines = readFileSync(path.join(DEPLOY, 'mosquitto.conf'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const security = lines.filter((line) =>
    /^(allow_anonymous|password_file|acl_file|max_packet_size) /.test(line),
  );
  expect(security).toEqual([
    'allow_anonymous false',
    `password_file ${AUTH_DIR_IN_IMAGE}/passwd`,
    `acl_file ${AUTH_DIR_IN_IMAGE}/acl`,
    'max_packet_size 262144',
  ]);
  return security.map((line) => line.replace(AUTH_DIR_IN_IMAGE, authDir));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'nocturne-acl-'));
  const authDir = path.join(dir, 'auth');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    MOSQUITTO_CONFIG_DIR: DEPLOY,
    MOSQUITTO_AUTH_DIR: authDir,
    MOSQUITTO_DATA_DIR: path.join(dir, 'data'),
  };
  for (const [user, password] of passwords)
    env[`MQTT_PASSWORD_${user.toUpperCase().replaceAll('-', '_')}`] = password;
  const entry = spawnSync('sh', [path.join(DEPLOY, 'entrypoint.sh'), 'true'], { env, encoding: 'utf8' });
  if (entry.status !== 0) throw new Error(`entrypoint.sh failed: ${entry.stderr}`);
  broker = await startMosquitto({ extraConfig: securityDirectives(authDir) });
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function connect(user?: string, password = user ? passwords.get(user) : undefined): Promise<MqttClient> {
  return connectAsync(broker.url, {
    clientId: `acl-test-${user ?? 'anonymous'}-${nextClientId++}`,
    ...(user !== undefined ? { username: user } : {}),
    ...(password !== undefined ? { password } : {}),
    reconnectPeriod: 0,
    connectTimeout: 3000,
  }).then((client) => {
    clients.push(client);
    return client;
  });
}

/** Messages a client receives, and a way to know everything sent before a marker has arrived. */
class Inbox {
  readonly messages: { topic: string; payload: string }[] = [];

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => this.messages.push({ topic, payload: payload.toString() }));
  }

  static async of(client: MqttClient, filters: string[]): Promise<Inbox> {
    const inbox = new Inbox(client);
    const granted = await client.subscribeAsync(filters, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual(filters.map(() => 1));
    return inbox;
  }

  has(topic: string, payload: string): boolean {
    return this.messages.some((m) => m.topic === topic && m.payload === payload);
  }

  /** Waits for `payload` on `topic`, published by `sender` after whatever this inbox should or should not have. */
  async settle(sender: MqttClient, topic: string): Promise<void> {
    const payload = `marker-${randomBytes(4).toString('hex')}`;
    await sender.publishAsync(topic, payload, { qos: 1 });
    const deadline = Date.now() + 3000;
    while (!this.has(topic, payload)) {
      if (Date.now() > deadline) throw new Error(`marker on ${topic} never arrived`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** The service's account, which reads its whole tree: the privileged subscriber. */
async function serviceInbox(): Promise<Inbox> {
  return Inbox.of(await connect('nocturne'), [
    `${BASE}/#`,
    'lorawan/+/devices/+/up',
    'capteurs/+/+/presence',
  ]);
}

test('the ACL has the users the deployment documents', () => {
  expect(aclUsers.sort()).toEqual(['dispatch', 'nocturne', 'sensors', 'viewer']);
});

test('anonymous clients and wrong passwords are refused', async () => {
  await expect(connect()).rejects.toThrow(/Not authorized|Bad username or password/);
  await expect(connect('dispatch', 'not-the-password')).rejects.toThrow(
    /Not authorized|Bad username or password/,
  );
  await expect(connect('nobody', 'anything')).rejects.toThrow(/Not authorized|Bad username or password/);
});

test('dispatch publishes relight and clear requests and reads their responses, nothing else', async () => {
  const service = await serviceInbox();
  const dispatch = await connect('dispatch');
  const responses = await Inbox.of(dispatch, [
    `${BASE}/bridge/response/relight`,
    `${BASE}/bridge/response/clear-relight`,
    `${BASE}/bridge/state`,
  ]);
  const request = JSON.stringify({ zone: 'metz-serpenoise', level: 100, transaction: 't1' });
  await dispatch.publishAsync(`${BASE}/bridge/request/relight`, request, { qos: 1 });
  await dispatch.publishAsync(`${BASE}/bridge/request/clear-relight`, '{"transaction":"t2"}', { qos: 1 });
  // Anything else of the service's tree: an override, a zone state, a forged bridge state.
  await dispatch.publishAsync(`${BASE}/metz/metz-serpenoise/set`, '{"level":0}', { qos: 1 });
  await dispatch.publishAsync(`${BASE}/bridge/state`, '{"state":"offline"}', { qos: 1 });
  await service.settle(service.client, `${BASE}/test/marker`);
  expect(service.has(`${BASE}/bridge/request/relight`, request)).toBe(true);
  expect(service.has(`${BASE}/bridge/request/clear-relight`, '{"transaction":"t2"}')).toBe(true);
  expect(service.has(`${BASE}/metz/metz-serpenoise/set`, '{"level":0}')).toBe(false);
  expect(service.has(`${BASE}/bridge/state`, '{"state":"offline"}')).toBe(false);

  // Responses reach dispatch; alerts and zone states do not.
  const response = '{"status":"ok","transaction":"t1"}';
  await service.client.publishAsync(`${BASE}/bridge/response/relight`, response, { qos: 1 });
  const unsubscribed = await dispatch.subscribeAsync(`${BASE}/alerts/#`, { qos: 1 });
  await service.client.publishAsync(`${BASE}/alerts/metz`, '{"kind":"alert"}', { qos: 1 });
  await responses.settle(service.client, `${BASE}/bridge/state`);
  expect(responses.has(`${BASE}/bridge/response/relight`, response)).toBe(true);
  expect(responses.messages.filter((m) => m.topic.startsWith(`${BASE}/alerts/`))).toEqual([]);
  expect(unsubscribed).toHaveLength(1);
});

test('the sensors gateway publishes on the sensor topics only, and reads nothing', async () => {
  const service = await serviceInbox();
  const sensors = await connect('sensors');
  const ttn = JSON.stringify({ uplink_message: { decoded_payload: { class: 'pedestrian' } } });
  await sensors.publishAsync('lorawan/metz/devices/metz-serpenoise-radar-1/up', ttn, { qos: 1 });
  await sensors.publishAsync('capteurs/metz/metz-foch-radar-1/presence', '{"class":"vehicle"}', { qos: 1 });
  await sensors.publishAsync(`${BASE}/bridge/request/relight`, '{"zone":"metz-foch"}', { qos: 1 });
  await sensors.publishAsync(`${BASE}/bridge/state`, '{"state":"offline"}', { qos: 1 });
  await service.settle(service.client, `${BASE}/test/marker`);
  expect(service.has('lorawan/metz/devices/metz-serpenoise-radar-1/up', ttn)).toBe(true);
  expect(service.has('capteurs/metz/metz-foch-radar-1/presence', '{"class":"vehicle"}')).toBe(true);
  expect(service.has(`${BASE}/bridge/request/relight`, '{"zone":"metz-foch"}')).toBe(false);
  expect(service.has(`${BASE}/bridge/state`, '{"state":"offline"}')).toBe(false);

  // Another gateway's sensor topic is not readable either.
  const inbox = new Inbox(sensors);
  await sensors.subscribeAsync([`${BASE}/#`, 'capteurs/+/+/presence'], { qos: 1 });
  await service.client.publishAsync(`${BASE}/metz/metz-foch/state`, '{"level":70}', { qos: 1 });
  await sensors.publishAsync('capteurs/metz/metz-foch-radar-1/presence', '{"class":"cyclist"}', { qos: 1 });
  await service.settle(service.client, `${BASE}/test/marker`);
  expect(service.has('capteurs/metz/metz-foch-radar-1/presence', '{"class":"cyclist"}')).toBe(true);
  expect(inbox.messages).toEqual([]);
});

test('the viewer reads the service tree but not the requests, and publishes nothing', async () => {
  const service = await serviceInbox();
  const dispatch = await connect('dispatch');
  const viewer = await connect('viewer');
  const seen = await Inbox.of(viewer, [`${BASE}/#`]);
  await service.client.publishAsync(`${BASE}/metz/metz-foch/state`, '{"level":40}', { qos: 1 });
  await dispatch.publishAsync(
    `${BASE}/bridge/request/relight`,
    '{"zone":"metz-foch","actor":"police-metz"}',
    {
      qos: 1,
    },
  );
  await seen.settle(service.client, `${BASE}/alerts/metz`);
  expect(seen.has(`${BASE}/metz/metz-foch/state`, '{"level":40}')).toBe(true);
  expect(seen.messages.filter((m) => m.topic.startsWith(`${BASE}/bridge/request/`))).toEqual([]);

  await viewer.publishAsync(`${BASE}/bridge/request/relight`, '{"zone":"metz-foch"}', { qos: 1 });
  await viewer.publishAsync(`${BASE}/metz/metz-foch/state`, '{"level":0}', { qos: 1 });
  await viewer.publishAsync('capteurs/metz/metz-foch-radar-1/presence', '{"class":"vehicle","by":"viewer"}', {
    qos: 1,
  });
  await service.settle(service.client, `${BASE}/test/marker`);
  expect(service.has(`${BASE}/bridge/request/relight`, '{"zone":"metz-foch"}')).toBe(false);
  expect(service.has(`${BASE}/metz/metz-foch/state`, '{"level":0}')).toBe(false);
  expect(service.has('capteurs/metz/metz-foch-radar-1/presence', '{"class":"vehicle","by":"viewer"}')).toBe(
    false,
  );
});

test("the viewer reads the broker's uptime, which the compose health check relies on", async () => {
  const viewer = await connect('viewer');
  const inbox = await Inbox.of(viewer, ['$SYS/broker/uptime']);
  const deadline = Date.now() + 15_000;
  while (inbox.messages.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(inbox.messages[0]?.payload).toMatch(/^\d+ seconds$/);
}, 20_000);

test('a client sending a packet over 256 KiB is cut off, and the service never receives it', async () => {
  const service = await serviceInbox();
  const dispatch = await connect('dispatch');
  const closed = new Promise<void>((resolve) => dispatch.once('close', () => resolve()));
  const topic = `${BASE}/bridge/request/relight`;
  dispatch.publish(topic, `{"reason":"${'x'.repeat(300 * 1024)}"}`, { qos: 1 });
  await closed;
  await service.settle(await connect('dispatch'), topic);
  expect(service.messages.filter((m) => m.payload.length > 256 * 1024)).toEqual([]);
});
