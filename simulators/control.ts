import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { UplinkStats } from './lorawan';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Logger } from '../core/logger';
import type { DeviceConfig } from '../config/schema';
import {
  FAULT_QUANTITIES,
  type BuildingFault,
  type BuildingModel,
  type BuildingSnapshot,
  type MeterResetMode,
} from './buildings';
import type { PresencePublisher, PresenceStats } from './presence';
import type { LampFault } from './segmentController';

/**
 * The simulators' control API, on 127.0.0.1 only: inspect devices, inject faults, switch building
 * faults and trigger detections. JSON in, JSON out; errors are `{ "error": "…" }` with a 4xx status.
 */

const MAX_BODY_BYTES = 64 * 1024;

const Channels = z.array(z.number().int().min(1)).max(1024);
const FaultsBody = z.strictObject({
  device: z.string().min(1).optional(),
  clear: z.boolean().optional(),
  lamp_ok: Channels.optional(),
  lamp_failure: Channels.optional(),
  driver_failure: Channels.optional(),
  slow_ms: z.number().int().min(0).max(600_000).optional(),
  silent: z.boolean().optional(),
  drop_connections: z.boolean().optional(),
  reboot: z.boolean().optional(),
});
const SwitchBody = z.strictObject({ on: z.boolean() });
const MeterResetBody = z.strictObject({
  point: z.string().min(1).optional(),
  mode: z.enum(['reset', 'rollover']).default('reset'),
});
const DetectionBody = z.strictObject({ class: z.string().min(1).max(64).optional() });
const RateBody = z.strictObject({ rate: z.number().min(0).max(100_000) });

const BUILDING_SWITCHES: Record<string, BuildingFault> = {
  leak: 'leak',
  'lights-forgotten': 'lights_forgotten',
  door: 'door',
  flood: 'flood',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A fault request, as POST /faults takes it. Fields combine; they apply in the order listed. */
export interface FaultRequest {
  /** The device; absent only with `clear`, which then clears every device and building. */
  device?: string;
  clear?: boolean;
  /** Channels whose lamp (or driver) works again. */
  lamp_ok?: number[];
  lamp_failure?: number[];
  driver_failure?: number[];
  /** Delay before each answer; 0 removes it. */
  slow_ms?: number;
  silent?: boolean;
  drop_connections?: boolean;
  reboot?: boolean;
}

export interface ChannelState {
  channel: number;
  luminaire?: string;
  commanded: number;
  in_effect: number;
  output: number;
  fade_s: number;
  power_w: number;
  energy_wh: number;
  status: number;
  fault?: LampFault;
}

export interface DeviceState {
  id: string;
  protocol: DeviceConfig['protocol'];
  address: string;
  unit_id?: number;
  faults: { slow_ms: number; silent: boolean };
  lighting?: {
    boot_count: number;
    watchdog_s: number;
    fail_safe_level: number;
    fail_safe_active: boolean;
    channels: ChannelState[];
  };
}

export interface SimulationState {
  devices: DeviceState[];
  buildings: BuildingSnapshot[];
  presence?: PresenceStats;
  sensors?: UplinkStats;
}

/** What the control server drives: the Simulation (simulation.ts), which builds it. */
export interface ControlledSimulation {
  readonly buildings: BuildingModel;
  readonly presence: PresencePublisher | undefined;
  state(): SimulationState;
  applyFaults(request: FaultRequest): DeviceState | { cleared: 'all' };
  setBuildingFault(buildingId: string, fault: BuildingFault, on: boolean): BuildingSnapshot;
  resetMeter(
    buildingId: string,
    mode: MeterResetMode,
    pointId?: string,
  ): BuildingSnapshot & { reset: string[] };
  buildingState(buildingId: string): BuildingSnapshot;
  hasDevice(deviceId: string): boolean;
}

export class ControlServer {
  private server?: Server;

  constructor(
    private readonly simulation: ControlledSimulation,
    private readonly logger: Logger,
  ) {}

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(port: number): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.logger.error(`${req.method} ${req.url}: ${(error as Error).message}`);
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      const result = this.route(
        req.method ?? 'GET',
        new URL(req.url ?? '/', 'http://127.0.0.1').pathname,
        body,
      );
      send(res, 200, result);
    } catch (error) {
      if (error instanceof HttpError) send(res, error.status, { error: error.message });
      else if (error instanceof z.ZodError) send(res, 400, { error: describeZodError(error) });
      else send(res, 400, { error: (error as Error).message });
    }
  }

  private route(method: string, pathname: string, body: unknown): unknown {
    const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const sim = this.simulation;
    const expect = (allowed: string): void => {
      if (method !== allowed) throw new HttpError(405, `${pathname} takes ${allowed}`);
    };
    if (parts.length === 1 && parts[0] === 'state') {
      expect('GET');
      return sim.state();
    }
    if (parts.length === 1 && parts[0] === 'faults') {
      expect('POST');
      const request = FaultsBody.parse(body);
      if (request.device !== undefined && !sim.hasDevice(request.device))
        throw new HttpError(404, `'${request.device}' is not a simulated device`);
      return sim.applyFaults(request);
    }
    if (parts.length === 3 && parts[0] === 'buildings') {
      expect('POST');
      const [, buildingId, action] = parts;
      if (!sim.buildings.has(buildingId)) throw new HttpError(404, `unknown building '${buildingId}'`);
      if (action === 'meter-reset') {
        const { point, mode } = MeterResetBody.parse(body ?? {});
        return sim.resetMeter(buildingId, mode, point);
      }
      const fault = BUILDING_SWITCHES[action];
      if (!fault)
        throw new HttpError(
          404,
          `unknown building action '${action}' (known: ${[...Object.keys(BUILDING_SWITCHES), 'meter-reset'].join(', ')})`,
        );
      const { on } = SwitchBody.parse(body);
      const building = sim.buildingState(buildingId);
      if (!building.points.some((p) => FAULT_QUANTITIES[fault].includes(p.quantity)))
        throw new HttpError(
          409,
          `building '${buildingId}' has no point that shows '${action}' (quantities ${FAULT_QUANTITIES[fault].join(', ')})`,
        );
      return sim.setBuildingFault(buildingId, fault, on);
    }
    if (parts[0] === 'presence' && parts.length <= 2) {
      expect('POST');
      const presence = sim.presence;
      if (!presence)
        throw new HttpError(409, 'the presence simulator is not running (no sensors, or --only)');
      if (parts.length === 1) {
        presence.setRate(RateBody.parse(body).rate);
        return presence.stats();
      }
      const { class: detectionClass } = DetectionBody.parse(body ?? {});
      try {
        return presence.detect(parts[1], detectionClass);
      } catch (error) {
        const message = (error as Error).message;
        throw new HttpError(message.startsWith('unknown') ? 404 : 503, message);
      }
    }
    throw new HttpError(404, `no route ${method} ${pathname} (see docs/simulators.md)`);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `body is not JSON: ${(error as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
      return `${where}: ${issue.message}${keys}`;
    })
    .join('; ');
}
