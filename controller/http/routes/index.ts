import type { FastifyInstance } from 'fastify';
import { registerAuditRoutes } from './audit';
import { registerCommandRoutes } from './commands';
import { registerDefinitionRoutes } from './definitions';
import { registerEvaluationRoutes } from './evaluation';
import { registerExportRoutes } from './exports';
import { registerOpenDataRoutes } from './opendata';
import { registerLightingStateRoutes } from './lightingState';
import { registerMapRoutes } from './map';
import { registerOfficialsRoutes } from './officials';
import { registerPeopleRoutes } from './people';
import { registerServiceRoutes } from './service';
import type { RouteContext } from './shared';
import { registerTelemetryRoutes } from './telemetry';

export { fallbackNote } from './audit';
export type { ApiServices, AuditNote, RouteContext } from './shared';

/**
 * Every route of the API, one file per resource; each takes its method, path, role and audit action from
 * the one table of access.ts (`ENDPOINTS`, through `at`).
 */
export function registerRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  registerServiceRoutes(fastify, ctx);
  registerLightingStateRoutes(fastify, ctx);
  registerCommandRoutes(fastify, ctx);
  registerDefinitionRoutes(fastify, ctx);
  registerTelemetryRoutes(fastify, ctx);
  registerAuditRoutes(fastify, ctx);
  registerEvaluationRoutes(fastify, ctx);
  registerExportRoutes(fastify, ctx);
  registerOpenDataRoutes(fastify, ctx);
  registerMapRoutes(fastify, ctx);
  registerOfficialsRoutes(fastify, ctx);
  registerPeopleRoutes(fastify, ctx);
}
