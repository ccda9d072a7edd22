import { createServer } from 'node:net';
import { MqttSection } from '../../../config/schema/service';
import { silentLogger, type Logger } from '../../../core/logger';
import { MqttConnection } from '../../../drivers/mqtt/connection';
import { EmbeddedBroker } from '../../../drivers/mqtt/embeddedBroker';
import { freePort } from '../../helpers/ports';

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether the port can be bound again, i.e. the broker released it. */
async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('EmbeddedBroker', () => {
  test('serves MqttConnections (QoS 1, retained state, persistent sessions) and closes everything on stop', async () => {
    const port = await freePort();
    const broker = new EmbeddedBroker({ host: '127.0.0.1', port, logger: silentLogger });
    const connection = (clientId: string): MqttConnection =>
      new MqttConnection({
        // No url: the embedded broker on embedded_host:embedded_port is used.
        config: MqttSection.parse({
          embedded_port: port,
          base_topic: 'demo',
          client_id: clientId,
          reconnect_ms: 100,
        }),
        instance: 'demo',
        configDir: __dirname,
        logger: silentLogger,
      });
    const serviceId = 'nocturne-demo-with-a-client-id-longer-than-23';
    const service = connection(serviceId);
    const restarted = connection(serviceId);
    const sensor = connection('sensor');
    try {
      await broker.start();
      expect(broker.url).toBe(`mqtt://127.0.0.1:${port}`);

      const detections: string[] = [];
      const states: string[] = [];
      await service.subscribe('demo/presence/+', 1, (_t, payload) => {
        detections.push(payload.toString());
      });
      await sensor.subscribe('demo/bridge/state', 1, (_t, payload) => {
        states.push(payload.toString());
      });
      await service.start();
      await sensor.start();
      expect(service.health()).toBe('up');
      expect(broker.clientCount()).toBe(2);

      await sensor.publish('demo/presence/pole-1', 'pedestrian', { qos: 1 });
      await waitFor('detection', () => detections.length === 1);
      expect(detections).toEqual(['pedestrian']);
      await waitFor('retained online state', () => states.includes('{"state":"online"}'));

      // Detections sent while the service is away wait in its session.
      await service.stop();
      await sensor.publish('demo/presence/pole-2', 'cyclist', { qos: 1 });
      await restarted.subscribe('demo/presence/+', 1, (_t, payload) => {
        detections.push(payload.toString());
      });
      await restarted.start();
      await waitFor('queued detection', () => detections.length === 2);
      expect(detections).toEqual(['pedestrian', 'cyclist']);

      await broker.stop();
      await broker.stop();
      await waitFor('connection down', () => restarted.health() === 'down');
      expect(broker.clientCount()).toBe(0);
      expect(await portIsFree(port)).toBe(true);
    } finally {
      await service.stop();
      await restarted.stop();
      await sensor.stop();
      await broker.stop();
    }
  });

  test('logs the address it is bound to, not the configured name', async () => {
    const port = await freePort();
    const infos: string[] = [];
    const logger: Logger = { ...silentLogger, info: (msg) => infos.push(msg) };
    const broker = new EmbeddedBroker({ host: 'localhost', port, logger });
    try {
      await broker.start();
      expect(infos).toEqual([
        expect.stringMatching(
          new RegExp(`^embedded MQTT broker listening on (127\\.0\\.0\\.1|\\[::1\\]):${port} `),
        ),
      ]);
    } finally {
      await broker.stop();
    }
  });

  test('stop without start is safe; a busy port is reported with the configuration entry', async () => {
    const port = await freePort();
    await new EmbeddedBroker({ host: '127.0.0.1', port, logger: silentLogger }).stop();

    const first = new EmbeddedBroker({ host: '127.0.0.1', port, logger: silentLogger });
    const second = new EmbeddedBroker({ host: '127.0.0.1', port, logger: silentLogger });
    try {
      await first.start();
      await expect(second.start()).rejects.toThrow(
        `mqtt.embedded_port: cannot listen on 127.0.0.1:${port}: listen EADDRINUSE`,
      );
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
