import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { toYaml } from '../../config/generateDemo';
import { parseConfig } from '../../config/load';
import type { Config } from '../../config/schema';
import { sha256Hex } from '../../config/demoTerritory';
import { systemClock } from '../../core/clock';
import { createLogger, type LogLevel } from '../../core/logger';
import { Service } from '../../controller/service';
import { Simulation } from '../../simulators/simulation';
import { freePorts } from '../helpers/ports';
import {
  IN,
  OUT,
  TEST_USERS,
  request,
  tokenFor,
  twoCommunesInput,
  type TestUser,
} from '../integration/api/liveService';

/**
 * The real service for the adversarial suite, built like test/integration/api/liveService.ts (Metz and
 * Montigny-lès-Metz, one simulated Modbus segment controller each, the embedded MQTT broker, the test
 * users of every role), with what an attacker's test needs on top:
 *
 * - a real JSON logger writing to a file, so that log growth is measured and every line scanned;
 * - secrets in the configuration (MQTT password, InfluxDB token, a webhook URL and header), each from a
 *   file, with values the scan looks for; InfluxDB and the webhook point at closed ports, so the
 *   service keeps failing to reach them and says so in its log;
 * - one constant program for every zone, so that the schedule never changes a level during a test and
 *   any change is the attack's doing;
 * - optional presence sensors, trusted proxies and extra users.
 */

export { IN, OUT, TEST_USERS, tokenFor, type TestUser };

export interface AdversarialOptions {
  /** `http.trusted_proxies`. */
  trustedProxies?: string[];
  presenceSensorsPerZone?: number;
  /** Users beyond TEST_USERS, each with the token `extraToken(id)`. */
  extraUsers?: { id: string; role: 'viewer' | 'emergency'; communes: string[] }[];
  logLevel?: LogLevel;
}

export interface AdversarialService {
  config: Config;
  service: Service;
  url: string;
  mqttUrl: string;
  /** `mqtt.base_topic`. */
  base: string;
  stateDir: string;
  logFile: string;
  /** A zone of each commune. */
  zones: { in: string; out: string };
  /** Every token and password the service was given: none may appear in a log, audit or spool file. */
  secrets: string[];
  /** Stops the service (flushing its audit log and spool), keeping its files for inspection; idempotent. */
  stopService(): Promise<void>;
  /** stopService(), then the simulated devices, then the temp dir. */
  stop(): Promise<void>;
}

export const extraToken = (id: string): string => `tok-${id}-3c9e07b5a1`;

/** The secrets of the configuration, as files next to it. Distinctive, so a scan cannot miss them. */
const SECRET_FILES = {
  'mqtt-password': 'mqttpw-a7f3c1e9b2d4',
  'influx-token': 'influxtok-5e8d2a6c0f1b',
  'webhook-url': '', // written with the port, below
  'webhook-auth': 'Bearer hooksecret-9b1f4d7e2c6a',
};
const WEBHOOK_URL_SECRET = 'urlsecret-2d6f8a0c4e1b';

/** The one program: 40 % all day and night, so the schedule never moves a level during a test. */
const CONSTANT_PROGRAM = { id: 'constant-40', name: 'Constant 40 %', steps: [{ at: '12:00', level: 40 }] };

