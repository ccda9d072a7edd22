import { randomUUID } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import type { ConfigInput } from '../config/schema';
import { startInflux } from '../test/helpers/influxd';
import { startMosquitto } from '../test/helpers/mosquitto';
import { LineChild, option, round, workspace } from './support/lightingBench';

/**
 * LoRaWAN sensors at scale: `--devices` ChirpStack v4 devices (10,000) publishing `up` events at `--rate`
 * messages/s (2,000) through mosquitto, for `--seconds` (60) after `--warmup` (5), into the telemetry path
 * of the service (bench/support/sensorPath.ts `ours`: MQTT source driver → sampler → InfluxDB writer, the
 * line in its spool) and, in the same run, into the floor (`floor`: a bare mqtt.js subscriber,
 * JSON.parse, one line to the InfluxDB client). Each path runs alone in its own process; `--rounds`
 * alternate floor and ours. Latency is from the publish to the line in the spool (ours) or in the client
 * (floor); CPU per message is the path's process CPU over the window divided by the messages it received.
 *
 *   npm run bench -- sensors [--devices 10000] [--rate 2000] [--seconds 60] [--warmup 5] [--rounds 1]
 *                            [--spool-sync-ms N] [--without-storage]
 *
 * `--spool-sync-ms` sets the service's `influx.spool_sync_ms` (default: the configuration's default), to
 * measure what more frequent fsyncs cost. `--without-storage` leaves out both paths' storage (ours: the
 * spool, the writer and its requests; the floor: the InfluxDB client), the lines being measured when made:
 * the ratio of the rest, to tell what storing costs from what reading costs. Its JSON says `"storage": false`.
 *
 * Targets: 0 lost; p99 ≤ 20 ms; CPU per message ≤ 1.5× the floor's. Last line: one JSON object.
 */

const DEVICES = option('devices', 10_000);
const RATE = option('rate', 2000);
const SECONDS = option('seconds', 60);
const WARMUP = option('warmup', 5);
const ROUNDS = option('rounds', 1);
const TICK_MS = 5;
const SPOOL_SYNC_MS = process.argv.includes('--spool-sync-ms') ? option('spool-sync-ms', 0) : undefined;
const WITH_STORAGE = !process.argv.includes('--without-storage');

const devEui = (i: number): string => (0x24e1241300000000n + BigInt(i)).toString(16).padStart(16, '0');
const now = (): number => performance.timeOrigin + performance.now();

function territory(brokerUrl: string, influxUrl: string): ConfigInput {
  return {
    version: 1,
    site: { name: 'sensors bench', timezone: 'Europe/Paris', location: { lat: 49.12, lon: 6.18 } },
    service: { instance: 'bench', state_dir: './state', log_level: 'warn' },
    mqtt: { url: brokerUrl, base_topic: 'nocturne' },
    influx: {
      url: influxUrl,
      bucket: 'ours',
      batch_size: 5000,
      flush_ms: 1000,
      gzip: true,
      ...(SPOOL_SYNC_MS !== undefined && { spool_sync_ms: SPOOL_SYNC_MS }),
    },
    communes: [{ id: 'metz', name: 'Metz' }],
    devices: [{ id: 'chirpstack', protocol: 'mqtt', format: 'chirpstack-v4' }],
    // One value per uplink, as the floor writes one line per message; radio readings would add lines.
    sensor_models: [
      {
        id: 'bench',
        kind: 'bench',
        period_s: 3600,
        radio: false,
        points: [{ id: 't', quantity: 'bench_time', unit: 'ms', path: 't' }],
      },
    ],
    sensors: Array.from({ length: DEVICES }, (_, i) => ({
      id: `capteur-${i}`,
      model: 'bench',
      source: 'chirpstack',
      commune: 'metz',
      dev_eui: devEui(i),
    })),
  };
}

/** Publishes `RATE` uplinks per second round-robin over the devices; counts those of the window. */
class UplinkFlood {
  private timer?: NodeJS.Timeout;
  private next = 0;
  private inWindow = 0;
  private window = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY };
  private due = 0;
  private last = 0;

  constructor(private readonly client: MqttClient) {}

  start(): void {
    this.last = now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  open(at: number): void {
    this.window = { from: at, to: Number.POSITIVE_INFINITY };
    this.inWindow = 0;
  }

  close(at: number): number {
    this.window.to = at;
    return this.inWindow;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const t = now();
    this.due += ((t - this.last) / 1000) * RATE;
    this.last = t;
    for (; this.due >= 1; this.due--) {
      const i = this.next++ % DEVICES;
      const sent = now();
      if (sent >= this.window.from && sent < this.window.to) this.inWindow++;
      const payload = JSON.stringify({
        deduplicationId: randomUUID(),
        time: new Date(Math.floor(sent)).toISOString(),
        deviceInfo: { applicationName: 'bench', deviceName: `capteur-${i}`, devEui: devEui(i) },
        fCnt: Math.floor(this.next / DEVICES),
        fPort: 85,
        object: { t: sent },
        rxInfo: [{ gatewayId: '0016c001ff10a235', rssi: -100, snr: 5 }],
      });
      this.client.publish(`application/bench/device/${devEui(i)}/event/up`, payload, { qos: 1 });
    }
  }
}

