import { createInterface } from 'node:readline';
import { connectAsync } from 'mqtt';
import { preciseNow } from './segmentFarm';

/**
 * Presence detections at a steady rate, in their own process (so that publishing does not share an
 * event loop with the subscriber being measured), recording when each was published:
 *
 *   node dist/bench/support/presencePublisher.js <mqtt url>
 *
 * prints `READY`, then for each stdin line `RUN <topic prefix> <sensors> <per second> <ms>` publishes
 * `{"class":"vehicle","seq":n}` to `<prefix>/<n mod sensors>`, one every 1/rate seconds (late ones
 * catch up), and prints `DONE [[sensor, publishedAt], ...]` with times as
 * performance.timeOrigin + performance.now(), comparable across processes.
 */

async function run(
  publish: (topic: string, payload: string) => void,
  prefix: string,
  sensors: number,
  rate: number,
  ms: number,
): Promise<[number, number][]> {
  const sent: [number, number][] = [];
  const interval = 1000 / rate;
  const start = preciseNow();
  const total = Math.floor((ms / 1000) * rate);
  let n = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = preciseNow();
      while (n < total && start + n * interval <= now) {
        const sensor = n % sensors;
        sent.push([sensor, preciseNow()]);
        publish(`${prefix}/${sensor}`, `{"class":"vehicle","seq":${n}}`);
        n++;
      }
      if (n >= total) {
        resolve();
        return;
      }
      setTimeout(tick, Math.max(0, start + n * interval - preciseNow()));
    };
    tick();
  });
  return sent;
}

async function main(): Promise<void> {
  const url = process.argv[2];
  if (!url) throw new Error('usage: presencePublisher <mqtt url>');
  const client = await connectAsync(url, { clientId: `bench-publisher-${process.pid}` });
  const publish = (topic: string, payload: string): void => {
    client.publish(topic, payload, { qos: 0 });
  };
  const lines = createInterface({ input: process.stdin });
  let busy = Promise.resolve();
  lines.on('line', (line) => {
    const [command, prefix, sensors, rate, ms] = line.trim().split(/\s+/);
    if (command !== 'RUN') {
      process.stderr.write(`presencePublisher: unknown command '${line}'\n`);
      return;
    }
    busy = busy.then(async () => {
      const sent = await run(publish, prefix, Number(sensors), Number(rate), Number(ms));
      process.stdout.write(`DONE ${JSON.stringify(sent)}\n`);
    });
  });
  lines.on('close', () => {
    void busy.then(() => client.endAsync()).then(() => process.exit(0));
  });
  process.stdout.write('READY\n');
}

if (require.main === module)
  main().catch((error: unknown) => {
    process.stderr.write(`presencePublisher: ${(error as Error).message}\n`);
    process.exit(1);
  });