export async function startAdversarialService(options: AdversarialOptions = {}): Promise<AdversarialService> {
  const [sc1, sc2, meters, mqtt, influx, webhook] = await freePorts(6);
  const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-adversarial-'));
  const stateDir = path.join(dir, 'var');
  const logFile = path.join(dir, 'service.log');
  const input = twoCommunesInput({
    modbusPorts: [sc1, sc2],
    meters,
    mqtt,
    stateDir,
    presenceSensorsPerZone: options.presenceSensorsPerZone,
  });
  input.programs = [...(input.programs ?? []), CONSTANT_PROGRAM];
  input.calendars = (input.calendars ?? []).map((c) => ({ ...c, default: CONSTANT_PROGRAM.id, rules: [] }));
  const extraUsers = options.extraUsers ?? [];
  input.users = [
    ...TEST_USERS.map((u) => ({ ...u, communes: [...u.communes], token_sha256: sha256Hex(tokenFor(u.id)) })),
    ...extraUsers.map((u) => ({ ...u, token_sha256: sha256Hex(extraToken(u.id)) })),
  ];
  input.service = { ...input.service, log_level: options.logLevel ?? 'info', shutdown_timeout_s: 5 };
  input.http = { ...input.http, trusted_proxies: options.trustedProxies ?? [] };
  input.mqtt = { ...input.mqtt, username: 'nocturne-service', password: { file: 'mqtt-password' } };
  input.influx = {
    url: `http://127.0.0.1:${influx}`,
    org: 'nocturne',
    bucket: 'telemetry',
    token: { file: 'influx-token' },
  };
  input.alerts = {
    evaluate_s: 0.5,
    rules: [{ id: 'power-seen', kind: 'threshold', scope: { quantities: ['power'] }, above: -1 }],
    webhooks: [
      {
        id: 'astreinte',
        url: { file: 'webhook-url' },
        headers: { authorization: { file: 'webhook-auth' } },
        timeout_ms: 500,
        retries: 1,
        backoff_ms: 100,
      },
    ],
  };
  const secretValues: Record<string, string> = {
    ...SECRET_FILES,
    'webhook-url': `http://127.0.0.1:${webhook}/hook?key=${WEBHOOK_URL_SECRET}`,
  };
  for (const [name, value] of Object.entries(secretValues)) await writeFile(path.join(dir, name), value);

  const file = path.join(dir, 'territory.yaml');
  const yaml = toYaml(input);
  await writeFile(file, yaml);
  const config = parseConfig(yaml, file, { env: {} });

  const logFd = openSync(logFile, 'a');
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writeSync(logFd, chunk);
      done();
    },
  });
  const logger = createLogger({ level: options.logLevel ?? 'info', format: 'json', destination });

  const simulation = new Simulation();
  let service: Service | undefined;
  let serviceStopped: Promise<void> | undefined;
  const stopService = (): Promise<void> =>
    (serviceStopped ??= (async () => {
      try {
        await service?.stop();
      } finally {
        closeSync(logFd);
      }
    })());
  const stop = async (): Promise<void> => {
    try {
      await stopService();
    } finally {
      await simulation.stop();
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    await simulation.start(config, { only: ['modbus'], configDir: dir });
    service = new Service(config, { logger, clock: systemClock, configFile: file, env: {} });
    await service.start(new AbortController().signal);
  } catch (error) {
    await stop();
    throw error;
  }
  const zoneOf = (commune: string): string => config.zones.find((z) => z.commune === commune)!.id;
  return {
    config,
    service,
    url: service.api.url,
    mqttUrl: `mqtt://127.0.0.1:${config.mqtt.embedded_port}`,
    base: config.mqtt.base_topic,
    stateDir,
    logFile,
    zones: { in: zoneOf(IN), out: zoneOf(OUT) },
    secrets: [
      ...TEST_USERS.map((u) => tokenFor(u.id)),
      ...extraUsers.map((u) => extraToken(u.id)),
      ...Object.values(SECRET_FILES).map((v) => v.replace(/^Bearer /, '')),
      WEBHOOK_URL_SECRET,
    ],
    stopService,
    stop,
  };
}

// ---- what the service keeps: the state, every decision, the commands ----

/** Everything an attack must not change, as the API shows it to a territory-wide admin. */
export interface Snapshot {
  relights: unknown;
  overrides: unknown;
  programs: unknown;
  calendars: unknown;
  /** Per zone: calendar, program and level of the schedule, decided levels and slots, per luminaire. */
  zones: unknown;
}

interface ZoneDetailLike {
  id: string;
  commune: string;
  calendar: string;
  schedule?: { program: string; level: number; allowPresence: boolean };
  level?: { min: number; max: number };
  slots: Record<string, number>;
  luminaireStates: { id: string; level?: number; slot?: string; decidedBy?: { id?: string } }[];
}

