import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmailChannel, SmsChannel } from '../../../config/schema/notifications';
import { AuditLog } from '../../../controller/audit/auditLog';
import { Bus } from '../../../controller/bus';
import { DeviceRegistry } from '../../../controller/devices';
import { EmailSender } from '../../../controller/telemetry/alerts/emailSender';
import { AlertNotifier } from '../../../controller/telemetry/alerts/notifier';
import { AlertManager } from '../../../controller/telemetry/alerts/manager';
import { SmsSender } from '../../../controller/telemetry/alerts/smsSender';
import { PointCatalog } from '../../../controller/telemetry/points';
import { ManualClock, systemClock } from '../../../core/clock';
import { localDateTime, timeZone } from '../../../core/localTime';
import { silentLogger } from '../../../core/logger';
import type { Config } from '../../../config/schema';
import { freePort } from '../../helpers/ports';
import { startLoopbackSmtp, type LoopbackSmtp } from '../../helpers/smtpServer';
import { energyConfig, feed } from '../../unit/energy/fixtures';

// Alerts to people against real servers on loopback: an SMTP server (smtp-server) and an HTTP SMS
// gateway that fails on purpose (500, silence), then the whole path from a rule to the right people.

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const ENV = { SMTP_USER: 'alertes', SMTP_PASSWORD: 'mot-de-passe', SMS_KEY: 'cle-secrete' };

async function smtp(credentials?: { user: string; pass: string }): Promise<LoopbackSmtp> {
  const server = await startLoopbackSmtp(credentials);
  cleanups.push(() => server.stop());
  return server;
}

