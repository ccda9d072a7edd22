import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OPCUACertificateManager } from 'node-opcua';
import { OpcuaDevice } from '../../../config/schema/devices';
import type { OpcuaDeviceConfig } from '../../../config/schema';
import { ManualClock } from '../../../core/clock';
import { silentLogger, type Logger } from '../../../core/logger';
import type { DriverError, PointRef } from '../../../drivers/driver';
import { routeOpcuaLibraryLogs } from '../../../drivers/opcua/libraryLog';
import { OpcuaDriver } from '../../../drivers/opcua/opcuaDriver';
import type { OpcuaDriverOptions } from '../../../drivers/opcua/options';
import { applicationUriOf, sha1 } from '../../../drivers/opcua/pki';
import {
  OpcuaTestServer,
  SampleLog,
  TEST_NODES,
  nextConnected,
  valueIs,
} from '../../helpers/opcuaTestServer';
import { freePort } from '../../helpers/ports';

routeOpcuaLibraryLogs(silentLogger);

const tmp = mkdtempSync(path.join(tmpdir(), 'nocturne-opcua-security-'));
const serverPki = path.join(tmp, 'server-pki');
const sharedClientPki = path.join(tmp, 'client-pki');
const RETRY_MS = 60_000;
let server: OpcuaTestServer;
const drivers: OpcuaDriver[] = [];

beforeAll(async () => {
  server = new OpcuaTestServer({
    port: await freePort(),
    pkiDir: serverPki,
    securityModes: ['SignAndEncrypt'],
    users: { operator: 's3cret' },
  });
  await server.start();
});

afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.stop()));
});

