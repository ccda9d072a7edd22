import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sha256Hex } from '../../../config/demoTerritory';
import { AuditLog } from '../../../controller/audit/auditLog';
import type { ApiOptions } from '../../../controller/http/options';
import { ApiServer } from '../../../controller/http/server';
import { Bus } from '../../../controller/bus';
import { ManualClock } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import { InTestServices, ZONES } from './inTestServices';

/** Every message and its fields, as one string per call, so a test can look for a secret in them. */
export class RecordingLogger implements Logger {
  constructor(readonly lines: string[] = []) {}
  error(msg: string, fields?: Record<string, unknown>): void {
    this.lines.push(`error ${msg} ${JSON.stringify(fields ?? {})}`);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.lines.push(`warn ${msg} ${JSON.stringify(fields ?? {})}`);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.lines.push(`info ${msg} ${JSON.stringify(fields ?? {})}`);
  }
  debug(msg: string | (() => string), fields?: Record<string, unknown>): void {
    this.lines.push(`debug ${typeof msg === 'function' ? msg() : msg} ${JSON.stringify(fields ?? {})}`);
  }
  child(): Logger {
    return this;
  }
}

/** One user per role, scoped to Metz, plus territory-wide ones; the token is `token-<id>`. */
export const USERS = [
  { id: 'admin', role: 'admin', communes: ['*'] },
  { id: 'lm-metz', role: 'lighting-manager', communes: ['metz'] },
  { id: 'police-metz', role: 'emergency', communes: ['metz'] },
  { id: 'energy-all', role: 'energy-manager', communes: ['*'] },
  { id: 'viewer-metz', role: 'viewer', communes: ['metz'] },
  { id: 'viewer-all', role: 'viewer', communes: ['*'] },
] as const;

export const tokenOf = (user: (typeof USERS)[number]['id']): string => `token-${user}-0123456789`;
export const bearer = (user: (typeof USERS)[number]['id']): { authorization: string } => ({
  authorization: `Bearer ${tokenOf(user)}`,
});

export interface ApiHarness {
  server: ApiServer;
  services: InTestServices;
  audit: AuditLog;
  bus: Bus;
  clock: ManualClock;
  logger: RecordingLogger;
  stateDir: string;
  url: string;
  /** A new server over the same state directory, as after a restart of the service. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The API on 127.0.0.1 (port chosen by the system) over the in-test services, with a real audit log;
 * trustedProxies as `http.trusted_proxies` ('127.0.0.1': the test's own requests come through a proxy).
 */
export async function startApi(options: ApiOptions = {}, trustedProxies: string[] = []): Promise<ApiHarness> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'nocturne-api-'));
  const logger = new RecordingLogger();
  const clock = new ManualClock(Date.parse('2025-03-01T22:00:00Z'));
  const bus = new Bus(logger);
  const services = new InTestServices();
  const audit = new AuditLog(stateDir, { bus, clock, logger });
  const makeServer = (): ApiServer =>
    new ApiServer({
      config: {
        site: { timezone: 'Europe/Paris' },
        http: { host: '127.0.0.1', port: 0, trusted_proxies: trustedProxies, session_days: 30 },
        communes: [
          { id: 'metz', name: 'Metz' },
          { id: 'montigny-les-metz', name: 'Montigny-lès-Metz' },
        ],
        zones: Object.entries(ZONES).map(([id, z]) => ({
          id,
          commune: z.commune,
          calendar: 'cal',
          luminaires: Array.from({ length: z.luminaires }, (_, i) => ({
            id: `${id}-${i + 1}`,
            power_w: 50,
            device: 'sc',
            channel: i + 1,
          })),
        })),
        users: USERS.map((u) => ({
          ...u,
          communes: [...u.communes],
          token_sha256: sha256Hex(tokenOf(u.id)),
        })),
      },
      stateDir,
      services,
      audit,
      clock,
      logger,
      options,
    });
  audit.listen();
  await audit.start();
  const server = makeServer();
  await server.start(new AbortController().signal);
  const harness: ApiHarness = {
    server,
    services,
    audit,
    bus,
    clock,
    logger,
    stateDir,
    url: server.url,
    restart: async () => {
      await harness.server.stop();
      harness.server = makeServer();
      await harness.server.start(new AbortController().signal);
      harness.url = harness.server.url;
    },
    close: async () => {
      await harness.server.stop();
      await audit.stop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** fetch with JSON in and out. */
export async function call<T = unknown>(
  harness: { url: string },
  method: string,
  pathname: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; headers: Headers; body: T; text: string }> {
  const response = await fetch(`${harness.url}${pathname}`, {
    method,
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined
      ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
      : {}),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body: body as T, text };
}
