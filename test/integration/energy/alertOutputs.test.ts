import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { Bus } from '../../../controller/bus';
import { systemClock } from '../../../core/clock';
import { DeviceRegistry } from '../../../controller/devices';
import type { AlertView } from '../../../controller/telemetry/services';
import { AlertManager } from '../../../controller/telemetry/alerts/manager';
import type { WebhookPayload } from '../../../controller/telemetry/alerts/webhook';
import { PointCatalog } from '../../../controller/telemetry/points';
import type { LineSink } from '../../../drivers/timeSeries';
import { silentLogger } from '../../../core/logger';
import { MqttConnection } from '../../../drivers/mqtt/connection';
import type { Config, ConfigInput } from '../../../config/schema';
import { MqttSection } from '../../../config/schema/service';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';
import { freePort } from '../../helpers/ports';
import { energyConfig, feed } from '../../unit/energy/fixtures';

// Alert outputs against real servers on loopback: Debian's mosquitto, and an HTTP server that fails on
// purpose (5xx, refusals, silence) to exercise the webhooks' retries.

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let broker: Mosquitto;
beforeAll(async () => {
  broker = await startMosquitto();
});
afterAll(() => broker?.stop());

const sink: LineSink = { write: () => Promise.resolve() };
const DOOR_RULE = {
  id: 'porte',
  kind: 'threshold' as const,
  scope: { quantities: ['door_open'] },
  above: 0.5,
};

async function startAlerts(config: Config, mqtt?: MqttConnection) {
  const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-alert-outputs-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const bus = new Bus(silentLogger);
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
    sink,
    mqtt,
    bus,
    clock: systemClock,
    logger: silentLogger,
    stateDir: dir,
    configDir: dir,
    env: { HOOK_TOKEN: 's3cret', HOOK_URL: '' },
  });
  await alerts.start();
  cleanups.push(() => alerts.stop());
  const door = (open: boolean): void => {
    const point = catalog.bySource.get('armoire/porte')!;
    feed(point, open, Date.now());
    alerts.observePoint(point, Date.now());
  };
  return { alerts, door };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function observer(
  topics: string[],
): Promise<{ client: MqttClient; messages: { topic: string; payload: string; retain: boolean }[] }> {
  const client = await connectAsync(broker.url, { connectTimeout: 2000, reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync(true));
  const messages: { topic: string; payload: string; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, payload: payload.toString(), retain: packet.retain }),
  );
  await client.subscribeAsync(topics, { qos: 1 });
  return { client, messages };
}

describe('MQTT output', () => {
  it('publishes every change on <base>/alerts/<commune>/<kind> and keeps open alerts retained until they clear', async () => {
    const mqtt = new MqttConnection({
      config: MqttSection.parse({ url: broker.url, base_topic: 'alertes', reconnect_ms: 100 }),
      instance: 'outputs-test',
      configDir: __dirname,
      logger: silentLogger,
      connectTimeoutMs: 2000,
      stopTimeoutMs: 2000,
    });
    await mqtt.start();
    cleanups.push(() => mqtt.stop());
    const stream = await observer(['alertes/alerts/+/+']);
    const { alerts, door } = await startAlerts(energyConfig([DOOR_RULE]), mqtt);

    door(true);
    await waitFor('the raised alert', () => stream.messages.length === 1);
    const raised = JSON.parse(stream.messages[0].payload) as AlertView;
    expect(stream.messages[0]).toMatchObject({ topic: 'alertes/alerts/woippy/threshold', retain: false });
    expect(raised).toMatchObject({
      state: 'raised',
      rule: 'porte',
      commune: 'woippy',
      source: 'armoire/porte',
      value: 1,
      // The text as a code and its parameters, and rendered in French.
      code: 'threshold-above',
      params: { place: 'armoire', value: 1, threshold: 0.5 },
      message: expect.stringContaining('au-dessus du seuil de 0,5') as string,
    });

    // A client arriving now gets the open alert from the broker.
    const late = await observer(['alertes/alerts/+/+/+']);
    await waitFor('the retained open alert', () => late.messages.length === 1);
    expect(late.messages[0]).toMatchObject({
      topic: `alertes/alerts/woippy/threshold/${raised.id}`,
      retain: true,
    });

    await alerts.acknowledge(raised.id, {
      user: 'elu-woippy',
      role: 'viewer',
      communes: ['woippy'],
      via: 'api',
      from: 'test',
    });
    door(false);
    await waitFor('acknowledged and cleared', () => stream.messages.length === 3);
    expect(stream.messages.map((m) => (JSON.parse(m.payload) as AlertView).state)).toEqual([
      'raised',
      'acknowledged',
      'cleared',
    ]);
    await waitFor('the retained alert emptied', () => late.messages.some((m) => m.payload === ''));

    const after = await observer(['alertes/alerts/+/+/+']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(after.messages).toEqual([]);
    expect(alerts.stats().mqttFailures).toBe(0);
  });
});

/** An HTTP server answering from a script of statuses ('hang': no answer at all); records every request. */
async function hookServer(
  script: (number | 'hang')[],
): Promise<{ url: string; requests: { headers: http.IncomingHttpHeaders; body: WebhookPayload }[] }> {
  const requests: { headers: http.IncomingHttpHeaders; body: WebhookPayload }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString()) as WebhookPayload,
      });
      const step = script.shift() ?? 200;
      if (step === 'hang') return;
      res.writeHead(step, { 'content-type': 'text/plain' });
      res.end(step >= 400 ? 'no' : 'ok');
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
  return { url: `http://127.0.0.1:${port}/hook`, requests };
}

