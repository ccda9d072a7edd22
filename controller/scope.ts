import type { ROLES } from '../config/schema/access';

/**
 * Who asks, and which communes they may see and command: the one place where commune scope is
 * decided, for the API, the lighting runtime, alerts and building telemetry alike. What a role may
 * do is the API's table (controller/http/access.ts); what lies within reach is decided here.
 */

export type Role = (typeof ROLES)[number];

/** Who asks, and through what. */
export interface Actor {
  /** Configuration user id (users[].id); over MQTT, the `actor` named in the payload. */
  user: string;
  role: Role;
  /** Commune ids the actor may see and command; '*' (alone or in the list) means all. */
  communes: readonly string[];
  via: 'api' | 'mqtt' | 'console' | 'cli';
  /** Client address (HTTP) or client id / topic (MQTT), for the audit trail. */
  from: string;
}

/**
 * Whether a scope (an actor's communes) reaches at least one of `communes`. '*' in the scope reaches
 * everything; '*' among the communes (a territory-wide record) is reached by every scope.
 */
export function coversAny(scope: readonly string[], communes: readonly string[]): boolean {
  if (scope.includes('*')) return true;
  return communes.some((c) => c === '*' || scope.includes(c));
}

/** The communes a scope does not reach, in their order; empty when it reaches them all. */
export function outsideOf(scope: readonly string[], communes: readonly string[]): string[] {
  if (scope.includes('*')) return [];
  return communes.filter((c) => !scope.includes(c));
}