afterAll(async () => {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function secureDevice(): OpcuaDeviceConfig {
  return OpcuaDevice.parse({
    id: 'bms',
    protocol: 'opcua',
    endpoint: server.endpoint,
    security: { mode: 'SignAndEncrypt', policy: 'Basic256Sha256' },
    auth: { type: 'username', username: 'operator', password: { env: 'BMS_PASSWORD' } },
  });
}

function makeDriver(options: Partial<OpcuaDriverOptions>): OpcuaDriver {
  const driver = new OpcuaDriver(secureDevice(), {
    pkiDir: sharedClientPki,
    configDir: tmp,
    reconnectInitialDelayMs: 100,
    reconnectMaxDelayMs: 500,
    retryAfterRefusalMs: RETRY_MS,
    ...options,
  });
  drivers.push(driver);
  return driver;
}

/** A logger that keeps what it is told, for assertions on warnings. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger: Logger & { lines: string[] } = {
    lines,
    error: (msg) => lines.push(`error ${msg}`),
    warn: (msg) => lines.push(`warn ${msg}`),
    info: (msg) => lines.push(`info ${msg}`),
    debug: () => undefined,
    child: () => logger,
  };
  return logger;
}

function errorsOf(driver: OpcuaDriver): DriverError[] {
  const errors: DriverError[] = [];
  driver.on('healthChanged', (_health, error) => {
    if (error) errors.push(error);
  });
  return errors;
}

const setpoint: PointRef = {
  key: 'setpoint',
  label: "buildings[0].points[1] 'mairie/setpoint'",
  address: { protocol: 'opcua', nodeId: TEST_NODES.setpoint.nodeId, samplingMs: 20 },
};

function derOf(file: string): Buffer {
  const base64 = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(
    readFileSync(file, 'utf8'),
  )?.[1];
  return Buffer.from((base64 ?? '').replace(/\s+/g, ''), 'base64');
}

/** Thumbprints of the certificates (PEM files) in a folder. */
function thumbprints(folder: string): string[] {
  return readdirSync(folder)
    .filter((name) => name.endsWith('.pem'))
    .map((name) => sha1(derOf(path.join(folder, name))));
}

const serverCertificateFile = (): string => {
  const folder = path.join(serverPki, 'server', 'own', 'certs');
  return path.join(folder, readdirSync(folder).filter((name) => name.endsWith('.pem'))[0]);
};
const serverThumbprint = (): string => sha1(derOf(serverCertificateFile()));

describe('OpcuaDriver security', () => {
  it('connects with SignAndEncrypt and a password, trusting the server certificate on first use', async () => {
    const logger = recordingLogger();
    const driver = makeDriver({ logger, env: { BMS_PASSWORD: 's3cret' } });
    await driver.start();
    expect(driver.health()).toBe('up');
    const [sample] = await driver.read([setpoint]);
    expect(sample).toMatchObject({ value: TEST_NODES.setpoint.initial, quality: 'good' });
    expect(await driver.write([{ ...setpoint, value: 20 }])).toEqual([{ key: 'setpoint', ok: true }]);

    expect(thumbprints(path.join(sharedClientPki, 'trusted', 'certs'))).toEqual([serverThumbprint()]);
    expect(logger.lines.filter((l) => l.startsWith('warn trusting the certificate'))).toEqual([
      expect.stringContaining(serverThumbprint()),
    ]);

    // known now: a second client trusts it without a new warning
    const second = recordingLogger();
    await makeDriver({ logger: second, env: { BMS_PASSWORD: 's3cret' } }).start();
    expect(second.lines.filter((l) => l.includes('trusting'))).toEqual([]);
  });

  it('reconnects with its credentials after a server restart; node-opcua restores the monitored items', async () => {
    const logger = recordingLogger();
    const driver = makeDriver({ logger, env: { BMS_PASSWORD: 's3cret' } });
    await driver.start();
    const log = new SampleLog(driver);
    driver.subscribe([setpoint]);
    await log.until((s) => s.key === 'setpoint');

    const reconnected = nextConnected(driver);
    await server.restart();
    expect(await reconnected).toEqual({ reconnect: true });
    server.setValue('setpoint', 31);
    await log.until(valueIs('setpoint', 31));
    // without operation limits on the server, the library's own repair works and the driver leaves it be
    expect(logger.lines.filter((l) => l.includes('did not survive'))).toEqual([]);
  });

  it('refuses another certificate for a server it already trusts', async () => {
    // an impostor: a self-signed certificate carrying the real server's application URI
    const pkiDir = path.join(tmp, 'pinned-client-pki');
    const impostorPki = new OPCUACertificateManager({ rootFolder: path.join(tmp, 'impostor-pki') });
    await impostorPki.initialize();
    const impostorFile = path.join(tmp, 'impostor.pem');
    const applicationUri = applicationUriOf(derOf(serverCertificateFile()));
    expect(applicationUri).toEqual(expect.stringMatching(/^urn:/));
    await impostorPki.createSelfSignedCertificate({
      applicationUri: applicationUri as string,
      subject: '/CN=impostor',
      dns: ['127.0.0.1'],
      startDate: new Date(),
      validity: 30,
      outputFile: impostorFile,
    });
    await impostorPki.dispose();
    mkdirSync(path.join(pkiDir, 'trusted', 'certs'), { recursive: true });
    copyFileSync(impostorFile, path.join(pkiDir, 'trusted', 'certs', 'impostor.pem'));

    const logger = recordingLogger();
    const driver = makeDriver({
      pkiDir,
      logger,
      clock: new ManualClock(Date.now()),
      env: { BMS_PASSWORD: 's3cret' },
    });
    const errors = errorsOf(driver);
    await driver.start();
    expect(driver.health()).toBe('down');
    expect(errors.map((e) => e.code)).toEqual(['security']);
    expect(thumbprints(path.join(pkiDir, 'rejected'))).toEqual([serverThumbprint()]);
    expect(logger.lines).toContainEqual(
      expect.stringContaining(
        `presents certificate ${serverThumbprint()} instead of the trusted ${sha1(derOf(impostorFile))}`,
      ),
    );
  });

  it('reports refused credentials as a security error, and tries again later', async () => {
    const clock = new ManualClock(Date.now());
    const env: NodeJS.ProcessEnv = { BMS_PASSWORD: 'wrong' };
    const driver = makeDriver({ clock, env });
    const errors = errorsOf(driver);
    await driver.start();
    expect(driver.health()).toBe('down');
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      [
        'security',
        `device 'bms' (${server.endpoint}): cannot open a session as user 'operator': BadUserAccessDenied (0x801f0000)`,
      ],
    ]);
    const [sample] = await driver.read([setpoint]);
    expect(sample.error?.code).toBe('disconnected');

    env.BMS_PASSWORD = 's3cret'; // the operator fixes the secret; it is read again at the next attempt
    const connected = nextConnected(driver);
    clock.advance(RETRY_MS);
    expect(await connected).toEqual({ reconnect: false });
    expect(driver.health()).toBe('up');
  });

  it('refuses an unknown server certificate when trust on first use is off, until an operator trusts it', async () => {
    const pkiDir = path.join(tmp, 'strict-client-pki');
    const clock = new ManualClock(Date.now());
    const driver = makeDriver({
      pkiDir,
      clock,
      env: { BMS_PASSWORD: 's3cret' },
      trustServerOnFirstUse: false,
    });
    const errors = errorsOf(driver);
    await driver.start();
    expect(driver.health()).toBe('down');
    expect(errors.map((e) => e.code)).toEqual(['security']);
    expect(errors[0].message).toContain('BadCertificateUntrusted');
    const rejected = path.join(pkiDir, 'rejected');
    expect(thumbprints(rejected)).toEqual([serverThumbprint()]);

    for (const name of readdirSync(rejected)) {
      renameSync(path.join(rejected, name), path.join(pkiDir, 'trusted', 'certs', name));
    }
    const connected = nextConnected(driver);
    clock.advance(RETRY_MS);
    expect(await connected).toEqual({ reconnect: false });
  });
});