export async function snapshot(live: { url: string }): Promise<Snapshot> {
  const get = async (pathname: string): Promise<unknown> => {
    const answer = await request(live, 'admin-all', 'GET', pathname);
    if (answer.status !== 200)
      throw new Error(`snapshot: GET ${pathname} answered ${answer.status} ${answer.text}`);
    return answer.body;
  };
  const zoneList = (await get('/api/zones')) as { id: string }[];
  const zones: unknown[] = [];
  for (const { id } of zoneList) {
    const zone = (await get(`/api/zones/${id}`)) as ZoneDetailLike;
    zones.push({
      id: zone.id,
      commune: zone.commune,
      calendar: zone.calendar,
      schedule: zone.schedule && {
        program: zone.schedule.program,
        level: zone.schedule.level,
        allowPresence: zone.schedule.allowPresence,
      },
      level: zone.level,
      slots: zone.slots,
      luminaires: zone.luminaireStates.map((l) => ({
        id: l.id,
        level: l.level,
        slot: l.slot,
        by: l.decidedBy?.id,
      })),
    });
  }
  return {
    relights: await get('/api/relights'),
    overrides: await get('/api/overrides'),
    programs: await get('/api/programs'),
    calendars: await get('/api/calendars'),
    zones,
  };
}

// ---- disk, log, memory ----

export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await dirBytes(full);
    else if (entry.isFile()) total += await fileBytes(full);
  }
  return total;
}

/** A file's size; 0 for one absent, or renamed away since it was listed (an atomic write's temporary file). */
export async function fileBytes(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/**
 * Where each secret appears in the log and the state directory (audit, spool, state files), as
 * `file: secret` lines, the secret itself shown only by its first characters. Empty: none leaked.
 */
export async function leakedSecrets(
  live: { stateDir: string; logFile: string },
  secrets: readonly string[],
): Promise<string[]> {
  const leaks: string[] = [];
  const files = [live.logFile, ...(await filesUnder(live.stateDir))];
  for (const file of files) {
    const content = await readFile(file);
    for (const secret of new Set(secrets)) {
      if (secret.length >= 6 && content.includes(secret))
        leaks.push(`${path.basename(path.dirname(file))}/${path.basename(file)}: ${secret.slice(0, 8)}…`);
    }
  }
  return leaks;
}

/** Lines of the log longer than `max` bytes (an echo of untrusted input, unbounded). */
export async function longLogLines(logFile: string, max: number): Promise<number[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((line) => Buffer.byteLength(line))
    .filter((bytes) => bytes > max);
}

let gcFunction: (() => void) | undefined;

/** The heap in use once garbage is collected: what the process really holds. */
export function heapAfterGc(): number {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  gcFunction();
  gcFunction();
  return process.memoryUsage().heapUsed;
}

// ---- requests as an attacker writes them ----

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface RawRequest {
  method?: string;
  /** Sent as it is: no normalisation of '..' or of percent-encoding, as fetch would do. */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** The client's own address: 127.0.0.2 is another host on loopback. */
  localAddress?: string;
  timeoutMs?: number;
  /** Bytes of the answer kept (the rest is read and dropped). */
  keepBytes?: number;
}

/**
 * One request on its own connection, or how the connection ended ({status: 0, text: the error code})
 * when the server closed it without an answer.
 */
export function rawRequest(base: string, options: RawRequest): Promise<RawAnswer> {
  const url = new URL(base);
  const keep = options.keepBytes ?? 64 * 1024;
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < keep) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).subarray(0, keep).toString('utf8'),
          }),
        );
        res.on('error', (error) =>
          resolve({ status: 0, headers: {}, text: (error as NodeJS.ErrnoException).code ?? error.message }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) =>
      resolve({ status: 0, headers: {}, text: (error as NodeJS.ErrnoException).code ?? error.message }),
    );
    req.end(options.body);
  });
}

/** Runs tasks with at most `width` under way. */
export async function inParallel<T>(
  items: readonly T[],
  width: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** A Prometheus sample of GET /metrics, e.g. `nocturne_presence_messages_total{result="accepted"}`. */
export async function metric(live: { url: string }, sample: string): Promise<number> {
  const answer = await request(live, 'admin-all', 'GET', '/metrics');
  if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}`);
  const line = answer.text.split('\n').find((l) => l.startsWith(`${sample} `));
  if (line === undefined) throw new Error(`no ${sample} in /metrics`);
  return Number(line.slice(sample.length + 1));
}

export const MIB = 1024 * 1024;
export const KIB = 1024;
