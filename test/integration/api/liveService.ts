import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toYaml } from '../../../config/generateDemo';
import { parseConfig } from '../../../config/load';
import type { Config, ConfigInput } from '../../../config/schema';
import { buildTerritory, sha256Hex } from '../../../config/demoTerritory';
import { systemClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import { Service } from '../../../controller/service';
import { Simulation } from '../../../simulators/simulation';
import { freePorts } from '../../helpers/ports';

/**
 * The real service (composition root, lighting runtime, telemetry and alerts, HTTP API) over a small
 * generated territory: Metz and Montigny-lès-Metz, one simulated Modbus segment controller each, the
 * Modbus meter gateway of their buildings, an embedded MQTT broker, on ports chosen for this run.
 * The building management OPC UA server is left out, so that node-opcua is never loaded.
 */

export const IN = 'metz';
export const OUT = 'montigny-les-metz';

/** One user per role, each scoped to Metz only, plus territory-wide ones; token: `tok-<id>-…`. */
export const TEST_USERS = [
  { id: 'admin-metz', role: 'admin', communes: [IN] },
  { id: 'lighting-metz', role: 'lighting-manager', communes: [IN] },
  { id: 'emergency-metz', role: 'emergency', communes: [IN] },
  { id: 'energy-metz', role: 'energy-manager', communes: [IN] },
  { id: 'viewer-metz', role: 'viewer', communes: [IN] },
  { id: 'admin-all', role: 'admin', communes: ['*'] },
  { id: 'lighting-all', role: 'lighting-manager', communes: ['*'] },
  { id: 'emergency-all', role: 'emergency', communes: ['*'] },
  { id: 'energy-all', role: 'energy-manager', communes: ['*'] },
  { id: 'viewer-all', role: 'viewer', communes: ['*'] },
] as const;

export type TestUser = (typeof TEST_USERS)[number]['id'];

export const tokenFor = (user: TestUser): string => `tok-${user}-8f3a61c2d9`;

export interface LiveService {
  config: Config;
  service: Service;
  simulation: Simulation;
  url: string;
  stateDir: string;
  /** A zone of each commune. */
  zones: { in: string; out: string };
  /** Stops the service and starts a new one on the same port and state directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Metz and Montigny, a Modbus segment controller each, without OPC UA; on the ports given. */
export function twoCommunesInput(ports: {
  modbusPorts: [number, number];
  meters: number;
  mqtt: number;
  stateDir: string;
  presenceSensorsPerZone?: number;
  zonesPerController?: number;
}): ConfigInput {
  const input = buildTerritory({
    communes: 2,
    modbusControllers: 2,
    opcuaControllers: 0,
    luminairesPerController: 4,
    zonesPerController: ports.zonesPerController ?? 1,
    presenceSensorsPerZone: ports.presenceSensorsPerZone ?? 0,
    modbusPorts: ports.modbusPorts,
    opcuaPorts: [],
    meterGatewayPort: ports.meters,
    embeddedMqttPort: ports.mqtt,
    httpPort: 0,
    stateDir: ports.stateDir,
  });
  input.devices = (input.devices ?? []).filter((d) => d.protocol !== 'opcua');
  input.buildings = (input.buildings ?? []).map((b) => ({
    ...b,
    points: (b.points ?? []).filter((p) => p.opcua === undefined),
  }));
  return input;
}

/** `zonesPerController`: streets each commune's four luminaires are shared between (1 unless given). */
export async function startLiveService(options: { zonesPerController?: number } = {}): Promise<LiveService> {
  const [sc1, sc2, meters, mqtt] = await freePorts(4);
  const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-live-'));
  const stateDir = path.join(dir, 'var');
  const input = twoCommunesInput({ modbusPorts: [sc1, sc2], meters, mqtt, stateDir, ...options });
  input.users = TEST_USERS.map((u) => ({
    ...u,
    communes: [...u.communes],
    token_sha256: sha256Hex(tokenFor(u.id)),
  }));
  input.service = { ...input.service, log_level: 'error', shutdown_timeout_s: 10 };
  // An alert per building from its first power reading, so that every commune has one to acknowledge.
  input.alerts = {
    evaluate_s: 0.2,
    rules: [{ id: 'power-seen', kind: 'threshold', scope: { quantities: ['power'] }, above: -1 }],
  };
  const file = path.join(dir, 'territory.yaml');
  const yaml = toYaml(input);
  await writeFile(file, yaml);
  const config = parseConfig(yaml, file);

  const simulation = new Simulation();
  let service: Service | undefined;
  const stop = async (): Promise<void> => {
    try {
      await service?.stop();
    } finally {
      await simulation.stop();
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    await simulation.start(config, { only: ['modbus'], configDir: dir });
    service = new Service(config, { logger: silentLogger, clock: systemClock, configFile: file });
    await service.start(new AbortController().signal);
  } catch (error) {
    await stop();
    throw error;
  }
  const zoneOf = (commune: string): string => config.zones.find((z) => z.commune === commune)!.id;
  const live: LiveService = {
    config,
    service,
    simulation,
    url: service.api.url,
    stateDir,
    zones: { in: zoneOf(IN), out: zoneOf(OUT) },
    restart: async () => {
      const port = Number(new URL(live.url).port);
      await service?.stop();
      service = new Service(
        { ...config, http: { ...config.http, port } },
        { logger: silentLogger, clock: systemClock, configFile: file },
      );
      await service.start(new AbortController().signal);
      live.service = service;
    },
    stop,
  };
  return live;
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
  text: string;
}

/** One request as a user (or with no token), JSON in and out. */
export async function request<T = unknown>(
  live: { url: string },
  user: TestUser | undefined,
  method: string,
  pathname: string,
  body?: unknown,
): Promise<Answer<T>> {
  const response = await fetch(`${live.url}${pathname}`, {
    method,
    headers: {
      ...(user ? { authorization: `Bearer ${tokenFor(user)}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = pathname.startsWith('/api/events') ? '' : await response.text();
  if (pathname.startsWith('/api/events')) await response.body?.cancel();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed as T, text };
}

/** Polls until `check` gives a value, or fails naming what it waited for. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