function webhookConfig(
  url: string,
  more: Partial<NonNullable<NonNullable<ConfigInput['alerts']>['webhooks']>[number]> = {},
): Config {
  return energyConfig([{ ...DOOR_RULE, severity: 'critical' }], {
    alerts: {
      rules: [{ ...DOOR_RULE, severity: 'critical' }],
      webhooks: [
        {
          id: 'astreinte',
          url,
          headers: { Authorization: { env: 'HOOK_TOKEN' }, 'X-Site': 'metz' },
          timeout_ms: 300,
          retries: 3,
          backoff_ms: 20,
          ...more,
        },
      ],
    },
  });
}

describe('webhooks', () => {
  it('POSTs each change as JSON with its headers, retrying 5xx and silence until it is delivered, in order', async () => {
    const hook = await hookServer([503, 'hang', 500]);
    const { alerts, door } = await startAlerts(webhookConfig(hook.url));
    door(true);
    door(false);
    await waitFor('both changes delivered', () => alerts.stats().webhooks.astreinte.delivered === 2);
    expect(hook.requests.map((r) => r.body.change)).toEqual([
      'raised',
      'raised',
      'raised',
      'raised',
      'cleared',
    ]);
    const last = hook.requests[3];
    expect(last.headers).toMatchObject({
      authorization: 's3cret',
      'x-site': 'metz',
      'content-type': 'application/json',
    });
    expect(last.body).toMatchObject({
      event: 'alert',
      change: 'raised',
      instance: 'nocturne',
      site: 'test',
      alert: { rule: 'porte', severity: 'critical', commune: 'woippy' },
    });
    expect(last.body.text).toBe('[critical] porte (armoire) : 1, au-dessus du seuil de 0,5');
    expect(hook.requests[4].body.text).toBe(
      '[critical] Terminé : porte (armoire) : 1, au-dessus du seuil de 0,5',
    );
    expect(alerts.stats().webhooks.astreinte).toEqual({
      delivered: 2,
      failedAttempts: 3,
      abandoned: 0,
      queued: 0,
    });
  });

  it('gives up after its retries, does not retry a refusal, and keeps going with the next change', async () => {
    const hook = await hookServer([500, 500, 500, 500, 400, 200]);
    const { alerts, door } = await startAlerts(webhookConfig(hook.url));
    door(true); // 4 attempts, all 500: given up
    door(false); // 400: refused, not retried
    door(true); // 200
    await waitFor('three changes settled', () => hook.requests.length === 6);
    await waitFor('stats settled', () => alerts.stats().webhooks.astreinte.delivered === 1);
    expect(alerts.stats().webhooks.astreinte).toEqual({
      delivered: 1,
      failedAttempts: 5,
      abandoned: 2,
      queued: 0,
    });
  });

  it('sends only what it asked for: severity, states, communes', async () => {
    const hook = await hookServer([]);
    const { door } = await startAlerts(
      webhookConfig(hook.url, { states: ['cleared'], communes: ['woippy'] }),
    );
    door(true);
    door(false);
    await waitFor('the clear', () => hook.requests.length === 1);
    expect(hook.requests[0].body.change).toBe('cleared');
    const quiet = await hookServer([]);
    const { door: door2 } = await startAlerts(webhookConfig(quiet.url, { communes: ['metz'] }));
    door2(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(quiet.requests).toEqual([]);
  });

  it('refuses to start with a secret it cannot read, naming the webhook', async () => {
    const config = webhookConfig('http://127.0.0.1:9/x', {
      headers: { Authorization: { env: 'MISSING_TOKEN' } },
    });
    await expect(startAlerts(config)).rejects.toThrow(
      "alerts.webhooks 'astreinte' headers.Authorization: environment variable MISSING_TOKEN is not set",
    );
  });
});