interface GatewayRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An SMS gateway answering from a script of statuses ('hang': no answer); records every request. */
async function gateway(script: (number | 'hang')[]): Promise<{ url: string; requests: GatewayRequest[] }> {
  const requests: GatewayRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      const step = script.shift() ?? 201;
      if (step === 'hang') return;
      res.writeHead(step, { 'content-type': 'application/json' });
      res.end(step >= 400 ? '{"error":"no"}' : '{"id":"42"}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${port}`, requests };
}

const smsChannel = (url: string) =>
  SmsChannel.parse({
    url: `${url}/{account}/sms?key={key}`,
    headers: { 'X-Api-Key': { env: 'SMS_KEY' } },
    params: { account: 'metz', key: { env: 'SMS_KEY' } },
    body: '{"to":"{to}","message":"{text}","sender":"MAIRIE"}',
    max_chars: 70,
    timeout_ms: 300,
    retries: 3,
    backoff_ms: 20,
  });

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('e-mail sender', () => {
  it('logs in with the credentials from the environment and delivers subject, text and HTML to the recipient', async () => {
    const server = await smtp({ user: 'alertes', pass: 'mot-de-passe' });
    const sender = new EmailSender(
      EmailChannel.parse({
        host: '127.0.0.1',
        port: server.port,
        security: 'none',
        user: { env: 'SMTP_USER' },
        password: { env: 'SMTP_PASSWORD' },
        from: 'Mairie de Metz <alertes@metz.fr>',
      }),
      { configDir: __dirname, env: ENV },
    );
    sender.start();
    cleanups.push(() => Promise.resolve(sender.stop()));
    const outcome = await sender.send('marie@metz.fr', {
      subject: '[Nocturne] CRITIQUE – Alerte : Porte ouverte (Woippy)',
      text: 'Quoi : Porte ouverte\nOù : Woippy – armoire/porte',
      html: '<p>Porte ouverte</p>',
    });
    expect(outcome).toEqual({ ok: true });
    expect(server.mails).toEqual([
      {
        from: 'alertes@metz.fr',
        to: ['marie@metz.fr'],
        user: 'alertes',
        subject: '[Nocturne] CRITIQUE – Alerte : Porte ouverte (Woippy)',
        text: 'Quoi : Porte ouverte\nOù : Woippy – armoire/porte',
        html: '<p>Porte ouverte</p>',
      },
    ]);
  });

  it('tells a refusal (5xx, not retried) from a temporary failure (4xx, no server: retried)', async () => {
    const server = await smtp();
    const channel = EmailChannel.parse({
      host: '127.0.0.1',
      port: server.port,
      security: 'none',
      from: 'alertes@metz.fr',
      timeout_ms: 500,
    });
    const sender = new EmailSender(channel, { configDir: __dirname });
    sender.start();
    cleanups.push(() => Promise.resolve(sender.stop()));
    const message = { subject: 's', text: 't', html: '<p>t</p>' };
    server.rcptScript.push(550, 451);
    expect(await sender.send('inconnu@metz.fr', message)).toMatchObject({ ok: false, permanent: true });
    expect(await sender.send('marie@metz.fr', message)).toMatchObject({ ok: false, permanent: false });
    await server.stop();
    expect(await sender.send('marie@metz.fr', message)).toMatchObject({ ok: false, permanent: false });
    expect(server.mails).toEqual([]);
  });

  it('refuses to start without its password, naming the field', () => {
    const sender = new EmailSender(
      EmailChannel.parse({ host: 'x', from: 'a@b.fr', password: { env: 'SMTP_PASSWORD' } }),
      { configDir: __dirname, env: {} },
    );
    expect(() => sender.start()).toThrow(
      'notifications.email.password: environment variable SMTP_PASSWORD is not set',
    );
  });
});

describe('SMS sender', () => {
  it('fills the gateway template: URL, secret header and parameters, JSON body; success by status', async () => {
    const sms = await gateway([201, 403]);
    const sender = new SmsSender(smsChannel(sms.url), { configDir: __dirname, env: ENV, clock: systemClock });
    sender.start();
    const signal = new AbortController().signal;
    expect(await sender.send('+33611111111', 'Porte "armoire" ouverte', signal)).toEqual({ ok: true });
    expect(await sender.send('+33611111111', 'x', signal)).toMatchObject({
      ok: false,
      permanent: true,
      reason: 'HTTP 403',
    });
    expect(sms.requests[0]).toMatchObject({
      method: 'POST',
      url: '/metz/sms?key=cle-secrete',
      headers: { 'x-api-key': 'cle-secrete', 'content-type': 'application/json; charset=utf-8' },
    });
    expect(JSON.parse(sms.requests[0].body)).toEqual({
      to: '+33611111111',
      message: 'Porte "armoire" ouverte',
      sender: 'MAIRIE',
    });
  });

  it('gives up an attempt the gateway does not answer within timeout_ms, as worth a retry', async () => {
    const sms = await gateway(['hang']);
    const sender = new SmsSender(smsChannel(sms.url), { configDir: __dirname, env: ENV, clock: systemClock });
    sender.start();
    expect(await sender.send('+33611111111', 'x', new AbortController().signal)).toEqual({
      ok: false,
      permanent: false,
      reason: 'no answer within 300 ms',
    });
  });
});

// ---------------------------------------------------------------- from a rule to the right people

const token = (c: string): string => c.repeat(64);
const DOOR = { kind: 'threshold' as const, scope: { quantities: ['door_open'] }, above: 0.5 };

/** 'HH:MM' in Paris, `minutes` from now. */
function parisClock(minutes: number): string {
  const local = localDateTime(timeZone('Europe/Paris'), Date.now() + minutes * 60_000);
  const m = Math.floor(local.minutes);
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

function notifiedConfig(
  smtpPort: number,
  smsUrl: string,
  rules: Parameters<typeof energyConfig>[0],
  quietHours?: { from: string; to: string },
): Config {
  return energyConfig(rules, {
    users: [
      { id: 'marie', role: 'lighting-manager', communes: ['woippy'], token_sha256: token('a') },
      { id: 'jean', role: 'lighting-manager', communes: ['metz'], token_sha256: token('b') },
      { id: 'pompiers', role: 'emergency', communes: ['*'], token_sha256: token('c') },
    ],
    notifications: {
      console_url: 'https://nocturne.example.fr',
      ...(quietHours ? { quiet_hours: quietHours } : {}),
      email: {
        host: '127.0.0.1',
        port: smtpPort,
        security: 'none',
        from: 'alertes@metz.fr',
        retries: 3,
        backoff_ms: 20,
      },
      sms: smsChannel(smsUrl),
      routes: [
        { roles: ['lighting-manager'], min_severity: 'warning', channels: ['email'] },
        { roles: ['lighting-manager'], min_severity: 'critical', channels: ['sms'] },
        { roles: ['emergency'], min_severity: 'critical' },
      ],
      recipients: [
        { id: 'marie', user: 'marie', email: 'marie@woippy.fr', phone: '+33611111111' },
        { id: 'jean', user: 'jean', email: 'jean@metz.fr', phone: '+33622222222' },
        {
          id: 'caserne',
          user: 'pompiers',
          email: 'cta@sdis57.fr',
          phone: '+33633333333',
          quiet_hours: false,
        },
      ],
    },
  });
}

async function startService(config: Config) {
  const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-notifications-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const bus = new Bus(silentLogger);
  const audit = new AuditLog(dir, { bus, clock: systemClock, logger: silentLogger });
  audit.listen();
  await audit.start();
  cleanups.push(() => audit.stop());
  const catalog = new PointCatalog(config);
  const alerts = new AlertManager({
    config,
    catalog,
    deviceCommune: () => '*',
    deviceDownSince: () => undefined,
    devices: new DeviceRegistry(config, {
      logger: silentLogger,
      clock: systemClock,
      bus,
      configDir: dir,
      stateDir: dir,
    }),
    storageHealth: () => 'up',
    sink: { write: () => Promise.resolve() },
    mqtt: undefined,
    bus,
    clock: systemClock,
    logger: silentLogger,
    stateDir: dir,
    configDir: dir,
    env: ENV,
  });
  await alerts.start();
  cleanups.push(() => alerts.stop());
  const door = (open: boolean): void => {
    const point = catalog.bySource.get('armoire/porte')!;
    feed(point, open, Date.now());
    alerts.observePoint(point, Date.now());
  };
  return { alerts, audit, door };
}

describe('alerts to people, end to end', () => {
  it('sends a critical alert of Woippy to its manager and the emergency services, not to Metz’s manager; retries a 500; audits each send by recipient id', async () => {
    const server = await smtp();
    const sms = await gateway([500]);
    const { alerts, audit, door } = await startService(
      notifiedConfig(server.port, sms.url, [{ ...DOOR, id: 'porte', severity: 'critical' }]),
    );
    door(true);
    await waitFor(
      'two e-mails and two SMS',
      () =>
        alerts.stats().notifications?.email?.delivered === 2 &&
        alerts.stats().notifications?.sms?.delivered === 2,
    );
    expect(server.mails.map((m) => m.to).sort()).toEqual([['cta@sdis57.fr'], ['marie@woippy.fr']]);
    const mail = server.mails[0];
    expect(mail.subject).toMatch(/^\[Nocturne\] CRITIQUE – Alerte : .* \(Woippy\)$/);
    expect(mail.text).toContain('Où : Woippy – armoire/porte');
    expect(mail.text).toContain('Console : https://nocturne.example.fr/#/alerts');
    // The first SMS met a 500 and was sent again.
    const numbers = sms.requests.map((r) => (JSON.parse(r.body) as { to: string }).to);
    expect(numbers).toHaveLength(3);
    expect([...new Set(numbers)].sort()).toEqual(['+33611111111', '+33633333333']);
    for (const request of sms.requests)
      expect(
        Array.from((JSON.parse(request.body) as { message: string }).message).length,
      ).toBeLessThanOrEqual(70);
    expect(alerts.stats().notifications?.sms).toMatchObject({ failedAttempts: 1, abandoned: 0 });

    await audit.flush();
    await waitFor('four audit entries', () => audit.stats().written === 4);
    const entries = await audit.query({ action: 'notify-alert', limit: 10 }, ['*']);
    expect(entries.map((e) => `${e.target} ${e.from} ${e.result}`).sort()).toEqual([
      'recipient caserne email ok',
      'recipient caserne sms ok',
      'recipient marie email ok',
      'recipient marie sms ok',
    ]);
    expect(entries.every((e) => e.via === 'service' && e.communes[0] === 'woippy')).toBe(true);
    expect(JSON.stringify(entries)).not.toMatch(/@|\+33/);
  });

  it('holds a warning in quiet hours but sends a critical alert at once', async () => {
    const server = await smtp();
    const sms = await gateway([]);
    const { alerts, door } = await startService(
      notifiedConfig(
        server.port,
        sms.url,
        [
          { ...DOOR, id: 'porte', severity: 'warning' },
          { ...DOOR, id: 'porte-critique', severity: 'critical' },
        ],
        { from: parisClock(-60), to: parisClock(60) },
      ),
    );
    door(true);
    await waitFor('the critical alert sent', () => alerts.stats().notifications?.email?.delivered === 2);
    await waitFor('its SMS', () => alerts.stats().notifications?.sms?.delivered === 2);
    // Marie's warning e-mail waits for the end of her quiet hours; the emergency services have none,
    // but get no warnings anyway.
    expect(alerts.stats().notifications?.held).toBe(1);
    expect(server.mails).toHaveLength(2);
    expect(server.mails.every((m) => m.subject.includes('CRITIQUE'))).toBe(true);
  });

  it('sends what quiet hours held when they end, with the time it was raised', async () => {
    const server = await smtp();
    const sms = await gateway([]);
    const config = notifiedConfig(server.port, sms.url, [], { from: '22:00', to: '07:00' });
    const clock = new ManualClock(Date.parse('2026-12-04T23:30:00+01:00'));
    const notifier = new AlertNotifier({
      config,
      notifications: config.notifications!,
      bus: new Bus(silentLogger),
      clock,
      logger: silentLogger,
      configDir: __dirname,
      env: ENV,
    });
    notifier.start();
    cleanups.push(() => notifier.stop());
    notifier.notify(
      {
        id: 'porte-1',
        rule: 'porte',
        kind: 'threshold',
        severity: 'warning',
        state: 'raised',
        commune: 'woippy',
        source: 'armoire/porte',
        code: 'rule-message',
        params: { text: 'Porte de l’armoire ouverte' },
        message: 'Porte de l’armoire ouverte',
        raisedAt: clock.now(),
      },
      'raised',
    );
    expect(notifier.stats().held).toBe(1);
    clock.set(Date.parse('2026-12-05T06:59:00+01:00'));
    expect(notifier.stats().held).toBe(1);
    clock.set(Date.parse('2026-12-05T07:00:00+01:00'));
    expect(notifier.stats().held).toBe(0);
    await waitFor('the held e-mail', () => server.mails.length === 1);
    expect(server.mails[0].to).toEqual(['marie@woippy.fr']);
    expect(server.mails[0].text).toContain('Quand : vendredi 4 décembre 2026 à 23:30 UTC+1');
  });
});