interface PathResult {
  received: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  cpu_us: number;
}

async function main(): Promise<void> {
  const [influx, broker] = await Promise.all([
    startInflux({ database: 'ours' }),
    startMosquitto({ extraConfig: ['set_tcp_nodelay true', 'max_queued_messages 1000000'] }),
  ]);
  const ws = await workspace(territory(broker.url, influx.url));
  await influx.query('CREATE DATABASE floor');
  const client = await connectAsync(broker.url, { clientId: 'bench-network-server' });
  console.log(
    `sensors: ${DEVICES} ChirpStack v4 devices, ${RATE} uplinks/s through mosquitto, ${SECONDS} s measured after ${WARMUP} s, ${ROUNDS} round(s) floor then ours, ${WITH_STORAGE ? `spool_sync_ms ${ws.config.influx?.spool_sync_ms}` : 'without storage on either side'}`,
  );
  const results: { floor: PathResult[]; ours: PathResult[]; published: number[] } = {
    floor: [],
    ours: [],
    published: [],
  };
  try {
    for (let round_ = 0; round_ < ROUNDS; round_++)
      for (const mode of ['floor', 'ours'] as const) {
        const child = await LineChild.start(
          'sensorPath',
          [
            ...(mode === 'ours' ? ['ours', ws.configFile] : ['floor', broker.url, influx.url, 'floor']),
            ...(WITH_STORAGE ? [] : ['--without-storage']),
          ],
          'READY',
        );
        const flood = new UplinkFlood(client);
        flood.start();
        await sleep(WARMUP * 1000);
        const from = now();
        flood.open(from);
        await child.ask(`START ${from}`);
        await sleep(SECONDS * 1000);
        const to = now();
        const published = flood.close(to);
        flood.stop();
        const result = JSON.parse((await child.ask(`STOP ${to}`)).slice('RESULT '.length)) as PathResult;
        await child.stop();
        results[mode].push(result);
        if (mode === 'ours') results.published.push(published);
        const lost = published - result.received;
        console.log(
          `${mode}: ${result.received}/${published} received (lost ${lost}), p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, max ${result.max_ms} ms, CPU ${round(result.cpu_us / result.received, 1)} µs/message`,
        );
      }
  } finally {
    await client.endAsync();
    await ws.remove();
    await Promise.all([influx.stop(), broker.stop()]);
  }
  const sum = (list: PathResult[], pick: (r: PathResult) => number): number =>
    list.reduce((s, r) => s + pick(r), 0);
  const median = (list: PathResult[], pick: (r: PathResult) => number): number =>
    [...list.map(pick)].sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const cpu = sum(results.ours, (r) => r.cpu_us) / sum(results.ours, (r) => r.received);
  const floorCpu = sum(results.floor, (r) => r.cpu_us) / sum(results.floor, (r) => r.received);
  const p50 = median(results.ours, (r) => r.p50_ms);
  const p99 = median(results.ours, (r) => r.p99_ms);
  const floorP50 = median(results.floor, (r) => r.p50_ms);
  const floorP99 = median(results.floor, (r) => r.p99_ms);
  const lost = results.published.reduce((s, n) => s + n, 0) - sum(results.ours, (r) => r.received);
  console.log(
    `ours/floor: p50 ${round(p50 / floorP50)}×, p99 ${round(p99 / floorP99)}×, CPU ${round(cpu / floorCpu)}× (targets: 0 lost, p99 ≤ 20 ms, CPU ≤ 1.5×)`,
  );
  console.log(
    JSON.stringify({
      messages_per_s: round(sum(results.ours, (r) => r.received) / (SECONDS * ROUNDS), 1),
      lost,
      p50_ms: p50,
      p99_ms: p99,
      floor_p50_ms: floorP50,
      floor_p99_ms: floorP99,
      p50_ratio: round(p50 / floorP50),
      p99_ratio: round(p99 / floorP99),
      cpu_us_per_msg: round(cpu, 1),
      floor_cpu_us_per_msg: round(floorCpu, 1),
      ratio: round(cpu / floorCpu),
      storage: WITH_STORAGE,
    }),
  );
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
