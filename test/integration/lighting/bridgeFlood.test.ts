import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { connectAsync } from 'mqtt';
import { AuditLog } from '../../../controller/audit/auditLog';
import type { AuditEntry } from '../../../controller/audit/entry';
import { systemClock } from '../../../core/clock';
import { DeviceBook } from '../../../controller/telemetry/deviceBook';
import { TelemetryRecorder } from '../../../controller/telemetry/recorder';
import { TelemetryStorage } from '../../../controller/telemetry/storage';
import type { Logger } from '../../../core/logger';
import { MAX_ERROR_CHARS, type BridgeResponse } from '../../../controller/lighting/runtime/topics';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';
import { LightingHarness, eventually, paris } from './harness';

/** Counts what is logged, and its bytes as a JSON log line would hold them. */
class CountingLogger implements Logger {
  readonly lines: string[] = [];
  bytes = 0;
  error(msg: string, fields?: Record<string, unknown>): void {
    this.keep(msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.keep(msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.keep(msg, fields);
  }
  debug(): void {
    // Lazy and off in production: not counted.
  }
  child(): Logger {
    return this;
  }
  private keep(msg: string, fields?: Record<string, unknown>): void {
    this.lines.push(msg);
    this.bytes += Buffer.byteLength(JSON.stringify({ msg, ...fields }));
  }
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(path.join(dir, name))).size;
  return total;
}

/** Lines of every spool segment. */
async function spooledLines(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.lp')).sort();
  const texts = await Promise.all(names.map((n) => readFile(path.join(dir, n), 'utf8')));
  return texts.flatMap((t) => t.split('\n').filter((l) => l !== ''));
}

const MIB = 1024 * 1024;
const BATCHES = 20;
const PER_BATCH = 250;
const SENSOR_LINES_PER_BATCH = 1000;

/** The flood: 5,000 refused requests on both request topics, small, 240 KB large and 20,000 levels deep. */
function floodRequest(i: number): { command: 'relight' | 'clear-relight'; payload: string } {
  const big = 'x'.repeat(240 * 1024);
  switch (i % 50) {
    case 0:
      return {
        command: 'relight',
        payload: JSON.stringify({ target: { zone: big }, reason: big, actor: big }),
      };
    case 1: {
      const deep = `${'{"zone":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
      return {
        command: 'relight',
        payload: `{"transaction":${i},"target":${deep},"actor":"x","reason":"r"}`,
      };
    }
    default:
      if (i % 4 === 0) return { command: 'relight', payload: `garbage ${i}\n` };
      if (i % 4 === 1)
        return {
          command: 'relight',
          payload: JSON.stringify({
            transaction: i,
            target: { zone: `nowhere-${i}` },
            reason: 'r',
            actor: 'a',
          }),
        };
      if (i % 4 === 2)
        return {
          command: 'relight',
          payload: JSON.stringify({ target: { all: true }, level: i, actor: `a\n${i}` }),
        };
      return {
        command: 'clear-relight',
        payload: JSON.stringify({ transaction: i, id: `r-${i}`, actor: 'a' }),
      };
  }
}

describe('a flood of malformed bridge requests', () => {
  let broker: Mosquitto;

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('is answered request by request, with bounded logs, audit and spool, and no telemetry dropped', async () => {
    const logger = new CountingLogger();
    const h = await LightingHarness.start({
      mqttUrl: broker.url,
      startAt: paris('2026-01-15T23:00'),
      controllers: 1,
      logger,
    });
    const audit = new AuditLog(h.stateDir, { bus: h.bus, clock: h.clock, logger });
    audit.listen();
    await audit.start();
    const storage = new TelemetryStorage({
      influx: undefined, // not configured: every point stays in the spool, whose bound is the test
      stateDir: h.stateDir,
      configDir: h.stateDir,
      clock: systemClock,
      logger,
      bus: h.bus,
      stopTimeoutMs: 500,
      overrides: { spoolMaxBytes: 4 * MIB, segmentBytes: 256 * 1024 },
    });
    await storage.start();
    const recorder = new TelemetryRecorder({
      config: h.config,
      devices: h.devices,
      book: new DeviceBook(h.config, new Map(), h.clock.now()),
      sink: storage,
      bus: h.bus,
      clock: h.clock,
      logger,
    });
    await recorder.start();
    const client = await connectAsync(broker.url, { clientId: `flood-${process.pid}` });
    try {
      const responses: BridgeResponse[] = [];
      client.on('message', (_topic, payload) =>
        responses.push(JSON.parse(payload.toString()) as BridgeResponse),
      );
      await client.subscribeAsync('nocturne/bridge/response/+', { qos: 1 });
      const auditBefore = await directoryBytes(audit.dir);
      const logBefore = logger.bytes;

      let sent = 0;
      let sensorLines = 0;
      for (let b = 0; b < BATCHES; b++) {
        const batch = Array.from({ length: PER_BATCH }, (_, j) => floodRequest(b * PER_BATCH + j));
        // One dispatch centre's genuine request amid the flood, accepted and audited as usual.
        if (b % 7 === 3)
          batch.push({
            command: 'relight',
            payload: JSON.stringify({
              target: { all: true },
              reason: `storm ${b}`,
              actor: 'cta-57',
              id: `storm-${b}`,
            }),
          });
        await Promise.all(
          batch.map((r) =>
            client.publishAsync(`nocturne/bridge/request/${r.command}`, r.payload, { qos: 1 }),
          ),
        );
        sent += batch.length;
        // Real telemetry, written while the flood goes on.
        const lines = Array.from(
          { length: SENSOR_LINES_PER_BATCH },
          (_, k) =>
            `sensor,building=ecole,point=p${k % 40} value=${b * 1000 + k} ${1_768_500_000_000 + b * 1000 + k}`,
        );
        await storage.write(lines);
        sensorLines += lines.length;
        await eventually(
          () => responses.length,
          (n) => n >= sent,
          { timeoutMs: 30_000, what: `responses to ${sent} requests` },
        );
      }
      // The audit log's refusal window closes: what it held back is written, with its count.
      h.clock.advance(60_000);
      await audit.flush();
      await storage.write(['sensor,building=ecole,point=last value=1 1768600000000']); // after the events in the spool
      sensorLines++;

      // Every request was answered; errors are short.
      const accepted = responses.filter((r) => r.status === 'ok');
      expect(responses).toHaveLength(sent);
      expect(accepted.map((r) => r.id).sort()).toEqual(['storm-10', 'storm-17', 'storm-3']);
      expect(Math.max(...responses.map((r) => r.error?.length ?? 0))).toBeLessThanOrEqual(MAX_ERROR_CHARS);

      // The log: one line per command and kind of refusal (the runtime's clock stood still).
      const refusalLines = logger.lines.filter((l) => l.includes('request refused'));
      expect(refusalLines.length).toBeLessThanOrEqual(2 * 6);
      const logBytes = logger.bytes - logBefore;
      expect(logBytes).toBeLessThan(32 * 1024);

      // The audit log: each accepted request whole; refusals collapsed within the window.
      const entries: AuditEntry[] = await audit.query({ limit: 10_000 }, ['*']);
      const refusals = entries.filter((e) => e.result === 'refused');
      const okEntries = entries.filter((e) => e.result === 'ok');
      expect(okEntries.map((e) => e.id).sort()).toEqual(['storm-10', 'storm-17', 'storm-3']);
      expect(refusals.length).toBeLessThanOrEqual(10 + 10 + 2);
      expect(refusals.reduce((sum, e) => sum + (e.count ?? 1), 0)).toBe(sent - 3);
      const auditBytes = (await directoryBytes(audit.dir)) - auditBefore;
      expect(auditBytes).toBeLessThan(64 * 1024);

      // The spool: refusals as a bounded number of event points; every telemetry point kept.
      const spooled = await spooledLines(path.join(h.stateDir, 'spool'));
      const refusalPoints = spooled.filter((l) => l.startsWith('event,') && l.includes('state="refused"'));
      expect(refusalPoints.length).toBe(refusals.length);
      const counted = refusalPoints.map((l) => Number(/,count=(\d+)i /.exec(l)?.[1] ?? 1));
      expect(counted.reduce((a, b) => a + b)).toBe(sent - 3);
      expect(storage.stats()!.dropped).toBe(0);
      expect(spooled.filter((l) => l.startsWith('sensor,'))).toHaveLength(sensorLines);
    } finally {
      await client.endAsync();
      await recorder.stop();
      await storage.stop();
      await audit.stop();
      await h.stop();
    }
  }, 120_000);
});
