import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MqttSection } from '../../../config/schema/service';
import { silentLogger } from '../../../core/logger';
import { describeConnectionError } from '../../../drivers/mqtt/connection';
import {
  brokerUrl,
  clientOptions,
  coerceMqttConnectionOptions,
  displayUrl,
  readConnectionSecrets,
} from '../../../drivers/mqtt/options';

const mqttConfig = (raw: Record<string, unknown> = {}) => MqttSection.parse(raw);

describe('MQTT connection options', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nocturne-mqtt-options-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('persistent session, stable client id, retained last will, reconnect by mqtt.js', () => {
    const resolved = coerceMqttConnectionOptions({
      config: mqttConfig({
        url: 'mqtt://broker:1883',
        base_topic: 'city/',
        reconnect_ms: 500,
        keepalive_s: 20,
      }),
      instance: 'west',
      configDir: dir,
      logger: silentLogger,
    });
    expect(resolved.clientId).toBe('nocturne-west');
    expect(resolved.stateTopic).toBe('city/bridge/state');
    const options = clientOptions(resolved, {});
    expect(options).toMatchObject({
      clientId: 'nocturne-west',
      clean: false,
      keepalive: 20,
      reconnectPeriod: 500,
      reconnectOnConnackError: true,
      resubscribe: false,
      queueQoSZero: false,
      will: { topic: 'city/bridge/state', qos: 1, retain: true },
    });
    expect(String(options.will?.payload)).toBe('{"state":"offline"}');
    expect(options.username).toBeUndefined();
  });

  test("mqtt.js's own log is silenced unless DEBUG asks for it", () => {
    const resolved = coerceMqttConnectionOptions({
      config: mqttConfig({ url: 'mqtt://broker' }),
      instance: 'west',
      configDir: dir,
      logger: silentLogger,
    });
    const saved = process.env.DEBUG;
    try {
      delete process.env.DEBUG;
      expect(clientOptions(resolved, {}).log).toEqual(expect.any(Function));
      process.env.DEBUG = 'nocturne:other';
      expect(clientOptions(resolved, {}).log).toEqual(expect.any(Function));
      for (const asked of ['mqttjs*', 'mqttjs:client', '*']) {
        process.env.DEBUG = asked;
        expect(clientOptions(resolved, {}).log).toBeUndefined();
      }
    } finally {
      if (saved === undefined) delete process.env.DEBUG;
      else process.env.DEBUG = saved;
    }
  });

  test('client_id from the configuration wins', () => {
    const resolved = coerceMqttConnectionOptions({
      config: mqttConfig({ url: 'mqtt://broker', client_id: 'lights-42' }),
      instance: 'west',
      configDir: dir,
      logger: silentLogger,
    });
    expect(clientOptions(resolved, {}).clientId).toBe('lights-42');
  });

  test('without url the embedded broker is used, reached on loopback when bound to every interface', () => {
    expect(brokerUrl(mqttConfig({ embedded_port: 1999 }))).toBe('mqtt://127.0.0.1:1999');
    expect(brokerUrl(mqttConfig({ embedded_host: '0.0.0.0', embedded_port: 1999 }))).toBe(
      'mqtt://127.0.0.1:1999',
    );
    expect(brokerUrl(mqttConfig({ embedded_host: '::1', embedded_port: 1999 }))).toBe('mqtt://[::1]:1999');
    expect(brokerUrl(mqttConfig({}), 'mqtt://127.0.0.1:40000')).toBe('mqtt://127.0.0.1:40000');
    expect(brokerUrl(mqttConfig({ url: 'mqtts://b:8883' }), 'mqtt://127.0.0.1:40000')).toBe('mqtts://b:8883');
  });

  test('an empty embedded_host, which Node reads as every interface, is refused rather than guessed', () => {
    expect(() => mqttConfig({ embedded_host: '' })).toThrow(/empty is refused/);
    expect(brokerUrl(mqttConfig({ embedded_host: '::', embedded_port: 1999 }))).toBe('mqtt://127.0.0.1:1999');
  });

  test('passwords never reach logs', () => {
    expect(displayUrl('mqtt://user:secret@broker:1883')).toBe('mqtt://user:***@broker:1883');
  });

  test('password from the environment or a file; missing ones name the entry', () => {
    writeFileSync(path.join(dir, 'mqtt.pw'), 'from-file\n');
    const base = { configDir: dir, instance: 'x', logger: silentLogger };
    const fromEnv = coerceMqttConnectionOptions({
      ...base,
      config: mqttConfig({ url: 'mqtt://b', username: 'u', password: { env: 'MQTT_PW' } }),
      env: { MQTT_PW: 'from-env' },
    });
    expect(readConnectionSecrets(fromEnv).password).toBe('from-env');
    expect(clientOptions(fromEnv, readConnectionSecrets(fromEnv))).toMatchObject({
      username: 'u',
      password: 'from-env',
    });
    const fromFile = coerceMqttConnectionOptions({
      ...base,
      config: mqttConfig({ url: 'mqtt://b', password: { file: 'mqtt.pw' } }),
    });
    expect(readConnectionSecrets(fromFile).password).toBe('from-file');
    const missing = coerceMqttConnectionOptions({
      ...base,
      config: mqttConfig({ url: 'mqtt://b', password: { env: 'MQTT_PW' } }),
      env: {},
    });
    expect(() => readConnectionSecrets(missing)).toThrow(
      'mqtt.password: environment variable MQTT_PW is not set',
    );
  });

  test('TLS files are read relative to the configuration; errors name the entry and the path', () => {
    writeFileSync(path.join(dir, 'ca.pem'), 'CA');
    const base = { configDir: dir, instance: 'x', logger: silentLogger };
    const ok = coerceMqttConnectionOptions({
      ...base,
      config: mqttConfig({ url: 'mqtts://b:8883', tls: { ca_file: 'ca.pem', reject_unauthorized: false } }),
    });
    const secrets = readConnectionSecrets(ok);
    expect(String(secrets.ca)).toBe('CA');
    expect(clientOptions(ok, secrets)).toMatchObject({ rejectUnauthorized: false });

    const missing = coerceMqttConnectionOptions({
      ...base,
      config: mqttConfig({ url: 'mqtts://b:8883', tls: { ca_file: 'nope.pem' } }),
    });
    expect(() => readConnectionSecrets(missing)).toThrow(
      `mqtt.tls.ca_file: cannot read '${path.join(dir, 'nope.pem')}'`,
    );

    const plain = coerceMqttConnectionOptions({
      ...base,
      config: mqttConfig({ url: 'mqtt://b:1883', tls: { ca_file: 'ca.pem' } }),
    });
    expect(() => readConnectionSecrets(plain)).toThrow(
      /mqtt.tls is set but the broker URL 'mqtt:\/\/b:1883' is not encrypted/,
    );

    const halfClientCert = coerceMqttConnectionOptions({
      ...base,
      config: mqttConfig({ url: 'mqtts://b:8883', tls: { cert_file: 'ca.pem' } }),
    });
    expect(() => readConnectionSecrets(halfClientCert)).toThrow(/cert_file and key_file go together/);
  });

  test('connection errors say what to check', () => {
    const options = coerceMqttConnectionOptions({
      config: mqttConfig({ url: 'mqtt://b:1883', username: 'alice' }),
      instance: 'x',
      configDir: dir,
      logger: silentLogger,
    });
    const refused = describeConnectionError(
      Object.assign(new Error('Connection refused: Not authorized'), { code: 5 }),
      options,
    );
    expect(refused.code).toBe('security');
    expect(refused.message).toBe(
      "MQTT broker mqtt://b:1883 refused the connection (user 'alice'): Not authorized; check mqtt.username and mqtt.password",
    );
    const tls = describeConnectionError(
      Object.assign(new Error('self-signed certificate in certificate chain'), {
        code: 'SELF_SIGNED_CERT_IN_CHAIN',
      }),
      options,
    );
    expect(tls.code).toBe('security');
    expect(tls.message).toMatch(/TLS handshake failed.*check mqtt.tls.ca_file/);
    expect(describeConnectionError(new Error('connack timeout'), options).code).toBe('timeout');
    const refusedTcp = describeConnectionError(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1883'), { code: 'ECONNREFUSED' }),
      options,
    );
    expect(refusedTcp.code).toBe('disconnected');
    expect(refusedTcp.detail).toBe('ECONNREFUSED');
  });
});
