import type { FastifyRequest, HTTPMethods } from 'fastify';
import type { AlertService, EnergyService } from '../../telemetry/services';
import type { ReportService, UsageService } from '../../evaluation/services';
import type { HealthReport, MetricsReport } from '../../health/report';
import type { CommandRecord, LightingService } from '../../lighting/runtime/lightingService';
import type { Actor } from '../../scope';
import type { AuditLog } from '../../audit/auditLog';
import type { ExportService } from '../../exports/exporter';
import type { OpenDataService } from '../../opendata/publisher';
import type { AuthenticatedUser } from '../auth';
import type { Endpoint } from '../access';
import { ApiError } from '../errors';
import type { EventStreams } from '../events';
import type { MapLayout } from '../mapLayout';
import type { OfficialsBoard } from '../officials';
import type { MetricFamily } from '../metrics';
import type { ResolvedApiOptions } from '../options';
import type { EventTickets } from '../tickets';
import { describeTarget, type CommuneIndex } from '../communeIndex';
import type { Logger } from '../../../core/logger';
import type { FailedAuthLimiter } from '../failedAuth';
import type { SignIns } from '../sessions';

/** What the API reads and commands, as the composition root wires it. */
export interface ApiServices {
  lighting: LightingService;
  energy: EnergyService;
  alerts: AlertService;
  health(): HealthReport;
  /** The telemetry side's counters for /metrics, where there is a telemetry side. */
  metrics?(): MetricsReport;
  /** Usage counts and the monthly evaluation report (controller/evaluation/), where they are wired. */
  usage?: UsageService;
  reports?: ReportService;
  /** Series exports from InfluxDB; absent where there is no time-series store (tests of other parts). */
  exports?: ExportService;
  /** Open datasets and their catalogue; absent in tests of other parts. */
  openData?: OpenDataService;
  /** Positions for the console's map, from the configuration. */
  map: MapLayout;
  /** The elected officials' figures of a commune. */
  officials: OfficialsBoard;
}

/** What sign-in for people needs besides the other routes' context. */
export interface SignInContext {
  signIns: SignIns;
  /** Failed sign-ins per account and per address (failedAuth.ts), apart from the bearer tokens' own. */
  limiter: FailedAuthLimiter;
  users: ReadonlyMap<string, AuthenticatedUser>;
  /** http.public_url: where phones reach the console. */
  publicUrl?: string;
  logger: Logger;
}

/** What a command handler tells the audit log about what it did. */
export interface AuditNote {
  target: string;
  communes: string[];
  id?: string;
  message: string;
}

export interface RouteContext {
  services: ApiServices;
  audit: AuditLog;
  territory: CommuneIndex;
  tickets: EventTickets;
  streams: EventStreams;
  options: ResolvedApiOptions;
  /** The site's time zone: local times in exports. */
  timeZone: string;
  now: () => number;
  metrics: () => MetricFamily[];
  signIn: SignInContext;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every route that is not public. */
    authenticatedUser?: AuthenticatedUser;
    actor?: Actor;
    /** The session id of a request authenticated by its cookie (sessions.ts). */
    sessionId?: string;
    /** Set by a command's handler once it succeeded. */
    auditNote?: AuditNote;
  }
  interface FastifyContextConfig {
    endpoint?: Endpoint;
  }
}

/** Method, path and the endpoint key, from the one table of access.ts. */
export function at(endpoint: Endpoint): { method: HTTPMethods; url: string; config: { endpoint: Endpoint } } {
  const [method, url] = endpoint.split(' ') as [HTTPMethods, string];
  return { method, url, config: { endpoint } };
}

export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new ApiError(500, 'internal', 'no actor on an authenticated route');
  return request.actor;
}

export const BEARER = [{ bearer: [] }];

export function note(
  request: FastifyRequest,
  id: string,
  communes: readonly string[],
  target: string,
  message: string,
): void {
  request.auditNote = { target, communes: [...communes], id, message };
}

export function noteEnded(request: FastifyRequest, record: CommandRecord, message: string): CommandRecord {
  note(request, record.id, record.communes, describeTarget(record.target), message);
  return record;
}
