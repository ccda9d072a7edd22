import { connectAsync, type MqttClient } from 'mqtt';
import { parseConfig } from '../../../config/load';
import { toYaml } from '../../../config/generateDemo';
import { ManualClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import { UplinkPublisher } from '../../../simulators/lorawan';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';

// The simulated network servers against mosquitto: what a ChirpStack v4 and a The Things Stack v3
// integration would publish for the sensors of the configuration.

let broker: Mosquitto;
let watcher: MqttClient;
const messages: { topic: string; payload: Record<string, unknown> }[] = [];

beforeAll(async () => {
  broker = await startMosquitto();
  watcher = await connectAsync(broker.url);
  watcher.on('message', (topic, payload) =>
    messages.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }),
  );
  await watcher.subscribeAsync(['application/#', 'v3/#'], { qos: 1 });
}, 30_000);

afterAll(async () => {
  await watcher?.endAsync();
  await broker?.stop();
});

function site(): ReturnType<typeof parseConfig> {
  const yaml = toYaml({
    version: 1,
    site: { name: 'x', timezone: 'Europe/Paris', location: { lat: 49.12, lon: 6.18 } },
    mqtt: { url: broker.url },
    communes: [{ id: 'metz', name: 'Metz' }],
    devices: [
      { id: 'chirpstack', protocol: 'mqtt', format: 'chirpstack-v4' },
      { id: 'tts', protocol: 'mqtt', format: 'ttn-v3' },
    ],
    sensor_models: [
      {
        id: 'pav',
        kind: 'bin',
        points: [
          {
            id: 'remplissage',
            quantity: 'fill_level',
            unit: '%',
            path: 'distance',
            scale: -0.0833,
            offset: 100,
          },
        ],
      },
      {
        id: 'limni',
        kind: 'river_station',
        points: [{ id: 'niveau', quantity: 'water_level', unit: 'm', path: 'level.m' }],
      },
    ],
    sensors: [
      { id: 'pav-1', model: 'pav', source: 'chirpstack', commune: 'metz', dev_eui: '24E124136B502217' },
      { id: 'limni-1', model: 'limni', source: 'tts', commune: 'metz', device_id: 'limni-1' },
    ],
  });
  return parseConfig(yaml, 'site.yaml', { env: {} });
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('each sensor in its network server’s format, the raw field its point reads, and ChirpStack’s battery', async () => {
  const clock = new ManualClock(Date.parse('2026-11-14T21:00:00Z'));
  const uplinks = new UplinkPublisher(site(), clock, silentLogger, { everyMs: 1000 });
  uplinks.start();
  try {
    await until('the connection', () => uplinks.stats().connected);
    clock.advance(500); // pav-1's uplink, then its status event (its first uplink)
    clock.advance(500); // limni-1's uplink
    await until('three messages', () => messages.length === 3);
    const [up, status, ttn] = messages;
    expect(up.topic).toBe('application/nocturne-demo/device/24e124136b502217/event/up');
    expect(up.payload).toMatchObject({
      time: '2026-11-14T21:00:00.500Z',
      deviceInfo: { devEui: '24e124136b502217' },
    });
    // The fill level the model gives, turned back into the distance the sensor measures.
    const fill = 100 - 0.0833 * (up.payload.object as { distance: number }).distance;
    expect(fill).toBeGreaterThanOrEqual(4.9);
    expect(fill).toBeLessThanOrEqual(95.1);
    expect(status.topic).toBe('application/nocturne-demo/device/24e124136b502217/event/status');
    expect(typeof status.payload.batteryLevel).toBe('number');
    expect(ttn.topic).toBe('v3/nocturne-demo@ttn/devices/limni-1/up');
    expect(ttn.payload.received_at).toBe('2026-11-14T21:00:01.000Z');
    const level = (ttn.payload.uplink_message as { decoded_payload: { level: { m: unknown } } })
      .decoded_payload.level.m;
    expect(typeof level).toBe('number');
  } finally {
    await uplinks.stop();
  }
});
