import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { toYaml } from '../../../config/generateDemo';
import { buildTerritory } from '../../../config/demoTerritory';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';

// The nocturne container's health check (deploy/nocturne/healthcheck.js, run from dist/ as in the image)
// against Debian's mosquitto: healthy only while the service's retained state says online.

const SCRIPT = path.join(__dirname, '..', '..', '..', 'deploy', 'nocturne', 'healthcheck.js');
const STATE_TOPIC = 'nocturne/bridge/state';
const PASSWORD = 'healthcheck-test-password';

let dir: string;
let configFile: string;
let broker: Mosquitto;
let publisher: MqttClient;

beforeAll(async () => {
  broker = await startMosquitto({ users: { nocturne: PASSWORD, other: 'other-password' } });
  dir = mkdtempSync(path.join(os.tmpdir(), 'nocturne-healthcheck-'));
  configFile = path.join(dir, 'site.yaml');
  const territory = buildTerritory({
    communes: 1,
    modbusControllers: 1,
    opcuaControllers: 0,
    luminairesPerController: 2,
    buildings: false,
    alerts: false,
    modbusPorts: [1],
    opcuaPorts: [],
    mqttUrl: broker.url,
  });
  writeFileSync(
    configFile,
    toYaml({
      ...territory,
      mqtt: { ...territory.mqtt, username: 'nocturne', password: { env: 'MQTT_PASSWORD' } },
    }),
  );
  publisher = await connectAsync(broker.url, {
    username: 'other',
    password: 'other-password',
    reconnectPeriod: 0,
  });
});

afterAll(async () => {
  await publisher?.endAsync(true);
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function healthcheck(password = PASSWORD): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SCRIPT, configFile],
      {
        env: { PATH: process.env.PATH, MQTT_PASSWORD: password, HEALTHCHECK_TIMEOUT_MS: '1500' },
        timeout: 15_000,
      },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
    );
  });
}

async function retainState(payload: string): Promise<void> {
  await publisher.publishAsync(STATE_TOPIC, payload, { qos: 1, retain: true });
}

test('unhealthy while the service has never said it is online', async () => {
  const result = await healthcheck();
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`no state on ${STATE_TOPIC}`);
});

test('healthy while the retained state is online, and leaves no will behind', async () => {
  await retainState('{"state":"online"}');
  expect(await healthcheck()).toEqual({ code: 0, stderr: '' });
  // The check ends its connection abruptly; a will would now have replaced the service's state.
  const reader = await connectAsync(broker.url, {
    username: 'other',
    password: 'other-password',
    reconnectPeriod: 0,
  });
  try {
    const state = new Promise<string>((resolve) =>
      reader.once('message', (_t, payload) => resolve(payload.toString())),
    );
    await reader.subscribeAsync(STATE_TOPIC);
    expect(await state).toBe('{"state":"online"}');
  } finally {
    await reader.endAsync(true);
  }
});

test('unhealthy once the broker holds the last will (offline)', async () => {
  await retainState('{"state":"offline"}');
  const result = await healthcheck();
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`${STATE_TOPIC} says {"state":"offline"}`);
});

test('unhealthy when the broker refuses the credentials', async () => {
  await retainState('{"state":"online"}');
  const result = await healthcheck('wrong-password');
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/Not authorized|Bad username or password/);
});
