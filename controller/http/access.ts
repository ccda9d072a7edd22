import { ROLES } from '../../config/schema/access';
import type { Role } from '../scope';
import type { AuditAction } from '../audit/entry';

/**
 * Who may do what: the one table the server enforces and the console reads (through /api/me) to hide
 * what a role cannot do. Commune scope is the services' business (they receive the Actor); this file
 * only answers "may this role use this endpoint at all".
 */

export const PERMISSIONS = [
  /** Zones, luminaires, relights and overrides in force, their confirmation, communes. */
  'lighting:read',
  /** Emergency relight and its clearing. */
  'relight',
  /** Manual overrides and their release. */
  'override',
  /** Programs, calendars, night previews and year costs. */
  'programs:read',
  /** Create, change and delete programs and calendars; give a zone another calendar. */
  'programs:write',
  /** Buildings and their latest values. */
  'energy:read',
  'alerts:read',
  'alerts:acknowledge',
  'audit:read',
  /** Prometheus metrics: territory-wide, so only for tokens whose communes are '*'. */
  'metrics:read',
  /** The monthly evaluation report and the usage counts of the token's communes. */
  'reports:read',
  /** Series of the token's communes exported from InfluxDB as CSV or NDJSON. */
  'exports:read',
  /** People's passwords, enrolment codes for phones, sign-out everywhere (users within the admin's communes). */
  'users:manage',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

/**
 * DESIGN.md's roles. Two choices beyond its one-line summaries, written down in docs/api.md:
 * an energy manager may acknowledge alerts (leaks and meters are theirs; acknowledging changes no
 * device), and metrics are open to read roles so that Prometheus can scrape with a viewer token.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: PERMISSIONS,
  'lighting-manager': [
    'lighting:read',
    'override',
    'programs:read',
    'programs:write',
    'energy:read',
    'alerts:read',
    'alerts:acknowledge',
    'audit:read',
    'reports:read',
    'exports:read',
  ],
  emergency: ['lighting:read', 'relight'],
  'energy-manager': [
    'lighting:read',
    'programs:read',
    'energy:read',
    'alerts:read',
    'alerts:acknowledge',
    'metrics:read',
    'reports:read',
    'exports:read',
  ],
  viewer: ['lighting:read', 'programs:read', 'energy:read', 'alerts:read', 'metrics:read', 'reports:read'],
};

/** Who may call an endpoint: anyone, any valid token, or tokens whose role has the permission. */
export type Access = 'public' | 'authenticated' | Permission;

export interface EndpointSpec {
  access: Access;
  /** A command: recorded in the audit log with its result, whatever it is. */
  audit?: AuditAction;
}

/**
 * Every endpoint of the API with who may call it. The server registers its routes from this table
 * (a route missing here cannot be registered) and docs/api.md shows it.
 */
export const ENDPOINTS = {
  'GET /api/health': { access: 'public' },
  'GET /api/me': { access: 'authenticated' },
  'POST /api/events/ticket': { access: 'authenticated' },
  'GET /api/events': { access: 'authenticated' },
  'GET /api/communes': { access: 'lighting:read' },
  'GET /api/zones': { access: 'lighting:read' },
  'GET /api/zones/:id': { access: 'lighting:read' },
  'GET /api/luminaires/:id': { access: 'lighting:read' },
  'GET /api/map': { access: 'lighting:read' },
  'GET /api/map/levels': { access: 'lighting:read' },
  'GET /api/relights': { access: 'lighting:read' },
  'GET /api/overrides': { access: 'lighting:read' },
  'GET /api/commands/:id/progress': { access: 'lighting:read' },
  'POST /api/relights': { access: 'relight', audit: 'relight' },
  'DELETE /api/relights/:id': { access: 'relight', audit: 'clear-relight' },
  'POST /api/overrides': { access: 'override', audit: 'override' },
  'DELETE /api/overrides/:id': { access: 'override', audit: 'release-override' },
  'GET /api/programs': { access: 'programs:read' },
  'GET /api/programs/:id': { access: 'programs:read' },
  'POST /api/programs/preview': { access: 'programs:read' },
  'POST /api/programs/year-cost': { access: 'programs:read' },
  'GET /api/calendars': { access: 'programs:read' },
  'POST /api/calendars/preview': { access: 'programs:read' },
  'GET /api/calendars/:id': { access: 'programs:read' },
  'PUT /api/programs/:id': { access: 'programs:write', audit: 'put-program' },
  'DELETE /api/programs/:id': { access: 'programs:write', audit: 'delete-program' },
  'PUT /api/calendars/:id': { access: 'programs:write', audit: 'put-calendar' },
  'DELETE /api/calendars/:id': { access: 'programs:write', audit: 'delete-calendar' },
  'PUT /api/zones/:id/calendar': { access: 'programs:write', audit: 'assign-calendar' },
  'GET /api/buildings': { access: 'energy:read' },
  'GET /api/buildings/:id': { access: 'energy:read' },
  'GET /api/buildings/:id/points/:point/history': { access: 'energy:read' },
  'GET /api/officials/:commune': { access: 'energy:read' },
  'GET /api/alerts': { access: 'alerts:read' },
  'POST /api/alerts/:id/acknowledge': { access: 'alerts:acknowledge', audit: 'acknowledge-alert' },
  'GET /api/audit': { access: 'audit:read' },
  // Anyone for their own actions, an admin for anyone's (checked by the route): RGPD right of access.
  'GET /api/audit/export': { access: 'authenticated', audit: 'export-audit' },
  'GET /metrics': { access: 'metrics:read' },
  'POST /api/usage/views': { access: 'authenticated' },
  'GET /api/usage': { access: 'reports:read' },
  'GET /api/reports/:month': { access: 'reports:read' },
  'GET /api/exports': { access: 'exports:read' },
  'GET /opendata': { access: 'public' },
  'GET /opendata/:file': { access: 'public' },
  'POST /api/session': { access: 'public' },
  'POST /api/session/enrol': { access: 'public' },
  'DELETE /api/session': { access: 'authenticated' },
  'GET /api/users': { access: 'users:manage' },
  'PUT /api/users/:id/password': { access: 'users:manage', audit: 'set-password' },
  'POST /api/users/:id/enrolment': { access: 'users:manage', audit: 'enrol' },
  'POST /api/users/:id/signout': { access: 'users:manage', audit: 'sign-out-everywhere' },
} as const satisfies Record<string, EndpointSpec>;

export type Endpoint = keyof typeof ENDPOINTS;

/** Permissions that make sense only for the whole territory. */
const TERRITORY_WIDE: ReadonlySet<Permission> = new Set<Permission>(['metrics:read']);

export type Refusal = { allowed: true } | { allowed: false; reason: string };

export function allows(user: { role: Role; communes: readonly string[] }, permission: Permission): Refusal {
  if (!ROLE_PERMISSIONS[user.role].includes(permission)) {
    const roles = ROLES.filter((r) => ROLE_PERMISSIONS[r].includes(permission));
    return {
      allowed: false,
      reason: `role '${user.role}' may not use '${permission}' (allowed: ${roles.join(', ')})`,
    };
  }
  if (TERRITORY_WIDE.has(permission) && !user.communes.includes('*'))
    return {
      allowed: false,
      reason: `'${permission}' covers the whole territory: it needs a token whose communes are '*'`,
    };
  return { allowed: true };
}

export function permissionsOf(user: { role: Role; communes: readonly string[] }): Permission[] {
  return PERMISSIONS.filter((p) => allows(user, p).allowed);
}

/** The endpoints table of docs/api.md. */
export function endpointsTableMarkdown(): string {
  const rows = Object.entries(ENDPOINTS).map(([endpoint, spec]: [string, EndpointSpec]) => {
    const [method, url] = endpoint.split(' ');
    return `| \`${method}\` | \`${url}\` | ${spec.access === 'public' || spec.access === 'authenticated' ? spec.access : `\`${spec.access}\``} | ${spec.audit ? `\`${spec.audit}\`` : ''} |`;
  });
  return ['| method | path | access | audited as |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** The roles table of docs/api.md, generated so the doc cannot drift from the code. */
export function rolesTableMarkdown(): string {
  const header = `| permission | ${ROLES.join(' | ')} |`;
  const rule = `| --- | ${ROLES.map(() => ':-:').join(' | ')} |`;
  const rows = PERMISSIONS.map(
    (p) => `| \`${p}\` | ${ROLES.map((r) => (ROLE_PERMISSIONS[r].includes(p) ? 'yes' : '—')).join(' | ')} |`,
  );
  return [header, rule, ...rows].join('\n');
}
