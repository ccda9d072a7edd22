import { createInterface } from 'node:readline';
import { InfluxDB } from '@influxdata/influxdb-client';
import { connectAsync } from 'mqtt';
import { DeviceRegistry } from '../../controller/devices';
import { systemClock } from '../../core/clock';
import { MqttConnection } from '../../drivers/mqtt/connection';
import { percentile, round } from './lightingBench';
import { benchContext, samplerPath } from './telemetryPath';

/**
 * One measured path of bench/sensors.ts, alone in its process so that its CPU is its own:
 *
 *   node dist/bench/support/sensorPath.js ours <config.yaml> [--without-storage]
 *       the service's telemetry path for MQTT sources: MqttConnection → MqttSourceDriver (ChirpStack v4)
 *       → sampler → TelemetryStorage (InfluxDB writer: the line is in the spool when its write resolves);
 *   node dist/bench/support/sensorPath.js floor <broker url> <influx url> <bucket> [--without-storage]
 *       the floor: a bare mqtt.js subscriber, JSON.parse, one line to the InfluxDB client (writeRecord).
 *
 * `--without-storage` leaves out what each path does with its lines (ours: the spool, the writer and its
 * requests; the floor: the InfluxDB client), to tell their cost from that of the rest: the lines are
 * measured when made, then dropped.
 *
 * Prints READY. Then `START <t0>` opens the window (uplinks published from t0 on are measured; answer STARTED) and
 * `STOP <t1>` closes it: the answer is `RESULT {received, p50_ms, p99_ms, max_ms, cpu_us}`. Latency is
 * from the publish (the uplink carries `object.t`, the publisher's clock: performance.timeOrigin + now)
 * to the line in the spool (ours) or handed to the client (floor).
 */

const now = (): number => performance.timeOrigin + performance.now();

interface Window {
  from: number;
  to: number;
  latencies: number[];
  cpu?: NodeJS.CpuUsage;
}

function measure(window: Window, sent: number, at: number): void {
  if (sent >= window.from && sent < window.to) window.latencies.push(at - sent);
}

async function ours(configFile: string, withStorage: boolean, window: Window): Promise<() => Promise<void>> {
  const context = benchContext(configFile);
  const { config, configDir, stateDir, logger, bus } = context;
  const mqtt = new MqttConnection({
    config: config.mqtt,
    instance: 'bench',
    configDir,
    logger: logger.child('mqtt'),
  });
  const devices = new DeviceRegistry(config, {
    logger: logger.child('drivers'),
    clock: systemClock,
    bus,
    configDir,
    stateDir,
    messaging: mqtt,
  });
  // Measured once the write resolves, i.e. once the lines are in the spool (without storage: when made);
  // each line's value is the publish time.
  const { storage, sampler } = samplerPath(context, devices, (storage) => ({
    write: async (lines) => {
      if (withStorage) await storage.write(lines);
      const at = now();
      for (const line of lines) {
        const start = line.indexOf(' value=');
        if (start < 0) continue;
        const end = line.indexOf(',', start + 7);
        measure(window, Number(line.slice(start + 7, end < 0 ? line.indexOf(' ', start + 7) : end)), at);
      }
    },
  }));
  const sources = devices.component('mqtt');
  const signal = new AbortController().signal;
  if (withStorage) await storage.start();
  await mqtt.start(signal);
  await sources.start(signal);
  await sampler.start();
  await sampler.ready();
  return async () => {
    await sampler.stop();
    await sources.stop();
    await mqtt.stop();
    if (withStorage) await storage.stop();
  };
}

async function floor(
  brokerUrl: string,
  influxUrl: string,
  bucket: string,
  withStorage: boolean,
  window: Window,
): Promise<() => Promise<void>> {
  const write = withStorage
    ? new InfluxDB({ url: influxUrl }).getWriteApi('', bucket, 'ms', { batchSize: 1000, flushInterval: 1000 })
    : undefined;
  const client = await connectAsync(brokerUrl, { clientId: 'bench-floor', clean: false });
  client.on('message', (_topic, payload) => {
    const up = JSON.parse(payload.toString()) as {
      time: string;
      deviceInfo: { devEui: string };
      object: { t: number };
    };
    write?.writeRecord(`sensor,dev_eui=${up.deviceInfo.devEui} value=${up.object.t} ${Date.parse(up.time)}`);
    measure(window, up.object.t, now());
  });
  await client.subscribeAsync('application/+/device/+/event/up', { qos: 1 });
  return async () => {
    await client.endAsync();
    await write?.close();
  };
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  const withStorage = !rest.includes('--without-storage');
  const args = rest.filter((arg) => arg !== '--without-storage');
  const window: Window = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY, latencies: [] };
  let stop: () => Promise<void>;
  if (mode === 'ours') stop = await ours(args[0], withStorage, window);
  else if (mode === 'floor') stop = await floor(args[0], args[1], args[2], withStorage, window);
  else
    throw new Error(
      `usage: sensorPath ours <config> | floor <broker url> <influx url> <bucket>, then [--without-storage] (got '${mode}')`,
    );
  process.stdout.write('READY\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const [command, value] = line.split(' ');
    if (command === 'START') {
      window.from = Number(value);
      window.to = Number.POSITIVE_INFINITY;
      window.latencies = [];
      window.cpu = process.cpuUsage();
      process.stdout.write('STARTED\n');
    } else if (command === 'STOP') {
      window.to = Number(value);
      // What was published before the end of the window still arrives: wait for it, outside the CPU count.
      const cpu = process.cpuUsage(window.cpu);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const l = window.latencies;
      process.stdout.write(
        `RESULT ${JSON.stringify({
          received: l.length,
          p50_ms: round(percentile(l, 50), 3),
          p99_ms: round(percentile(l, 99), 3),
          max_ms: round(
            l.reduce((a, b) => Math.max(a, b), 0),
            3,
          ),
          cpu_us: cpu.user + cpu.system,
        })}\n`,
      );
    }
  }
  await stop();
}

if (require.main === module)
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`sensorPath: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
